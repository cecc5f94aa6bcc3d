/* SPDX-License-Identifier: MIT */
/*
 * error.c - error names and messages (from the one table in lazymod.h) and
 * the detail of the last failure, per thread and per context.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lazymod-private.h"

struct errinfo {
	const char *name, *msg;
};
static const struct errinfo errors[] = {
#define LM__ERRTAB(name, num, msg) [num] = {"LM_E_" #name, msg},
	LM__ERRORS(LM__ERRTAB)
#undef LM__ERRTAB
};

static const struct errinfo *lookup(int err)
{
	if (err >= 0 || -err >= (int)(sizeof errors / sizeof errors[0]) || !errors[-err].name)
		return NULL;
	return &errors[-err];
}

LM_EXPORT const char *lm_strerror(int err)
{
	if (err == 0)
		return "success";
	const struct errinfo *e = lookup(err);
	return e ? e->msg : "unknown error";
}

LM_EXPORT const char *lm_errname(int err)
{
	if (err == 0)
		return "LM_OK";
	const struct errinfo *e = lookup(err);
	return e ? e->name : NULL;
}

/*
 * The detail of the last failure: written by lm__fail deep inside the
 * library, where no context is at hand, into the calling thread's scratch
 * buffer; each public call on a context then copies it into that context's
 * record for the thread (lm__done), which is what lm_errdetail(ctx) reads.
 */
static _Thread_local char detail[LM__DETAIL_MAX];

int lm__fail(int err, const char *fmt, ...)
{
	/* Through a copy: callers may pass the detail itself as an argument. */
	char buf[sizeof detail];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	memcpy(detail, buf, sizeof detail);
	return err;
}

const char *lm__detail(void)
{
	return detail;
}

/* One thread's detail on one context. Records are only ever added (a
 * thread finds its own without a lock) and freed with the context. */
struct lm__errslot {
	pthread_t thread;
	struct lm__errslot *next;
	char text[LM__DETAIL_MAX];
};

static struct lm__errslot *find_slot(const struct lm_context *ctx)
{
	pthread_t self = pthread_self();
	for (struct lm__errslot *s = atomic_load_explicit(&ctx->errs, memory_order_acquire); s;
	     s = s->next)
		if (pthread_equal(s->thread, self))
			return s;
	return NULL;
}

/* Sets the calling thread's detail on ctx; false when out of memory. */
static bool record(struct lm_context *ctx, const char *text)
{
	struct lm__errslot *s = find_slot(ctx);
	if (!s) {
		if (!*text)
			return true; /* nothing recorded, nothing to clear */
		s = lm__calloc(1, sizeof *s);
		if (!s)
			return false;
		s->thread = pthread_self();
		s->next = atomic_load_explicit(&ctx->errs, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(&ctx->errs, &s->next, s,
							      memory_order_release,
							      memory_order_relaxed))
			;
	}
	snprintf(s->text, sizeof s->text, "%s", text);
	return true;
}

int lm__done(struct lm_context *ctx, int err)
{
	/* Out of memory for the record itself: the answer stands, and
	 * lm_errdetail(ctx) says "" (lm_errdetail(NULL) still has it). */
	if (err != 0 && !record(ctx, detail))
		return err > 0 ? 0 : err;
	if (err == 0 && atomic_load_explicit(&ctx->errs, memory_order_relaxed))
		record(ctx, "");
	return err > 0 ? 0 : err;
}

void lm__errslots_free(struct lm_context *ctx)
{
	struct lm__errslot *s = atomic_load_explicit(&ctx->errs, memory_order_relaxed);
	while (s) {
		struct lm__errslot *next = s->next;
		free(s);
		s = next;
	}
	atomic_store_explicit(&ctx->errs, NULL, memory_order_relaxed);
}

LM_EXPORT const char *lm_errdetail(const struct lm_context *ctx)
{
	if (!ctx)
		return detail;
	const struct lm__errslot *s = find_slot(ctx);
	return s ? s->text : "";
}
