/* SPDX-License-Identifier: MIT */
/*
 * raw - the image is the guest's bytes as they are. It is the fallback of
 * probing: any input is a raw image, with the lowest score.
 */
#include <errno.h>
#include <stdlib.h>

#define LM_MODULE_NAME raw
#include <lazymod/module.h>

#include "../driver.h"

struct raw {
	struct vdisk_source *src;
};

static int raw_open(struct vdisk_source *src, unsigned depth, void **state, struct vdisk_err *err)
{
	(void)depth;
	struct raw *r = malloc(sizeof *r);
	if (!r)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	r->src = src;
	*state = r;
	return 0;
}

static int raw_read(void *state, void *buf, size_t len, uint64_t off, struct vdisk_err *err)
{
	struct raw *r = state;
	int e = r->src->pread(r->src, buf, len, off);
	return e < 0 ? vdisk_fail(err, e, "read of %zu bytes at %llu failed", len,
				  (unsigned long long)off)
		     : 0;
}

static int raw_status(void *state, uint64_t off, uint64_t len, uint64_t *pnum,
		      struct vdisk_err *err)
{
	(void)state, (void)off, (void)err;
	*pnum = len;
	return VDISK_DATA;
}

static void raw_info(void *state, struct vdisk_info *info)
{
	struct raw *r = state;
	info->virtual_size = r->src->size;
}

static void raw_close(void *state)
{
	free(state);
}

/* The one version check every driver makes (drivers/driver.h). */
static int raw_init(const void *host)
{
	return vdisk_check_host(host);
}

static const struct vdisk_format raw_format = {
	.name = "raw",
	.open = raw_open,
	.read = raw_read,
	.status = raw_status,
	.info = raw_info,
	.close = raw_close,
};

LM_MODULE("1.0", "raw images: the guest's bytes as they are", raw_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_FORMAT, "raw", &raw_format);
LM_PROBE_ANY(VDISK_KIND_FORMAT, "raw", 1);
LM_PROBE_EXT(VDISK_KIND_FORMAT, "raw", "img", 1);
