/* SPDX-License-Identifier: MIT */
/*
 * test-note - manifests encoded by the macros of lazymod/module.h and
 * decoded from files (by program headers, without loading them), from the
 * running executable, and from malformed notes.
 */
#include "testutil.h"

#include <fcntl.h>

#include "lazymod-private.h"

static int read_file(struct lm__mset *set, const char *path, int *found, char *why, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		FAIL("%s: %s", path, strerror(errno));
	int r = lm__elf_read(set, fd, path, found, why, len);
	close(fd);
	return r;
}

static const struct lm__mitem *item(const struct lm__mitem *v, size_t n, const char *a,
				    const char *b)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].a, a) && (!b || !strcmp(v[i].b, b)))
			return &v[i];
	return NULL;
}

TEST(module_notes)
{
	struct lm__mset set = {0};
	char why[256];
	int found;
	const char *path = fixture("basic/alpha.so");
	CHECK_INT(read_file(&set, path, &found, why, sizeof why), 0);
	CHECK_INT(found, 1);
	CHECK_INT(set.nmods, 1);
	const struct lm__mmod *m = &set.mods[0];
	CHECK_STR(m->name, "alpha");
	CHECK_STR(m->version, "1.0");
	CHECK_STR(m->description, "middle of a chain");
	CHECK(m->package == NULL);
	CHECK(m->has_iface && m->iface_major == 1 && m->iface_minor == 0);
	CHECK_STR(m->path, path);
	CHECK_INT(m->build_id_len, 20);
	struct stat st;
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(m->size, st.st_size);
	CHECK_INT(set.nfeats, 2);
	CHECK(item(set.feats, set.nfeats, "test", "alpha"));
	CHECK(item(set.feats, set.nfeats, "test", "alpha2"));
	CHECK_INT(set.ndeps, 1);
	CHECK_STR(set.deps[0].a, "beta");
	lm__mset_free(&set);

	/* Package and target notes. */
	CHECK_INT(read_file(&set, fixture("basic/needlib.so"), &found, why, sizeof why), 0);
	CHECK_STR(set.mods[0].package, "fixture-extras");
	CHECK(!set.mods[0].has_iface);
	CHECK_INT(read_file(&set, fixture("basic/target.so"), &found, why, sizeof why), 0);
	CHECK_INT(set.ntargets, 1);
	CHECK_STR(set.targets[0].a, "sparc64");
	CHECK_INT(set.targets[0].mod, 1);
	lm__mset_free(&set);
}

TEST(rule_notes)
{
	struct lm__mset set = {0};
	char why[256];
	int found;
	CHECK_INT(read_file(&set, fixture("probe/p_mask.so"), &found, why, sizeof why), 0);
	CHECK_INT(set.nrules, 1);
	const struct lm__mrule *r = &set.rules[0];
	CHECK_INT(r->type, LM_RULE_MAGIC);
	CHECK_INT(r->offset, 4);
	CHECK_INT(r->len, 6);
	CHECK_INT(r->score, 60);
	CHECK(!memcmp(r->bytes, "MASK\0\x02", 6));
	CHECK(r->mask && !memcmp(r->mask, "\xff\xff\xff\xff\xff\xfe", 6));
	CHECK_STR(r->kind, "fmt");
	CHECK_STR(r->name, "masked");
	lm__mset_free(&set);

	CHECK_INT(read_file(&set, fixture("probe/p_end.so"), &found, why, sizeof why), 0);
	CHECK_INT(set.rules[0].type, LM_RULE_MAGIC_END);
	CHECK_INT(set.rules[0].offset, 512);
	CHECK(set.rules[0].mask == NULL);
	lm__mset_free(&set);

	CHECK_INT(read_file(&set, fixture("probe/p_names.so"), &found, why, sizeof why), 0);
	CHECK_INT(set.nrules, 3);
	CHECK_INT(set.nfeats, 3);
	lm__mset_free(&set);

	CHECK_INT(read_file(&set, fixture("probe/p_code.so"), &found, why, sizeof why), 0);
	CHECK_INT(set.nprobes, 1);
	CHECK_STR(set.probes[0].b, "coded");
	CHECK_INT(set.nrules, 0);
	lm__mset_free(&set);
}

/* This program has no built-in module: the fixture test-builtin does. */
TEST(builtin_notes)
{
	char exe[4096];
	snprintf(exe, sizeof exe, "%s/tests/test-builtin", getenv("LAZYMOD_BUILD"));
	struct lm__mset set = {0};
	char why[256];
	int found;
	CHECK_INT(read_file(&set, exe, &found, why, sizeof why), 0);
	CHECK_INT(found, 1);
	CHECK_STR(set.mods[0].name, "shared");
	CHECK(item(set.feats, set.nfeats, "fmt", "shared"));
	lm__mset_free(&set);
	/* And from memory: the notes of the object holding a given address. */
	CHECK_INT(lm__self_notes(&set, (const void *)&test_main, why, sizeof why), 0);
	CHECK_INT(set.nmods, 0);
	lm__mset_free(&set);
}

/* Builds one note: header, owner, descriptor. */
static size_t note(unsigned char *buf, const char *owner, uint32_t type, const void *desc,
		   uint32_t dlen)
{
	uint32_t namesz = (uint32_t)strlen(owner) + 1;
	memcpy(buf, &namesz, 4);
	memcpy(buf + 4, &dlen, 4);
	memcpy(buf + 8, &type, 4);
	memset(buf + 12, 0, 64);
	memcpy(buf + 12, owner, namesz);
	size_t d = 12 + ((namesz + 3) & ~3u);
	memcpy(buf + d, desc, dlen);
	return d + ((dlen + 3) & ~3u);
}

static int parse(const unsigned char *buf, size_t len, char *why, size_t whylen)
{
	struct lm__mset set = {0};
	int r = lm__notes_parse(&set, buf, len, 0, "/x.so", false, why, whylen);
	lm__mset_free(&set);
	return r;
}

TEST(malformed_notes)
{
	unsigned char buf[512];
	char why[256];
	static const char module[] = "\0\0\0\0mod\0" "1.0\0" "desc";
	size_t n = note(buf, "lazymod", LM_NOTE_MODULE, module, sizeof module);
	CHECK_INT(parse(buf, n, why, sizeof why), 0);

	/* A descriptor longer than the segment. */
	CHECK_INT(parse(buf, n - 8, why, sizeof why), LM_E_BADMODULE);
	CHECK_CONTAINS(why, "overruns");
	/* Another owner's notes are skipped, whatever they hold. */
	n = note(buf, "GNU", LM_NOTE_MODULE, "garbage", 7);
	CHECK_INT(parse(buf, n, why, sizeof why), 0);
	/* Unknown note types are left for newer readers. */
	n = note(buf, "lazymod", 0x4c4d00ff, "\1\2\3", 3);
	CHECK_INT(parse(buf, n, why, sizeof why), 0);
	/* A module name that is not an identifier. */
	static const char badname[] = "\0\0\0\0m/d\0" "1.0\0" "desc";
	n = note(buf, "lazymod", LM_NOTE_MODULE, badname, sizeof badname);
	CHECK_INT(parse(buf, n, why, sizeof why), LM_E_BADMODULE);
	CHECK_CONTAINS(why, "module name");
	/* Strings cut short. */
	static const char cut[] = "\0\0\0\0mod\0" "1.0";
	n = note(buf, "lazymod", LM_NOTE_MODULE, cut, sizeof cut - 1);
	CHECK_INT(parse(buf, n, why, sizeof why), LM_E_BADMODULE);
	/* Two LM_MODULE notes for one module. */
	n = note(buf, "lazymod", LM_NOTE_MODULE, module, sizeof module);
	n += note(buf + n, "lazymod", LM_NOTE_MODULE, module, sizeof module);
	CHECK_INT(parse(buf, n, why, sizeof why), LM_E_BADMODULE);
	CHECK_CONTAINS(why, "more than one");
	/* Rules: score out of range, bytes past the note, unknown type. */
	unsigned char rule[64] = {0};
	uint32_t len = 4;
	memcpy(rule + 8, &len, 4);
	rule[12] = LM_RULE_MAGIC;
	rule[13] = 0; /* score */
	memcpy(rule + 16, "mod\0k\0n\0ABCD\0\0", 15);
	n = note(buf, "lazymod", LM_NOTE_RULE, rule, 31);
	CHECK_INT(parse(buf, n, why, sizeof why), LM_E_BADMODULE);
	CHECK_CONTAINS(why, "score");
	rule[13] = 101;
	n = note(buf, "lazymod", LM_NOTE_RULE, rule, 31);
	CHECK_INT(parse(buf, n, why, sizeof why), LM_E_BADMODULE);
	rule[13] = 50;
	len = 400;
	memcpy(rule + 8, &len, 4);
	n = note(buf, "lazymod", LM_NOTE_RULE, rule, 31);
	CHECK_INT(parse(buf, n, why, sizeof why), LM_E_BADMODULE);
	CHECK_CONTAINS(why, "does not fit");
	len = 4;
	memcpy(rule + 8, &len, 4);
	rule[12] = 77;
	n = note(buf, "lazymod", LM_NOTE_RULE, rule, 31);
	CHECK_INT(parse(buf, n, why, sizeof why), LM_E_BADMODULE);
	CHECK_CONTAINS(why, "unknown type");
	/* A feature whose kind holds '/'. */
	static const char feat[] = "\0\0\0\0mod\0a/b\0name";
	n = note(buf, "lazymod", LM_NOTE_FEATURE, feat, sizeof feat);
	CHECK_INT(parse(buf, n, why, sizeof why), LM_E_BADMODULE);
	CHECK_CONTAINS(why, "invalid feature");
	/* Notes but no LM_MODULE: refused when the whole file is read. */
}

TEST(not_elf)
{
	struct lm__mset set = {0};
	char why[256], path[4096];
	int found;
	snprintf(path, sizeof path, "%s/text.so", scratch());
	sh("echo 'not an ELF file' > '%s'", path);
	CHECK_INT(read_file(&set, path, &found, why, sizeof why), LM_E_BADMODULE);
	CHECK_CONTAINS(why, "not an ELF file");
	/* Truncated just past the ELF header: the program headers are gone. */
	snprintf(path, sizeof path, "%s/cut.so", scratch());
	sh("head -c 100 '%s' > '%s'", fixture("basic/alpha.so"), path);
	CHECK_INT(read_file(&set, path, &found, why, sizeof why), LM_E_BADMODULE);
	CHECK_CONTAINS(why, "program headers");
	/* Truncated inside its notes. */
	sh("head -c 700 '%s' > '%s'", fixture("basic/alpha.so"), path);
	CHECK_INT(read_file(&set, path, &found, why, sizeof why), LM_E_BADMODULE);
	CHECK_INT(set.nmods, 0);
	/* An empty file. */
	sh(": > '%s'", path);
	CHECK_INT(read_file(&set, path, &found, why, sizeof why), LM_E_BADMODULE);
	lm__mset_free(&set);
}

TEST(no_manifest)
{
	struct lm__mset set = {0};
	char why[256];
	int found = -1;
	CHECK_INT(read_file(&set, fixture("basic/libfixgone.so"), &found, why, sizeof why), 0);
	CHECK_INT(found, 0);
	CHECK_INT(set.nmods, 0);
	lm__mset_free(&set);
}

/* A GNU note whose last descriptor is not padded: no read past the segment. */
TEST(fuzz_regression_unpadded_note)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/fuzz/regressions/elf/build-id-note-overrun",
		 getenv("LAZYMOD_SOURCE"));
	struct lm__mset set = {0};
	char why[256] = "";
	int found = -1;
	read_file(&set, path, &found, why, sizeof why);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	uint8_t id[64], len = 0;
	lm__elf_build_id(fd, id, &len, why, sizeof why);
	close(fd);
	CHECK(len <= 1);
	lm__mset_free(&set);
}

TEST_MAIN
