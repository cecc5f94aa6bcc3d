/* SPDX-License-Identifier: MIT */
/* shouting - upper-cases text; other modules depend on it. */
#include <ctype.h>

#define LM_MODULE_NAME shouting
#include <lazymod/module.h>

#include "../demo.h"

static void shout(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

static const struct demo_text text = {shout};

LM_MODULE("1.0", "upper-case text", NULL);
LM_INTERFACE(DEMO_IFACE_MAJOR, DEMO_IFACE_MINOR);
LM_FEATURE("text", "shout", &text);
