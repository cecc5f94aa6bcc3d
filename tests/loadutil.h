/* SPDX-License-Identifier: MIT */
/*
 * loadutil.h - what the loading tests (test-load, test-bundle) share:
 * opening a context over one fixture directory, getting a feature or its
 * expected failure, and a thread that asks for eight features in a random
 * order, for races.
 */
#ifndef LAZYMOD_LOADUTIL_H
#define LAZYMOD_LOADUTIL_H

#include "testutil.h"

#include <pthread.h>

#include "fixtures/fixture.h"

/* A context over dir (environment path ignored), interface 1.0. */
static inline struct lm_context *ctx_over(const char *dir, unsigned flags, const void *host,
					  lm_log_fn log, void *log_data)
{
	const char *dirs[] = {dir, NULL};
	struct lm_options o = {.dirs = dirs, .iface_major = 1, .iface_minor = 0, .host = host,
			       .flags = flags | LM_CTX_NO_ENV_PATH, .log = log, .log_data = log_data};
	struct lm_context *ctx;
	int r = lm_context_new(&o, &ctx);
	if (r < 0)
		FAIL("lm_context_new(%s): %s: %s", dir, lm_strerror(r), lm_errdetail(NULL));
	return ctx;
}

static inline const struct fixture_obj *get_ok(struct lm_context *ctx, const char *kind,
					       const char *name)
{
	const void *obj = NULL;
	int r = lm_get(ctx, kind, name, &obj);
	if (r < 0)
		FAIL("lm_get(%s/%s): %s: %s", kind, name, lm_strerror(r), lm_errdetail(ctx));
	const struct fixture_obj *o = obj;
	CHECK_STR(o->feature, name);
	return o;
}

/* lm_get(test/name) fails with err, a detail holding `detail`, and no object. */
static inline void get_fails(struct lm_context *ctx, const char *name, int err, const char *detail)
{
	const void *obj = (void *)1;
	int r = lm_get(ctx, "test", name, &obj);
	if (r != err)
		FAIL("lm_get(test/%s) = %s (%s), expected %s", name, lm_errname(r) ? lm_errname(r) : "?",
		     lm_errdetail(ctx), lm_errname(err));
	CHECK(obj == (void *)1);
	CHECK_CONTAINS(lm_errdetail(ctx), detail);
}

/* A thread of a race: gets kind/<prefix>0..7 in an order drawn from seed. */
struct racer {
	struct lm_context *ctx;
	pthread_barrier_t *start;
	unsigned seed;
	const char *kind, *prefix;
	const void *got[8];
	int err;
};

static inline void *race(void *arg)
{
	struct racer *r = arg;
	int order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	for (int i = 7; i > 0; i--) {
		int j = (int)(rand_r(&r->seed) % (unsigned)(i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	pthread_barrier_wait(r->start);
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof name, "%s%d", r->prefix, order[i]);
		int e = lm_get(r->ctx, r->kind, name, &r->got[order[i]]);
		if (e < 0)
			r->err = e;
	}
	return NULL;
}

#endif
