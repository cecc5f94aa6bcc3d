/* SPDX-License-Identifier: MIT */
/* module.c - a module built outside the lazymod tree, from the installed headers. */
#define LM_MODULE_NAME hello
#include <lazymod/module.h>

#include "consumer.h"

static const char *text(void)
{
	return "hello from C";
}

static const struct greeting hello = {text};
static const char hello_type[] = "a file that starts with HELLO";

LM_MODULE("1.0", "a greeting in C", NULL);
LM_INTERFACE(1, 0);
LM_FEATURE("greeting", "hello", &hello);
LM_FEATURE("file-type", "hello", hello_type);
LM_PROBE_MAGIC("file-type", "hello", 0, "HELLO", 100);
