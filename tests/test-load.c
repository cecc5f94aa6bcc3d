/* SPDX-License-Identifier: MIT */
/*
 * test-load - the runtime with real modules: lazy loading (checked against
 * /proc/self/maps), dependency chains, every failure and its error, stale
 * and damaged indexes, interface and target checks, and racing threads.
 */
#include "loadutil.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "fixtures/fixture.h"
#include "lazymod-private.h"

/* ---- a host that counts inits -------------------------------------------- */

#define MAX_COUNTED 160
struct counts {
	char names[MAX_COUNTED][32];
	_Atomic int n[MAX_COUNTED];
	_Atomic int order;
	int seq[MAX_COUNTED]; /* init order, by slot */
	pthread_mutex_t lock;
};

static void count_init(const struct fixture_host *h, const char *module)
{
	struct counts *c = h->data;
	pthread_mutex_lock(&c->lock);
	int i = 0;
	while (i < MAX_COUNTED && c->names[i][0] && strcmp(c->names[i], module))
		i++;
	if (i < MAX_COUNTED && !c->names[i][0])
		snprintf(c->names[i], sizeof c->names[i], "%s", module);
	pthread_mutex_unlock(&c->lock);
	if (i < MAX_COUNTED) {
		atomic_fetch_add(&c->n[i], 1);
		c->seq[i] = atomic_fetch_add(&c->order, 1) + 1;
	}
}

static int inits(struct counts *c, const char *module)
{
	for (int i = 0; i < MAX_COUNTED && c->names[i][0]; i++)
		if (!strcmp(c->names[i], module))
			return atomic_load(&c->n[i]);
	return 0;
}

static int init_seq(struct counts *c, const char *module)
{
	for (int i = 0; i < MAX_COUNTED && c->names[i][0]; i++)
		if (!strcmp(c->names[i], module))
			return c->seq[i];
	return 0;
}

static struct counts counts = {.lock = PTHREAD_MUTEX_INITIALIZER};
static const struct fixture_host host = {count_init, &counts};
static struct log_record logrec;

static struct lm_context *open_ctx(const char *dir, unsigned flags)
{
	return ctx_over(dir, flags, &host, record_log, &logrec);
}

/* ---- laziness --------------------------------------------------------------- */

TEST(ready_with_nothing_mapped_then_exactly_the_chain)
{
	struct lm_context *ctx = open_ctx(fixture("many"), LM_CTX_NO_FALLBACK);
	CHECK_INT(count_mapped("gen"), 0);
	CHECK(mapped("lazymod.index"));
	/* gen57 depends on gen56, which depends on gen55 (55 % 5 == 0: no more). */
	const struct fixture_obj *o = get_ok(ctx, "gen", "gen57");
	CHECK_STR(o->module, "gen57");
	CHECK_INT(count_mapped("gen"), 3);
	CHECK(mapped("gen55.so") && mapped("gen56.so") && mapped("gen57.so"));
	CHECK_INT(inits(&counts, "gen55"), 1);
	CHECK(init_seq(&counts, "gen55") < init_seq(&counts, "gen56"));
	CHECK(init_seq(&counts, "gen56") < init_seq(&counts, "gen57"));
	/* A second get finds it without loading anything more. */
	CHECK(get_ok(ctx, "gen", "gen57") == o);
	CHECK_INT(inits(&counts, "gen57"), 1);
	CHECK_INT(count_mapped("gen"), 3);
	lm_context_unref(ctx);
}

static int count_feature(void *data, const struct lm_feature_info *f)
{
	(void)f;
	++*(int *)data;
	return 0;
}

TEST(listing_loads_nothing)
{
	struct lm_context *ctx = open_ctx(fixture("many"), 0);
	int seen = 0;
	CHECK_INT(lm_list(ctx, "gen", count_feature, &seen), 0);
	CHECK_INT(seen, 120);
	seen = 0;
	CHECK_INT(lm_list(ctx, "nokind", count_feature, &seen), 0);
	CHECK_INT(seen, 0);
	CHECK_INT(count_mapped("gen"), 0);
	struct lm_feature_info info;
	CHECK_INT(lm_feature_info(ctx, "gen", "gen7", &info), 0);
	CHECK_STR(info.module, "gen7");
	CHECK_STR(info.path, "gen7.so");
	CHECK_INT(info.loaded, 0);
	CHECK_INT(count_mapped("gen"), 0);
	lm_context_unref(ctx);
}

TEST(dependency_chain_inits_in_order)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	get_ok(ctx, "test", "gamma");
	CHECK_INT(inits(&counts, "beta"), 1);
	CHECK_INT(inits(&counts, "alpha"), 1);
	CHECK_INT(inits(&counts, "gamma"), 1);
	CHECK(init_seq(&counts, "beta") < init_seq(&counts, "alpha"));
	CHECK(init_seq(&counts, "alpha") < init_seq(&counts, "gamma"));
	CHECK_INT(lm_module_loaded(ctx, "alpha"), 1);
	CHECK_INT(lm_module_loaded(ctx, "cyc_a"), 0);
	get_ok(ctx, "test", "alpha2");
	CHECK_INT(inits(&counts, "alpha"), 1);
	lm_context_unref(ctx);
}

/* ---- failures: each its own code, and the host goes on ------------------ */

static void goes_on(struct lm_context *ctx)
{
	get_ok(ctx, "test", "beta");
	CHECK(mapped("beta.so"));
}

TEST(cycle)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	get_fails(ctx, "cyc_a", LM_E_CYCLE, "cyc_a -> cyc_b -> cyc_a");
	get_fails(ctx, "cyc_b", LM_E_CYCLE, "cycle");
	CHECK(!mapped("cyc_a.so") && !mapped("cyc_b.so"));
	goes_on(ctx);
	lm_context_unref(ctx);
}

TEST(init_fails_once_and_is_remembered)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	get_fails(ctx, "initfail", LM_E_INIT, "module initfail: initialisation failed");
	CHECK_CONTAINS(lm_errdetail(ctx), strerror(EIO));
	CHECK(!mapped("initfail.so"));
	get_fails(ctx, "initfail", LM_E_INIT, "initialisation failed");
	CHECK(!mapped("initfail.so")); /* not opened again */
	goes_on(ctx);
	lm_context_unref(ctx);
}

TEST(dependency_init_fails)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	get_fails(ctx, "depfail", LM_E_DEP, "dependency initfail failed");
	CHECK(!mapped("depfail.so") && !mapped("initfail.so"));
	CHECK_INT(inits(&counts, "depfail"), 0);
	get_fails(ctx, "depfail", LM_E_DEP, "initfail");
	get_fails(ctx, "initfail", LM_E_INIT, "initialisation failed");
	goes_on(ctx);
	lm_context_unref(ctx);
}

TEST(dependency_missing)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	get_fails(ctx, "missingdep", LM_E_DEP, "needs module nosuchmodule, which is not installed");
	CHECK(!mapped("missingdep.so"));
	goes_on(ctx);
	lm_context_unref(ctx);
}

TEST(not_installed)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	get_fails(ctx, "nosuchfeature", LM_E_NOTFOUND, "no installed module provides test/nosuchfeature");
	goes_on(ctx);
	lm_context_unref(ctx);
}

TEST(interface_major_and_newer_minor)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	get_fails(ctx, "iface2", LM_E_IFACE, "built for interface 2.0, the host has 1.0");
	get_fails(ctx, "ifaceminor", LM_E_IFACE, "built for interface 1.5, the host has 1.0");
	CHECK(!mapped("iface2.so") && !mapped("ifaceminor.so"));
	goes_on(ctx);
	lm_context_unref(ctx);
	/* A host with a newer minor takes the module built for 1.5. */
	const char *dirs[] = {fixture("basic"), NULL};
	struct lm_options o = {.dirs = dirs, .iface_major = 1, .iface_minor = 7, .host = &host,
			       .flags = LM_CTX_NO_ENV_PATH};
	CHECK_INT(lm_context_new(&o, &ctx), 0);
	get_ok(ctx, "test", "ifaceminor");
	get_fails(ctx, "iface2", LM_E_IFACE, "interface 2.0");
	lm_context_unref(ctx);
}

TEST(other_target)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	get_fails(ctx, "target", LM_E_TARGET, "does not serve target");
	CHECK(!mapped("target.so"));
	goes_on(ctx);
	lm_context_unref(ctx);
	const char *dirs[] = {fixture("basic"), NULL};
	struct lm_options o = {.dirs = dirs, .target = "sparc64", .flags = LM_CTX_NO_ENV_PATH};
	CHECK_INT(lm_context_new(&o, &ctx), 0);
	get_ok(ctx, "test", "target");
	lm_context_unref(ctx);
}

/* A context over the variants fixture for target. */
static struct lm_context *variants_ctx(const char *target)
{
	const char *dirs[] = {fixture("variants"), NULL};
	struct lm_options o = {.dirs = dirs, .iface_major = 1, .target = target, .host = &host,
			       .flags = LM_CTX_NO_ENV_PATH | LM_CTX_NO_FALLBACK};
	struct lm_context *ctx;
	CHECK_INT(lm_context_new(&o, &ctx), 0);
	return ctx;
}

TEST(variants_pick_the_target)
{
	/* The second build in the index: the lookup walks past the first. */
	struct lm_context *ctx = variants_ctx("ttwo");
	CHECK_INT(lm_module_loaded(ctx, "variant"), 0);
	const struct fixture_obj *o = get_ok(ctx, "test", "variant");
	CHECK_STR(o->version, "ttwo");
	CHECK(mapped("variant-ttwo.so") && !mapped("variant-tone.so"));
	CHECK_INT(lm_module_loaded(ctx, "variant"), 1);
	CHECK(get_ok(ctx, "test", "variant") == o);
	CHECK_INT(inits(&counts, "variant"), 1);
	/* Listed once: the build lm_get uses. */
	int seen = 0;
	CHECK_INT(lm_list(ctx, "test", count_feature, &seen), 0);
	CHECK_INT(seen, 2);
	struct lm_feature_info info;
	CHECK_INT(lm_feature_info(ctx, "test", "variant", &info), 0);
	CHECK_CONTAINS(info.path, "variant-ttwo.so");
	lm_context_unref(ctx);
}

TEST(variants_none_fits)
{
	struct lm_context *ctx = variants_ctx("tthree");
	get_fails(ctx, "variant", LM_E_TARGET, "no build for target tthree (built for tone, ttwo)");
	CHECK(!mapped("variant-tone.so") && !mapped("variant-ttwo.so"));
	CHECK_INT(lm_module_loaded(ctx, "variant"), 0);
	lm_context_unref(ctx);
}

TEST(variants_dependency)
{
	struct lm_context *ctx = variants_ctx("tone");
	get_ok(ctx, "test", "variant_user");
	CHECK(mapped("variant-tone.so") && !mapped("variant-ttwo.so"));
	CHECK_STR(get_ok(ctx, "test", "variant")->version, "tone");
	lm_context_unref(ctx);
}

TEST(two_providers_first_wins)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	const struct fixture_obj *o = get_ok(ctx, "test", "dup");
	CHECK_STR(o->module, "dup_a");
	CHECK(mapped("dup_a.so") && !mapped("dup_b.so"));
	lm_context_unref(ctx);
}

TEST(invalid_names)
{
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	const void *obj;
	char longname[300];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	const char *bad[] = {"", "a/b", "..", "x/../y", "..hidden", longname};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT(lm_get(ctx, "test", bad[i], &obj), LM_E_INVAL);
		CHECK_INT(lm_get(ctx, bad[i], "beta", &obj), LM_E_INVAL);
	}
	CHECK_INT(lm_get(ctx, NULL, "beta", &obj), LM_E_INVAL);
	CHECK_INT(lm_get(ctx, "test", "beta", NULL), LM_E_INVAL);
	goes_on(ctx);
	lm_context_unref(ctx);
}

/* A missing library: run in children whose LD_LIBRARY_PATH finds it or not. */
static void needlib_child(bool present)
{
	const char *dir = getenv("NEEDLIB_DIR");
	if (!dir)
		FAIL("NEEDLIB_DIR not set");
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	if (present) {
		get_ok(ctx, "test", "needlib");
		CHECK(mapped("libfixgone.so"));
	} else {
		get_fails(ctx, "needlib", LM_E_NEEDLIB,
			  "module needlib");
		CHECK_CONTAINS(lm_errdetail(ctx), "needs library libfixgone.so, which is missing");
		goes_on(ctx);
	}
	lm_context_unref(ctx);
}

TEST(child_needlib_present)
{
	needlib_child(true);
}

TEST(child_needlib_missing)
{
	needlib_child(false);
}

static void run_child(const char *name, const char *libdir, const char *moddir)
{
	pid_t pid = fork();
	if (pid == 0) {
		setenv("LD_LIBRARY_PATH", libdir, 1);
		setenv("NEEDLIB_DIR", moddir, 1);
		execl(test_exe, test_exe, name, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("child case %s failed", name);
}

TEST(needed_library_deleted)
{
	const char *dir = copy_fixture("basic");
	char lib[4096];
	snprintf(lib, sizeof lib, "%s/lib", scratch());
	sh("mkdir -p '%s' && mv '%s'/libfixgone.so '%s'/", lib, dir, lib);
	run_child("child_needlib_present", lib, dir);
	sh("rm -f '%s'/libfixgone.so", lib);
	run_child("child_needlib_missing", lib, dir);
}

TEST(private_library_through_origin)
{
	/* needlib finds libfixgone beside itself through $ORIGIN: opened by
	 * its path, since $ORIGIN would be /proc/self/fd otherwise. */
	const char *dir = copy_fixture("basic");
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	get_ok(ctx, "test", "needlib");
	char lib[8192];
	snprintf(lib, sizeof lib, "%s/libfixgone.so", dir);
	FILE *f = fopen("/proc/self/maps", "r");
	char line[8192];
	bool found = false;
	while (f && fgets(line, sizeof line, f))
		found |= strstr(line, lib) != NULL;
	if (f)
		fclose(f);
	CHECK(found);
	lm_context_unref(ctx);
}

/* $ORIGIN is the real executable's directory, however it was started. */
TEST(child_origin)
{
	/* The test program lives in the build's tests/, beside fixtures/. */
	struct lm_context *ctx = open_ctx("$ORIGIN/fixtures/basic", LM_CTX_NO_FALLBACK);
	goes_on(ctx);
	lm_context_unref(ctx);
}

static void run_as(const char *exe, const char *name)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl(exe, exe, name, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("%s %s failed", exe, name);
}

TEST(origin_of_a_symlinked_executable)
{
	char real[4096], link[4096];
	CHECK(realpath(test_exe, real) != NULL);
	run_as(real, "child_origin");
	/* Started through a link elsewhere: $ORIGIN is still where it lives. */
	snprintf(link, sizeof link, "%s/test-load-link", scratch());
	CHECK_INT(symlink(real, link), 0);
	run_as(link, "child_origin");
}

/* ---- stale, missing and damaged indexes ------------------------------------ */

TEST(module_rebuilt_after_indexing)
{
	const char *dir = copy_fixture("basic");
	sh("cp '%s' '%s/alpha.so'", fixture("rebuilt/alpha.so"), dir);
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	get_fails(ctx, "alpha", LM_E_STALE, "module alpha");
	CHECK(!mapped("alpha.so"));
	goes_on(ctx);
	lm_context_unref(ctx);

	memset(&logrec, 0, sizeof logrec);
	ctx = open_ctx(dir, 0);
	const struct fixture_obj *o = get_ok(ctx, "test", "alpha");
	CHECK_STR(o->version, "1.1"); /* the new build, found by reading notes */
	CHECK_INT(logrec.warnings, 1);
	CHECK_CONTAINS(logrec.all, "reading the module notes instead");
	get_ok(ctx, "test", "gamma");
	CHECK_INT(logrec.warnings, 1); /* warned once */
	lm_context_unref(ctx);
}

TEST(module_deleted_after_indexing)
{
	const char *dir = copy_fixture("basic");
	sh("rm '%s/gamma.so'", dir);
	struct lm_context *ctx = open_ctx(dir, 0);
	get_fails(ctx, "gamma", LM_E_NOTFOUND, "gamma.so");
	goes_on(ctx);
	lm_context_unref(ctx);
}

TEST(index_missing)
{
	const char *dir = copy_fixture("basic");
	sh("rm '%s/lazymod.index'", dir);
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	get_fails(ctx, "beta", LM_E_NOINDEX, "lazymod.index");
	lm_context_unref(ctx);
	memset(&logrec, 0, sizeof logrec);
	ctx = open_ctx(dir, 0);
	CHECK_INT(logrec.warnings, 1);
	CHECK_CONTAINS(logrec.all, "reading the module notes");
	get_ok(ctx, "test", "gamma");
	lm_context_unref(ctx);
}

TEST(index_truncated)
{
	const char *dir = copy_fixture("basic");
	sh("truncate -s 300 '%s/lazymod.index'", dir);
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	get_fails(ctx, "beta", LM_E_CORRUPT, "truncated");
	lm_context_unref(ctx);
	memset(&logrec, 0, sizeof logrec);
	ctx = open_ctx(dir, 0);
	CHECK_INT(logrec.warnings, 1);
	goes_on(ctx);
	lm_context_unref(ctx);
}

TEST(index_bit_flipped)
{
	const char *dir = copy_fixture("basic");
	char path[8192];
	snprintf(path, sizeof path, "%s/lazymod.index", dir);
	/* Flip one bit in every byte of the feature records: past the header,
	 * so only the per-record checks can tell. */
	FILE *f = fopen(path, "r+b");
	CHECK(f);
	uint32_t hdr[26];
	CHECK_INT(fread(hdr, 1, sizeof hdr, f), sizeof hdr);
	uint32_t nfeats = hdr[10], feats_off = hdr[11];
	for (uint32_t i = 0; i < nfeats * 20; i++) {
		fseek(f, feats_off + i, SEEK_SET);
		int c = fgetc(f);
		fseek(f, feats_off + i, SEEK_SET);
		fputc(c ^ 0x10, f);
	}
	fclose(f);
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	get_fails(ctx, "beta", LM_E_CORRUPT, "damaged");
	lm_context_unref(ctx);
	memset(&logrec, 0, sizeof logrec);
	ctx = open_ctx(dir, 0);
	goes_on(ctx); /* falls back to the notes */
	CHECK_INT(logrec.warnings, 1);
	lm_context_unref(ctx);
}

TEST(lazymod_path_override)
{
	setenv("LAZYMOD_PATH", fixture("basic"), 1);
	struct lm_options o = {.iface_major = 1};
	struct lm_context *ctx;
	CHECK_INT(lm_context_new(&o, &ctx), 0);
	goes_on(ctx);
	lm_context_unref(ctx);
	o.flags = LM_CTX_NO_ENV_PATH;
	CHECK_INT(lm_context_new(&o, &ctx), 0);
	const void *obj;
	CHECK_INT(lm_get(ctx, "test", "beta", &obj), LM_E_NOTFOUND);
	lm_context_unref(ctx);
}

TEST(same_module_as_shared_object)
{
	/* The built-in half of this test is in test-builtin. */
	struct lm_context *ctx = open_ctx(fixture("both"), LM_CTX_NO_FALLBACK);
	const struct fixture_obj *o = get_ok(ctx, "test", "shared");
	CHECK_STR(o->module, "shared");
	CHECK(mapped("shared.so"));
	CHECK_INT(inits(&counts, "shared"), 1);
	struct lm_feature_info info;
	CHECK_INT(lm_feature_info(ctx, "test", "shared", &info), 0);
	CHECK_INT(info.builtin, 0);
	CHECK_INT(info.loaded, 1);
	lm_context_unref(ctx);
}

/* ---- identity: the object that runs is the file verified ------------------ */

/*
 * dlopen, as the library calls it: the tests link with --wrap=dlopen, so
 * that a case can rename another file over a module between the moment
 * lazymod verified it and the moment the loader opens it.
 */
void *__real_dlopen(const char *file, int mode);
void *__wrap_dlopen(const char *file, int mode);
static const char *swap_suffix, *swap_from; /* when armed: rename swap_from over *suffix */

void *__wrap_dlopen(const char *file, int mode)
{
	size_t n = file && swap_suffix ? strlen(file) : 0, m = swap_suffix ? strlen(swap_suffix) : 0;
	if (swap_suffix && n > m && !strcmp(file + n - m, swap_suffix)) {
		swap_suffix = NULL;
		if (rename(swap_from, file) < 0)
			FAIL("rename %s over %s: %s", swap_from, file, strerror(errno));
	}
	return __real_dlopen(file, mode);
}

/* A module that stays mapped after its failed init; then another module. */
static void unloadable_then_next(const char *stuck, const char *next)
{
	struct lm_context *ctx = open_ctx(fixture("identity"), LM_CTX_NO_FALLBACK);
	char so[64];
	snprintf(so, sizeof so, "%s.so", stuck);
	get_fails(ctx, stuck, LM_E_INIT, "initialisation failed");
	CHECK(mapped(so)); /* the loader could not unload it */
	const struct fixture_obj *o = get_ok(ctx, "test", next);
	CHECK_STR(o->module, next);
	CHECK_INT(inits(&counts, next), 1);
	lm_context_unref(ctx);
}

TEST(unloadable_module_fails_init_then_next_is_right)
{
	unloadable_then_next("stuck_cxx", "plain");
	unloadable_then_next("stuck_c", "aaa");
	/* The C++ module, stuck in memory, fails again in a new context. */
	struct lm_context *ctx = open_ctx(fixture("identity"), LM_CTX_NO_FALLBACK);
	get_fails(ctx, "stuck_cxx", LM_E_INIT, "initialisation failed");
	get_ok(ctx, "test", "plain");
	lm_context_unref(ctx);
}

TEST(upgrade_between_two_contexts_runs_the_new_build)
{
	const char *dir = copy_fixture("identity");
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	const struct fixture_obj *old = get_ok(ctx, "test", "aaa");
	CHECK_STR(old->version, "1.0");
	lm_context_unref(ctx);
	CHECK(mapped("aaa.so")); /* -z nodelete: the old build stays */
	/* A package upgrade: the new build renamed over the old, reindexed. */
	sh("cp '%s' '%s/aaa.so.new' && mv '%s/aaa.so.new' '%s/aaa.so'",
	   fixture("identity-v2/aaa.so"), dir, dir, dir);
	sh("'%s/bin/lazymod' index '%s' 2>/dev/null", getenv("LAZYMOD_BUILD"), dir);
	for (int round = 0; round < 2; round++) {
		ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
		const struct fixture_obj *o = get_ok(ctx, "test", "aaa");
		CHECK_STR(o->module, "aaa");
		CHECK_STR(o->version, "2.0");
		CHECK(o != old);
		lm_context_unref(ctx);
	}
}

TEST(host_loaded_a_library_through_proc_self_fd)
{
	/* Another part of the host loads a library the memfd way. */
	char lib[4096];
	snprintf(lib, sizeof lib, "%s/libfixgone.so", fixture("basic"));
	int fd = open(lib, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	char fdpath[64];
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	void *h = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
	CHECK(h != NULL);
	close(fd);
	struct lm_context *ctx = open_ctx(fixture("basic"), LM_CTX_NO_FALLBACK);
	const struct fixture_obj *o = get_ok(ctx, "test", "beta");
	CHECK_STR(o->module, "beta");
	CHECK(mapped("beta.so"));
	lm_context_unref(ctx);
	dlclose(h);
}

TEST(module_replaced_between_check_and_load)
{
	const char *dir = copy_fixture("basic");
	char newer[8192];
	snprintf(newer, sizeof newer, "%s/alpha-1.1.so", scratch());
	sh("cp '%s' '%s'", fixture("rebuilt/alpha.so"), newer);
	swap_suffix = "/alpha.so";
	swap_from = newer;
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	get_fails(ctx, "alpha", LM_E_STALE, "the object loaded is not the file checked");
	CHECK(swap_suffix == NULL); /* the rename did happen inside the load */
	CHECK_INT(inits(&counts, "alpha"), 0);
	CHECK(!mapped("alpha.so")); /* the file that slipped in was closed again */
	goes_on(ctx);
	lm_context_unref(ctx);
	/* With the fallback, the file that slipped in is verified from its
	 * notes and used. */
	sh("'%s/bin/lazymod' index '%s' 2>/dev/null", getenv("LAZYMOD_BUILD"), dir);
	sh("cp '%s' '%s'", fixture("basic/alpha.so"), newer);
	swap_suffix = "/alpha.so";
	ctx = open_ctx(dir, 0);
	const struct fixture_obj *o = get_ok(ctx, "test", "alpha");
	CHECK_STR(o->version, "1.0");
	CHECK_INT(inits(&counts, "alpha"), 1);
	lm_context_unref(ctx);
}

/* ---- races ------------------------------------------------------------------- */

#define THREADS 16
#define ROUNDS 12
TEST(threads_race_each_init_once)
{
	for (int round = 0; round < ROUNDS; round++) {
		struct counts c = {.lock = PTHREAD_MUTEX_INITIALIZER};
		struct fixture_host h = {count_init, &c};
		const char *dirs[] = {fixture("race"), NULL};
		struct lm_options o = {.dirs = dirs, .iface_major = 1, .host = &h,
				       .flags = LM_CTX_NO_FALLBACK | LM_CTX_NO_ENV_PATH};
		struct lm_context *ctx;
		CHECK_INT(lm_context_new(&o, &ctx), 0);
		pthread_barrier_t start;
		pthread_barrier_init(&start, NULL, THREADS);
		struct racer rs[THREADS];
		pthread_t t[THREADS];
		for (int i = 0; i < THREADS; i++) {
			rs[i] = (struct racer){ctx, &start, (unsigned)(round * 100 + i), "race", "r", {0}, 0};
			pthread_create(&t[i], NULL, race, &rs[i]);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&start);
		for (int m = 0; m < 8; m++) {
			char name[8];
			snprintf(name, sizeof name, "r%d", m);
			CHECK_INT(inits(&c, name), 1);
			for (int i = 0; i < THREADS; i++) {
				CHECK_INT(rs[i].err, 0);
				CHECK(rs[i].got[m] == rs[0].got[m]);
				CHECK_STR(((const struct fixture_obj *)rs[i].got[m])->module, name);
			}
		}
		/* Dependencies were ready before their dependents. */
		CHECK(init_seq(&c, "r0") < init_seq(&c, "r1"));
		CHECK(init_seq(&c, "r1") < init_seq(&c, "r3"));
		CHECK(init_seq(&c, "r3") < init_seq(&c, "r7"));
		lm_context_unref(ctx);
	}
}

/* ---- the error detail: per context, per thread -------------------------------- */

struct detail_run {
	struct lm_context *ctx;
	int r;
	char detail[1024];
};

static void *fail_in_thread(void *arg)
{
	struct detail_run *d = arg;
	const void *obj;
	d->r = lm_get(d->ctx, "test", "initfail", &obj);
	snprintf(d->detail, sizeof d->detail, "%s", lm_errdetail(d->ctx));
	return NULL;
}

TEST(errdetail_per_context_and_thread)
{
	struct lm_context *a = open_ctx(fixture("basic"), 0), *b = open_ctx(fixture("basic"), 0);
	CHECK_STR(lm_errdetail(a), "");
	get_fails(a, "nothing", LM_E_NOTFOUND, "no installed module provides test/nothing");
	/* A success on another context leaves a's detail alone, and b has none. */
	get_ok(b, "test", "beta");
	CHECK_CONTAINS(lm_errdetail(a), "test/nothing");
	CHECK_STR(lm_errdetail(b), "");
	/* A failure on b is b's. */
	get_fails(b, "cyc_a", LM_E_CYCLE, "cyc_a -> cyc_b -> cyc_a");
	CHECK_CONTAINS(lm_errdetail(a), "test/nothing");
	/* Another thread's failure on a is that thread's. */
	struct detail_run d = {.ctx = a};
	pthread_t t;
	CHECK_INT(pthread_create(&t, NULL, fail_in_thread, &d), 0);
	pthread_join(t, NULL);
	CHECK_INT(d.r, LM_E_INIT);
	CHECK_CONTAINS(d.detail, "initialisation failed");
	CHECK_CONTAINS(lm_errdetail(a), "test/nothing");
	/* A success clears the calling thread's detail on that context: the
	 * slow path, the fast path, and the other calls alike. */
	get_ok(a, "test", "beta");
	CHECK_STR(lm_errdetail(a), "");
	get_fails(a, "nothing", LM_E_NOTFOUND, "test/nothing");
	get_ok(a, "test", "beta");
	CHECK_STR(lm_errdetail(a), "");
	struct lm_feature_info info;
	CHECK_INT(lm_feature_info(a, "test", "nothing", &info), LM_E_NOTFOUND);
	CHECK_CONTAINS(lm_errdetail(a), "test/nothing");
	CHECK_INT(lm_feature_info(a, "test", "gamma", &info), 0);
	CHECK_STR(lm_errdetail(a), "");
	struct lm_probe_input in = {.size = UINT64_MAX, .name = "x"};
	struct lm_probe_result res;
	CHECK_INT(lm_probe(a, "nokind", &in, &res), LM_E_NOMATCH);
	CHECK_CONTAINS(lm_errdetail(a), "no nokind matches x");
	/* Without a context (lm_context_new): the thread's last failure. */
	struct lm_context *none = NULL;
	CHECK_INT(lm_context_new(NULL, NULL), LM_E_INVAL);
	CHECK_CONTAINS(lm_errdetail(none), "no place for the context");
	lm_context_unref(a);
	lm_context_unref(b);
}

/* ---- threads building indexes, contexts falling back, at once ------------------ */

static void ignore_report(void *d, int e, const char *m)
{
	(void)d, (void)e, (void)m;
}

struct build_run {
	pthread_barrier_t *start;
	const char *dir;
	int r;
	size_t len;
	struct lm_context *ctx;
	int got;
};

static void *build_index(void *arg)
{
	struct build_run *b = arg;
	struct lm__mset set = {0};
	struct lm__buf img = {0};
	pthread_barrier_wait(b->start);
	b->r = lm__scan_dir(&set, b->dir, ignore_report, NULL);
	if (b->r == 0)
		b->r = lm__index_build(&set, b->dir, ignore_report, NULL, &img);
	b->len = img.len;
	free(img.p);
	lm__mset_free(&set);
	return NULL;
}

static void *fall_back(void *arg)
{
	struct build_run *b = arg;
	const char *dirs[] = {b->dir, NULL};
	struct lm_options o = {.dirs = dirs, .iface_major = 1, .host = &host,
			       .flags = LM_CTX_NO_ENV_PATH};
	pthread_barrier_wait(b->start);
	b->r = lm_context_new(&o, &b->ctx);
	const void *obj;
	if (b->r == 0)
		b->got = lm_get(b->ctx, "test", "gamma", &obj);
	return NULL;
}

/*
 * Two threads build indexes of two directories at once, then two contexts
 * over directories without an index read their notes at once (each builds
 * an index in memory). Under ThreadSanitizer (make tsan) any shared state
 * in the builder is a report.
 */
TEST(concurrent_index_builds_and_fallbacks)
{
	const char *dirs[2];
	char buf[2][4096];
	for (int i = 0; i < 2; i++) {
		snprintf(buf[i], sizeof buf[i], "%s/copy%d", scratch(), i);
		sh("cp -a '%s' '%s' && rm '%s/lazymod.index'", fixture(i ? "many" : "basic"), buf[i],
		   buf[i]);
		dirs[i] = buf[i];
	}
	for (int round = 0; round < 4; round++) {
		pthread_barrier_t start;
		pthread_barrier_init(&start, NULL, 2);
		struct build_run runs[2] = {{&start, dirs[0]}, {&start, dirs[1]}};
		pthread_t t[2];
		void *(*fn)(void *) = round % 2 ? fall_back : build_index;
		for (int i = 0; i < 2; i++)
			CHECK_INT(pthread_create(&t[i], NULL, fn, &runs[i]), 0);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&start);
		for (int i = 0; i < 2; i++) {
			CHECK_INT(runs[i].r, 0);
			if (fn == build_index)
				CHECK(runs[i].len > 0);
			lm_context_unref(runs[i].ctx);
		}
		if (fn == fall_back) {
			CHECK_INT(runs[0].got, 0);              /* basic has gamma */
			CHECK_INT(runs[1].got, LM_E_NOTFOUND); /* many has not */
		}
	}
}

TEST(errors_table)
{
	static const int codes[] = {LM_E_NOTFOUND, LM_E_NEEDLIB, LM_E_IFACE, LM_E_TARGET, LM_E_STALE,
				    LM_E_CORRUPT, LM_E_INIT, LM_E_DEP, LM_E_CYCLE, LM_E_NOMEM,
				    LM_E_IO, LM_E_INVAL, LM_E_BADMODULE, LM_E_LOAD, LM_E_VERSION,
				    LM_E_NOMATCH, LM_E_NOINDEX};
	size_t n = sizeof codes / sizeof codes[0];
	for (size_t i = 0; i < n; i++) {
		CHECK(lm_errname(codes[i]) != NULL);
		CHECK(strcmp(lm_strerror(codes[i]), "unknown error") != 0);
		for (size_t j = 0; j < i; j++) {
			CHECK(strcmp(lm_errname(codes[i]), lm_errname(codes[j])) != 0);
			CHECK(strcmp(lm_strerror(codes[i]), lm_strerror(codes[j])) != 0);
		}
	}
	CHECK_STR(lm_errname(LM_E_NEEDLIB), "LM_E_NEEDLIB");
	CHECK_STR(lm_strerror(LM_E_NOTFOUND), "not installed");
	CHECK_STR(lm_strerror(-999), "unknown error");
	CHECK(lm_errname(-999) == NULL);
	CHECK_STR(lm_strerror(0), "success");
}

TEST_MAIN
