/* SPDX-License-Identifier: MIT */
/*
 * bundle.c - bundles: several modules linked into one shared object, each
 * with its own manifest (`LM__IMOD_BUNDLE` in the index). The context keeps
 * one entry per bundle file it opened, so that the file is opened, verified
 * and dlopened once, on the first request for any member, and shared by the
 * others; each member still has its own state in its generation and its
 * init runs on the first use of one of its features.
 *
 * A bundle that could not be opened (missing, unsafe, stale, needing a
 * missing library) is remembered with its error: every member asked for
 * later fails with it, without touching the file again. A member whose own
 * init or descriptor fails fails alone. An entry is keyed by the file's path
 * and the identity the index recorded (size, build-id): a reindexed,
 * rebuilt bundle is a new entry. Bundles stay loaded for the context's life.
 *
 * Everything here runs under the context's lock, as loading does.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lazymod-private.h"

struct lm__bundle {
	char *path; /* absolute (owned) */
	uint64_t size;
	uint8_t build_id[64];
	uint8_t build_id_len;
	int err;      /* 0: loaded; else why the whole bundle failed */
	char *detail; /* with err (owned) */
	void *handle;
};

static struct lm__bundle *find(struct lm_context *ctx, const char *path,
			       const struct lm__imod *rec)
{
	for (size_t i = 0; i < ctx->nbundles; i++) {
		struct lm__bundle *b = ctx->bundles[i];
		if (b->size == rec->size && b->build_id_len == rec->build_id_len &&
		    !memcmp(b->build_id, rec->build_id, rec->build_id_len) && !strcmp(b->path, path))
			return b;
	}
	return NULL;
}

/* Opens the bundle of rec into a new entry; returns it, or NULL (no memory). */
static struct lm__bundle *open_bundle(struct lm_context *ctx, size_t src,
				      const struct lm__index *ix, const struct lm__imod *rec,
				      const char *name, char *path, int *err)
{
	struct lm__bundle *b = lm__calloc(1, sizeof *b);
	if (!b || lm__grow((void **)&ctx->bundles, &ctx->capbundles, ctx->nbundles,
			   sizeof *ctx->bundles) < 0) {
		free(b);
		*err = lm__fail(LM_E_NOMEM, "out of memory");
		return NULL;
	}
	*err = lm__open_file(ctx, src, ix, rec, name, &b->handle);
	if (*err == LM_E_NOMEM) {
		free(b);
		return NULL;
	}
	if (*err < 0) {
		b->err = *err;
		b->detail = lm__strdup(lm__detail());
	}
	b->path = path;
	b->size = rec->size;
	b->build_id_len = rec->build_id_len;
	memcpy(b->build_id, rec->build_id, rec->build_id_len);
	ctx->bundles[ctx->nbundles++] = b;
	lm__dbg(&ctx->log, "bundle %s %s, for module %s", path, *err ? "failed" : "loaded", name);
	return b;
}

int lm__bundle_open(struct lm_context *ctx, size_t src, const struct lm__index *ix,
		    const struct lm__imod *rec, const char *name, void **handle)
{
	char *path = lm__path_join(ctx->sources[src].dir, lm__index_str(ix, rec->path));
	if (!path)
		return lm__fail(LM_E_NOMEM, "out of memory");
	struct lm__bundle *b = find(ctx, path, rec);
	if (b) {
		free(path);
		if (b->err)
			return lm__fail(b->err, "module %s, in bundle %s: %s", name, b->path,
					b->detail ? b->detail : lm_strerror(b->err));
		*handle = b->handle;
		return 0;
	}
	int err;
	b = open_bundle(ctx, src, ix, rec, name, path, &err);
	if (!b) {
		free(path);
		return err;
	}
	*handle = b->handle;
	return err;
}

void lm__bundles_free(struct lm_context *ctx)
{
	for (size_t i = 0; i < ctx->nbundles; i++) {
		struct lm__bundle *b = ctx->bundles[i];
		if (b->handle)
			dlclose(b->handle);
		free(b->detail);
		free(b->path);
		free(b);
	}
	free(ctx->bundles);
	ctx->bundles = NULL;
	ctx->nbundles = ctx->capbundles = 0;
}
