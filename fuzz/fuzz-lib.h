/* SPDX-License-Identifier: MIT */
/*
 * fuzz-lib.h - helpers shared by the fuzz targets of the lazymod library
 * (fuzz-notes.c, fuzz-elf.c, fuzz-index.c, fuzz-probe.c): they are compiled
 * with the library's sources (lib/) and call its internal API.
 *
 * Beyond "no crash, no leak, no sanitizer report", they check a few
 * properties that hold for any input, and abort with a message when one
 * does not (the fuzzer then saves the input as a crash):
 *
 *   - an index that lm__index_build wrote opens and verifies;
 *   - every feature of a module the builder kept is found in it.
 */
#ifndef LAZYMOD_FUZZ_LIB_H
#define LAZYMOD_FUZZ_LIB_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lazymod-private.h"

/* Stops the run: the fuzzer reports a crash and saves the input. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void fuzz_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz: property violated: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static inline void fuzz_report_nop(void *data, int err, const char *msg)
{
	(void)data, (void)err, (void)msg;
}

/*
 * Builds an index from set, as `lazymod index` and the runtime's fallback
 * do, and checks that the image is one the reader accepts in full.
 */
static inline void fuzz_build_and_check(struct lm__mset *set, const char *dir)
{
	struct lm__buf img = {0};
	int r = lm__index_build(set, dir, fuzz_report_nop, NULL, &img);
	if (r < 0) {
		free(img.p);
		return;
	}
	struct lm__index ix;
	char why[256] = "";
	if (lm__index_open(&ix, img.p, img.len, why, sizeof why) < 0)
		fuzz_die("an index lm__index_build wrote does not open: %s", why);
	if (lm__index_verify(&ix, why, sizeof why) < 0)
		fuzz_die("an index lm__index_build wrote does not verify: %s", why);
	/* Every feature of a module kept (the first of its name) is found. */
	for (size_t i = 0; i < set->nfeats; i++) {
		const struct lm__mitem *f = &set->feats[i];
		bool kept = true;
		for (size_t j = 0; j < f->mod && kept; j++)
			kept = strcmp(set->mods[j].name, set->mods[f->mod].name) != 0;
		uint32_t fi;
		if (kept && lm__index_find_feature(&ix, f->a, f->b, &fi) < 0)
			fuzz_die("feature %s/%s of module %s is missing from the index built",
				 f->a, f->b, set->mods[f->mod].name);
	}
	free(img.p);
}

/* ---- writing notes, as the manifest macros of lazymod/module.h do ------- */

struct fuzz_notes {
	unsigned char buf[4096];
	size_t len;
};

static inline void fuzz_put(struct fuzz_notes *n, const void *p, size_t len)
{
	if (len > sizeof n->buf - n->len)
		fuzz_die("synthetic notes do not fit their buffer");
	memcpy(n->buf + n->len, p, len);
	n->len += len;
}

/* One note: header, owner (padded to 4), descriptor (padded to 4). */
static inline void fuzz_note(struct fuzz_notes *n, const char *owner, uint32_t type, const void *desc,
		      size_t dlen)
{
	uint32_t hdr[3] = {(uint32_t)strlen(owner) + 1, (uint32_t)dlen, type};
	static const unsigned char zero[4];
	fuzz_put(n, hdr, sizeof hdr);
	fuzz_put(n, owner, hdr[0]);
	fuzz_put(n, zero, (4 - hdr[0] % 4) % 4);
	fuzz_put(n, desc, dlen);
	fuzz_put(n, zero, (4 - dlen % 4) % 4);
}

/* A descriptor: numbers, then NUL-terminated strings (NULL ends the list). */
struct fuzz_desc {
	unsigned char b[1024];
	size_t len;
};

static inline void fuzz_desc_put(struct fuzz_desc *d, const void *p, size_t len)
{
	if (len > sizeof d->b - d->len)
		fuzz_die("synthetic descriptor does not fit its buffer");
	memcpy(d->b + d->len, p, len);
	d->len += len;
}

static inline void fuzz_desc_strs(struct fuzz_desc *d, ...)
{
	va_list ap;
	va_start(ap, d);
	for (const char *s; (s = va_arg(ap, const char *));)
		fuzz_desc_put(d, s, strlen(s) + 1);
	va_end(ap);
}

static inline void fuzz_lm_module(struct fuzz_notes *n, const char *mod, const char *version)
{
	struct fuzz_desc d = {.len = 4};
	fuzz_desc_strs(&d, mod, version, "a synthetic module of the fuzzer", (char *)NULL);
	fuzz_note(n, LM_NOTE_OWNER, LM_NOTE_MODULE, d.b, d.len);
}

static inline void fuzz_lm_interface(struct fuzz_notes *n, const char *mod, uint16_t major,
			      uint16_t minor)
{
	struct fuzz_desc d = {.len = 0};
	uint16_t v[2] = {major, minor};
	fuzz_desc_put(&d, v, sizeof v);
	fuzz_desc_strs(&d, mod, (char *)NULL);
	fuzz_note(n, LM_NOTE_OWNER, LM_NOTE_INTERFACE, d.b, d.len);
}

/* LM_NOTE_FEATURE and LM_NOTE_CODEPROBE (no flags word). */
static inline void fuzz_lm_feature(struct fuzz_notes *n, uint32_t type, const char *mod,
			    const char *kind, const char *name)
{
	struct fuzz_desc d = {.len = type == LM_NOTE_FEATURE ? 4 : 0};
	fuzz_desc_strs(&d, mod, kind, name, (char *)NULL);
	fuzz_note(n, LM_NOTE_OWNER, type, d.b, d.len);
}

/* LM_NOTE_DEPENDS, LM_NOTE_TARGET, LM_NOTE_PACKAGE. */
static inline void fuzz_lm_name(struct fuzz_notes *n, uint32_t type, const char *mod, const char *what)
{
	struct fuzz_desc d = {.len = 0};
	fuzz_desc_strs(&d, mod, what, (char *)NULL);
	fuzz_note(n, LM_NOTE_OWNER, type, d.b, d.len);
}

/* A declarative rule; mask NULL for none. */
static inline void fuzz_lm_rule(struct fuzz_notes *n, const char *mod, const char *kind,
			 const char *name, uint8_t type, uint64_t offset, const void *bytes,
			 uint32_t len, const void *mask, uint8_t score)
{
	struct fuzz_desc d = {.len = 0};
	uint32_t w[3] = {(uint32_t)offset, (uint32_t)(offset >> 32), len};
	uint8_t t[4] = {type, score, mask != NULL, 0};
	fuzz_desc_put(&d, w, sizeof w);
	fuzz_desc_put(&d, t, sizeof t);
	fuzz_desc_strs(&d, mod, kind, name, (char *)NULL);
	fuzz_desc_put(&d, bytes, len);
	fuzz_desc_put(&d, "", 1);
	if (mask) {
		fuzz_desc_put(&d, mask, len);
		fuzz_desc_put(&d, "", 1);
	} else {
		fuzz_desc_put(&d, "", 1);
	}
	fuzz_note(n, LM_NOTE_OWNER, LM_NOTE_RULE, d.b, d.len);
}

#endif /* LAZYMOD_FUZZ_LIB_H */
