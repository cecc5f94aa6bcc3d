/* SPDX-License-Identifier: MIT */
/* loud - greets loudly, through the shouting module it depends on. */
#include <stdio.h>

#define LM_MODULE_NAME loud
#include <lazymod/module.h>

#include "../demo.h"

static const struct demo_services *host;

static int loud_init(const void *services)
{
	host = services;
	return host && host->version >= 1 ? 0 : -22;
}

static const char *greet(const char *who, char *buf, unsigned len)
{
	snprintf(buf, len, "hello, %s!", who);
	return host->transform("text", "shout", buf);
}

static const struct demo_greeting loud = {greet};

LM_MODULE("1.0", "greetings at the top of the voice", loud_init);
LM_INTERFACE(DEMO_IFACE_MAJOR, DEMO_IFACE_MINOR);
LM_DEPENDS("shouting");
LM_FEATURE("greeting", "loud", &loud);
