/* SPDX-License-Identifier: MIT */
/*
 * test-probe - the probe engine over the probe fixtures: magic from the
 * start and from the end, masks, scores and ties, extensions, schemes, and
 * code probes, which alone may load a module.
 */
#include "testutil.h"

#include "lazymod-private.h"

static struct lm_context *ctx;

static void setup(void)
{
	const char *dirs[] = {fixture("probe"), NULL};
	struct lm_options o = {.dirs = dirs, .flags = LM_CTX_NO_ENV_PATH | LM_CTX_NO_FALLBACK};
	CHECK_INT(lm_context_new(&o, &ctx), 0);
}

static struct lm_probe_result probe_ok(const char *kind, const void *head, size_t hlen,
				       const void *tail, size_t tlen, const char *name)
{
	struct lm_probe_input in = {head, hlen, tail, tlen, tail ? tlen : hlen, name};
	struct lm_probe_result res;
	int r = lm_probe(ctx, kind, &in, &res);
	if (r < 0)
		FAIL("lm_probe(%s): %s: %s", name ? name : "", lm_strerror(r), lm_errdetail(ctx));
	return res;
}

TEST(magic_from_start)
{
	setup();
	struct lm_probe_result r = probe_ok("fmt", "QFI\xfb\0\0\0\3", 8, NULL, 0, "disk.img");
	CHECK_STR(r.name, "qfi");
	CHECK_STR(r.module, "p_magic");
	CHECK_INT(r.score, 100);
	CHECK_STR(r.rule, "magic \"QFI\\xfb\" at offset 0");
	/* Too short to hold the magic: no match from it. */
	r = probe_ok("fmt", "QFI", 3, NULL, 0, NULL);
	CHECK_STR(r.name, "fallback");
}

TEST(magic_from_end)
{
	setup();
	unsigned char tail[1024] = {0};
	memcpy(tail + sizeof tail - 512, "conectix", 8);
	struct lm_probe_result r = probe_ok("fmt", "", 0, tail, sizeof tail, NULL);
	CHECK_STR(r.name, "footer");
	CHECK_CONTAINS(r.rule, "512 bytes before the end");
	/* One byte off: nothing. */
	memmove(tail + sizeof tail - 511, tail + sizeof tail - 512, 8);
	r = probe_ok("fmt", "", 0, tail, sizeof tail, NULL);
	CHECK_STR(r.name, "fallback");
	/* A tail shorter than the offset cannot hold it. */
	r = probe_ok("fmt", "", 0, "conectix", 8, NULL);
	CHECK_STR(r.name, "fallback");
}

TEST(mask)
{
	setup();
	struct lm_probe_result r = probe_ok("fmt", "....MASK\0\x02", 10, NULL, 0, NULL);
	CHECK_STR(r.name, "masked");
	CHECK_INT(r.score, 60);
	CHECK_CONTAINS(r.rule, "(masked)");
	r = probe_ok("fmt", "....MASK\0\x03", 10, NULL, 0, NULL);
	CHECK_STR(r.name, "masked");
	r = probe_ok("fmt", "....MASK\0\x04", 10, NULL, 0, NULL);
	CHECK_STR(r.name, "fallback");
}

TEST(ties)
{
	setup();
	/* "AB" and "ABC" both score 50: the longer, more specific, wins. */
	struct lm_probe_result r = probe_ok("fmt", "ABCD", 4, NULL, 0, NULL);
	CHECK_STR(r.name, "long");
	r = probe_ok("fmt", "ABXX", 4, NULL, 0, NULL);
	CHECK_STR(r.name, "short");
	/* Same score, same length: the first by name, every time. */
	r = probe_ok("fmt", "XYZ", 3, NULL, 0, NULL);
	CHECK_STR(r.name, "tie_a");
	/* A higher score beats a lower one whatever the order. */
	r = probe_ok("fmt", "QFI\xfb", 4, NULL, 0, "x.xyz");
	CHECK_STR(r.name, "qfi");
}

TEST(extension)
{
	setup();
	struct lm_probe_result r = probe_ok("fmt", "????", 4, NULL, 0, "/some/dir/disk.XYZ");
	CHECK_STR(r.name, "xyz");
	CHECK_INT(r.score, 20);
	CHECK_STR(r.rule, "extension .xyz");
	r = probe_ok("fmt", "????", 4, NULL, 0, "/dir.xyz/disk");
	CHECK_STR(r.name, "fallback");
	r = probe_ok("fmt", "????", 4, NULL, 0, "http://host/a/disk.xyz?v=1");
	CHECK_STR(r.name, "xyz");
	r = probe_ok("fmt", "????", 4, NULL, 0, ".xyz");
	CHECK_STR(r.name, "fallback");
}

TEST(scheme)
{
	setup();
	struct lm_probe_result r = probe_ok("proto", NULL, 0, NULL, 0, "https://example.org/disk.qcow2");
	CHECK_STR(r.name, "secure");
	CHECK_STR(r.rule, "scheme https://");
	r = probe_ok("proto", NULL, 0, NULL, 0, "HTTP://example.org/");
	CHECK_STR(r.name, "web");
	struct lm_probe_input in = {NULL, 0, NULL, 0, 0, "/local/http/file"};
	struct lm_probe_result res;
	CHECK_INT(lm_probe(ctx, "proto", &in, &res), LM_E_NOMATCH);
	in.name = "ftp://host/x";
	CHECK_INT(lm_probe(ctx, "proto", &in, &res), LM_E_NOMATCH);
}

TEST(code_probe)
{
	setup();
	CHECK(!mapped("p_code.so"));
	unsigned char head[5] = {'C', 'O', 'D', 'E', 0};
	head[4] = (unsigned char)(('C' + 'O' + 'D' + 'E') % 256);
	struct lm_probe_result r = probe_ok("fmt", head, 5, NULL, 0, NULL);
	CHECK_STR(r.name, "coded");
	CHECK_INT(r.score, 100);
	CHECK_STR(r.rule, "code probe of module p_code");
	CHECK(mapped("p_code.so"));
	head[4]++;
	r = probe_ok("fmt", head, 5, NULL, 0, NULL);
	CHECK_STR(r.name, "coded");
	CHECK_INT(r.score, 30);
	/* A rule that is certain ends the search before any code probe. */
	r = probe_ok("fmt", "QFI\xfb", 4, NULL, 0, NULL);
	CHECK_STR(r.name, "qfi");
}

TEST(declarative_loads_nothing)
{
	setup();
	unsigned char tail[600] = {0};
	memcpy(tail + sizeof tail - 512, "conectix", 8);
	probe_ok("fmt", "QFI\xfb", 4, NULL, 0, NULL);
	probe_ok("fmt", "", 0, tail, sizeof tail, NULL);
	probe_ok("proto", NULL, 0, NULL, 0, "http://x/");
	CHECK_INT(count_mapped("p_"), 0);
	/* Only an uncertain probe loads, and only the code probe's module. */
	probe_ok("fmt", "????", 4, NULL, 0, "x.xyz");
	CHECK_INT(count_mapped("p_"), 1);
	CHECK(mapped("p_code.so"));
}

TEST(no_match)
{
	setup();
	struct lm_probe_input in = {(const unsigned char *)"x", 1, NULL, 0, 1, NULL};
	struct lm_probe_result res;
	CHECK_INT(lm_probe(ctx, "nokind", &in, &res), LM_E_NOMATCH);
	CHECK_CONTAINS(lm_errdetail(ctx), "no nokind matches");
	CHECK_INT(lm_probe(ctx, "a/b", &in, &res), LM_E_INVAL);
	CHECK_INT(lm_probe(ctx, "fmt", NULL, &res), LM_E_INVAL);
	struct lm_probe_input bad = {NULL, 10, NULL, 0, 10, NULL};
	CHECK_INT(lm_probe(ctx, "fmt", &bad, &res), LM_E_INVAL);
}

TEST(fallback)
{
	setup();
	struct lm_probe_result r = probe_ok("fmt", "random bytes", 12, NULL, 0, "noext");
	CHECK_STR(r.name, "fallback");
	CHECK_INT(r.score, 1);
	CHECK_STR(r.rule, "fallback (any input)");
}

/* Every name the index takes (LM_NAME_MAX bytes) comes back whole from a
 * probe, and lm_get finds the feature by it. */
TEST(long_names_round_trip)
{
	setup();
	struct lm_probe_result r = probe_ok("long", "LONGNAME", 8, NULL, 0, NULL);
	CHECK_INT(strlen(r.name), LM_NAME_MAX);
	CHECK_INT(strlen(r.module), LM_NAME_MAX);
	CHECK(!strncmp(r.name, "a-feature-name-as-long-as-an-index-takes-nnn", 44));
	CHECK(!strncmp(r.module, "p_long_xxx", 10));
	const void *obj;
	CHECK_INT(lm_get(ctx, "long", r.name, &obj), 0);
	CHECK_STR(((const char *const *)obj)[1], r.name); /* the fixture object's feature */
	CHECK_INT(lm_module_loaded(ctx, r.module), 1);
	/* A program built against the 0.1 result (63-byte names) is refused,
	 * with the reason, rather than handed a cut name. */
	struct lm_probe_input in = {(const unsigned char *)"LONGNAME", 8, NULL, 0, 8, NULL};
	struct lm__probe_result_0_1 old;
	CHECK_INT(lm__probe_0_1(ctx, "long", &in, &old), LM_E_INVAL);
	CHECK_CONTAINS(lm_errdetail(ctx), "longer than the 63 bytes");
	in = (struct lm_probe_input){(const unsigned char *)"QFI\xfb", 4, NULL, 0, 4, NULL};
	CHECK_INT(lm__probe_0_1(ctx, "fmt", &in, &old), 0);
	CHECK_STR(old.name, "qfi");
	CHECK_STR(lm_errdetail(ctx), "");
}

/* Every code probe of a kind runs: forty here, the last one the match. */
TEST(code_probes_without_a_cap)
{
	setup();
	for (int i = 39; i >= 0; i--) {
		char name[8];
		snprintf(name, sizeof name, "c%02d", i);
		struct lm_probe_result r = probe_ok("many", name, 3, NULL, 0, NULL);
		if (strcmp(r.name, name) || r.score != 100)
			FAIL("input %s: probe says %s, score %d", name, r.name, r.score);
	}
}

/* lm_probe_window: how many first and last bytes the kind's rules read,
 * and that they are enough. */
TEST(probe_window)
{
	setup();
	size_t head = 1, tail = 1;
	CHECK_INT(lm_probe_window(ctx, "win", &head, &tail), 0);
	CHECK_INT(head, 104); /* "WWWW" at 100 */
	CHECK_INT(tail, 300); /* "EEEE" 300 bytes before the end */
	unsigned char buf[300] = {0};
	memcpy(buf + 100, "WWWW", 4);
	struct lm_probe_result r = probe_ok("win", buf, head, NULL, 0, NULL);
	CHECK_INT(r.score, 100);
	/* One byte less and the widest rule cannot decide. */
	struct lm_probe_input in = {buf, head - 1, NULL, 0, head - 1, NULL};
	CHECK_INT(lm_probe(ctx, "win", &in, &r), LM_E_NOMATCH);
	memset(buf, 0, sizeof buf);
	memcpy(buf, "EEEE", 4);
	r = probe_ok("win", "", 0, buf, tail, NULL);
	CHECK_INT(r.score, 60);
	/* The kind of the other fixtures reads the footer 512 bytes back. */
	CHECK_INT(lm_probe_window(ctx, "fmt", &head, &tail), 0);
	CHECK(tail >= 512);
	/* Code probes only: no bytes the rules need. */
	CHECK_INT(lm_probe_window(ctx, "many", &head, &tail), 0);
	CHECK_INT(head, 0);
	CHECK_INT(tail, 0);
	CHECK_INT(lm_probe_window(ctx, "nokind", &head, &tail), LM_E_NOTFOUND);
	CHECK_CONTAINS(lm_errdetail(ctx), "no index knows the kind nokind");
	CHECK_INT(lm_probe_window(ctx, "a/b", &head, &tail), LM_E_INVAL);
}

TEST_MAIN
