/* SPDX-License-Identifier: MIT */
/*
 * toy.c - the module of the package test's third package: built against
 * the installed liblazymod-dev, installed into vdisk's module directory by
 * its own package, it must appear in `vdisk formats` through vdisk's dpkg
 * trigger. It is listed, never loaded: nothing asks for a "toy" codec.
 */
#define LM_MODULE_NAME toy
#include <lazymod/module.h>

static const char toy_codec[] = "toy";

LM_MODULE("1.0", "a codec shipped by a package of its own", NULL);
LM_INTERFACE(1, 0);
LM_PACKAGE("vdisk-toy");
LM_FEATURE("codec", "toy", toy_codec);
