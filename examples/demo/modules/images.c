/* SPDX-License-Identifier: MIT */
/* images - recognises PNG and GIF files by their magic bytes. */
#define LM_MODULE_NAME images
#include <lazymod/module.h>

#include "../demo.h"

static const struct demo_filetype png = {"PNG image"}, gif = {"GIF image"};

LM_MODULE("1.0", "image file types", NULL);
LM_INTERFACE(DEMO_IFACE_MAJOR, DEMO_IFACE_MINOR);
LM_FEATURE("file-type", "png", &png);
LM_FEATURE("file-type", "gif", &gif);
LM_PROBE_MAGIC("file-type", "png", 0, "\x89PNG\r\n\x1a\n", 100);
LM_PROBE_MAGIC_MASK("file-type", "gif", 0, "GIF8\x30" "a", "\xff\xff\xff\xff\xf0\xff", 100);
LM_PROBE_EXT("file-type", "png", "png", 10);
LM_PROBE_EXT("file-type", "gif", "gif", 10);
