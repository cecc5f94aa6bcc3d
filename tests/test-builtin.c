/* SPDX-License-Identifier: MIT */
/*
 * test-builtin - a module compiled into the program (tests/fixtures/both/
 * shared.c, the same source test-load loads as a shared object): found from
 * the executable's own notes, initialised on first use.
 */
#include "testutil.h"

#include <stdatomic.h>

#include "fixtures/fixture.h"

static _Atomic int shared_inits;

static void count(const struct fixture_host *h, const char *module)
{
	(void)h;
	if (!strcmp(module, "shared"))
		atomic_fetch_add(&shared_inits, 1);
}

static const struct fixture_host host = {count, NULL};

static struct lm_context *open_ctx(const char *dir)
{
	const char *dirs[] = {dir, NULL};
	struct lm_options o = {.dirs = dir ? dirs : NULL, .iface_major = 1, .host = &host,
			       .flags = LM_CTX_NO_ENV_PATH | LM_CTX_NO_FALLBACK};
	struct lm_context *ctx;
	int r = lm_context_new(&o, &ctx);
	if (r < 0)
		FAIL("lm_context_new: %s (%s)", lm_strerror(r), lm_errdetail(NULL));
	return ctx;
}

TEST(builtin_found_from_notes)
{
	struct lm_context *ctx = open_ctx(NULL);
	struct lm_feature_info info;
	CHECK_INT(lm_feature_info(ctx, "test", "shared", &info), 0);
	CHECK_STR(info.module, "shared");
	CHECK_STR(info.description, "built in or loaded");
	CHECK_INT(info.builtin, 1);
	CHECK_STR(info.path, "");
	CHECK_INT(info.loaded, 0);
	/* Its probe rule is there too, evaluated without running its code. */
	struct lm_probe_input in = {(const unsigned char *)"SHARED!", 7, NULL, 0, 7, "x"};
	struct lm_probe_result res;
	CHECK_INT(lm_probe(ctx, "fmt", &in, &res), 0);
	CHECK_STR(res.name, "shared");
	CHECK_INT(res.score, 100);
	CHECK_INT(atomic_load(&shared_inits), 0);
	lm_context_unref(ctx);
}

TEST(builtin_init_deferred)
{
	struct lm_context *ctx = open_ctx(NULL);
	CHECK_INT(atomic_load(&shared_inits), 0);
	CHECK_INT(lm_module_loaded(ctx, "shared"), 0);
	const void *obj;
	CHECK_INT(lm_get(ctx, "test", "shared", &obj), 0);
	CHECK_INT(atomic_load(&shared_inits), 1);
	const struct fixture_obj *o = obj;
	CHECK_STR(o->module, "shared");
	CHECK_STR(o->feature, "shared");
	const void *again;
	CHECK_INT(lm_get(ctx, "fmt", "shared", &again), 0);
	CHECK_INT(atomic_load(&shared_inits), 1);
	CHECK_INT(lm_module_loaded(ctx, "shared"), 1);
	CHECK(!mapped("shared.so"));
	lm_context_unref(ctx);
}

TEST(builtin_before_dirs)
{
	/* A directory holding the same module as a shared object: the
	 * built-in one is used, and the file is never opened. */
	struct lm_context *ctx = open_ctx(fixture("both"));
	const void *obj;
	CHECK_INT(lm_get(ctx, "test", "shared", &obj), 0);
	CHECK(!mapped("shared.so"));
	struct lm_feature_info info;
	CHECK_INT(lm_feature_info(ctx, "test", "shared", &info), 0);
	CHECK_INT(info.builtin, 1);
	lm_context_unref(ctx);
}

TEST_MAIN
