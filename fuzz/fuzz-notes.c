/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
/*
 * fuzz-notes - the manifest note parser, lm__notes_parse, on arbitrary
 * bytes taken as the contents of a PT_NOTE segment.
 *
 * The bytes are parsed twice into one set, as two files of a directory
 * scan would be (the second as built-in modules, with no path), and a set
 * that parsed is built into an index, which must open and verify.
 */
#include "fuzz-lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm__mset set = {0};
	char why[256] = "";
	int r = lm__notes_parse(&set, data, size, 0, "/fuzz/mods/notes.so", false, why, sizeof why);
	if (r == 0 && set.nmods)
		fuzz_build_and_check(&set, "/fuzz/mods");
	if (r == 0) {
		size_t first = set.nmods;
		r = lm__notes_parse(&set, data, size, first, NULL, true, why, sizeof why);
		if (r == 0 && set.nmods > first)
			fuzz_build_and_check(&set, "/fuzz/mods");
	}
	if (memchr(why, 0, sizeof why) == NULL)
		fuzz_die("the reason of a failure is not NUL-terminated");
	lm__mset_free(&set);
	return 0;
}
