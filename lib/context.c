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

static void gen_free(struct lm__gen *g)
{
	while (g) {
		struct lm__gen *prev = g->prev;
		if (g->mods)
			for (uint32_t i = 0; i < g->ix.h->nmods; i++)
				free(g->mods[i].detail);
		if (g->map)
			munmap(g->map, g->maplen);
		free(g->heap);
		free(g->mods);
		free(g->objs);
		free((void *)g->ix.ok);
		free(g);
		g = prev;
	}
}

/* Wraps a validated index in a generation (taking map or heap). */
static struct lm__gen *gen_new(const struct lm__index *ix, void *map, size_t maplen, void *heap)
{
	struct lm__gen *g = lm__calloc(1, sizeof *g);
	if (g) {
		g->ix = *ix;
		g->mods = lm__calloc(ix->h->nmods ? ix->h->nmods : 1, sizeof *g->mods);
		g->objs = lm__calloc(ix->h->nfeats ? ix->h->nfeats : 1, sizeof *g->objs);
		g->ix.ok = lm__calloc((size_t)ix->h->nfeats + ix->h->nrules + 1, 1);
	}
	if (!g || !g->mods || !g->objs || !g->ix.ok) {
		if (g) {
			free(g->mods);
			free(g->objs);
			free((void *)g->ix.ok);
			free(g);
		}
		return NULL;
	}
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
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = lm__fail(errno == ENOENT ? LM_E_NOINDEX : LM_E_IO, "index %s: %s", path,
			     strerror(errno));
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
	char why[256] = "";
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
	if (st->fd > 0)
		close(st->fd);
	st->handle = NULL;
	st->fd = 0;
	st->desc = NULL;
}

LM_EXPORT struct lm_context *lm_context_ref(struct lm_context *ctx)
{
	if (ctx)
		atomic_fetch_add_explicit(&ctx->refcount, 1, memory_order_relaxed);
	return ctx;
}

LM_EXPORT struct lm_context *lm_context_unref(struct lm_context *ctx)
{
	if (!ctx || atomic_fetch_sub_explicit(&ctx->refcount, 1, memory_order_acq_rel) > 1)
		return ctx;
	for (size_t i = 0; i < ctx->nsources; i++) {
		struct lm__source *s = &ctx->sources[i];
		struct lm__gen *g = atomic_load_explicit(&s->gen, memory_order_acquire);
		/* Handles are shared by generations (carried over): close each once,
		 * from the newest generation, then the older ones' own. */
		for (struct lm__gen *x = g; x; x = x->prev)
			for (uint32_t m = 0; m < x->ix.h->nmods; m++) {
				void *h = x->mods[m].handle;
				if (!h)
					continue;
				for (struct lm__gen *y = x->prev; y; y = y->prev)
					for (uint32_t k = 0; k < y->ix.h->nmods; k++)
						if (y->mods[k].handle == h)
							y->mods[k].handle = NULL, y->mods[k].fd = 0;
				unopen(&x->mods[m]);
			}
		gen_free(g);
		free(s->dir);
		free(s->detail);
	}
	free(ctx->sources);
	free(ctx->target);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	return NULL;
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

/* Errors after which the next source may still provide the feature. */
static bool try_next(int err)
{
	return err == LM_E_NOTFOUND || err == LM_E_IFACE || err == LM_E_TARGET ||
	       err == LM_E_STALE || err == LM_E_CORRUPT || err == LM_E_NOINDEX ||
	       err == LM_E_VERSION;
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
	struct lm__modstate *st = &g->mods[m];
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

/* The library dlopen could not find, from its message, or NULL. */
static const char *missing_library(const char *msg, const char *self, char *buf, size_t len)
{
	const char *tail = strstr(msg, ": cannot open shared object file");
	if (!tail)
		return NULL;
	const char *start = msg;
	for (const char *p = msg; p < tail; p++)
		if (p[0] == ':' && p[1] == ' ')
			start = p + 2;
	size_t n = (size_t)(tail - start);
	if (n == 0 || n >= len)
		return NULL;
	memcpy(buf, start, n);
	buf[n] = 0;
	return strcmp(buf, self) ? buf : NULL;
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
 * Checks a module against the host (interface, target) and its file
 * against the index (size, build-id), then opens the very file it checked.
 */
static int open_module(struct lm_context *ctx, const struct step *s)
{
	struct lm__source *src = &ctx->sources[s->src];
	struct lm__modstate *st = &s->gen->mods[s->mod];
	const struct lm__index *ix = &s->gen->ix;
	const struct lm__imod *rec = lm__index_mod(ix, s->mod);
	if (!rec)
		return lm__fail(LM_E_CORRUPT, "index of %s: module record %u is damaged", src->dir,
				s->mod);
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

	const char *pkg = lm__index_str(ix, rec->package), *rel = lm__index_str(ix, rec->path);
	if (!inside(rel))
		return lm__fail(LM_E_UNSAFE, "module %s: path %s leaves the module directory %s",
				name, rel, src->dir);
	char *path = lm__path_join(src->dir, rel);
	if (!path)
		return lm__fail(LM_E_NOMEM, "out of memory");
	int r = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	uint8_t id[64];
	uint8_t idlen = 0;
	char why[256] = "";
	if (fd < 0 || fstat(fd, &sb) < 0) {
		int e = errno;
		r = lm__fail(e == ENOENT ? LM_E_NOTFOUND : LM_E_IO, "module %s (%s): %s%s%s", name,
			     path, strerror(e), *pkg ? "; it is shipped by package " : "", pkg);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		r = lm__fail(LM_E_BADMODULE, "module %s (%s): not a regular file", name, path);
		goto out;
	}
	if (!(ctx->flags & LM_CTX_ALLOW_UNSAFE) &&
	    ((r = check_owner(name, path, &sb)) < 0 || (r = check_dir(name, path)) < 0))
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
	/*
	 * dlopen the file checked above, not whatever the path names now. The
	 * descriptor stays open while the module is loaded: the loader knows the
	 * module by the name /proc/self/fd/N, so N must not name another module
	 * while this one is in memory.
	 *
	 * A module that finds its own libraries through $ORIGIN needs its real
	 * path (under /proc/self/fd, $ORIGIN would be /proc/self/fd): it is
	 * opened by path, and the build-id of what the loader mapped is checked
	 * against the index, so that a file swapped in between is refused. The
	 * strict mode, whose digest cannot be checked in memory, always opens
	 * the descriptor.
	 */
	char fdpath[64];
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	bool origin = false;
	if (!(ctx->flags & LM_CTX_STRICT) && (r = lm__elf_uses_origin(fd, &origin)) == LM_E_NOMEM)
		goto out;
	r = 0;
	const char *target = !origin && access(fdpath, F_OK) == 0 ? fdpath : path;
	uint64_t t0 = lm__now_ns();
	dlerror();
	void *h = dlopen(target, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *msg = dlerror();
		char lib[256];
		const char *missing = missing_library(msg ? msg : "", target, lib, sizeof lib);
		if (missing)
			r = lm__fail(LM_E_NEEDLIB, "module %s (%s): needs library %s, which is missing",
				     name, path, missing);
		else
			r = lm__fail(LM_E_LOAD, "module %s (%s): %s", name, path, msg ? msg : "dlopen failed");
		goto out;
	}
	if (target == path) {
		struct link_map *lmap = NULL;
		uint8_t mid[64], midlen = 0;
		if (dlinfo(h, RTLD_DI_LINKMAP, &lmap) != 0 || !lmap ||
		    lm__loaded_build_id((const void *)lmap->l_addr, mid, &midlen) < 0 ||
		    midlen != rec->build_id_len || memcmp(mid, rec->build_id, midlen) != 0) {
			dlclose(h);
			r = lm__fail(LM_E_STALE, "module %s (%s): the file loaded is not the one checked",
				     name, path);
			goto out;
		}
	}
	char sym[LM__NAME_MAX + 32];
	snprintf(sym, sizeof sym, "lazymod_module_%s", name);
	const struct lm__module_desc *desc = dlsym(h, sym);
	if (!desc || desc->abi != LM__MODULE_ABI || strcmp(desc->name, name) != 0) {
		dlclose(h);
		r = lm__fail(LM_E_BADMODULE, "module %s (%s): no valid %s descriptor", name, path, sym);
		goto out;
	}
	st->handle = h;
	st->desc = desc;
	if (target == fdpath) {
		st->fd = fd;
		fd = -1;
	}
	lm__dbg(&ctx->log, "opened module %s from %s (%.3f ms)", name, path,
		(lm__now_ns() - t0) / 1e6);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return r;
}

/* Points each feature of a ready module at the object its module registered. */
/*
 * A later build of a feature (for another target) is loaded: its object
 * also goes to the slot of the feature's first build, the record a lookup
 * finds, so that get_loaded answers from there without walking the builds.
 * Only one build of a feature serves a context's target, so the slot of a
 * first build that is not loaded is free for it. Released: get_loaded
 * reads it without the module's state.
 */
static void publish_first_build(struct lm__gen *g, uint32_t fi, const void *obj)
{
	uint32_t first = fi;
	const struct lm__ifeat *prev;
	while (first > 0 && (prev = lm__index_feat(&g->ix, first - 1)) &&
	       (prev->flags & LM__IFEAT_MORE))
		first--;
	if (first != fi)
		__atomic_store_n(&g->objs[first], obj, __ATOMIC_RELEASE);
}

static void publish(struct lm__gen *g, uint32_t m, const struct lm__module_desc *desc)
{
	const struct lm__imod *rec = lm__index_mod(&g->ix, m);
	const char *name = lm__index_str(&g->ix, rec->name);
	for (uint32_t i = 0; i < rec->nfeats; i++) {
		uint32_t fi;
		lm__index_ref(&g->ix, rec->feats_first + i, &fi);
		const struct lm__ifeat *f = lm__index_feat(&g->ix, fi);
		if (!f)
			continue;
		const char *kind = lm__index_str(&g->ix, f->kind), *fname = lm__index_str(&g->ix, f->name);
		for (const struct lm__reg *const *r = desc->reg_start; r && r < desc->reg_stop; r++)
			if ((*r)->type == LM__REG_FEATURE && !strcmp((*r)->module, name) &&
			    !strcmp((*r)->kind, kind) && !strcmp((*r)->name, fname)) {
				g->objs[fi] = (*r)->object;
				publish_first_build(g, fi, (*r)->object);
				break;
			}
	}
}


static void adopt(struct lm_context *ctx, struct lm__source *s, struct lm__gen *old,
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
	if (r < 0)
		return r;
	adopt(ctx, s, old, g);
	s->fallback = true;
	return 0;
}

/*
 * Makes g the source's generation, carrying over the modules that old had
 * loaded: they stay loaded, whatever the directory now holds.
 */
static void adopt(struct lm_context *ctx, struct lm__source *s, struct lm__gen *old,
		  struct lm__gen *g)
{
	for (uint32_t m = 0; old && m < g->ix.h->nmods; m++) {
		uint32_t om;
		const struct lm__imod *rec = lm__index_mod(&g->ix, m);
		/* Only the build for the context's target can have been loaded. */
		if (!rec || !lm__index_serves(&g->ix, rec, ctx->target) ||
		    lm__index_find_build(&old->ix, mod_name(g, m), ctx->target, &om) < 0)
			continue;
		struct lm__modstate *os = &old->mods[om];
		if (atomic_load_explicit(&os->state, memory_order_acquire) != LM__READY)
			continue;
		g->mods[m].handle = os->handle;
		g->mods[m].fd = os->fd;
		g->mods[m].desc = os->desc;
		publish(g, m, os->desc);
		atomic_store_explicit(&g->mods[m].state, LM__READY, memory_order_release);
	}
	g->prev = old;
	atomic_store_explicit(&s->gen, g, memory_order_release);
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
	remember_index(s, &st);
	adopt(ctx, s, atomic_load_explicit(&s->gen, memory_order_acquire), g);
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
	struct lm__modstate *st = &g->mods[m];
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
		if (r < 0)
			break;
	}
	if (r < 0) {
		for (size_t i = 0; i < opened; i++)
			unopen(&t.v[i].gen->mods[t.v[i].mod]);
		if (r == LM_E_STALE && !(ctx->flags & LM_CTX_NO_FALLBACK) &&
		    ctx->sources[t.v[opened].src].dir) {
			t.stale_src = (int)t.v[opened].src;
		} else if (opened < t.n && r != LM_E_NOMEM) {
			struct step *bad = &t.v[opened];
			mark_failed(&bad->gen->mods[bad->mod], r);
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
		struct lm__modstate *ms = &s->gen->mods[s->mod];
		int e = ms->desc->init ? ms->desc->init(ctx->host) : 0;
		if (e < 0) {
			lm__fail(LM_E_INIT, "module %s: initialisation failed: %s", mod_name(s->gen, s->mod),
				 strerror(-e));
			unopen(ms);
			r = mark_failed(ms, LM_E_INIT);
			for (size_t k = i + 1; k < t.n; k++)
				unopen(&t.v[k].gen->mods[t.v[k].mod]);
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
		const struct lm__modstate *st = &g->mods[f->mod];
		int state = atomic_load_explicit(&st->state, memory_order_acquire);
		/* Several builds: the loaded one left its object with the first. */
		const void *obj;
		if (state != LM__READY && (f->flags & LM__IFEAT_MORE) &&
		    (obj = __atomic_load_n(&g->objs[fi], __ATOMIC_ACQUIRE))) {
			*object = obj;
			return 1;
		}
		/* Builds for other targets follow the first: the loaded one may be there. */
		while (state != LM__READY && (f->flags & LM__IFEAT_MORE) &&
		       lm__index_next_build(&g->ix, fi, &fi) == 0 && (f = lm__index_feat(&g->ix, fi))) {
			st = &g->mods[f->mod];
			state = atomic_load_explicit(&st->state, memory_order_acquire);
		}
		if (!f)
			return 0;
		if (state == LM__READY && g->objs[fi]) {
			*object = g->objs[fi];
			return 1;
		}
		/* A module that does not fit here: the next source may have one. */
		if (state != LM__FAILED || !try_next(st->err))
			return 0;
	}
	return 0;
}

LM_EXPORT int lm_get(struct lm_context *ctx, const char *kind, const char *name,
		     const void **object)
{
	if (!ctx || !object || !kind || !name)
		return lm__fail(LM_E_INVAL, "lm_get: no context, name or place for the object");
	/* Names are checked when the index does not answer at once: every
	 * name an index holds was checked when it was written. */
	if (get_loaded(ctx, kind, name, object))
		return 0;
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
			if (f && atomic_load_explicit(&g->mods[f->mod].state, memory_order_acquire) ==
					 LM__READY) {
				*object = g->objs[fi];
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
					*object = g->objs[fi];
					return 0;
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
		struct lm__modstate *st = f ? &g->mods[f->mod] : NULL;
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
	for (size_t i = 0; ctx && i < ctx->nsources; i++) {
		struct lm__gen *g = atomic_load_explicit(&ctx->sources[i].gen, memory_order_acquire);
		uint32_t m;
		if (g && lm__index_find_build(&g->ix, name, ctx->target, &m) == 0 &&
		    atomic_load_explicit(&g->mods[m].state, memory_order_acquire) == LM__READY)
			return 1;
	}
	return 0;
}

static int fill_info(struct lm_context *ctx, struct lm__gen *g, uint32_t fi,
		     struct lm_feature_info *info)
{
	const struct lm__ifeat *f = lm__index_feat(&g->ix, fi);
	const struct lm__imod *m = f ? lm__index_mod(&g->ix, f->mod) : NULL;
	if (!m)
		return lm__fail(LM_E_CORRUPT, "index: damaged record of feature %u", fi);
	(void)ctx;
	info->kind = lm__index_str(&g->ix, f->kind);
	info->name = lm__index_str(&g->ix, f->name);
	info->module = lm__index_str(&g->ix, m->name);
	info->module_version = lm__index_str(&g->ix, m->version);
	info->description = lm__index_str(&g->ix, m->description);
	info->package = lm__index_str(&g->ix, m->package);
	info->path = lm__index_str(&g->ix, m->path);
	info->builtin = !!(m->flags & LM__IMOD_BUILTIN);
	info->loaded = atomic_load_explicit(&g->mods[f->mod].state, memory_order_acquire) == LM__READY;
	return 0;
}

LM_EXPORT int lm_feature_info(struct lm_context *ctx, const char *kind, const char *name,
			      struct lm_feature_info *info)
{
	if (!ctx || !info)
		return lm__fail(LM_E_INVAL, "lm_feature_info: no context or no place for the answer");
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

LM_EXPORT int lm_list(struct lm_context *ctx, const char *kind, lm_list_fn fn, void *data)
{
	if (!ctx || !fn)
		return lm__fail(LM_E_INVAL, "lm_list: no context or no callback");
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

LM_EXPORT const char *lm_version(void)
{
	return LAZYMOD_VERSION;
}
