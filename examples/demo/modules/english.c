/* SPDX-License-Identifier: MIT */
/* english - greets in English. */
#include <stdio.h>

#define LM_MODULE_NAME english
#include <lazymod/module.h>

#include "../demo.h"

static const char *greet(const char *who, char *buf, unsigned len)
{
	snprintf(buf, len, "Hello, %s!", who);
	return buf;
}

static const struct demo_greeting english = {greet};

LM_MODULE("1.0", "greetings in English", NULL);
LM_INTERFACE(DEMO_IFACE_MAJOR, DEMO_IFACE_MINOR);
LM_FEATURE("greeting", "en", &english);
