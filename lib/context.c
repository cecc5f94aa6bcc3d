/* SPDX-License-Identifier: MIT */
/*
 * context.c - the context: its sources (the built-in modules and each module
 * directory, in search order), feature lookup, and loading a module with its
 * dependencies exactly once.
 *
 * Each source has a generation: an index image (mapped from the directory's
 * lazymod.index, or built in memory from the modules' notes when the index
 * is missing, damaged or stale) and the state of each of its modules. A
 * lookup of a loaded feature reads the generation pointer, the module's
 * state and the feature's object with acquire loads only: no lock, no system
 * call. Loading takes the context's lock (recursive, because an init may ask
 * for other features), and is all or nothing: every module of the request is
 * verified and opened before any init runs, and a failure closes what the
 * request opened and marks the failing module failed, for good.
 *
 * A reindex gives a source a new generation; the old one is retired, and
 * freed by the last public call that was in flight (lm__call_begin/end):
 * a long-running host keeps one or two generations, however often its
 * directory is reindexed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lazymod-private.h"

#define INDEX_NAME "lazymod.index"
#define MAX_DEPTH 64 /* longest dependency chain followed */

#if defined(__x86_64__)
#define HOST_TARGET "x86_64"
#elif defined(__aarch64__)
#define HOST_TARGET "aarch64"
#elif defined(__i386__)
#define HOST_TARGET "i386"
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_TARGET "riscv64"
#else
#define HOST_TARGET "unknown"
#endif

int lm__check_name(const char *what, const char *s)
{
	if (!s || !*s)
		return lm__fail(LM_E_INVAL, "%s is empty", what);
	size_t n = strnlen(s, LM__NAME_MAX + 1);
	if (n > LM__NAME_MAX)
		return lm__fail(LM_E_INVAL, "%s is longer than %d bytes", what, LM__NAME_MAX);
	if (strchr(s, '/') || strstr(s, ".."))
		return lm__fail(LM_E_INVAL, "%s \"%s\" holds '/' or \"..\"", what, s);
	return 0;
}

/* ---- generations ---------------------------------------------------------- */

static void free_detail(void *slot)
{
	free(((struct lm__modstate *)slot)->detail);
}

static void gen_free(struct lm__gen *g)
{
	while (g) {
		struct lm__gen *prev = g->prev;
		lm__sparse_free(&g->mods, free_detail);
		lm__sparse_free(&g->objs, NULL);
		lm__sparse_free(&g->ok, NULL);
		if (g->map)
			munmap(g->map, g->maplen);
		free(g->heap);
		free(g);
		g = prev;
	}
}

/*
 * Wraps a validated index in a generation (taking map or heap). Its
 * modules' state, features' objects and verified marks take memory only
 * once used (sparse.c): opening costs the same over 10 modules as over
 * 10,000.
 */
static struct lm__gen *gen_new(const struct lm__index *ix, void *map, size_t maplen, void *heap)
{
	struct lm__gen *g = lm__calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->ix = *ix;
	lm__sparse_init(&g->mods, ix->h->nmods, sizeof(struct lm__modstate));
	lm__sparse_init(&g->objs, ix->h->nfeats, sizeof(const void *));
	lm__sparse_init(&g->ok, (size_t)ix->h->nfeats + ix->h->nrules, 1);
	g->ix.ok = &g->ok;
	g->map = map;
	g->maplen = maplen;
	g->heap = heap;
	return g;
}

struct report_ctx {
	struct lm_context *ctx;
	const char *what;
};

static void log_report(void *data, int err, const char *msg)
{
	struct report_ctx *rc = data;
	/* What an indexer reports (duplicates, missing dependencies, cycles) is
	 * news at run time only when the module concerned is asked for, and
	 * then it comes back as that request's error. */
	(void)err;
	lm__log(&rc->ctx->log, LM_LOG_INFO, "%s: %s", rc->what, msg);
}

/* Builds a generation in memory from a manifest set. */
static int gen_from_set(struct lm_context *ctx, struct lm__mset *set, const char *dir,
			struct lm__gen **out)
{
	struct lm__buf img = {0};
	struct report_ctx rc = {ctx, dir ? dir : "built-in modules"};
	int r = lm__index_build(set, dir ? dir : "/", log_report, &rc, &img);
	if (r < 0) {
		free(img.p);
		return r;
	}
	struct lm__index ix;
	char why[256] = "";
	r = lm__index_open(&ix, img.p, img.len, why, sizeof why);
	if (r < 0) { /* cannot happen: we just built it */
		free(img.p);
		return lm__fail(LM_E_CORRUPT, "index built in memory is invalid: %s", why);
	}
	*out = gen_new(&ix, NULL, 0, img.p);
	if (!*out) {
		free(img.p);
		return lm__fail(LM_E_NOMEM, "out of memory");
	}
	return 0;
}

/* Reads a directory's module notes into a new in-memory generation. */
static int gen_scan(struct lm_context *ctx, const char *dir, struct lm__gen **out)
{
	struct lm__mset set = {0};
	struct report_ctx rc = {ctx, dir};
	uint64_t t0 = lm__now_ns();
	int r = lm__scan_dir(&set, dir, log_report, &rc);
	if (r == 0)
		r = gen_from_set(ctx, &set, dir, out);
	if (r == 0)
		lm__dbg(&ctx->log, "read the notes of %zu modules in %s (%.3f ms)", set.nmods, dir,
			(lm__now_ns() - t0) / 1e6);
	lm__mset_free(&set);
	return r;
}

/* Maps dir/lazymod.index. Returns 0, LM_E_NOINDEX, LM_E_CORRUPT, LM_E_VERSION...
 * *st receives the file's identity, to notice a rewrite later. */
static int gen_map(const char *dir, struct lm__gen **out, struct stat *id)
{
	char *path = lm__path_join(dir, INDEX_NAME);
	if (!path)
		return lm__fail(LM_E_NOMEM, "out of memory");
	struct stat st;
	char why[256] = "";
	int r = 0, fd = lm__open_regular(path, &st, why, sizeof why);
	if (fd < 0) {
		r = lm__fail(fd == LM_E_NOTFOUND ? LM_E_NOINDEX : LM_E_IO, "index %s: %s", path, why);
		goto out;
	}
	*id = st;
	if (st.st_size <= 0 || (uint64_t)st.st_size > UINT32_MAX) {
		r = lm__fail(LM_E_CORRUPT, "index %s: %s", path,
			     st.st_size <= 0 ? "empty" : "larger than 4 GiB");
		goto out;
	}
	size_t len = (size_t)st.st_size;
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		r = lm__fail(LM_E_IO, "index %s: cannot map: %s", path, strerror(errno));
		goto out;
	}
	struct lm__index ix;
	r = lm__index_open(&ix, map, len, why, sizeof why);
	if (r < 0) {
		munmap(map, len);
		r = lm__fail(r, "index %s: %s", path, why);
		goto out;
	}
	*out = gen_new(&ix, map, len, NULL);
	if (!*out) {
		munmap(map, len);
		r = lm__fail(LM_E_NOMEM, "out of memory");
	}
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return r;
}

/* ---- the context ---------------------------------------------------------- */

static int add_source(struct lm_context *ctx, size_t *cap, const char *dir, const char *origin)
{
	char *full;
	if (!strncmp(dir, "$ORIGIN", 7) || !strncmp(dir, "${ORIGIN}", 9)) {
		const char *rest = dir + (dir[1] == '{' ? 9 : 7);
		if (!origin)
			return lm__fail(LM_E_INVAL, "%s: cannot find the executable's directory", dir);
		full = lm__malloc(strlen(origin) + strlen(rest) + 1);
		if (full)
			sprintf(full, "%s%s", origin, rest);
	} else if (dir[0] != '/') {
		char cwd[PATH_MAX];
		full = getcwd(cwd, sizeof cwd) ? lm__path_join(cwd, dir) : NULL;
	} else {
		full = lm__strdup(dir);
	}
	if (!full)
		return lm__fail(LM_E_NOMEM, "out of memory");
	char real[PATH_MAX];
	if (realpath(full, real)) {
		char *r = lm__strdup(real);
		if (!r) {
			free(full);
			return lm__fail(LM_E_NOMEM, "out of memory");
		}
		free(full);
		full = r;
	}
	if (lm__grow((void **)&ctx->sources, cap, ctx->nsources, sizeof *ctx->sources) < 0) {
		free(full);
		return lm__fail(LM_E_NOMEM, "out of memory");
	}
	struct lm__source *s = &ctx->sources[ctx->nsources++];
	memset(s, 0, sizeof *s);
	s->dir = full;
	return 0;
}

/* Opens a directory source: its index, or the fallback. Never fails the context. */
static void remember_index(struct lm__source *s, const struct stat *st)
{
	s->ix_dev = st->st_dev;
	s->ix_ino = st->st_ino;
	s->ix_mtime = st->st_mtim;
}

static int open_source(struct lm_context *ctx, struct lm__source *s)
{
	struct lm__gen *g = NULL;
	struct stat id;
	int r = gen_map(s->dir, &g, &id);
	if (r == 0)
		remember_index(s, &id);
	if (r == LM_E_NOMEM)
		return r;
	if (r < 0) {
		s->err = r;
		s->detail = lm__strdup(lm__detail());
		if (ctx->flags & LM_CTX_NO_FALLBACK)
			return 0;
		lm__warn(&ctx->log, "%s; reading the module notes in %s instead", lm__detail(),
			 s->dir);
		s->warned = true;
		r = gen_scan(ctx, s->dir, &g);
		if (r == LM_E_NOMEM)
			return r;
		if (r < 0) {
			/* A missing or unreadable directory provides nothing: what
			 * is asked of it is not installed there. */
			s->err = 0;
			return 0;
		}
		s->fallback = true;
	}
	atomic_store_explicit(&s->gen, g, memory_order_release);
	return 0;
}

static int open_builtins(struct lm_context *ctx, struct lm__source *s)
{
	struct lm__mset set = {0};
	char why[256] = "";
	int r = lm__self_notes(&set, ctx->builtin_start, why, sizeof why);
	if (r == LM_E_BADMODULE)
		r = lm__fail(LM_E_BADMODULE, "built-in modules: %s", why);
	struct lm__gen *g = NULL;
	if (r == 0)
		r = gen_from_set(ctx, &set, NULL, &g);
	lm__mset_free(&set);
	if (r < 0)
		return r;
	atomic_store_explicit(&s->gen, g, memory_order_release);
	return 0;
}

LM_EXPORT int lm__context_new(const struct lm_options *opts, struct lm_context **out,
			      const struct lm__module_desc *const *builtin_start,
			      const struct lm__module_desc *const *builtin_stop)
{
	static const struct lm_options none;
	if (!out)
		return lm__fail(LM_E_INVAL, "no place for the context");
	*out = NULL;
	if (!opts)
		opts = &none;
	struct lm_context *ctx = lm__calloc(1, sizeof *ctx);
	if (!ctx)
		return lm__fail(LM_E_NOMEM, "out of memory");
	atomic_init(&ctx->refcount, 1);
	lm__log_init(&ctx->log, opts->log, opts->log_data);
	ctx->iface_major = opts->iface_major;
	ctx->iface_minor = opts->iface_minor;
	ctx->host = opts->host;
	ctx->flags = opts->flags;
	if (ctx->flags & LM_CTX_STRICT)
		ctx->flags |= LM_CTX_NO_FALLBACK;
	ctx->builtin_start = builtin_start;
	ctx->builtin_stop = builtin_stop;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&ctx->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&ctx->strings.lock, NULL);

	int r = 0;
	size_t cap = 0;
	char *origin = NULL;
	ctx->target = lm__strdup(opts->target ? opts->target : HOST_TARGET);
	if (!ctx->target)
		r = lm__fail(LM_E_NOMEM, "out of memory");
	if (r == 0 && builtin_start && builtin_start < builtin_stop) {
		if (lm__grow((void **)&ctx->sources, &cap, 0, sizeof *ctx->sources) < 0) {
			r = lm__fail(LM_E_NOMEM, "out of memory");
		} else {
			memset(&ctx->sources[0], 0, sizeof ctx->sources[0]);
			ctx->nsources = 1;
			r = open_builtins(ctx, &ctx->sources[0]);
		}
	}
	/* LAZYMOD_PATH first: a development override (ignored under AT_SECURE). */
	const char *env = (ctx->flags & LM_CTX_NO_ENV_PATH) ? NULL : secure_getenv("LAZYMOD_PATH");
	if (r == 0 && env && *env) {
		char *copy = lm__strdup(env), *save = NULL;
		if (!copy)
			r = lm__fail(LM_E_NOMEM, "out of memory");
		for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d && r == 0;
		     d = strtok_r(NULL, ":", &save))
			r = add_source(ctx, &cap, d, NULL);
		free(copy);
	}
	for (size_t i = 0; r == 0 && opts->dirs && opts->dirs[i]; i++) {
		if (!origin && opts->dirs[i][0] == '$')
			origin = lm__exe_dir();
		r = add_source(ctx, &cap, opts->dirs[i], origin);
	}
	free(origin);
	for (size_t i = 0; r == 0 && i < ctx->nsources; i++)
		if (ctx->sources[i].dir)
			r = open_source(ctx, &ctx->sources[i]);
	if (r < 0) {
		char keep[1024];
		snprintf(keep, sizeof keep, "%s", lm__detail());
		lm_context_unref(ctx);
		return lm__fail(r, "%s", keep);
	}
	lm__dbg(&ctx->log, "context ready: %zu sources, target %s, interface %u.%u", ctx->nsources,
		ctx->target, ctx->iface_major, ctx->iface_minor);
	*out = ctx;
	return 0;
}

static void unopen(struct lm__modstate *st)
{
	if (st->handle)
		dlclose(st->handle);
	st->handle = NULL;
	st->desc = NULL;
}

static void close_slot(void *slot)
{
	struct lm__modstate *st = slot;
	unopen(st);
	free(st->detail);
}

LM_EXPORT struct lm_context *lm_context_ref(struct lm_context *ctx)
{
	if (ctx)
		atomic_fetch_add_explicit(&ctx->refcount, 1, memory_order_relaxed);
	return ctx;
}

/* Closes every module a generation chain still holds (each handle is held
 * by one generation only: adopt() moves them) and frees the chain. */
static void gens_close(struct lm__gen *g)
{
	for (struct lm__gen *x = g; x; x = x->prev)
		lm__sparse_free(&x->mods, close_slot);
	gen_free(g);
}

LM_EXPORT struct lm_context *lm_context_unref(struct lm_context *ctx)
{
	if (!ctx || atomic_fetch_sub_explicit(&ctx->refcount, 1, memory_order_acq_rel) > 1)
		return ctx;
	for (size_t i = 0; i < ctx->nsources; i++) {
		struct lm__source *s = &ctx->sources[i];
		gens_close(atomic_load_explicit(&s->gen, memory_order_acquire));
		free(s->dir);
		free(s->detail);
	}
	gens_close(ctx->retired);
	for (size_t i = 0; i < ctx->norphans; i++) {
		struct lm__modstate st = {.handle = ctx->orphans[i].handle};
		unopen(&st);
	}
	free(ctx->orphans);
	lm__strpool_free(&ctx->strings);
	pthread_mutex_destroy(&ctx->strings.lock);
	lm__errslots_free(ctx);
	lm__bundles_free(ctx);
	free(ctx->sources);
	free(ctx->target);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	return NULL;
}

/* ---- calls in flight, and retired generations ----------------------------- */

void lm__call_begin(struct lm_context *ctx)
{
	/* seq_cst, with the store that retires a generation: a call that
	 * begins after reclaim() saw no call in flight reads only current
	 * generations. */
	atomic_fetch_add_explicit(&ctx->calls, 1, memory_order_seq_cst);
}

/* Frees the retired generations when no call is in flight. */
static void reclaim(struct lm_context *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	if (atomic_load_explicit(&ctx->calls, memory_order_seq_cst) == 0 && ctx->retired) {
		struct lm__gen *g = ctx->retired;
		ctx->retired = NULL;
		atomic_store_explicit(&ctx->has_retired, false, memory_order_relaxed);
		/* A module loaded only in a retired generation (removed from the
		 * directory since) stays loaded: the host may hold its objects. */
		for (struct lm__gen *x = g; x; x = x->prev)
			for (uint32_t m = 0; m < x->ix.h->nmods; m++) {
				struct lm__modstate *st = lm__sparse_peek(&x->mods, m);
				if (!st || !st->handle)
					continue;
				if (lm__grow((void **)&ctx->orphans, &ctx->caporphans, ctx->norphans,
					     sizeof *ctx->orphans) < 0) {
					st->desc = NULL; /* out of memory: keep it mapped, unclosed */
					continue;
				}
				ctx->orphans[ctx->norphans++] = (struct lm__orphan){st->handle};
				st->handle = NULL;
			}
		gen_free(g);
	}
	pthread_mutex_unlock(&ctx->lock);
}

int lm__call_end(struct lm_context *ctx, int err)
{
	err = lm__done(ctx, err);
	if (atomic_fetch_sub_explicit(&ctx->calls, 1, memory_order_seq_cst) == 1 &&
	    atomic_load_explicit(&ctx->has_retired, memory_order_acquire))
		reclaim(ctx);
	return err;
}

/* ---- loading -------------------------------------------------------------- */

struct step {
	size_t src;
	struct lm__gen *gen;
	uint32_t mod;
};

struct txn {
	struct step *v;
	size_t n, cap;
	int stale_src; /* source whose index proved stale, or -1 */
};

static const char *mod_name(const struct lm__gen *g, uint32_t m)
{
	const struct lm__imod *r = lm__index_mod(&g->ix, m);
	return r ? lm__index_str(&g->ix, r->name) : "(damaged record)";
}

/* Module m's state for writing (lock held), made on first use; NULL out of memory. */
static struct lm__modstate *mod_slot(struct lm__gen *g, uint32_t m)
{
	return lm__sparse_slot(&g->mods, m);
}

/* Module m's state for reading, NULL while it was never used (unloaded). */
static const struct lm__modstate *mod_peek(const struct lm__gen *g, uint32_t m)
{
	return lm__sparse_peek(&g->mods, m);
}

static int mod_state(const struct lm__gen *g, uint32_t m)
{
	const struct lm__modstate *st = mod_peek(g, m);
	return st ? atomic_load_explicit(&st->state, memory_order_acquire) : LM__UNLOADED;
}

/* The object feature fi points at, NULL while its module is not ready. */
static const void *feat_obj(const struct lm__gen *g, uint32_t fi)
{
	const void *const *o = lm__sparse_peek(&g->objs, fi);
	return o ? *o : NULL;
}

/* Marks a module failed for good, remembering the detail. */
static int mark_failed(struct lm__modstate *st, int err)
{
	free(st->detail);
	st->detail = lm__strdup(lm__detail());
	st->err = err;
	atomic_store_explicit(&st->state, LM__FAILED, memory_order_release);
	return err;
}

static int replay_failure(const struct lm__modstate *st)
{
	return lm__fail(st->err, "%s", st->detail ? st->detail : lm_strerror(st->err));
}

/* Errors after which the next source may still provide the feature. An
 * unsafe module (or directory) is refused and reported, but does not hide
 * a safe provider in a later directory. */
static bool try_next(int err)
{
	return err == LM_E_NOTFOUND || err == LM_E_IFACE || err == LM_E_TARGET ||
	       err == LM_E_STALE || err == LM_E_CORRUPT || err == LM_E_NOINDEX ||
	       err == LM_E_VERSION || err == LM_E_UNSAFE;
}

static int find_module_anywhere(struct lm_context *ctx, size_t prefer, const char *name,
				size_t *src, struct lm__gen **gen, uint32_t *mod)
{
	for (size_t k = 0; k <= ctx->nsources; k++) {
		size_t i = k == 0 ? prefer : k - 1;
		if (k > 0 && i == prefer)
			continue;
		struct lm__gen *g = atomic_load_explicit(&ctx->sources[i].gen, memory_order_acquire);
		if (!g)
			continue;
		/* The build for the context's target; else one that will say why not. */
		int r = lm__index_find_build(&g->ix, name, ctx->target, mod);
		if (r == LM_E_NOTFOUND)
			r = lm__index_find_module(&g->ix, name, mod);
		if (r == 0) {
			*src = i;
			*gen = g;
			return 0;
		}
	}
	return LM_E_NOTFOUND;
}

/* Adds module m and, first, its dependencies to the transaction (post-order). */
static int visit(struct lm_context *ctx, struct txn *t, size_t src, struct lm__gen *g, uint32_t m,
		 struct step *stack, size_t depth)
{
	struct lm__modstate *st = mod_slot(g, m);
	if (!st)
		return lm__fail(LM_E_NOMEM, "out of memory");
	int state = atomic_load_explicit(&st->state, memory_order_acquire);
	if (state == LM__READY)
		return 0;
	if (state == LM__FAILED)
		return replay_failure(st);
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].gen == g && t->v[i].mod == m)
			return 0;
	const struct lm__imod *rec = lm__index_mod(&g->ix, m);
	if (!rec)
		return lm__fail(LM_E_CORRUPT, "index of %s: module record %u is damaged",
				ctx->sources[src].dir ? ctx->sources[src].dir : "built-in modules", m);
	const char *name = lm__index_str(&g->ix, rec->name);
	for (size_t i = 0; i < depth; i++)
		if (stack[i].gen == g && stack[i].mod == m) {
			char path[512] = "";
			for (size_t k = i; k < depth; k++) {
				size_t used = strlen(path);
				snprintf(path + used, sizeof path - used, "%s -> ",
					 mod_name(stack[k].gen, stack[k].mod));
			}
			return mark_failed(st, lm__fail(LM_E_CYCLE, "module %s: dependency cycle %s%s",
							name, path, name));
		}
	if (depth >= MAX_DEPTH)
		return mark_failed(st, lm__fail(LM_E_CYCLE, "module %s: dependencies nest deeper than %d",
						name, MAX_DEPTH));
	stack[depth] = (struct step){src, g, m};
	for (uint32_t d = 0; d < rec->ndeps; d++) {
		uint32_t off;
		lm__index_ref(&g->ix, rec->deps_first + d, &off);
		const char *dep = lm__index_str(&g->ix, off);
		size_t dsrc;
		struct lm__gen *dg;
		uint32_t dm;
		if (find_module_anywhere(ctx, src, dep, &dsrc, &dg, &dm) < 0)
			return mark_failed(st, lm__fail(LM_E_DEP,
							"module %s needs module %s, which is not installed",
							name, dep));
		int r = visit(ctx, t, dsrc, dg, dm, stack, depth + 1);
		if (r == LM_E_CYCLE)
			return mark_failed(st, lm__fail(r, "%s", lm__detail()));
		if (r == LM_E_NOMEM || (r == LM_E_STALE && t->stale_src >= 0))
			return r;
		if (r < 0) {
			char inner[768];
			snprintf(inner, sizeof inner, "%s", lm__detail());
			return mark_failed(st, lm__fail(LM_E_DEP, "module %s: dependency %s failed: %s",
							name, dep, inner));
		}
	}
	if (lm__grow((void **)&t->v, &t->cap, t->n, sizeof *t->v) < 0)
		return lm__fail(LM_E_NOMEM, "out of memory");
	t->v[t->n++] = (struct step){src, g, m};
	return 0;
}

/* Appends the targets module rec serves to buf, comma-separated. */
static void add_targets(const struct lm__index *ix, const struct lm__imod *rec, char *buf,
			size_t len)
{
	for (uint32_t i = 0; i < rec->ntargets; i++) {
		uint32_t off = 0;
		lm__index_ref(ix, rec->targets_first + i, &off);
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "", lm__index_str(ix, off));
	}
}

static const struct lm__module_desc *builtin_desc(struct lm_context *ctx, const char *name)
{
	for (const struct lm__module_desc *const *d = ctx->builtin_start; d && d < ctx->builtin_stop;
	     d++)
		if (*d && !strcmp((*d)->name, name))
			return *d;
	return NULL;
}

/* Whether a path from the index stays inside its directory. */
static bool inside(const char *rel)
{
	if (!*rel || rel[0] == '/')
		return false;
	for (const char *p = rel; *p; p = strchr(p, '/') ? strchr(p, '/') + 1 : p + strlen(p))
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return false;
	return true;
}

/*
 * A module file or directory that someone else could write would let them
 * run code in this process: refuse what group or others may write, and
 * what belongs to another user than root or this process's.
 */
static int check_owner(const char *name, const char *path, const struct stat *st)
{
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return lm__fail(LM_E_UNSAFE, "module %s: %s is writable by %s", name, path,
				st->st_mode & S_IWOTH ? "others" : "its group");
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return lm__fail(LM_E_UNSAFE, "module %s: %s belongs to uid %u, not root or this user",
				name, path, (unsigned)st->st_uid);
	return 0;
}

static int check_dir(const char *name, const char *path)
{
	char *dir = lm__strdup(path);
	if (!dir)
		return lm__fail(LM_E_NOMEM, "out of memory");
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	struct stat st;
	int r = 0;
	if (stat(slash ? dir : ".", &st) < 0)
		r = lm__fail(LM_E_IO, "module %s: directory %s: %s", name, dir, strerror(errno));
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		r = lm__fail(LM_E_UNSAFE, "module %s: directory %s is writable by %s", name, dir,
			     st.st_mode & S_IWOTH ? "others" : "its group");
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		r = lm__fail(LM_E_UNSAFE, "module %s: directory %s belongs to uid %u", name, dir,
			     (unsigned)st.st_uid);
	free(dir);
	return r;
}

/*
 * A module is judged where it is: the directory its index names, and, when
 * that is a symbolic link (or leads through one), the directory of the file
 * the descriptor fd really opened, since whoever may write there may replace
 * the file. The file's own owner and mode come from fstat, so are the
 * target's already.
 */
static int check_dirs(const char *name, const char *path, int fd)
{
	int r = check_dir(name, path);
	char link[64], real[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, real, sizeof real - 1);
	if (n <= 0 && realpath(path, real))
		n = (ssize_t)strlen(real);
	if (r == 0 && n > 0) {
		real[n] = 0;
		if (strcmp(real, path))
			r = check_dir(name, real);
	}
	return r;
}

/*
 * Verifies the file of module record rec (named `name` in errors) of source
 * srci against the index (size, build-id, owner, SHA-256), then loads that
 * very file: another one under its name is refused. On success *handle is
 * the loaded object, the caller's. Lock held.
 */
int lm__open_file(struct lm_context *ctx, size_t srci, const struct lm__index *ix,
		  const struct lm__imod *rec, const char *name, void **handle)
{
	struct lm__source *src = &ctx->sources[srci];
	*handle = NULL;
	const char *pkg = lm__index_str(ix, rec->package), *rel = lm__index_str(ix, rec->path);
	if (!inside(rel))
		return lm__fail(LM_E_UNSAFE, "module %s: path %s leaves the module directory %s",
				name, rel, src->dir);
	char *path = lm__path_join(src->dir, rel);
	if (!path)
		return lm__fail(LM_E_NOMEM, "out of memory");
	struct stat sb;
	uint8_t id[64];
	uint8_t idlen = 0;
	char why[256] = "";
	int r = 0, fd = lm__open_regular(path, &sb, why, sizeof why);
	if (fd == LM_E_INVAL) {
		r = lm__fail(LM_E_BADMODULE, "module %s (%s): %s", name, path, why);
		goto out;
	}
	if (fd < 0) {
		r = lm__fail(fd, "module %s (%s): %s%s%s", name, path, why,
			     *pkg ? "; it is shipped by package " : "", pkg);
		goto out;
	}
	if (!(ctx->flags & LM_CTX_ALLOW_UNSAFE) &&
	    ((r = check_owner(name, path, &sb)) < 0 || (r = check_dirs(name, path, fd)) < 0))
		goto out;
	if ((uint64_t)sb.st_size != rec->size) {
		r = lm__fail(LM_E_STALE, "module %s (%s): %llu bytes, the index says %llu", name, path,
			     (unsigned long long)sb.st_size, (unsigned long long)rec->size);
		goto out;
	}
	r = lm__elf_build_id(fd, id, &idlen, why, sizeof why);
	if (r < 0) {
		r = r == LM_E_NOMEM ? lm__fail(r, "out of memory")
				    : lm__fail(LM_E_STALE, "module %s (%s): %s", name, path, why);
		goto out;
	}
	if (idlen != rec->build_id_len || memcmp(id, rec->build_id, idlen) != 0) {
		r = lm__fail(LM_E_STALE, "module %s (%s): build-id differs from the indexed one", name,
			     path);
		goto out;
	}
	if (rec->flags & LM__IMOD_SHA256) {
		uint8_t sha[32];
		r = lm__sha256_fd(fd, (uint64_t)sb.st_size, sha, why, sizeof why);
		if (r < 0) {
			r = lm__fail(r, "module %s (%s): %s", name, path, why);
			goto out;
		}
		if (memcmp(sha, rec->sha256, sizeof sha) != 0) {
			/* Same size and build-id, other bytes: not a rebuild. */
			r = lm__fail(ctx->flags & LM_CTX_STRICT ? LM_E_UNSAFE : LM_E_STALE,
				     "module %s (%s): SHA-256 differs from the indexed one", name, path);
			goto out;
		}
	} else if (ctx->flags & LM_CTX_STRICT) {
		r = lm__fail(LM_E_UNSAFE, "module %s (%s): strict mode, and the index records no SHA-256",
			     name, path);
		goto out;
	}
	/* Loads the file by its path and proves that what the loader hands back
	 * is the file verified on fd (see loader.c). fd stays open until then: it
	 * pins the inode, so that no other file can take its number meanwhile. */
	uint64_t t0 = lm__now_ns();
	void *h;
	r = lm__dlopen_verified(name, path, &sb, id, idlen, &h);
	if (r < 0)
		goto out;
	*handle = h;
	lm__dbg(&ctx->log, "opened %s for module %s (%.3f ms)", path, name,
		(lm__now_ns() - t0) / 1e6);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return r;
}

/*
 * Checks a module against the host (interface, target), then opens its file
 * (or takes its bundle's, opened once for all members: bundle.c) and finds
 * its descriptor.
 */
static int open_module(struct lm_context *ctx, const struct step *s)
{
	struct lm__modstate *st = mod_slot(s->gen, s->mod); /* made by visit() */
	const struct lm__index *ix = &s->gen->ix;
	const struct lm__imod *rec = lm__index_mod(ix, s->mod);
	if (!rec)
		return lm__fail(LM_E_CORRUPT, "index of %s: module record %u is damaged",
				ctx->sources[s->src].dir, s->mod);
	const char *name = lm__index_str(ix, rec->name);
	if ((rec->flags & LM__IMOD_IFACE) &&
	    (rec->iface_major != ctx->iface_major || rec->iface_minor > ctx->iface_minor))
		return lm__fail(LM_E_IFACE, "module %s: built for interface %u.%u, the host has %u.%u",
				name, rec->iface_major, rec->iface_minor, ctx->iface_major,
				ctx->iface_minor);
	if (!lm__index_serves(ix, rec, ctx->target)) {
		char there[256] = "";
		add_targets(ix, rec, there, sizeof there);
		return lm__fail(LM_E_TARGET, "module %s: does not serve target %s (built for %s)",
				name, ctx->target, there);
	}
	if (rec->flags & LM__IMOD_BUILTIN) {
		st->desc = builtin_desc(ctx, name);
		if (!st->desc)
			return lm__fail(LM_E_BADMODULE, "module %s: built-in notes but no descriptor",
					name);
		return 0;
	}
	bool bundle = rec->flags & LM__IMOD_BUNDLE;
	void *h;
	int r = bundle ? lm__bundle_open(ctx, s->src, ix, rec, name, &h)
		       : lm__open_file(ctx, s->src, ix, rec, name, &h);
	if (r < 0)
		return r;
	char sym[LM__NAME_MAX + 32];
	snprintf(sym, sizeof sym, "lazymod_module_%s", name);
	const struct lm__module_desc *desc = dlsym(h, sym);
	if (!desc || desc->abi != LM__MODULE_ABI || strcmp(desc->name, name) != 0) {
		if (!bundle) /* a bundle stays open for its other members */
			dlclose(h);
		return lm__fail(LM_E_BADMODULE, "module %s (%s/%s): no valid %s descriptor", name,
				ctx->sources[s->src].dir, lm__index_str(ix, rec->path), sym);
	}
	/* A bundle member's handle belongs to the bundle table. */
	st->handle = bundle ? NULL : h;
	st->desc = desc;
	return 0;
}

/*
 * The object slot of the first build of feature fi, when fi is a later
 * build (for another target): a loaded later build leaves its object there
 * too, the record a lookup finds, so that get_loaded answers from there
 * without walking the builds. Only one build of a feature serves a
 * context's target, so that slot is free for it. NULL when fi is a first
 * build; *nomem when the slot could not be made.
 */
static const void **first_build_slot(struct lm__gen *g, uint32_t fi, bool *nomem)
{
	uint32_t first = fi;
	const struct lm__ifeat *prev;
	while (first > 0 && (prev = lm__index_feat(&g->ix, first - 1)) &&
	       (prev->flags & LM__IFEAT_MORE))
		first--;
	if (first == fi)
		return NULL;
	const void **slot = lm__sparse_slot(&g->objs, first);
	*nomem = !slot;
	return slot;
}

/*
 * Points each feature of a ready module at the object its module registered;
 * with desc NULL, only makes room for them, so that publishing after the
 * module's init cannot fail. Returns 0 or LM_E_NOMEM.
 */
static int publish(struct lm__gen *g, uint32_t m, const struct lm__module_desc *desc)
{
	const struct lm__imod *rec = lm__index_mod(&g->ix, m);
	if (!rec)
		return lm__fail(LM_E_CORRUPT, "index: module record %u is damaged", m);
	const char *name = lm__index_str(&g->ix, rec->name);
	for (uint32_t i = 0; i < rec->nfeats; i++) {
		uint32_t fi;
		lm__index_ref(&g->ix, rec->feats_first + i, &fi);
		const struct lm__ifeat *f = lm__index_feat(&g->ix, fi);
		const void **obj = f ? lm__sparse_slot(&g->objs, fi) : NULL;
		bool nomem = false;
		const void **fslot = obj ? first_build_slot(g, fi, &nomem) : NULL;
		if (f && (!obj || nomem))
			return lm__fail(LM_E_NOMEM, "out of memory");
		if (!f || !desc)
			continue;
		const char *kind = lm__index_str(&g->ix, f->kind), *fname = lm__index_str(&g->ix, f->name);
		for (const struct lm__reg *const *r = desc->reg_start; r && r < desc->reg_stop; r++)
			if ((*r)->type == LM__REG_FEATURE && !strcmp((*r)->module, name) &&
			    !strcmp((*r)->kind, kind) && !strcmp((*r)->name, fname)) {
				*obj = (*r)->object;
				if (fslot) /* released: get_loaded reads it without the state */
					__atomic_store_n(fslot, (*r)->object, __ATOMIC_RELEASE);
				break;
			}
	}
	return 0;
}


static int adopt(struct lm_context *ctx, struct lm__source *s, struct lm__gen *old,
		 struct lm__gen *g);

/* Rebuilds a source's generation from its notes, carrying loaded modules over. */
static int rescan(struct lm_context *ctx, size_t src)
{
	struct lm__source *s = &ctx->sources[src];
	struct lm__gen *old = atomic_load_explicit(&s->gen, memory_order_acquire), *g = NULL;
	if (!s->warned) {
		lm__warn(&ctx->log, "index of %s: %s; reading the module notes instead", s->dir,
			 lm__detail());
		s->warned = true;
	}
	int r = gen_scan(ctx, s->dir, &g);
	if (r == 0)
		r = adopt(ctx, s, old, g);
	if (r < 0)
		return r;
	s->fallback = true;
	return 0;
}

/*
 * Makes g the source's generation, carrying over the modules that old had
 * loaded: they stay loaded, whatever the directory now holds, and their
 * handles move to g. old is retired: calls in flight may still read it, and
 * the last of them frees it. Out of memory, frees g and leaves the source as
 * it was. Lock held.
 */
static int adopt(struct lm_context *ctx, struct lm__source *s, struct lm__gen *old,
		 struct lm__gen *g)
{
	for (uint32_t m = 0; old && m < g->ix.h->nmods; m++) {
		uint32_t om;
		const struct lm__imod *rec = lm__index_mod(&g->ix, m);
		/* Only the build for the context's target can have been loaded. */
		if (!rec || !lm__index_serves(&g->ix, rec, ctx->target) ||
		    lm__index_find_build(&old->ix, mod_name(g, m), ctx->target, &om) < 0 ||
		    mod_state(old, om) != LM__READY)
			continue;
		struct lm__modstate *os = mod_slot(old, om);
		struct lm__modstate *ns = mod_slot(g, m);
		if (!os || !ns || publish(g, m, os->desc) < 0) {
			/* Handles moved so far go back to old, which keeps serving. */
			for (uint32_t k = 0; k < m; k++) {
				struct lm__modstate *back = lm__sparse_peek(&g->mods, k);
				uint32_t ok;
				if (back && back->handle &&
				    lm__index_find_module(&old->ix, mod_name(g, k), &ok) == 0) {
					mod_slot(old, ok)->handle = back->handle;
					back->handle = NULL;
				}
			}
			gen_free(g);
			return lm__fail(LM_E_NOMEM, "out of memory");
		}
		ns->handle = os->handle;
		ns->desc = os->desc;
		os->handle = NULL;
		atomic_store_explicit(&ns->state, LM__READY, memory_order_release);
	}
	atomic_store_explicit(&s->gen, g, memory_order_seq_cst);
	if (old) {
		old->prev = ctx->retired;
		ctx->retired = old;
		atomic_store_explicit(&ctx->has_retired, true, memory_order_release);
	}
	return 0;
}

/*
 * After a miss: if the directory's index was rewritten since it was mapped
 * (a package upgrade reindexed it), maps the new one. Returns 1 when it
 * did, 0 when nothing changed. Lock held.
 */
static int refresh(struct lm_context *ctx, size_t src)
{
	struct lm__source *s = &ctx->sources[src];
	if (!s->dir || s->fallback)
		return 0;
	char *path = lm__path_join(s->dir, INDEX_NAME);
	struct stat st;
	int changed = path && stat(path, &st) == 0 &&
		      (st.st_dev != s->ix_dev || st.st_ino != s->ix_ino ||
		       st.st_mtim.tv_sec != s->ix_mtime.tv_sec ||
		       st.st_mtim.tv_nsec != s->ix_mtime.tv_nsec);
	free(path);
	if (!changed)
		return 0;
	struct lm__gen *g = NULL;
	if (gen_map(s->dir, &g, &st) < 0)
		return 0; /* the new one is broken: keep answering from the old */
	if (adopt(ctx, s, atomic_load_explicit(&s->gen, memory_order_acquire), g) < 0)
		return 0; /* out of memory: keep answering from the old */
	remember_index(s, &st);
	lm__dbg(&ctx->log, "index of %s was rewritten: mapped the new one", s->dir);
	return 1;
}

/* Loads the module of feature `feat` of source src's generation g. Lock held. */
static int load_locked(struct lm_context *ctx, size_t src, struct lm__gen *g, uint32_t feat)
{
	const struct lm__ifeat *f = lm__index_feat(&g->ix, feat);
	if (!f)
		return lm__fail(LM_E_CORRUPT, "index of %s: feature record %u is damaged",
				ctx->sources[src].dir, feat);
	uint32_t m = f->mod;
	struct lm__modstate *st = mod_slot(g, m);
	if (!st)
		return lm__fail(LM_E_NOMEM, "out of memory");
	int state = atomic_load_explicit(&st->state, memory_order_acquire);
	if (state == LM__READY)
		return 0;
	if (state == LM__FAILED)
		return replay_failure(st);

	struct txn t = {.stale_src = -1};
	struct step stack[MAX_DEPTH];
	uint64_t t0 = lm__now_ns();
	int r = visit(ctx, &t, src, g, m, stack, 0);
	size_t opened = 0;
	for (; r == 0 && opened < t.n; opened++) {
		r = open_module(ctx, &t.v[opened]);
		if (r == 0)
			r = publish(t.v[opened].gen, t.v[opened].mod, NULL);
		if (r < 0)
			break;
	}
	if (r < 0) {
		for (size_t i = 0; i < opened; i++)
			unopen(mod_slot(t.v[i].gen, t.v[i].mod));
		if (r == LM_E_STALE && !(ctx->flags & LM_CTX_NO_FALLBACK) &&
		    ctx->sources[t.v[opened].src].dir) {
			t.stale_src = (int)t.v[opened].src;
		} else if (opened < t.n && r != LM_E_NOMEM) {
			struct step *bad = &t.v[opened];
			if (r == LM_E_UNSAFE)
				lm__warn(&ctx->log, "%s: refused", lm__detail());
			mark_failed(mod_slot(bad->gen, bad->mod), r);
			if (bad->gen != g || bad->mod != m) {
				char inner[768];
				snprintf(inner, sizeof inner, "%s", lm__detail());
				r = mark_failed(st, lm__fail(LM_E_DEP, "module %s: dependency %s failed: %s",
							     mod_name(g, m),
							     mod_name(bad->gen, bad->mod), inner));
			}
		}
		int stale = t.stale_src;
		free(t.v);
		if (stale >= 0) {
			int e = rescan(ctx, (size_t)stale);
			return e < 0 ? e : LM_E_STALE; /* the caller looks again */
		}
		return r;
	}
	/* Everything is open and checked: now the inits, dependencies first. */
	for (size_t i = 0; i < t.n; i++) {
		struct step *s = &t.v[i];
		struct lm__modstate *ms = mod_slot(s->gen, s->mod);
		int e = ms->desc->init ? ms->desc->init(ctx->host) : 0;
		if (e < 0) {
			lm__fail(LM_E_INIT, "module %s: initialisation failed: %s", mod_name(s->gen, s->mod),
				 strerror(-e));
			unopen(ms);
			r = mark_failed(ms, LM_E_INIT);
			for (size_t k = i + 1; k < t.n; k++)
				unopen(mod_slot(t.v[k].gen, t.v[k].mod));
			if (s->gen != g || s->mod != m) {
				char inner[768];
				snprintf(inner, sizeof inner, "%s", lm__detail());
				r = mark_failed(st, lm__fail(LM_E_DEP, "module %s: dependency %s failed: %s",
							     mod_name(g, m), mod_name(s->gen, s->mod),
							     inner));
			}
			break;
		}
		publish(s->gen, s->mod, ms->desc);
		atomic_store_explicit(&ms->state, LM__READY, memory_order_release);
		lm__dbg(&ctx->log, "module %s ready", mod_name(s->gen, s->mod));
	}
	if (r == 0)
		lm__dbg(&ctx->log, "loaded %s with %zu module(s) in %.3f ms", mod_name(g, m), t.n,
			(lm__now_ns() - t0) / 1e6);
	free(t.v);
	return r;
}

/* Finds kind/name in one source: 0 with *gen and *feat, or an error. */
static int find_in_source(struct lm_context *ctx, size_t i, const char *kind, const char *name,
			  struct lm__gen **gen, uint32_t *feat)
{
	struct lm__source *s = &ctx->sources[i];
	struct lm__gen *g = atomic_load_explicit(&s->gen, memory_order_acquire);
	if (!g)
		return s->err ? lm__fail(s->err, "%s", s->detail ? s->detail : lm_strerror(s->err))
			      : LM_E_NOTFOUND;
	int r = lm__index_find_feature(&g->ix, kind, name, feat);
	if (r == LM_E_CORRUPT)
		return lm__fail(r, "index of %s: damaged while looking up %s/%s", s->dir ? s->dir : "built-in modules", kind, name);
	*gen = g;
	return r;
}

/*
 * Among the builds of feature *fi (one per target, adjacent in the index),
 * picks the one serving the context's target. Returns 0 with *fi set (a
 * lone build is returned as it is: loading it says why it does not fit),
 * LM_E_TARGET naming the targets there are when no build fits, or
 * LM_E_CORRUPT.
 */
static int pick_build(struct lm_context *ctx, size_t src, struct lm__gen *g, uint32_t *fi)
{
	const struct lm__index *ix = &g->ix;
	char there[512] = "";
	const char *name = NULL;
	for (uint32_t i = *fi;;) {
		const struct lm__ifeat *f = lm__index_feat(ix, i);
		const struct lm__imod *m = f ? lm__index_mod(ix, f->mod) : NULL;
		if (!m)
			break;
		if (lm__index_serves(ix, m, ctx->target)) {
			*fi = i;
			return 0;
		}
		if (i == *fi && !(f->flags & LM__IFEAT_MORE))
			return 0;
		name = lm__index_str(ix, m->name);
		add_targets(ix, m, there, sizeof there);
		int r = lm__index_next_build(ix, i, &i);
		if (r == LM_E_NOTFOUND)
			return lm__fail(LM_E_TARGET, "module %s: no build for target %s (built for %s)",
					name, ctx->target, there);
		if (r < 0)
			break;
	}
	return lm__fail(LM_E_CORRUPT, "index of %s: damaged builds of feature record %u",
			ctx->sources[src].dir ? ctx->sources[src].dir : "built-in modules", *fi);
}

/*
 * After damage found in source i's mapped index past its header: reads the
 * directory's notes instead, once, with one warning. Returns 1 when the
 * caller should look again.
 */
int lm__recover(struct lm_context *ctx, size_t i)
{
	struct lm__source *s = &ctx->sources[i];
	if ((ctx->flags & LM_CTX_NO_FALLBACK) || !s->dir || s->fallback)
		return 0;
	pthread_mutex_lock(&ctx->lock);
	int r = s->fallback ? 0 : rescan(ctx, i);
	pthread_mutex_unlock(&ctx->lock);
	return r == 0;
}

/*
 * The fast path of lm_get: the feature's module is loaded. Reads the
 * sources' generations, one hash slot and one record per source, and the
 * module's state: no lock, no system call. Returns 1 with *object set, or 0
 * for the slow path (not loaded yet, not found, an error to report).
 */
static int get_loaded(struct lm_context *ctx, const char *kind, const char *name,
		      const void **object)
{
	for (size_t i = 0; i < ctx->nsources; i++) {
		struct lm__gen *g = atomic_load_explicit(&ctx->sources[i].gen, memory_order_acquire);
		const struct lm__ifeat *f;
		uint32_t fi;
		if (!g)
			return 0;
		int r = lm__index_get_feature(&g->ix, kind, name, &fi, &f);
		if (r == LM_E_NOTFOUND)
			continue;
		if (r < 0)
			return 0;
		const struct lm__modstate *st = mod_peek(g, f->mod);
		int state = st ? atomic_load_explicit(&st->state, memory_order_acquire) : LM__UNLOADED;
		/* Several builds: the loaded one left its object with the first. */
		const void *obj;
		if (state != LM__READY && (f->flags & LM__IFEAT_MORE)) {
			const void *const *slot = lm__sparse_peek(&g->objs, fi);
			if (slot && (obj = __atomic_load_n(slot, __ATOMIC_ACQUIRE))) {
				*object = obj;
				return 1;
			}
		}
		/* Builds for other targets follow the first: the loaded one may be there. */
		while (state != LM__READY && (f->flags & LM__IFEAT_MORE) &&
		       lm__index_next_build(&g->ix, fi, &fi) == 0 && (f = lm__index_feat(&g->ix, fi))) {
			st = mod_peek(g, f->mod);
			state = st ? atomic_load_explicit(&st->state, memory_order_acquire) : LM__UNLOADED;
		}
		if (!f)
			return 0;
		obj = state == LM__READY ? feat_obj(g, fi) : NULL;
		if (obj) {
			*object = obj;
			return 1;
		}
		/* A module that does not fit here: the next source may have one. */
		if (state != LM__FAILED || !try_next(st->err))
			return 0;
	}
	return 0;
}

/* lm_get past its fast path. */
static int get(struct lm_context *ctx, const char *kind, const char *name, const void **object)
{
	int r = lm__check_name("feature kind", kind);
	if (r == 0)
		r = lm__check_name("feature name", name);
	if (r < 0)
		return r;
	int first_err = 0;
	char first_detail[1024];
	first_detail[0] = 0;
	for (size_t i = 0; i < ctx->nsources; i++) {
		struct lm__gen *g = NULL;
		uint32_t fi;
		r = find_in_source(ctx, i, kind, name, &g, &fi);
		if (r == LM_E_CORRUPT && lm__recover(ctx, i))
			r = find_in_source(ctx, i, kind, name, &g, &fi);
		if (r == LM_E_NOTFOUND) {
			/* Not provided here, unless the index was rewritten since. */
			pthread_mutex_lock(&ctx->lock);
			int fresh = refresh(ctx, i);
			pthread_mutex_unlock(&ctx->lock);
			if (fresh)
				r = find_in_source(ctx, i, kind, name, &g, &fi);
		}
		if (r == LM_E_NOTFOUND)
			continue; /* the next source may provide it */
		if (r == 0)
			r = pick_build(ctx, i, g, &fi);
		if (r == 0) {
			/* The fast path: a loaded feature, no lock, no system call. */
			const struct lm__ifeat *f = lm__index_feat(&g->ix, fi);
			if (f && mod_state(g, f->mod) == LM__READY) {
				*object = feat_obj(g, fi);
				return *object ? 0
					       : lm__fail(LM_E_STALE,
							  "module %s: the loaded build lacks %s/%s",
							  mod_name(g, f->mod), kind, name);
			}
			if (!f) {
				r = lm__fail(LM_E_CORRUPT, "index: feature record of %s/%s is damaged",
					     kind, name);
			} else {
				lm__dbg(&ctx->log, "get %s/%s: loading module %s", kind, name,
					mod_name(g, f->mod));
				pthread_mutex_lock(&ctx->lock);
				r = load_locked(ctx, i, g, fi);
				if (r == LM_E_STALE && !(ctx->flags & LM_CTX_NO_FALLBACK)) {
					/* The index was stale and has been rebuilt: look again. */
					r = find_in_source(ctx, i, kind, name, &g, &fi);
					if (r == 0)
						r = pick_build(ctx, i, g, &fi);
					if (r == 0)
						r = load_locked(ctx, i, g, fi);
				}
				pthread_mutex_unlock(&ctx->lock);
				if (r == 0) {
					*object = feat_obj(g, fi);
					/* Found past a refused module: a success that says
					 * which and why (1, see lm__done). */
					return first_err == LM_E_UNSAFE ? lm__fail(1, "%s", first_detail) : 0;
				}
			}
		}
		if (!first_err) {
			first_err = r;
			snprintf(first_detail, sizeof first_detail, "%s", lm__detail());
		}
		if (!try_next(r))
			break;
	}
	if (first_err)
		return lm__fail(first_err, "%s", first_detail);
	return lm__fail(LM_E_NOTFOUND, "no installed module provides %s/%s", kind, name);
}

LM_EXPORT int lm_get(struct lm_context *ctx, const char *kind, const char *name,
		     const void **object)
{
	if (!ctx)
		return lm__fail(LM_E_INVAL, "lm_get: no context");
	lm__call_begin(ctx);
	if (!object || !kind || !name)
		return lm__call_end(ctx, lm__fail(LM_E_INVAL, "lm_get: no name or place for the object"));
	/* Names are checked when the index does not answer at once: every
	 * name an index holds was checked when it was written. */
	if (get_loaded(ctx, kind, name, object)) {
		/* lm__call_end inline: this path costs tens of nanoseconds. */
		if (atomic_load_explicit(&ctx->errs, memory_order_relaxed))
			return lm__call_end(ctx, 0); /* a detail to clear */
		if (atomic_fetch_sub_explicit(&ctx->calls, 1, memory_order_seq_cst) == 1 &&
		    atomic_load_explicit(&ctx->has_retired, memory_order_acquire))
			reclaim(ctx);
		return 0;
	}
	return lm__call_end(ctx, get(ctx, kind, name, object));
}

int lm__get_probe(struct lm_context *ctx, const char *kind, const char *name, lm_probe_fn *fn)
{
	const void *obj;
	int r = lm_get(ctx, kind, name, &obj);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ctx->nsources; i++) {
		struct lm__gen *g = NULL;
		uint32_t fi;
		if (find_in_source(ctx, i, kind, name, &g, &fi) < 0 || pick_build(ctx, i, g, &fi) < 0)
			continue;
		const struct lm__ifeat *f = lm__index_feat(&g->ix, fi);
		const struct lm__modstate *st = f ? mod_peek(g, f->mod) : NULL;
		if (!st || atomic_load_explicit(&st->state, memory_order_acquire) != LM__READY)
			continue;
		const char *mod = mod_name(g, f->mod);
		for (const struct lm__reg *const *reg = st->desc->reg_start;
		     reg && reg < st->desc->reg_stop; reg++)
			if ((*reg)->type == LM__REG_PROBE && !strcmp((*reg)->module, mod) &&
			    !strcmp((*reg)->kind, kind) && !strcmp((*reg)->name, name)) {
				*fn = (*reg)->probe;
				return 0;
			}
		break;
	}
	return lm__fail(LM_E_BADMODULE, "%s/%s declares a code probe but registers none", kind, name);
}

LM_EXPORT int lm_module_loaded(struct lm_context *ctx, const char *name)
{
	if (!ctx || !name)
		return 0;
	int loaded = 0;
	lm__call_begin(ctx);
	for (size_t i = 0; !loaded && i < ctx->nsources; i++) {
		struct lm__gen *g = atomic_load_explicit(&ctx->sources[i].gen, memory_order_acquire);
		uint32_t m;
		loaded = g && lm__index_find_build(&g->ix, name, ctx->target, &m) == 0 &&
			 mod_state(g, m) == LM__READY;
	}
	lm__call_end(ctx, 0);
	return loaded;
}

static int fill_info(struct lm_context *ctx, struct lm__gen *g, uint32_t fi,
		     struct lm_feature_info *info)
{
	const struct lm__ifeat *f = lm__index_feat(&g->ix, fi);
	const struct lm__imod *m = f ? lm__index_mod(&g->ix, f->mod) : NULL;
	if (!m)
		return lm__fail(LM_E_CORRUPT, "index: damaged record of feature %u", fi);
	/* Copies owned by the context, not pointers into the generation: a
	 * reindex may free the generation, the strings stay. */
	const char **to[] = {&info->kind, &info->name, &info->module, &info->module_version,
			     &info->description, &info->package, &info->path};
	const uint32_t from[] = {f->kind, f->name, m->name, m->version, m->description, m->package,
				 m->path};
	for (size_t i = 0; i < sizeof to / sizeof to[0]; i++)
		if (!(*to[i] = lm__intern(&ctx->strings, lm__index_str(&g->ix, from[i]))))
			return lm__fail(LM_E_NOMEM, "out of memory");
	info->builtin = !!(m->flags & LM__IMOD_BUILTIN);
	info->loaded = mod_state(g, f->mod) == LM__READY;
	return 0;
}

static int feature_info(struct lm_context *ctx, const char *kind, const char *name,
			struct lm_feature_info *info)
{
	int r = lm__check_name("feature kind", kind);
	if (r == 0)
		r = lm__check_name("feature name", name);
	for (size_t i = 0; r == 0 && i < ctx->nsources; i++) {
		struct lm__gen *g = NULL;
		uint32_t fi;
		int e = find_in_source(ctx, i, kind, name, &g, &fi);
		uint32_t pick = fi;
		if (e == 0 && pick_build(ctx, i, g, &pick) == 0)
			fi = pick; /* the build for the context's target, if there is one */
		if (e == 0)
			e = fill_info(ctx, g, fi, info);
		if (e == LM_E_CORRUPT && lm__recover(ctx, i) &&
		    (e = find_in_source(ctx, i, kind, name, &g, &fi)) == 0)
			e = fill_info(ctx, g, fi, info);
		if (e == 0)
			return 0;
		if (e != LM_E_NOTFOUND && !try_next(e))
			return e;
	}
	return r < 0 ? r : lm__fail(LM_E_NOTFOUND, "no installed module provides %s/%s", kind, name);
}

/*
 * Whether feature fi is the build lm_get would pick (always, for a feature
 * built once). 0 for the builds of other targets, and for every build when
 * none fits the context's target.
 */
static int listed_build(struct lm_context *ctx, size_t src, struct lm__gen *g, uint32_t fi)
{
	uint32_t first = fi;
	const struct lm__ifeat *f = lm__index_feat(&g->ix, fi), *prev;
	if (!f)
		return 1;
	while (first > 0 && (prev = lm__index_feat(&g->ix, first - 1)) &&
	       (prev->flags & LM__IFEAT_MORE))
		first--;
	if (first == fi && !(f->flags & LM__IFEAT_MORE))
		return 1;
	uint32_t pick = first;
	return pick_build(ctx, src, g, &pick) == 0 && pick == fi;
}

LM_EXPORT int lm_feature_info(struct lm_context *ctx, const char *kind, const char *name,
			      struct lm_feature_info *info)
{
	if (!ctx || !info)
		return lm__fail(LM_E_INVAL, "lm_feature_info: no context or no place for the answer");
	lm__call_begin(ctx);
	return lm__call_end(ctx, feature_info(ctx, kind, name, info));
}

static int list(struct lm_context *ctx, const char *kind, lm_list_fn fn, void *data)
{
	if (kind && lm__check_name("feature kind", kind) < 0)
		return LM_E_INVAL;
	for (size_t i = 0; i < ctx->nsources; i++) {
		/* Features already given from this source, if it must be read again. */
		uint32_t given = 0;
	again:;
		struct lm__gen *g = atomic_load_explicit(&ctx->sources[i].gen, memory_order_acquire);
		if (!g)
			continue;
		uint32_t first = 0, n = g->ix.h->nfeats;
		if (kind) {
			const struct lm__ikind *k;
			int r = lm__index_find_kind(&g->ix, kind, &k);
			if (r == LM_E_NOTFOUND)
				continue;
			if (r == LM_E_CORRUPT && lm__recover(ctx, i))
				goto again;
			if (r < 0)
				return lm__fail(r, "index of %s: damaged kind table", ctx->sources[i].dir);
			first = k->feats_first;
			n = k->nfeats;
		}
		for (uint32_t fi = first + given; fi < first + n; fi++) {
			struct lm_feature_info info;
			int r = fill_info(ctx, g, fi, &info);
			if (r == LM_E_CORRUPT && lm__recover(ctx, i)) {
				given = fi - first; /* the notes hold the same features, in order */
				goto again;
			}
			if (r < 0)
				return r;
			/* One of several builds of the feature? Only the one lm_get picks. */
			if (!listed_build(ctx, i, g, fi))
				continue;
			/* Shadowed by an earlier source? Then lm_get would not use it. */
			bool shadowed = false;
			for (size_t j = 0; j < i && !shadowed; j++) {
				struct lm__gen *pg;
				uint32_t pf;
				shadowed = find_in_source(ctx, j, info.kind, info.name, &pg, &pf) == 0;
			}
			if (shadowed)
				continue;
			r = fn(data, &info);
			if (r)
				return r;
		}
	}
	return 0;
}

LM_EXPORT int lm_list(struct lm_context *ctx, const char *kind, lm_list_fn fn, void *data)
{
	if (!ctx || !fn)
		return lm__fail(LM_E_INVAL, "lm_list: no context or no callback");
	lm__call_begin(ctx);
	int r = list(ctx, kind, fn, data);
	/* A callback's positive value is the host's, not a failure of ours. */
	if (r > 0) {
		lm__call_end(ctx, 0);
		return r;
	}
	return lm__call_end(ctx, r);
}

LM_EXPORT const char *lm_version(void)
{
	return LAZYMOD_VERSION;
}
