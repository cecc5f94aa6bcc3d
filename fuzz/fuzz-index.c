/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
/*
 * fuzz-index - the index reader on arbitrary bytes: lm__index_open, then
 * everything a host or the tool reads from an index that opened: lookups
 * of features, modules and kinds by name, every module, feature, rule and
 * kind record with the strings and refs it names, the probe rules of each
 * kind matched and described as lm_probe does, lm__index_verify, and the
 * public API (lm_list, lm_feature_info, lm_probe, lm_get) over a context
 * whose one directory source holds the image. None of it may crash or
 * read outside the image, whatever the bytes.
 *
 * Every record carries a CRC-32C, which random bytes almost never match.
 * So each input is tried twice: as it is, and with every checksum that can
 * be computed set right (header, body, records, hash slots; the same
 * computation as index.c, done here). The second image is what a writer
 * that means harm, rather than a damaged disk, would hand the reader; set
 * FUZZ_DUMP=FILE to write it out when reproducing a finding.
 */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz-lib.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Work bounds: tables may hold up to 2^24 records. */
#define MAX_RECORDS 512
#define MAX_API_CALLS 8

static const char *dump_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	dump_path = getenv("FUZZ_DUMP");
	return 0;
}

/* ---- checksums, as index.c computes them ---------------------------------- */

static uint32_t rec_crc(const void *rec, size_t len, size_t crc_off)
{
	unsigned char tmp[sizeof(struct lm__imod)];
	memcpy(tmp, rec, len);
	memset(tmp + crc_off, 0, 4);
	return lm__crc32c(0, tmp, len);
}

static bool str_crc(const struct lm__index *ix, uint32_t off, uint32_t *crc)
{
	if (off >= ix->h->strings_size)
		return false;
	const char *s = (const char *)ix->base + ix->h->strings_off + off;
	*crc = lm__crc32c(*crc, s, strlen(s) + 1);
	return true;
}

static bool refs_crc(const struct lm__index *ix, uint32_t first, uint32_t n, bool strings,
		     uint32_t *crc)
{
	if (first > ix->h->nrefs || n > ix->h->nrefs - first)
		return false;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t v;
		memcpy(&v, ix->base + ix->h->refs_off + ((size_t)first + k) * 4, 4);
		*crc = lm__crc32c(*crc, &v, 4);
		if (strings ? !str_crc(ix, v, crc) : v >= ix->h->nfeats)
			return false;
	}
	return true;
}

static void fix_slots(unsigned char *img, uint32_t off, uint32_t n)
{
	for (uint32_t i = 0; i < n && i < (1u << 16); i++) {
		struct lm__islot s;
		memcpy(&s, img + off + (size_t)i * sizeof s, sizeof s);
		uint32_t v[3] = {i, s.hash, s.index};
		s.check = lm__crc32c(0, v, sizeof v);
		memcpy(img + off + (size_t)i * sizeof s, &s, sizeof s);
	}
}

/* Sets every checksum of img right that can be; false if the header's
 * geometry does not let the image open at all. */
static bool fix_checksums(unsigned char *img, size_t size)
{
	struct lm__ihdr h;
	if (size < sizeof h)
		return false;
	memcpy(&h, img, sizeof h);
	h.file_size = size;
	h.header_crc = 0;
	h.header_crc = lm__crc32c(0, &h, sizeof h);
	memcpy(img, &h, sizeof h);
	struct lm__index ix;
	char why[256];
	if (lm__index_open(&ix, img, size, why, sizeof why) < 0)
		return false;
	for (uint32_t i = 0; i < h.nfeats && i < MAX_RECORDS * 8; i++) {
		struct lm__ifeat *f = (void *)(img + h.feats_off + (size_t)i * sizeof *f);
		uint32_t crc = rec_crc(f, sizeof *f, offsetof(struct lm__ifeat, crc));
		if (str_crc(&ix, f->kind, &crc) && str_crc(&ix, f->name, &crc))
			f->crc = crc;
	}
	for (uint32_t i = 0; i < h.nmods && i < MAX_RECORDS * 8; i++) {
		struct lm__imod *m = (void *)(img + h.mods_off + (size_t)i * sizeof *m);
		uint32_t crc = rec_crc(m, sizeof *m, offsetof(struct lm__imod, crc));
		if (str_crc(&ix, m->name, &crc) && str_crc(&ix, m->version, &crc) &&
		    str_crc(&ix, m->description, &crc) && str_crc(&ix, m->package, &crc) &&
		    str_crc(&ix, m->path, &crc) && refs_crc(&ix, m->deps_first, m->ndeps, true, &crc) &&
		    refs_crc(&ix, m->targets_first, m->ntargets, true, &crc) &&
		    refs_crc(&ix, m->feats_first, m->nfeats, false, &crc))
			m->crc = crc;
	}
	for (uint32_t i = 0; i < h.nrules && i < MAX_RECORDS * 8; i++) {
		struct lm__irule *r = (void *)(img + h.rules_off + (size_t)i * sizeof *r);
		uint32_t crc = rec_crc(r, sizeof *r, offsetof(struct lm__irule, crc));
		uint32_t blen = r->len + 1; /* as index.c computes it */
		if (r->bytes >= h.strings_size || blen > h.strings_size - r->bytes)
			continue;
		crc = lm__crc32c(crc, img + h.strings_off + r->bytes, blen);
		if (r->mask) {
			if (r->mask >= h.strings_size || blen > h.strings_size - r->mask)
				continue;
			crc = lm__crc32c(crc, img + h.strings_off + r->mask, blen);
		}
		r->crc = crc;
	}
	for (uint32_t i = 0; i < h.nkinds && i < MAX_RECORDS * 8; i++) {
		struct lm__ikind *k = (void *)(img + h.kinds_off + (size_t)i * sizeof *k);
		uint32_t crc = rec_crc(k, sizeof *k, offsetof(struct lm__ikind, crc));
		if (str_crc(&ix, k->kind, &crc))
			k->crc = crc;
	}
	fix_slots(img, h.fhash_off, h.fslots);
	fix_slots(img, h.mhash_off, h.mslots);
	h.body_crc = lm__crc32c(0, img + sizeof h, size - sizeof h);
	h.header_crc = 0;
	h.header_crc = lm__crc32c(0, &h, sizeof h);
	memcpy(img, &h, sizeof h);
	return true;
}

/* ---- reading, as the runtime and the tool do ------------------------------ */

static const char *const kinds[] = {"block-format", "codec", "greeting", "fmt", "", NULL};
static const char *const names[] = {"qcow2", "raw", "zlib", "loud", "qfi", "fallback", NULL};

/* What lm_probe sees of an input. */
static const unsigned char probe_head[64] = "QFI\xfb\0\0\0\3 vhdxfile conectix KDMV";
static const unsigned char probe_tail[1024] = "conectix";

static void match_rule(const struct lm__index *ix, const struct lm__irule *r)
{
	static const struct lm_probe_input ins[] = {
		{probe_head, sizeof probe_head, probe_tail, sizeof probe_tail, 4096, "disk.qcow2"},
		{probe_head, 4, NULL, 0, UINT64_MAX, "https://host/a/b.vmdk?x#y"},
		{NULL, 0, probe_tail, sizeof probe_tail, 512, NULL},
	};
	for (size_t i = 0; i < sizeof ins / sizeof *ins; i++)
		(void)lm__rule_match(ix, r, &ins[i]);
	char desc[160];
	lm__rule_describe(ix, r, desc, sizeof desc);
	if (!memchr(desc, 0, sizeof desc))
		fuzz_die("rule description is not NUL-terminated");
}

/* Touches a string the reader handed out: all of it, up to its NUL. */
static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

static void read_index(const struct lm__index *ix)
{
	const struct lm__ihdr *h = ix->h;
	size_t sum = 0;
	uint32_t idx;
	for (const char *const *k = kinds; *k; k++) {
		const struct lm__ikind *kr;
		if (lm__index_find_kind(ix, *k, &kr) == 0)
			for (uint32_t i = kr->rules_first; i < kr->rules_first + kr->nrules &&
							   i - kr->rules_first < MAX_RECORDS;
			     i++) {
				const struct lm__irule *r = lm__index_rule(ix, i);
				if (r)
					match_rule(ix, r);
			}
		for (const char *const *n = names; *n; n++)
			(void)lm__index_find_feature(ix, *k, *n, &idx);
	}
	for (const char *const *n = names; *n; n++)
		(void)lm__index_find_module(ix, *n, &idx);

	for (uint32_t i = 0; i < h->nmods && i < MAX_RECORDS; i++) {
		const struct lm__imod *m = lm__index_mod(ix, i);
		if (!m)
			continue;
		sum += touch(lm__index_str(ix, m->name)) + touch(lm__index_str(ix, m->version)) +
		       touch(lm__index_str(ix, m->description)) +
		       touch(lm__index_str(ix, m->package)) + touch(lm__index_str(ix, m->path));
		uint32_t v;
		for (uint32_t d = 0; d < m->ndeps && d < MAX_RECORDS; d++)
			if (lm__index_ref(ix, m->deps_first + d, &v) == 0)
				sum += touch(lm__index_str(ix, v));
		for (uint32_t d = 0; d < m->ntargets && d < MAX_RECORDS; d++)
			if (lm__index_ref(ix, m->targets_first + d, &v) == 0)
				sum += touch(lm__index_str(ix, v));
		for (uint32_t d = 0; d < m->nfeats && d < MAX_RECORDS; d++)
			if (lm__index_ref(ix, m->feats_first + d, &v) == 0)
				(void)lm__index_feat(ix, v);
		const char *name = lm__index_str(ix, m->name);
		if (name)
			(void)lm__index_find_module(ix, name, &idx);
	}
	for (uint32_t i = 0; i < h->nfeats && i < MAX_RECORDS; i++) {
		const struct lm__ifeat *f = lm__index_feat(ix, i);
		if (!f)
			continue;
		const char *kind = lm__index_str(ix, f->kind), *name = lm__index_str(ix, f->name);
		sum += touch(kind) + touch(name);
		(void)lm__index_mod(ix, f->mod);
		const struct lm__ikind *kr;
		if (kind && name && lm__index_find_feature(ix, kind, name, &idx) == 0)
			(void)lm__index_find_kind(ix, kind, &kr);
	}
	for (uint32_t i = 0; i < h->nrules && i < MAX_RECORDS; i++) {
		const struct lm__irule *r = lm__index_rule(ix, i);
		if (r)
			match_rule(ix, r);
	}
	char why[256];
	(void)lm__index_verify(ix, why, sizeof why);
	if (!memchr(why, 0, sizeof why))
		fuzz_die("the reason of a failed verification is not NUL-terminated");
	(void)sum;
}

/* ---- the public API over a context holding the image ---------------------- */

static int list_cb(void *data, const struct lm_feature_info *info)
{
	size_t *sum = data;
	*sum += touch(info->kind) + touch(info->name) + touch(info->module) +
		touch(info->module_version) + touch(info->description) + touch(info->package) +
		touch(info->path);
	return 0;
}

struct seen {
	char kind[LM__NAME_MAX + 1], name[LM__NAME_MAX + 1];
};

static int collect_cb(void *data, const struct lm_feature_info *info)
{
	struct seen *s = data;
	if (!s->kind[0]) {
		snprintf(s->kind, sizeof s->kind, "%s", info->kind);
		snprintf(s->name, sizeof s->name, "%s", info->name);
	}
	return 0;
}

/*
 * A context with one directory source whose generation is this image, as
 * gen_map() makes one from a mapped lazymod.index. The directory does not
 * exist: lm_get fails to open any module it names, and loads nothing.
 */
static void use_api(const unsigned char *img, size_t size)
{
	unsigned char *heap = malloc(size ? size : 1);
	if (!heap)
		return;
	memcpy(heap, img, size);
	struct lm__index ix;
	char why[256];
	if (lm__index_open(&ix, heap, size, why, sizeof why) < 0) {
		free(heap);
		return;
	}
	struct lm_options opts = {.flags = LM_CTX_NO_ENV_PATH | LM_CTX_NO_FALLBACK,
				  .iface_major = 1};
	struct lm_context *ctx;
	if (lm_context_new(&opts, &ctx) < 0)
		fuzz_die("lm_context_new: %s", lm_errdetail(NULL));
	struct lm__gen *g = calloc(1, sizeof *g);
	ctx->sources = calloc(1, sizeof *ctx->sources);
	if (!g || !ctx->sources)
		fuzz_die("out of memory");
	g->ix = ix;
	g->heap = heap;
	lm__sparse_init(&g->mods, ix.h->nmods, sizeof(struct lm__modstate));
	lm__sparse_init(&g->objs, ix.h->nfeats, sizeof(const void *));
	lm__sparse_init(&g->ok, (size_t)ix.h->nfeats + ix.h->nrules, 1);
	g->ix.ok = &g->ok;
	ctx->nsources = 1;
	ctx->sources[0].dir = strdup("/nonexistent/lazymod-fuzz");
	atomic_store(&ctx->sources[0].gen, g);

	size_t sum = 0;
	(void)lm_list(ctx, NULL, list_cb, &sum);
	struct seen s = {"", ""};
	(void)lm_list(ctx, NULL, collect_cb, &s);
	struct lm_feature_info info;
	struct lm_probe_result res;
	const void *obj;
	struct lm_probe_input in = {probe_head, sizeof probe_head, probe_tail, sizeof probe_tail,
				    4096, "disk.qcow2"};
	unsigned calls = 0;
	for (const char *const *k = kinds; *k && calls < MAX_API_CALLS; k++, calls++) {
		(void)lm_list(ctx, *k, list_cb, &sum);
		(void)lm_probe(ctx, *k, &in, &res);
	}
	if (s.kind[0]) {
		(void)lm_list(ctx, s.kind, list_cb, &sum);
		(void)lm_feature_info(ctx, s.kind, s.name, &info);
		(void)lm_probe(ctx, s.kind, &in, &res);
		(void)lm_get(ctx, s.kind, s.name, &obj);
		(void)lm_get(ctx, s.kind, s.name, &obj); /* the failure remembered */
	}
	for (const char *const *n = names; *n; n++) {
		(void)lm_feature_info(ctx, "block-format", *n, &info);
		(void)lm_module_loaded(ctx, *n);
	}
	(void)lm_get(ctx, "block-format", "qcow2", &obj);
	(void)sum;
	lm_context_unref(ctx);
}

static void dump(const unsigned char *img, size_t size)
{
	int f = open(dump_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f < 0 || write(f, img, size) != (ssize_t)size)
		perror(dump_path);
	if (f >= 0)
		close(f);
	dump_path = NULL;
}

static void try_image(const unsigned char *img, size_t size)
{
	struct lm__index ix;
	char why[256] = "";
	int r = lm__index_open(&ix, img, size, why, sizeof why);
	if (!memchr(why, 0, sizeof why))
		fuzz_die("the reason of a failed open is not NUL-terminated");
	if (r < 0)
		return;
	read_index(&ix);
	use_api(img, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact copy: the reader must not touch a byte past its end. */
	unsigned char *img = malloc(size ? size : 1);
	if (!img)
		return 0;
	memcpy(img, data, size);
	try_image(img, size);
	if (fix_checksums(img, size) && memcmp(img, data, size) != 0) {
		if (dump_path)
			dump(img, size);
		try_image(img, size);
	} else if (dump_path) {
		dump(img, size);
	}
	free(img);
	return 0;
}
