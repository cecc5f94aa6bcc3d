/* SPDX-License-Identifier: MIT */
/*
 * test-bundle - bundles at run time: one open, verification and dlopen per
 * bundle file, members initialised on first use in dependency order, a
 * failing member failing alone, a failing bundle failing every member with
 * its error without being tried again, and threads racing on members.
 */
#include "loadutil.h"

#include <stdatomic.h>

/* ---- a host that records inits, and a log that counts file opens ---------- */

#define MAX_INITS 64
static struct {
	pthread_mutex_t lock;
	char order[MAX_INITS][16]; /* module names, in init order */
	int n;
} inited = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_init(const struct fixture_host *h, const char *module)
{
	(void)h;
	pthread_mutex_lock(&inited.lock);
	if (inited.n < MAX_INITS)
		snprintf(inited.order[inited.n++], sizeof inited.order[0], "%s", module);
	pthread_mutex_unlock(&inited.lock);
}

/* How many times module ran its init; *pos receives its place (1-based). */
static int init_count(const char *module, int *pos)
{
	int n = 0;
	pthread_mutex_lock(&inited.lock);
	for (int i = 0; i < inited.n; i++)
		if (!strcmp(inited.order[i], module)) {
			n++;
			if (pos)
				*pos = i + 1;
		}
	pthread_mutex_unlock(&inited.lock);
	return n;
}

static const struct fixture_host host = {on_init, NULL};

/* Each time the loader's verify-and-dlopen step ran on a file, by name. */
static _Atomic int opens_bundle, opens_race;

static void count_opens(void *data, int priority, const char *file, int line, const char *fn,
			const char *format, va_list args)
{
	(void)data, (void)priority, (void)file, (void)line, (void)fn;
	char msg[1024];
	vsnprintf(msg, sizeof msg, format, args);
	if (strncmp(msg, "opened ", 7) != 0)
		return;
	if (strstr(msg, "/bundle.so for module"))
		atomic_fetch_add(&opens_bundle, 1);
	if (strstr(msg, "/race.so for module"))
		atomic_fetch_add(&opens_race, 1);
}

static struct lm_context *open_ctx(const char *dir, unsigned flags)
{
	setenv("LAZYMOD_DEBUG", "1", 1); /* count_opens sees the debug messages */
	return ctx_over(dir, flags, &host, count_opens, NULL);
}

/* ---- loading ------------------------------------------------------------------ */

TEST(first_member_opens_the_bundle_once)
{
	struct lm_context *ctx = open_ctx(fixture("bundle"), LM_CTX_NO_FALLBACK);
	CHECK(!mapped("bundle.so"));
	get_ok(ctx, "test", "bone");
	CHECK(mapped("bundle.so"));
	CHECK_INT(opens_bundle, 1);
	/* Every other member comes from the same load. */
	get_ok(ctx, "test", "bthree");
	get_ok(ctx, "test", "btwo");
	get_ok(ctx, "test", "bneed");
	CHECK_INT(opens_bundle, 1);
	CHECK_INT(opens_race, 0);
	CHECK(!mapped("race.so"));
	lm_context_unref(ctx);
}

TEST(only_the_member_and_its_dependencies_init)
{
	struct lm_context *ctx = open_ctx(fixture("bundle"), LM_CTX_NO_FALLBACK);
	get_ok(ctx, "test", "btwo");
	int pone = 0, ptwo = 0;
	CHECK_INT(init_count("bone", &pone), 1);
	CHECK_INT(init_count("btwo", &ptwo), 1);
	CHECK(pone < ptwo); /* dependency first */
	CHECK_INT(init_count("bthree", NULL), 0);
	CHECK_INT(init_count("bneed", NULL), 0);
	CHECK_INT(lm_module_loaded(ctx, "bthree"), 0);
	/* A sibling initialises on the first use of its feature, once. */
	const struct fixture_obj *o = get_ok(ctx, "test", "bthree");
	CHECK_INT(init_count("bthree", NULL), 1);
	CHECK(get_ok(ctx, "test", "bthree") == o);
	CHECK_INT(init_count("bthree", NULL), 1);
	CHECK_INT(init_count("bone", NULL), 1);
	lm_context_unref(ctx);
}

TEST(listing_shows_the_bundle_and_loads_nothing)
{
	struct lm_context *ctx = open_ctx(fixture("bundle"), LM_CTX_NO_FALLBACK);
	struct lm_feature_info info;
	CHECK_INT(lm_feature_info(ctx, "test", "bthree", &info), 0);
	CHECK_STR(info.module, "bthree");
	CHECK_STR(info.path, "bundle.so");
	CHECK_INT(lm_feature_info(ctx, "race", "q5", &info), 0);
	CHECK_STR(info.path, "race.so");
	CHECK(!mapped("bundle.so") && !mapped("race.so"));
	lm_context_unref(ctx);
}

TEST(member_init_fails_alone)
{
	struct lm_context *ctx = open_ctx(fixture("bundle"), LM_CTX_NO_FALLBACK);
	get_fails(ctx, "bfail", LM_E_INIT, "module bfail: initialisation failed");
	CHECK(mapped("bundle.so")); /* the bundle stays: its other members are fine */
	get_ok(ctx, "test", "bthree");
	get_ok(ctx, "test", "btwo");
	get_fails(ctx, "bfail", LM_E_INIT, "module bfail: initialisation failed");
	CHECK_INT(opens_bundle, 1);
	lm_context_unref(ctx);
}

/* ---- a bundle that fails -------------------------------------------------------- */

/* Every member asked fails with err and detail, and nothing is mapped. */
static void all_fail(struct lm_context *ctx, int err, const char *detail)
{
	get_fails(ctx, "btwo", LM_E_DEP, detail); /* through bone, its dependency */
	get_fails(ctx, "bone", err, detail);
	get_fails(ctx, "bthree", err, detail);
	get_fails(ctx, "bthree", err, detail);
	get_fails(ctx, "bfail", err, detail); /* its init never ran */
	CHECK(!mapped("bundle.so"));
	CHECK_INT(init_count("bfail", NULL) + init_count("bone", NULL), 0);
	CHECK_INT(opens_bundle, 0);
}

TEST(stale_bundle_fails_every_member_once)
{
	const char *dir = copy_fixture("bundle");
	sh("cp '%s/bundle.so' '%s/bundle.keep' && echo >> '%s/bundle.so'", dir, dir, dir);
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	all_fail(ctx, LM_E_STALE, "bundle.so");
	/* Remembered for the bundle: a member not asked for yet fails the same
	 * way, without the file being tried again (it is fine by now). */
	sh("cp '%s/bundle.keep' '%s/bundle.so'", dir, dir);
	get_fails(ctx, "bneed", LM_E_STALE, "the index says");
	CHECK_INT(opens_bundle, 0);
	/* Another bundle of the directory is unaffected. */
	get_ok(ctx, "race", "q3");
	lm_context_unref(ctx);
}

TEST(unsafe_bundle_fails_every_member_once)
{
	const char *dir = copy_fixture("bundle");
	sh("chmod g+w '%s/bundle.so'", dir);
	struct lm_context *ctx = open_ctx(dir, 0);
	all_fail(ctx, LM_E_UNSAFE, "bundle.so is writable by its group");
	sh("chmod g-w '%s/bundle.so'", dir);
	get_fails(ctx, "bneed", LM_E_UNSAFE, "writable by its group");
	CHECK_INT(opens_bundle, 0);
	lm_context_unref(ctx);
}

TEST(bundle_missing_a_library_fails_every_member_once)
{
	const char *dir = copy_fixture("bundle");
	sh("mv '%s/libbundlelib.so' '%s/libbundlelib.keep'", dir, dir);
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	get_fails(ctx, "bone", LM_E_NEEDLIB, "needs library libbundlelib.so, which is missing");
	get_fails(ctx, "bthree", LM_E_NEEDLIB, "libbundlelib.so");
	get_fails(ctx, "btwo", LM_E_DEP, "libbundlelib.so");
	sh("mv '%s/libbundlelib.keep' '%s/libbundlelib.so'", dir, dir);
	get_fails(ctx, "bneed", LM_E_NEEDLIB, "libbundlelib.so");
	CHECK(!mapped("bundle.so"));
	CHECK_INT(opens_bundle, 0);
	lm_context_unref(ctx);
}

TEST(rebuilt_bundle_is_read_again_from_its_notes)
{
	/* Without LM_CTX_NO_FALLBACK a stale bundle makes the directory's notes
	 * be read again, and the bundle as it is now is loaded, once. */
	const char *dir = copy_fixture("bundle");
	sh("echo >> '%s/bundle.so'", dir);
	struct lm_context *ctx = open_ctx(dir, 0);
	get_ok(ctx, "test", "bone");
	get_ok(ctx, "test", "bthree");
	CHECK_INT(opens_bundle, 1);
	lm_context_unref(ctx);
}

/* ---- races ------------------------------------------------------------------------ */

#define THREADS 16
#define ROUNDS 8
TEST(threads_race_on_members_one_dlopen)
{
	for (int round = 0; round < ROUNDS; round++) {
		pthread_mutex_lock(&inited.lock);
		inited.n = 0;
		pthread_mutex_unlock(&inited.lock);
		atomic_store(&opens_race, 0);
		struct lm_context *ctx = open_ctx(fixture("bundle"), LM_CTX_NO_FALLBACK);
		pthread_barrier_t start;
		pthread_barrier_init(&start, NULL, THREADS);
		struct racer rs[THREADS];
		pthread_t t[THREADS];
		for (int i = 0; i < THREADS; i++) {
			rs[i] = (struct racer){ctx, &start, (unsigned)(round * 100 + i), "race", "q", {0}, 0};
			pthread_create(&t[i], NULL, race, &rs[i]);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&start);
		CHECK_INT(opens_race, 1);
		for (int m = 0; m < 8; m++) {
			char name[8];
			snprintf(name, sizeof name, "q%d", m);
			CHECK_INT(init_count(name, NULL), 1);
			for (int i = 0; i < THREADS; i++) {
				CHECK_INT(rs[i].err, 0);
				CHECK(rs[i].got[m] == rs[0].got[m]);
				CHECK_STR(((const struct fixture_obj *)rs[i].got[m])->module, name);
			}
		}
		int p0 = 0, p1 = 0, p3 = 0, p7 = 0;
		init_count("q0", &p0), init_count("q1", &p1), init_count("q3", &p3), init_count("q7", &p7);
		CHECK(p0 < p1 && p1 < p3 && p3 < p7);
		lm_context_unref(ctx);
	}
}

TEST_MAIN
