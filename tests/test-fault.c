/* SPDX-License-Identifier: MIT */
/*
 * test-fault - what goes wrong around a running host: unsafe module files
 * and directories, an index that points outside its directory, a package
 * upgrade under a running host (with a fallback directory for it), an
 * index rewritten while other processes read it, and allocations failing
 * one by one.
 */
#include "testutil.h"

#include <sys/socket.h>
#include <sys/un.h>

#include "fixtures/fixture.h"
#include "lazymod-private.h"

static struct lm_context *open_dirs(const char *const *dirs, unsigned flags)
{
	struct lm_options o = {.dirs = dirs, .iface_major = 1, .iface_minor = 0,
			       .flags = flags | LM_CTX_NO_ENV_PATH};
	struct lm_context *ctx;
	int r = lm_context_new(&o, &ctx);
	if (r < 0)
		FAIL("lm_context_new: %s: %s", lm_strerror(r), lm_errdetail(NULL));
	return ctx;
}

static struct lm_context *open_ctx(const char *dir, unsigned flags)
{
	const char *dirs[] = {dir, NULL};
	return open_dirs(dirs, flags);
}

static int get(struct lm_context *ctx, const char *kind, const char *name,
	       const struct fixture_obj **o)
{
	const void *obj = NULL;
	int r = lm_get(ctx, kind, name, &obj);
	*o = obj;
	return r;
}

/* Whether a mapping's path ends with suffix (a directory and a file). */
static bool mapped_path(const char *suffix)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	bool found = false;
	size_t n = strlen(suffix);
	while (f && !found && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		size_t len = strlen(line);
		found = len >= n && !strcmp(line + len - n, suffix);
	}
	if (f)
		fclose(f);
	return found;
}

static void ignore(void *d, int e, const char *m)
{
	(void)d, (void)e, (void)m;
}

/* Builds dir's index with the library's own indexer, as `lazymod index` does
 * (with --sha256 when sha256 is set). */
static void reindex_sha(const char *dir, const char *out, const char *relative_to, bool sha256)
{
	struct lm__mset set = {.want_sha256 = sha256};
	struct lm__buf img = {0};
	CHECK_INT(lm__scan_dir(&set, dir, ignore, NULL), 0);
	CHECK_INT(lm__index_build(&set, relative_to, ignore, NULL, &img), 0);
	CHECK_INT(lm__index_write_file(out, img.p, img.len), 0);
	free(img.p);
	lm__mset_free(&set);
}

static void reindex(const char *dir, const char *out, const char *relative_to)
{
	reindex_sha(dir, out, relative_to, false);
}

/* Changes one byte of a module that neither its size nor its build-id
 * covers: a letter of the compiler's .comment string. */
static void tamper(const char *path)
{
	FILE *f = fopen(path, "r+b");
	CHECK(f);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	char *gcc = memmem(buf, n, "GCC: (", 6);
	CHECK(gcc);
	fseek(f, gcc - buf, SEEK_SET);
	fputc('g', f);
	fclose(f);
}

/* ---- trust ------------------------------------------------------------------ */

TEST(module_writable_by_group_or_others)
{
	const char *dir = copy_fixture("basic");
	const struct fixture_obj *o;
	sh("chmod g+w '%s/beta.so'", dir);
	struct lm_context *ctx = open_ctx(dir, 0);
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "beta.so is writable by its group");
	CHECK(!mapped("beta.so"));
	sh("chmod o+w '%s/dup_a.so'", dir);
	CHECK_INT(get(ctx, "test", "dup", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "dup_a.so is writable by others");
	CHECK(!mapped("dup_a.so"));
	/* A module depending on an unsafe one fails too, and says why. */
	CHECK_INT(get(ctx, "test", "alpha", &o), LM_E_DEP);
	CHECK_CONTAINS(lm_errdetail(ctx), "writable by its group");
	lm_context_unref(ctx);
	ctx = open_ctx(dir, LM_CTX_ALLOW_UNSAFE);
	CHECK_INT(get(ctx, "test", "beta", &o), 0);
	lm_context_unref(ctx);
}

TEST(directory_writable_by_others)
{
	const char *dir = copy_fixture("basic");
	const struct fixture_obj *o;
	sh("chmod o+w '%s'", dir);
	struct lm_context *ctx = open_ctx(dir, 0);
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "is writable by others");
	lm_context_unref(ctx);
	ctx = open_ctx(dir, LM_CTX_ALLOW_UNSAFE);
	CHECK_INT(get(ctx, "test", "beta", &o), 0);
	lm_context_unref(ctx);
}

TEST(module_owned_by_another_user)
{
	if (geteuid() != 0) {
		printf("skipped: changing a file's owner needs root\n");
		return;
	}
	const char *dir = copy_fixture("basic");
	const struct fixture_obj *o;
	sh("chown 12345 '%s/beta.so'", dir);
	struct lm_context *ctx = open_ctx(dir, 0);
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "belongs to uid 12345");
	lm_context_unref(ctx);
}

TEST(unsafe_directory_does_not_hide_later_ones)
{
	char early[4096], late[4096];
	snprintf(early, sizeof early, "%s/early", scratch());
	snprintf(late, sizeof late, "%s/late", scratch());
	sh("cp -a '%s' '%s' && cp -a '%s' '%s' && chmod o+w '%s'", fixture("basic"), early,
	   fixture("basic"), late, early);
	struct log_record log = {0};
	const char *dirs[] = {early, late, NULL};
	struct lm_options opt = {.dirs = dirs, .iface_major = 1, .flags = LM_CTX_NO_ENV_PATH,
				 .log = record_log, .log_data = &log};
	struct lm_context *ctx;
	CHECK_INT(lm_context_new(&opt, &ctx), 0);
	const struct fixture_obj *o;
	/* The early provider is refused and reported; the late one answers. */
	CHECK_INT(get(ctx, "test", "beta", &o), 0);
	CHECK_STR(o->feature, "beta");
	CHECK(mapped_path("/late/beta.so"));
	CHECK(!mapped_path("/early/beta.so"));
	CHECK_CONTAINS(lm_errdetail(ctx), "/early is writable by others");
	CHECK_INT(log.warnings, 1);
	CHECK_CONTAINS(log.all, "/early is writable by others: refused");
	/* Once loaded, the feature comes from the late directory, quietly. */
	CHECK_INT(get(ctx, "test", "beta", &o), 0);
	CHECK_STR(lm_errdetail(ctx), "");
	CHECK_INT(log.warnings, 1);
	lm_context_unref(ctx);
	/* With no later provider, the refusal is the answer. */
	const char *only[] = {early, NULL};
	ctx = open_dirs(only, 0);
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "/early is writable by others");
	lm_context_unref(ctx);
}

TEST(symlinked_module_judged_where_it_points)
{
	const char *dir = copy_fixture("basic");
	char elsewhere[4096];
	snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", scratch());
	/* beta.so is a link into a directory anyone may write. */
	sh("mkdir '%s' && mv '%s/beta.so' '%s/' && ln -s '%s/beta.so' '%s/beta.so' && chmod 777 '%s'",
	   elsewhere, dir, elsewhere, elsewhere, dir, elsewhere);
	const struct fixture_obj *o;
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "directory");
	CHECK_CONTAINS(lm_errdetail(ctx), "/elsewhere is writable by others");
	CHECK(!mapped("beta.so"));
	lm_context_unref(ctx);
	/* The target's own mode counts, not the link's (always 0777). */
	sh("chmod 755 '%s' && chmod g+w '%s/beta.so'", elsewhere, elsewhere);
	ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "writable by its group");
	lm_context_unref(ctx);
	/* A safe target loads through the link. */
	sh("chmod g-w '%s/beta.so'", elsewhere);
	ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	CHECK_INT(get(ctx, "test", "beta", &o), 0);
	CHECK(mapped_path("/elsewhere/beta.so") || mapped("beta.so"));
	lm_context_unref(ctx);
}

TEST(index_pointing_outside_its_directory)
{
	const char *dir = copy_fixture("basic");
	char elsewhere[8192], out[8192];
	snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", scratch());
	snprintf(out, sizeof out, "%s/lazymod.index", dir);
	sh("mkdir -p '%s'", elsewhere);
	/* Paths relative to another directory: "../basic/beta.so". */
	reindex(dir, out, elsewhere);
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	const struct fixture_obj *o;
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "leaves the module directory");
	CHECK(!mapped("beta.so"));
	lm_context_unref(ctx);
}

TEST(strict_mode_sha256)
{
	const char *dir = copy_fixture("basic");
	char out[8192];
	snprintf(out, sizeof out, "%s/lazymod.index", dir);
	const struct fixture_obj *o;
	/* Without recorded digests, strict mode loads nothing. */
	struct lm_context *ctx = open_ctx(dir, LM_CTX_STRICT);
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "records no SHA-256");
	CHECK(!mapped("beta.so"));
	lm_context_unref(ctx);
	/* With them, it loads what matches. */
	reindex_sha(dir, out, dir, true);
	ctx = open_ctx(dir, LM_CTX_STRICT);
	CHECK_INT(get(ctx, "test", "beta", &o), 0);
	lm_context_unref(ctx);
	/* A byte changed where neither size nor build-id would notice. */
	char path[8192];
	snprintf(path, sizeof path, "%s/gamma.so", dir);
	tamper(path);
	ctx = open_ctx(dir, LM_CTX_STRICT);
	CHECK_INT(get(ctx, "test", "gamma", &o), LM_E_UNSAFE);
	CHECK_CONTAINS(lm_errdetail(ctx), "gamma.so): SHA-256 differs from the indexed one");
	CHECK(!mapped("gamma.so"));
	CHECK_INT(get(ctx, "test", "alpha", &o), 0); /* the others load */
	lm_context_unref(ctx);
	/* Outside strict mode a recorded digest is checked too: the file is
	 * stale, and the notes are read instead. */
	ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	CHECK_INT(get(ctx, "test", "gamma", &o), LM_E_STALE);
	CHECK_CONTAINS(lm_errdetail(ctx), "SHA-256 differs");
	lm_context_unref(ctx);
}

TEST(index_unreadable)
{
	/* Root reads whatever the mode says: make the index a directory. */
	const char *dir = copy_fixture("basic");
	sh("rm '%s/lazymod.index' && mkdir '%s/lazymod.index'", dir, dir);
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	const struct fixture_obj *o;
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_IO);
	CHECK_CONTAINS(lm_errdetail(ctx), "lazymod.index");
	lm_context_unref(ctx);
	ctx = open_ctx(dir, 0);
	CHECK_INT(get(ctx, "test", "beta", &o), 0); /* through the notes */
	lm_context_unref(ctx);
}

TEST(module_directory_unreadable)
{
	char missing[4096];
	snprintf(missing, sizeof missing, "%s/no-such-dir", scratch());
	const char *dirs[] = {missing, fixture("basic"), NULL};
	struct lm_context *ctx = open_dirs(dirs, 0);
	const struct fixture_obj *o;
	CHECK_INT(get(ctx, "test", "beta", &o), 0); /* the next directory answers */
	CHECK_INT(get(ctx, "test", "nothing", &o), LM_E_NOTFOUND);
	lm_context_unref(ctx);
	const char *only[] = {missing, NULL};
	ctx = open_dirs(only, LM_CTX_NO_FALLBACK);
	CHECK_INT(get(ctx, "test", "beta", &o), LM_E_NOINDEX);
	CHECK_CONTAINS(lm_errdetail(ctx), "no-such-dir/lazymod.index");
	lm_context_unref(ctx);
	if (geteuid() != 0) {
		const char *dir = copy_fixture("basic");
		sh("rm '%s/lazymod.index' && chmod 0 '%s'", dir, dir);
		ctx = open_ctx(dir, 0);
		CHECK_INT(get(ctx, "test", "beta", &o), LM_E_NOTFOUND);
		lm_context_unref(ctx);
		sh("chmod 755 '%s'", dir);
	}
}

/* ---- files that are not regular files --------------------------------------- */

static const char *const special_kinds[] = {"fifo", "socket", "device", "directory"};
static const char *const special_names[] = {"a FIFO", "a socket", "a character device",
					    "a directory"};

/* Makes path a FIFO, a bound socket, a link to /dev/null or a directory. */
static void make_special(int kind, const char *path)
{
	unlink(path);
	switch (kind) {
	case 0:
		CHECK_INT(mkfifo(path, 0644), 0);
		break;
	case 1: {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK(s >= 0 && strlen(path) < sizeof a.sun_path);
		strcpy(a.sun_path, path);
		CHECK_INT(bind(s, (struct sockaddr *)&a, sizeof a), 0);
		close(s);
		break;
	}
	case 2:
		CHECK_INT(symlink("/dev/null", path), 0);
		break;
	default:
		CHECK_INT(mkdir(path, 0755), 0);
	}
}

/*
 * A FIFO, socket, device or directory where the index or a module is
 * expected: context creation, the notes fallback and the load refuse it at
 * once, naming the file and what it is. A blocking open would hang here:
 * the alarm turns that into a failure.
 */
TEST(special_files_never_block)
{
	alarm(20);
	for (int k = 0; k < 4; k++) {
		char dir[4096], path[8192], want[256];
		snprintf(dir, sizeof dir, "%s/special-%s", scratch(), special_kinds[k]);
		sh("cp -a '%s' '%s'", fixture("basic"), dir);
		const struct fixture_obj *o;

		/* The index. */
		snprintf(path, sizeof path, "%s/lazymod.index", dir);
		make_special(k, path);
		struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
		CHECK_INT(get(ctx, "test", "beta", &o), LM_E_IO);
		snprintf(want, sizeof want, "lazymod.index: %s, not a regular file", special_names[k]);
		CHECK_CONTAINS(lm_errdetail(ctx), want);
		lm_context_unref(ctx);

		/* The fallback reads the notes, and skips a module of that kind. */
		snprintf(path, sizeof path, "%s/evil.so", dir);
		make_special(k, path);
		struct log_record log = {0};
		const char *dirs[] = {dir, NULL};
		struct lm_options opt = {.dirs = dirs, .iface_major = 1, .flags = LM_CTX_NO_ENV_PATH,
					 .log = record_log, .log_data = &log};
		CHECK_INT(lm_context_new(&opt, &ctx), 0);
		CHECK_INT(get(ctx, "test", "beta", &o), 0);
		CHECK_CONTAINS(log.all, want);
		lm_context_unref(ctx);

		/* A module replaced by one after indexing. */
		sh("rm -rf '%s/lazymod.index' '%s'", dir, path);
		reindex(dir, path, dir);
		sh("mv '%s' '%s/lazymod.index'", path, dir);
		snprintf(path, sizeof path, "%s/beta.so", dir);
		sh("rm '%s'", path);
		make_special(k, path);
		ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
		CHECK_INT(get(ctx, "test", "beta", &o), LM_E_BADMODULE);
		snprintf(want, sizeof want, "beta.so): %s, not a regular file", special_names[k]);
		CHECK_CONTAINS(lm_errdetail(ctx), want);
		CHECK_INT(get(ctx, "test", "gamma", &o), LM_E_DEP); /* it needs beta, via alpha */
		lm_context_unref(ctx);
	}
}

/* ---- upgrades under a running host ----------------------------------------- */

TEST(upgrade_under_a_running_host)
{
	char live[4096], old[4096], out[8192];
	snprintf(live, sizeof live, "%s/live", scratch());
	snprintf(old, sizeof old, "%s/old", scratch());
	snprintf(out, sizeof out, "%s/lazymod.index", live);
	sh("cp -a '%s' '%s' && cp -a '%s' '%s'", fixture("upgrade-v1"), live, fixture("upgrade-v1"),
	   old);
	/* The host searches the live directory, then the one packaging keeps
	 * for running hosts. */
	const char *dirs[] = {live, old, NULL};
	struct lm_context *ctx = open_dirs(dirs, 0);
	const struct fixture_obj *o;
	CHECK_INT(get(ctx, "up", "keep", &o), 0);
	CHECK(mapped_path("/live/up_keep.so"));

	/* The package manager installs version 2 and reindexes. */
	sh("rm -f '%s'/*.so && cp '%s'/*.so '%s'/", live, fixture("upgrade-v2"), live);
	reindex(live, out, live);

	/* Rebuilt compatibly: the new build loads. */
	CHECK_INT(get(ctx, "up", "compat", &o), 0);
	CHECK_STR(o->version, "2.0");
	CHECK(mapped_path("/live/up_compat.so"));
	/* Built for interface 2.0: refused before dlopen, the old one used. */
	CHECK_INT(get(ctx, "up", "major", &o), 0);
	CHECK_STR(o->version, "1.0");
	CHECK(mapped_path("/old/up_major.so"));
	CHECK(!mapped_path("/live/up_major.so"));
	/* Removed: found in the old directory. */
	CHECK_INT(get(ctx, "up", "gone", &o), 0);
	CHECK(mapped_path("/old/up_gone.so"));
	/* New in version 2: found through the rewritten index. */
	CHECK_INT(get(ctx, "up", "new", &o), 0);
	CHECK_STR(o->version, "2.0");
	/* What was loaded before the upgrade stays loaded. */
	CHECK_INT(get(ctx, "up", "keep", &o), 0);
	lm_context_unref(ctx);

	/* Without the old directory, the incompatible module is an error. */
	const char *only[] = {live, NULL};
	ctx = open_dirs(only, 0);
	CHECK_INT(get(ctx, "up", "major", &o), LM_E_IFACE);
	CHECK_CONTAINS(lm_errdetail(ctx), "built for interface 2.0");
	CHECK(!mapped_path("/live/up_major.so"));
	CHECK_INT(get(ctx, "up", "gone", &o), LM_E_NOTFOUND);
	lm_context_unref(ctx);
}

/* ---- reindexing under load -------------------------------------------------- */

TEST(reindex_under_load)
{
	const char *dir = copy_fixture("basic");
	char out[8192], parked[8192];
	snprintf(out, sizeof out, "%s/lazymod.index", dir);
	snprintf(parked, sizeof parked, "%s/gamma.so.parked", scratch());
	enum { READERS = 4, PER_READER = 250, REWRITES = 100 };
	pid_t pids[READERS];
	for (int i = 0; i < READERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			for (int k = 0; k < PER_READER; k++) {
				struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
				struct lm_feature_info info;
				/* beta is in every version of the index, gamma in half. */
				int r = lm_feature_info(ctx, "test", "beta", &info);
				if (r != 0)
					FAIL("reader %d, round %d: beta: %s (%s)", i, k, lm_strerror(r),
					     lm_errdetail(ctx));
				r = lm_feature_info(ctx, "test", "gamma", &info);
				if (r != 0 && r != LM_E_NOTFOUND)
					FAIL("reader %d, round %d: gamma: %s (%s)", i, k,
					     lm_strerror(r), lm_errdetail(ctx));
				lm_context_unref(ctx);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < REWRITES; w++) {
		if (w % 2)
			sh("mv '%s' '%s/gamma.so'", parked, dir);
		else
			sh("mv '%s/gamma.so' '%s'", dir, parked);
		reindex(dir, out, dir);
	}
	for (int i = 0; i < READERS; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("reader %d saw a torn or missing index", i);
	}
}

/* ---- a long-running host --------------------------------------------------- */

/* Mappings of files named lazymod.index (current or replaced) in this process. */
/* How many of this process's mappings name a file holding `what`. */
static int mappings_of(const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return n;
}

static int index_mappings(void)
{
	return mappings_of("/lazymod.index");
}

static long vm_size_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* Reindexes dir as `lazymod index` does, renaming a new file over the old
 * index, but without its fsyncs: a thousand of them take minutes on a busy
 * disk, and nothing here needs the index to survive a crash. */
static void reindex_quickly(const char *dir, const char *out)
{
	struct lm__mset set = {0};
	struct lm__buf img = {0};
	char tmp[8300];
	snprintf(tmp, sizeof tmp, "%s.new", out);
	CHECK_INT(lm__scan_dir(&set, dir, ignore, NULL), 0);
	CHECK_INT(lm__index_build(&set, dir, ignore, NULL, &img), 0);
	FILE *f = fopen(tmp, "wb");
	CHECK(f && fwrite(img.p, 1, img.len, f) == img.len && fclose(f) == 0);
	CHECK_INT(rename(tmp, out), 0);
	free(img.p);
	lm__mset_free(&set);
}

/*
 * A host that lives through 1,000 reindexes of its directory, looking
 * features up between them, keeps one or two index generations mapped:
 * each replaced one is released once no call is in flight. Bounds: at most
 * 2 mappings of the index at any time, and VmSize at most 8 MiB above what
 * it was after the first round, outside sanitizer builds (the 1,000
 * generations kept would be 1,000 mappings, and 8.6 MiB).
 */
TEST(thousand_reindexes_keep_mapped_memory_bounded)
{
	const char *dir = copy_fixture("basic");
	char out[8192], parked[8192];
	snprintf(out, sizeof out, "%s/lazymod.index", dir);
	snprintf(parked, sizeof parked, "%s/gamma.so.parked", scratch());
	struct lm_context *ctx = open_ctx(dir, LM_CTX_NO_FALLBACK);
	const struct fixture_obj *o, *beta;
	struct lm_feature_info info;
	CHECK_INT(get(ctx, "test", "beta", &beta), 0);
	CHECK_INT(lm_feature_info(ctx, "test", "beta", &info), 0);
	long base = 0;
	int most = 0;
	for (int round = 0; round < 1000; round++) {
		/* Odd rounds add gamma, even ones take it away again. */
		char gamma[8192];
		snprintf(gamma, sizeof gamma, "%s/gamma.so", dir);
		CHECK_INT(round % 2 ? rename(parked, gamma) : rename(gamma, parked), 0);
		reindex_quickly(dir, out);
		/* A miss makes the context look at the index again: each round
		 * maps a new generation. */
		CHECK_INT(get(ctx, "test", round % 2 ? "gamma" : "nothing", &o),
			  round % 2 ? 0 : LM_E_NOTFOUND);
		CHECK_INT(get(ctx, "test", "beta", &o), 0);
		CHECK(o == beta); /* loaded once, carried over */
		int n = index_mappings();
		most = n > most ? n : most;
		if (round == 0)
			base = vm_size_kib();
	}
	long grown = vm_size_kib() - base;
	printf("index mappings at most %d; VmSize grew by %ld KiB over 1000 reindexes\n", most,
	       grown);
	CHECK(most >= 1 && most <= 2);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* Sanitizers and Valgrind keep freed memory a while and map memory of
	 * their own: there the mappings alone are the measure. */
	if (!mappings_of("vgpreload"))
		CHECK(grown < 8 * 1024);
#endif
	/* What lm_feature_info handed out before still reads. */
	CHECK_STR(info.name, "beta");
	CHECK_STR(info.module, "beta");
	lm_context_unref(ctx);
}

/* ---- out of memory at every allocation ------------------------------------ */

/*
 * Runs op with the Nth allocation failing, for N = 0, 1, ... until op
 * succeeds: every failure must be LM_E_NOMEM and leave things so that the
 * same op succeeds afterwards. Leaks show in the sanitizer build.
 */
static int oom_rounds(int (*op)(void *), void *data)
{
	for (int n = 0; n < 10000; n++) {
		lm__fault_alloc_after = n;
		int r = op(data);
		bool hit = lm__fault_alloc_after < 0;
		lm__fault_alloc_after = -1;
		if (!hit) {
			if (r != 0)
				FAIL("without a failed allocation: %s (%s)", lm_strerror(r),
				     lm__detail());
			return n;
		}
		if (r != LM_E_NOMEM && r != 0)
			FAIL("allocation %d failed, but the error is %s (%s)", n, lm_strerror(r),
			     lm__detail());
	}
	FAIL("no end to allocations");
}

static int op_context(void *data)
{
	const char *dirs[] = {data, NULL};
	struct lm_options o = {.dirs = dirs, .iface_major = 1, .flags = LM_CTX_NO_ENV_PATH};
	struct lm_context *ctx = NULL;
	int r = lm_context_new(&o, &ctx);
	lm_context_unref(ctx);
	return r;
}

static int op_load(void *data)
{
	const void *obj;
	return lm_get(data, "test", "gamma", &obj);
}

static int op_probe(void *data)
{
	struct lm_probe_input in = {(const unsigned char *)"CODE?", 5, NULL, 0, 5, "x.xyz"};
	struct lm_probe_result res;
	return lm_probe(data, "fmt", &in, &res);
}

TEST(out_of_memory_everywhere)
{
	/* Context creation, over an index and over a directory without one. */
	CHECK(oom_rounds(op_context, (void *)fixture("basic")) > 3);
	const char *noindex = copy_fixture("basic");
	sh("rm '%s/lazymod.index'", noindex);
	CHECK(oom_rounds(op_context, (void *)noindex) > 20);
	/* A lookup that loads a chain: each failure leaves the chain loadable. */
	struct lm_context *ctx = open_ctx(fixture("basic"), 0);
	CHECK(oom_rounds(op_load, ctx) > 0);
	CHECK_INT(lm_module_loaded(ctx, "gamma"), 1);
	lm_context_unref(ctx);
	/* A probe that has to run a code probe. */
	ctx = open_ctx(fixture("probe"), 0);
	oom_rounds(op_probe, ctx);
	lm_context_unref(ctx);
}

TEST_MAIN
