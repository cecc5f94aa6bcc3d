/* SPDX-License-Identifier: MIT */
/* text - the fallback file type, and a code probe for shell scripts. */
#include <string.h>

#define LM_MODULE_NAME text
#include <lazymod/module.h>

#include "../demo.h"

static const struct demo_filetype text = {"text or data"}, script = {"shell script"};

/* "#!" then a shell: bytes alone cannot say which interpreters count. */
static int probe_script(const struct lm_probe_input *in)
{
	static const char *const shells[] = {"/bin/sh", "/bin/bash", "/usr/bin/env sh"};
	if (in->head_len < 3 || memcmp(in->head, "#!", 2) != 0)
		return 0;
	for (size_t i = 0; i < sizeof shells / sizeof shells[0]; i++) {
		size_t n = strlen(shells[i]);
		if (in->head_len >= n + 2 && !memcmp(in->head + 2, shells[i], n))
			return 90;
	}
	return 0;
}

LM_MODULE("1.0", "text files and shell scripts", NULL);
LM_INTERFACE(DEMO_IFACE_MAJOR, DEMO_IFACE_MINOR);
LM_FEATURE("file-type", "text", &text);
LM_FEATURE("file-type", "script", &script);
LM_PROBE_ANY("file-type", "text", 1);
LM_PROBE_FUNC("file-type", "script", probe_script);
