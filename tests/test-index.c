/* SPDX-License-Identifier: MIT */
/*
 * test-index - the binary index: built from manifests, read in place,
 * refused when any header field is out of range, truncated at any length
 * or bit-flipped anywhere, and written atomically.
 */
#include "testutil.h"

#include <dirent.h>
#include <malloc.h>

#include "lazymod-private.h"

struct reports {
	int n;
	char all[8192];
};

static void collect(void *data, int err, const char *msg)
{
	struct reports *r = data;
	(void)err;
	size_t used = strlen(r->all);
	snprintf(r->all + used, sizeof r->all - used, "%s\n", msg);
	r->n++;
}

/* Builds the index of fixture directory `name` into *img. */
static void build(const char *name, struct lm__buf *img, struct reports *rep)
{
	struct lm__mset set = {0};
	struct reports dummy = {0};
	if (!rep)
		rep = &dummy;
	const char *dir = fixture(name);
	CHECK_INT(lm__scan_dir(&set, dir, collect, rep), 0);
	*img = (struct lm__buf){0};
	CHECK_INT(lm__index_build(&set, dir, collect, rep, img), 0);
	lm__mset_free(&set);
}

static void open_ok(struct lm__index *ix, const struct lm__buf *img)
{
	char why[256];
	int r = lm__index_open(ix, img->p, img->len, why, sizeof why);
	if (r < 0)
		FAIL("index_open: %s", why);
}

static const char *feature_module(const struct lm__index *ix, const char *kind, const char *name)
{
	uint32_t fi;
	if (lm__index_find_feature(ix, kind, name, &fi) < 0)
		return NULL;
	const struct lm__ifeat *f = lm__index_feat(ix, fi);
	const struct lm__imod *m = f ? lm__index_mod(ix, f->mod) : NULL;
	return m ? lm__index_str(ix, m->name) : NULL;
}

TEST(roundtrip)
{
	struct lm__buf img;
	build("basic", &img, NULL);
	struct lm__index ix;
	open_ok(&ix, &img);
	char why[256];
	CHECK_INT(lm__index_verify(&ix, why, sizeof why), 0);
	CHECK_STR(feature_module(&ix, "test", "alpha"), "alpha");
	CHECK_STR(feature_module(&ix, "test", "alpha2"), "alpha");
	CHECK_STR(feature_module(&ix, "test", "gamma"), "gamma");
	CHECK_STR(feature_module(&ix, "test", "dup"), "dup_a");
	uint32_t fi, mi;
	CHECK_INT(lm__index_find_feature(&ix, "test", "nope", &fi), LM_E_NOTFOUND);
	CHECK_INT(lm__index_find_feature(&ix, "other", "alpha", &fi), LM_E_NOTFOUND);
	CHECK_INT(lm__index_find_module(&ix, "gamma", &mi), 0);
	const struct lm__imod *m = lm__index_mod(&ix, mi);
	CHECK_STR(lm__index_str(&ix, m->path), "gamma.so");
	CHECK_INT(m->ndeps, 1);
	uint32_t off;
	CHECK_INT(lm__index_ref(&ix, m->deps_first, &off), 0);
	CHECK_STR(lm__index_str(&ix, off), "alpha");
	CHECK_INT(lm__index_find_module(&ix, "nosuchmodule", &mi), LM_E_NOTFOUND);
	const struct lm__ikind *k;
	CHECK_INT(lm__index_find_kind(&ix, "test", &k), 0);
	CHECK_INT(k->nfeats, ix.h->nfeats);
	CHECK_INT(lm__index_find_kind(&ix, "fmt", &k), LM_E_NOTFOUND);
	free(img.p);

	/* Rules survive the trip, grouped by kind. */
	build("probe", &img, NULL);
	open_ok(&ix, &img);
	CHECK_INT(lm__index_find_kind(&ix, "fmt", &k), 0);
	CHECK_INT(k->nrules, 11); /* 10 declarative + 1 code probe */
	CHECK_INT(lm__index_find_kind(&ix, "proto", &k), 0);
	CHECK_INT(k->nrules, 2);
	free(img.p);
}

TEST(reports)
{
	struct lm__buf img;
	struct reports rep = {0};
	build("basic", &img, &rep);
	CHECK_CONTAINS(rep.all, "feature test/dup provided by both dup_a");
	CHECK_CONTAINS(rep.all, "module missingdep depends on nosuchmodule, which no module here provides");
	CHECK_CONTAINS(rep.all, "dependency cycle: cyc_a -> cyc_b -> cyc_a");
	CHECK_INT(rep.n, 3);
	free(img.p);
	rep = (struct reports){0};
	build("many", &img, &rep);
	CHECK_INT(rep.n, 0);
	free(img.p);
}

static void reseal(unsigned char *p)
{
	struct lm__ihdr h;
	memcpy(&h, p, sizeof h);
	h.header_crc = 0;
	h.header_crc = lm__crc32c(0, &h, sizeof h);
	memcpy(p, &h, sizeof h);
}

TEST(header_fields)
{
	struct lm__buf img;
	build("basic", &img, NULL);
	unsigned char *copy = malloc(img.len);
	char why[256];
	struct lm__index ix;
	/* Every u32 of the header after the magic, but the checksums and the
	 * flags, set out of range, with the header checksum made right again:
	 * the range checks alone must refuse it. */
	for (size_t w = 2; w < sizeof(struct lm__ihdr) / 4 - 2; w++) {
		if (w == 6 || w == 7)
			continue;
		static const uint32_t values[] = {0xffffffffu, 0x7fffffffu, 0x10000001u};
		for (size_t v = 0; v < 3; v++) {
			memcpy(copy, img.p, img.len);
			memcpy(copy + w * 4, &values[v], 4);
			reseal(copy);
			int r = lm__index_open(&ix, copy, img.len, why, sizeof why);
			if (r == 0)
				FAIL("header word %zu = %#x accepted", w, values[v]);
			CHECK(r == LM_E_CORRUPT || r == LM_E_VERSION);
		}
	}
	/* Without resealing, any change is a checksum mismatch. */
	memcpy(copy, img.p, img.len);
	copy[40] ^= 1;
	CHECK_INT(lm__index_open(&ix, copy, img.len, why, sizeof why), LM_E_CORRUPT);
	CHECK_CONTAINS(why, "checksum");
	memcpy(copy, img.p, img.len);
	copy[0] = 'X';
	CHECK_INT(lm__index_open(&ix, copy, img.len, why, sizeof why), LM_E_CORRUPT);
	CHECK_CONTAINS(why, "magic");
	free(copy);
	free(img.p);
}

TEST(truncated_everywhere)
{
	struct lm__buf img;
	build("basic", &img, NULL);
	char why[256];
	struct lm__index ix;
	for (size_t len = 0; len < img.len; len++) {
		unsigned char *copy = malloc(len ? len : 1);
		memcpy(copy, img.p, len);
		int r = lm__index_open(&ix, copy, len, why, sizeof why);
		if (r != LM_E_CORRUPT)
			FAIL("index truncated to %zu of %zu bytes: %d", len, img.len, r);
		free(copy);
	}
	free(img.p);
}

/* A damaged index may refuse to answer, but never answers wrong. */
TEST(bit_flipped_everywhere)
{
	struct lm__buf img;
	build("basic", &img, NULL);
	struct lm__index good;
	open_ok(&good, &img);
	unsigned char *copy = malloc(img.len);
	char why[256];
	size_t refused = 0, answered = 0;
	for (size_t i = 0; i < img.len; i++) {
		memcpy(copy, img.p, img.len);
		copy[i] ^= (unsigned char)(1u << (i % 8));
		struct lm__index ix;
		if (lm__index_open(&ix, copy, img.len, why, sizeof why) < 0) {
			refused++;
			continue;
		}
		/* The full check catches every flip. */
		if (lm__index_verify(&ix, why, sizeof why) == 0)
			FAIL("flip at byte %zu passed lazymod check", i);
		for (uint32_t f = 0; f < good.h->nfeats; f++) {
			const struct lm__ifeat *gf = lm__index_feat(&good, f);
			const char *kind = lm__index_str(&good, gf->kind), *name = lm__index_str(&good, gf->name);
			const char *want = lm__index_str(&good, lm__index_mod(&good, gf->mod)->name);
			uint32_t fi;
			int r = lm__index_find_feature(&ix, kind, name, &fi);
			if (r == LM_E_CORRUPT)
				continue;
			if (r != 0)
				FAIL("flip at byte %zu: %s/%s not found (%d)", i, kind, name, r);
			const struct lm__ifeat *xf = lm__index_feat(&ix, fi);
			const struct lm__imod *xm = xf ? lm__index_mod(&ix, xf->mod) : NULL;
			if (!xm)
				continue; /* refused at the record */
			CHECK_STR(lm__index_str(&ix, xm->name), want);
			answered++;
		}
	}
	CHECK(refused > 0 && answered > 0);
	free(copy);
	free(img.p);
}

TEST(newer_version)
{
	struct lm__buf img;
	build("basic", &img, NULL);
	uint32_t v = LM__INDEX_VERSION + 1;
	memcpy(img.p + 8, &v, 4);
	reseal(img.p);
	struct lm__index ix;
	char why[256];
	CHECK_INT(lm__index_open(&ix, img.p, img.len, why, sizeof why), LM_E_VERSION);
	CHECK_CONTAINS(why, "format version 2");
	free(img.p);
}

TEST(atomic_write)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/idx/lazymod.index", scratch());
	sh("mkdir -p '%s/idx'", scratch());
	CHECK_INT(lm__index_write_file(path, "first", 5), 0);
	CHECK_INT(lm__index_write_file(path, "second!", 7), 0);
	struct stat st;
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_size, 7);
	CHECK_INT(st.st_mode & 0777, 0644);
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/idx", scratch());
	DIR *d = opendir(dir);
	int files = 0;
	for (struct dirent *de; (de = readdir(d));)
		files += de->d_name[0] != '.';
	closedir(d);
	CHECK_INT(files, 1); /* no temporary file left behind */
	CHECK_INT(lm__index_write_file("/nonexistent-dir/lazymod.index", "x", 1), LM_E_IO);
	CHECK_CONTAINS(lm__detail(), "/nonexistent-dir/lazymod.index");
}

TEST(empty_index)
{
	struct lm__mset set = {0};
	struct lm__buf img = {0};
	struct reports rep = {0};
	CHECK_INT(lm__index_build(&set, "/", collect, &rep, &img), 0);
	struct lm__index ix;
	open_ok(&ix, &img);
	uint32_t fi;
	CHECK_INT(lm__index_find_feature(&ix, "a", "b", &fi), LM_E_NOTFOUND);
	char why[256];
	CHECK_INT(lm__index_verify(&ix, why, sizeof why), 0);
	free(img.p);
}

/* Writes dir/lazymod.index for n modules m0..m(n-1), a feature each (no module files). */
static void index_of_n(const char *dir, unsigned n)
{
	struct lm__mset set = {0};
	set.mods = calloc(n, sizeof *set.mods);
	set.feats = calloc(n, sizeof *set.feats);
	char (*names)[16] = calloc(n, sizeof *names);
	CHECK(set.mods && set.feats && names);
	for (unsigned i = 0; i < n; i++) {
		snprintf(names[i], sizeof names[i], "m%u", i);
		char path[4096];
		snprintf(path, sizeof path, "%s/%s.so", dir, names[i]);
		set.mods[i] = (struct lm__mmod){.name = names[i], .version = "1.0", .description = "",
						.path = strdup(path), .size = 1, .order = i};
		set.feats[i] = (struct lm__mitem){i, "k", names[i]};
	}
	set.nmods = set.capmods = set.nfeats = set.capfeats = n;
	struct lm__buf img = {0};
	struct reports rep = {0};
	CHECK_INT(lm__index_build(&set, dir, collect, &rep, &img), 0);
	char path[4096];
	snprintf(path, sizeof path, "%s/lazymod.index", dir);
	CHECK_INT(lm__index_write_file(path, img.p, img.len), 0);
	free(img.p);
	free(names);
	lm__mset_free(&set);
}

/* Heap bytes a context over dir holds once open. */
static long context_bytes(const char *dir)
{
	const char *dirs[] = {dir, NULL};
	struct lm_options o = {.dirs = dirs, .flags = LM_CTX_NO_ENV_PATH | LM_CTX_NO_FALLBACK};
	struct lm_context *ctx;
	struct mallinfo2 a = mallinfo2();
	CHECK_INT(lm_context_new(&o, &ctx), 0);
	struct mallinfo2 b = mallinfo2();
	const void *obj;
	CHECK_INT(lm_get(ctx, "k", "nosuch", &obj), LM_E_NOTFOUND); /* the index answers */
	lm_context_unref(ctx);
	return (long)(b.uordblks + b.hblkhd) - (long)(a.uordblks + a.hblkhd);
}

/* Opening a context allocates nothing per module: state comes on first use. */
TEST(context_open_allocates_nothing_per_module)
{
	char small[4096], big[4096];
	snprintf(small, sizeof small, "%s/n10", scratch());
	snprintf(big, sizeof big, "%s/n10000", scratch());
	sh("mkdir -p '%s' '%s'", small, big);
	index_of_n(small, 10);
	index_of_n(big, 10000);
	context_bytes(small); /* the first context sets up what the process keeps */
	long s = context_bytes(small), b = context_bytes(big);
	if (b - s > 1024)
		FAIL("a context over 10000 modules holds %ld bytes, over 10 %ld", b, s);
	/* The state a lookup makes stays near what it touched. */
	struct lm__sparse sp;
	lm__sparse_init(&sp, 1u << 20, sizeof(uint64_t));
	CHECK(lm__sparse_peek(&sp, 12345) == NULL);
	uint64_t *v = lm__sparse_slot(&sp, 12345);
	CHECK(v && *v == 0);
	*v = 42;
	CHECK(lm__sparse_peek(&sp, 12345) == v);
	CHECK(lm__sparse_peek(&sp, 12346) == v + 1);        /* same leaf: zero */
	CHECK(lm__sparse_peek(&sp, 12345 + 4096) == NULL); /* another leaf */
	CHECK(lm__sparse_slot(&sp, 1u << 20) == NULL);     /* out of range */
	CHECK(*(uint64_t *)lm__sparse_slot(&sp, (1u << 20) - 1) == 0);
	lm__sparse_free(&sp, NULL);
	CHECK(lm__sparse_peek(&sp, 12345) == NULL);
}

/* Many rules and strings: the builder's buffers move while it fills them. */
TEST(thousands_of_rules)
{
	enum { N = 3000 };
	static char names[N][16], bytes[N][16];
	struct lm__mset set = {0};
	set.mods = calloc(1, sizeof *set.mods);
	set.nmods = set.capmods = 1;
	set.mods[0] = (struct lm__mmod){.name = "big", .version = "1", .description = "many rules"};
	set.feats = calloc(N, sizeof *set.feats);
	set.rules = calloc(N, sizeof *set.rules);
	set.nfeats = set.capfeats = set.nrules = set.caprules = N;
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "f%05d", i);
		snprintf(bytes[i], sizeof bytes[i], "MAGIC%05d", i);
		set.feats[i] = (struct lm__mitem){0, "kind", names[i]};
		set.rules[i] = (struct lm__mrule){.mod = 0, .kind = "kind", .name = names[i],
						  .offset = (uint64_t)i, .len = 10, .type = LM_RULE_MAGIC,
						  .score = 50, .bytes = (unsigned char *)bytes[i]};
	}
	struct lm__buf img = {0};
	struct reports rep = {0};
	CHECK_INT(lm__index_build(&set, "/", collect, &rep, &img), 0);
	CHECK_INT(rep.n, 0);
	struct lm__index ix;
	open_ok(&ix, &img);
	const struct lm__ikind *k;
	CHECK_INT(lm__index_find_kind(&ix, "kind", &k), 0);
	CHECK_INT(k->nrules, N);
	for (uint32_t i = 0; i < N; i++) {
		const struct lm__irule *r = lm__index_rule(&ix, k->rules_first + i);
		CHECK(r != NULL);
		const struct lm__ifeat *f = lm__index_feat(&ix, r->feat);
		unsigned n = (unsigned)atoi(lm__index_str(&ix, f->name) + 1);
		CHECK_INT(r->offset, n);
		CHECK(!memcmp(lm__index_str(&ix, r->bytes), bytes[n], 10));
	}
	char why[256];
	CHECK_INT(lm__index_verify(&ix, why, sizeof why), 0);
	free(img.p);
	free(set.mods);
	free(set.feats);
	free(set.rules);
}

/* Reads a file of the source tree (fuzz/regressions/...) into *img. */
static void read_source_file(const char *rel, struct lm__buf *img)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", getenv("LAZYMOD_SOURCE"), rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		FAIL("%s: %s", path, strerror(errno));
	*img = (struct lm__buf){0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		lm__buf_append(img, chunk, n);
	fclose(f);
}

/* Indexes the fuzzers made: valid checksums, a rule the writer never makes. */
TEST(fuzz_regressions_rules)
{
	static const char *const files[] = {"fuzz/regressions/index/rule-len-wrap",
					    "fuzz/regressions/index/empty-magic-rule"};
	for (size_t k = 0; k < 2; k++) {
		struct lm__buf img;
		read_source_file(files[k], &img);
		struct lm__index ix;
		open_ok(&ix, &img);
		uint32_t refused = 0;
		for (uint32_t i = 0; i < ix.h->nrules; i++) {
			const struct lm__irule *r = lm__index_rule(&ix, i);
			if (!r) {
				refused++;
				continue;
			}
			char desc[160];
			lm__rule_describe(&ix, r, desc, sizeof desc);
			struct lm_probe_input in = {NULL, 0, NULL, 0, 0, NULL};
			lm__rule_match(&ix, r, &in);
		}
		CHECK_INT(refused, 1);
		free(img.p);
	}
}

/* A damaged feature record behind a rule that matches: an error, not a crash. */
TEST(fuzz_regressions_probe)
{
	const char *dir = copy_fixture("probe");
	sh("cp '%s/fuzz/regressions/index/damaged-feature-crc' '%s/lazymod.index'",
	   getenv("LAZYMOD_SOURCE"), dir);
	const char *dirs[] = {dir, NULL};
	struct lm_options o = {.dirs = dirs, .flags = LM_CTX_NO_ENV_PATH | LM_CTX_NO_FALLBACK};
	struct lm_context *ctx;
	CHECK_INT(lm_context_new(&o, &ctx), 0);
	struct lm_probe_input in = {(const unsigned char *)"QFI\xfb\0\0\0\3", 8, NULL, 0, 8, NULL};
	struct lm_probe_result res;
	CHECK_INT(lm_probe(ctx, "fmt", &in, &res), LM_E_CORRUPT);
	CHECK_CONTAINS(lm_errdetail(ctx), "is damaged");
	lm_context_unref(ctx);
	/* With the fallback, the notes answer. */
	o.flags = LM_CTX_NO_ENV_PATH;
	CHECK_INT(lm_context_new(&o, &ctx), 0);
	CHECK_INT(lm_probe(ctx, "fmt", &in, &res), 0);
	CHECK_STR(res.name, "qfi");
	lm_context_unref(ctx);
}

/* A dependency chain 12000 modules long in one note segment. */
TEST(fuzz_regressions_long_chain)
{
	char seg[4096];
	snprintf(seg, sizeof seg, "%s/chain.notes", scratch());
	sh("python3 '%s/fuzz/regressions/notes/dep-chain.py' '%s'", getenv("LAZYMOD_SOURCE"), seg);
	struct lm__buf notes;
	FILE *f = fopen(seg, "rb");
	CHECK(f);
	notes = (struct lm__buf){0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		lm__buf_append(&notes, chunk, n);
	fclose(f);
	struct lm__mset set = {0};
	char why[256] = "";
	CHECK_INT(lm__notes_parse(&set, notes.p, notes.len, 0, "/x.so", false, why, sizeof why), 0);
	CHECK_INT(set.nmods, 12000);
	struct lm__buf img = {0};
	struct reports rep = {0};
	CHECK_INT(lm__index_build(&set, "/", collect, &rep, &img), 0);
	CHECK_INT(rep.n, 0);
	struct lm__index ix;
	open_ok(&ix, &img);
	CHECK_INT(ix.h->nmods, 12000);
	free(img.p);
	free(notes.p);
	lm__mset_free(&set);
}

TEST_MAIN
