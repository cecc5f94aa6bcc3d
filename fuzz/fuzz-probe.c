/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
/*
 * fuzz-probe - the probe engine on arbitrary inputs. At start-up, a small
 * synthetic set of manifests (magic bytes at offsets near and far, masked
 * magic, magic from the end, extensions, URI schemes, a fallback and a code
 * probe whose module is absent) is written as notes, parsed, and built into
 * an index with lm__index_build, which is written to a new directory. Each
 * input is then cut into what a probe sees (head, tail, size, name), and
 *
 *   - lm__rule_match and lm__rule_describe run over every rule;
 *   - lm_probe runs for each kind through a context over that directory,
 *     and must answer the highest score among the rules that match.
 *
 * Input layout (short inputs read as zeros past their end):
 *   byte 0       flags: 1 no name, 2 size unknown, 4 tail is the head
 *   u16          head length, then the head bytes
 *   u16          tail length, then the tail bytes
 *   u32          bytes of the input between head and tail (for the size)
 *   the rest     the name (a NUL in it ends it)
 */
#include <ftw.h>
#include <unistd.h>

#include "fuzz-lib.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *image;
static struct lm__index ix;
static struct lm_context *ctx;
static char dir[] = "/tmp/lazymod-fuzz-probe-XXXXXX";
static const char *const probe_kinds[] = {"fmt", "proto", "nothing", NULL};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (ctx)
		lm_context_unref(ctx);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(image);
}

static void manifests(struct fuzz_notes *n)
{
	fuzz_lm_module(n, "p_magic", "1.0");
	fuzz_lm_interface(n, "p_magic", 1, 0);
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_magic", "fmt", "qfi");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_magic", "fmt", "short");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_magic", "fmt", "long");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_magic", "fmt", "far");
	fuzz_lm_rule(n, "p_magic", "fmt", "qfi", LM_RULE_MAGIC, 0, "QFI\xfb", 4, NULL, 100);
	fuzz_lm_rule(n, "p_magic", "fmt", "short", LM_RULE_MAGIC, 2, "AB", 2, NULL, 50);
	fuzz_lm_rule(n, "p_magic", "fmt", "long", LM_RULE_MAGIC, 2, "ABC", 3, NULL, 50);
	fuzz_lm_rule(n, "p_magic", "fmt", "far", LM_RULE_MAGIC, 0x40, "\x7f\x10\xda\xbe", 4, NULL,
		     90);
	fuzz_lm_rule(n, "p_magic", "fmt", "far", LM_RULE_MAGIC, 1ull << 40, "X", 1, NULL, 99);
	fuzz_lm_rule(n, "p_magic", "fmt", "far", LM_RULE_MAGIC, 0xffffffffffffffffull, "Y", 1,
		     NULL, 99);

	fuzz_lm_module(n, "p_mask", "1.0");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_mask", "fmt", "masked");
	fuzz_lm_rule(n, "p_mask", "fmt", "masked", LM_RULE_MAGIC, 4, "MASK\0\x02", 6,
		     "\xff\xff\xff\xff\xff\xfe", 60);
	fuzz_lm_rule(n, "p_mask", "fmt", "masked", LM_RULE_MAGIC, 0, "GIF8\x30" "a", 6,
		     "\xff\xff\xff\xff\xf0\xff", 80);

	fuzz_lm_module(n, "p_end", "1.0");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_end", "fmt", "footer");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_end", "fmt", "trailer");
	fuzz_lm_rule(n, "p_end", "fmt", "footer", LM_RULE_MAGIC_END, 512, "conectix", 8, NULL, 100);
	fuzz_lm_rule(n, "p_end", "fmt", "trailer", LM_RULE_MAGIC_END, 4, "END!", 4, NULL, 70);
	fuzz_lm_rule(n, "p_end", "fmt", "trailer", LM_RULE_MAGIC_END, 8, "MID", 3, "\xdf\xdf\xdf",
		     71);
	fuzz_lm_rule(n, "p_end", "fmt", "trailer", LM_RULE_MAGIC_END, 1ull << 33, "Z", 1, NULL,
		     72);

	fuzz_lm_module(n, "p_names", "1.0");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_names", "fmt", "byext");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_names", "proto", "http");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_names", "proto", "s3");
	fuzz_lm_rule(n, "p_names", "fmt", "byext", LM_RULE_EXT, 0, "qcow2", 5, NULL, 10);
	fuzz_lm_rule(n, "p_names", "fmt", "byext", LM_RULE_EXT, 0, "tar.gz", 6, NULL, 11);
	fuzz_lm_rule(n, "p_names", "proto", "http", LM_RULE_SCHEME, 0, "http", 4, NULL, 100);
	fuzz_lm_rule(n, "p_names", "proto", "http", LM_RULE_SCHEME, 0, "https", 5, NULL, 100);
	fuzz_lm_rule(n, "p_names", "proto", "s3", LM_RULE_SCHEME, 0, "s3+x.y-z", 8, NULL, 90);

	fuzz_lm_module(n, "p_any", "1.0");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_any", "fmt", "fallback");
	fuzz_lm_rule(n, "p_any", "fmt", "fallback", LM_RULE_ANY, 0, "", 0, NULL, 1);

	/* A code probe: its module file does not exist, so it fails to load. */
	fuzz_lm_module(n, "p_code", "1.0");
	fuzz_lm_feature(n, LM_NOTE_FEATURE, "p_code", "fmt", "coded");
	fuzz_lm_feature(n, LM_NOTE_CODEPROBE, "p_code", "fmt", "coded");
	fuzz_lm_rule(n, "p_code", "fmt", "coded", LM_RULE_EXT, 0, "cod", 3, NULL, 5);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	if (!mkdtemp(dir)) {
		perror("fuzz-probe: mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	struct fuzz_notes n = {.len = 0};
	manifests(&n);
	char path[sizeof dir + 32], why[256] = "";
	snprintf(path, sizeof path, "%s/p.so", dir);
	struct lm__mset set = {0};
	unsigned char *notes = malloc(n.len);
	if (!notes)
		exit(1);
	memcpy(notes, n.buf, n.len);
	if (lm__notes_parse(&set, notes, n.len, 0, path, false, why, sizeof why) < 0)
		fuzz_die("synthetic manifests: %s", why);
	struct lm__buf img = {0};
	if (lm__index_build(&set, dir, fuzz_report_nop, NULL, &img) < 0)
		fuzz_die("synthetic index: %s", lm_errdetail(NULL));
	lm__mset_free(&set);
	free(notes);
	image = img.p;
	if (lm__index_open(&ix, image, img.len, why, sizeof why) < 0 ||
	    lm__index_verify(&ix, why, sizeof why) < 0)
		fuzz_die("synthetic index: %s", why);
	snprintf(path, sizeof path, "%s/lazymod.index", dir);
	if (lm__index_write_file(path, image, img.len) < 0)
		fuzz_die("writing %s: %s", path, lm_errdetail(NULL));
	const char *dirs[] = {dir, NULL};
	struct lm_options opts = {.dirs = dirs,
				  .flags = LM_CTX_NO_ENV_PATH | LM_CTX_NO_FALLBACK,
				  .iface_major = 1};
	if (lm_context_new(&opts, &ctx) < 0)
		fuzz_die("lm_context_new: %s", lm_errdetail(NULL));
	return 0;
}

/* Bytes of the input, zeros past its end. */
struct reader {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct reader *r, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t b = r->left ? (r->left--, *r->p++) : 0;
		v |= b << (8 * i);
	}
	return v;
}

/* The next n bytes (fewer when the input ends) in a buffer of their own. */
static unsigned char *take_bytes(struct reader *r, size_t *n)
{
	if (*n > r->left)
		*n = r->left;
	unsigned char *b = malloc(*n ? *n : 1);
	if (!b)
		fuzz_die("out of memory");
	memcpy(b, r->p, *n);
	r->p += *n;
	r->left -= *n;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader rd = {data, size};
	unsigned flags = (unsigned)take(&rd, 1);
	size_t hlen = (size_t)take(&rd, 2);
	unsigned char *head = take_bytes(&rd, &hlen);
	size_t tlen = (size_t)take(&rd, 2);
	unsigned char *tail = take_bytes(&rd, &tlen);
	uint64_t middle = take(&rd, 4);
	size_t nlen = rd.left;
	char *name = (char *)take_bytes(&rd, &nlen);
	name = realloc(name, nlen + 1);
	if (!name)
		fuzz_die("out of memory");
	name[nlen] = 0;

	struct lm_probe_input in = {head, hlen, tail, tlen, 0, flags & 1 ? NULL : name};
	if (flags & 4) {
		in.tail = head;
		in.tail_len = hlen;
		in.size = hlen;
	} else {
		in.size = flags & 2 ? UINT64_MAX : hlen + middle + tlen;
	}

	for (uint32_t i = 0; i < ix.h->nrules; i++) {
		const struct lm__irule *r = lm__index_rule(&ix, i);
		if (!r)
			fuzz_die("rule %u of the synthetic index does not read", i);
		if (r->type == LM__RULE_CODE)
			continue;
		(void)lm__rule_match(&ix, r, &in);
		char desc[160];
		lm__rule_describe(&ix, r, desc, sizeof desc);
	}

	for (const char *const *k = probe_kinds; *k; k++) {
		/* The best score of the declarative rules of the kind that match. */
		int best = 0;
		const struct lm__ikind *kr;
		if (lm__index_find_kind(&ix, *k, &kr) == 0)
			for (uint32_t i = kr->rules_first; i < kr->rules_first + kr->nrules; i++) {
				const struct lm__irule *r = lm__index_rule(&ix, i);
				if (r->type != LM__RULE_CODE && r->score > best &&
				    lm__rule_match(&ix, r, &in))
					best = r->score;
			}
		struct lm_probe_result res;
		int r = lm_probe(ctx, *k, &in, &res);
		if (r == 0 && res.score != best)
			fuzz_die("lm_probe(%s) answers %s with score %d; the best rule says %d", *k,
				 res.name, res.score, best);
		if (r == LM_E_NOMATCH && best)
			fuzz_die("lm_probe(%s) matches nothing; a rule of score %d matches", *k,
				 best);
		if (r < 0 && r != LM_E_NOMATCH)
			fuzz_die("lm_probe(%s): %s: %s", *k, lm_errname(r), lm_errdetail(ctx));
		if (r == 0 && (!memchr(res.name, 0, sizeof res.name) ||
			       !memchr(res.module, 0, sizeof res.module) ||
			       !memchr(res.rule, 0, sizeof res.rule)))
			fuzz_die("lm_probe(%s): a result string is not NUL-terminated", *k);
	}
	free(head);
	free(tail);
	free(name);
	return 0;
}
