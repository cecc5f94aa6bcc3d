/* SPDX-License-Identifier: MIT */
/*
 * vdi - VirtualBox disk images (header version 1.1), dynamic and static: a
 * block map gives, for each block of the disk, the index of its block in the
 * data area, or says that the block is unallocated or zero.
 */
#include <errno.h>
#include <stdlib.h>

#define LM_MODULE_NAME vdi
#include <lazymod/module.h>

#include "../driver.h"

#define HDR_LEN 512
#define SIGNATURE 0xbeda107fu
#define VERSION_1_1 0x00010001u
#define HDR_MIN                                                                                    \
	0x180 /* header size counted from 0x48, up to the parent UUID                              \
	       */
#define TYPE_DYNAMIC 1
#define TYPE_STATIC 2
#define SECTOR 512u
#define MAX_BLOCK (256u << 20)
#define MAX_MAP (256ull << 20)


/* Block map entries that do not point into the data area. */
#define BLOCK_FREE 0xffffffffu
#define BLOCK_ZERO 0xfffffffeu

struct vdi {
	struct vdisk_source *src;
	uint64_t size;
	uint64_t data_off; /* where block 0 of the data area starts, past its extra data */
	uint64_t stride;   /* extra data + block */
	uint32_t block;
	uint32_t nblocks;
	uint32_t type;
	uint32_t *map;
	uint8_t uuid[16];
};

static int is_null(const uint8_t *u)
{
	for (int i = 0; i < 16; i++)
		if (u[i])
			return 0;
	return 1;
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case 1: return "dynamic";
	case 2: return "static";
	case 3: return "undo";
	case 4: return "differencing";
	default: return "unknown";
	}
}

/* Checks the header fields; fills v's geometry. */
static int check_header(struct vdi *v, const uint8_t *h, uint32_t *map_off, struct vdisk_err *err)
{
	uint64_t fsize = v->src->size;
	uint32_t version = ld_le32(h + 0x44), hsize = ld_le32(h + 0x48);
	uint32_t bmap = ld_le32(h + 0x154), data = ld_le32(h + 0x158);
	uint32_t sector = ld_le32(h + 0x168), block = ld_le32(h + 0x178);
	uint32_t extra = ld_le32(h + 0x17c), nblocks = ld_le32(h + 0x180);
	uint32_t allocated = ld_le32(h + 0x184);
	uint64_t disk = ld_le64(h + 0x170), room;

	if (ld_le32(h + 0x40) != SIGNATURE)
		return vdisk_fail(err, -EINVAL, "bad signature 0x%08x at 0x40: not a VDI image",
				  ld_le32(h + 0x40));
	if (version != VERSION_1_1)
		return vdisk_fail(err, -ENOTSUP, "VDI version %u.%u is not supported (only 1.1)",
				  version >> 16, version & 0xffff);
	v->type = ld_le32(h + 0x4c);
	if (v->type != TYPE_DYNAMIC && v->type != TYPE_STATIC)
		return vdisk_fail(err, -ENOTSUP, "image type %u (%s) is not supported", v->type,
				  type_name(v->type));
	if (hsize < HDR_MIN || hsize > HDR_LEN - 0x48)
		return vdisk_fail(err, -EINVAL, "header size %u out of range (%u to %u)", hsize,
				  HDR_MIN, HDR_LEN - 0x48);
	if (!is_null(h + 0x1a8))
		return vdisk_fail(err, -ENOTSUP,
				  "link UUID is set: linked images are not supported");
	if (!is_null(h + 0x1b8))
		return vdisk_fail(err, -ENOTSUP,
				  "parent UUID is set: differencing images are not supported");
	if (sector != SECTOR)
		return vdisk_fail(err, -ENOTSUP, "sector size %u is not supported (only 512)",
				  sector);
	if (block < SECTOR || block > MAX_BLOCK || block % SECTOR)
		return vdisk_fail(err, -EINVAL,
				  "block size %u is not a multiple of 512 between 512 and %u",
				  block, MAX_BLOCK);
	if (extra > MAX_BLOCK)
		return vdisk_fail(err, -EINVAL, "block extra data size %u is larger than %u", extra,
				  MAX_BLOCK);
	/* Tools round odd sizes up to whole sectors when they read them. */
	if (disk > UINT64_MAX - (SECTOR - 1))
		return vdisk_fail(err, -EINVAL, "disk size %llu is too large",
				  (unsigned long long)disk);
	disk = (disk + SECTOR - 1) & ~(uint64_t)(SECTOR - 1);
	room = (uint64_t)nblocks * block;
	if (disk > room)
		return vdisk_fail(err, -EINVAL,
				  "disk size %llu is larger than its %u blocks of %u bytes hold",
				  (unsigned long long)disk, nblocks, block);
	if (allocated > nblocks)
		return vdisk_fail(err, -EINVAL, "%u blocks allocated of %u in the image", allocated,
				  nblocks);
	if ((uint64_t)nblocks * 4 > MAX_MAP)
		return vdisk_fail(err, -EFBIG, "block map of %u entries is larger than %llu MiB",
				  nblocks, MAX_MAP >> 20);
	if (bmap < 0x48 + hsize)
		return vdisk_fail(err, -EINVAL, "block map offset 0x%x overlaps the header", bmap);
	if (bmap > fsize || (uint64_t)nblocks * 4 > fsize - bmap)
		return vdisk_fail(err, -EINVAL,
				  "block map at 0x%x (%u entries) beyond end of file (size %llu)",
				  bmap, nblocks, (unsigned long long)fsize);
	if (data < bmap + (uint64_t)nblocks * 4)
		return vdisk_fail(err, -EINVAL,
				  "data offset 0x%x overlaps the block map at 0x%x (%u entries)",
				  data, bmap, nblocks);
	v->size = disk;
	v->block = block;
	v->nblocks = nblocks;
	v->stride = (uint64_t)extra + block;
	v->data_off = (uint64_t)data + extra;
	memcpy(v->uuid, h + 0x188, 16);
	*map_off = bmap;
	return 0;
}

/* Each allocated block must lie inside the file, as far as the disk uses it. */
static int check_map(struct vdi *v, struct vdisk_err *err)
{
	uint64_t fsize = v->src->size;
	for (uint32_t i = 0; i < v->nblocks; i++) {
		uint32_t idx = v->map[i];
		if (idx == BLOCK_FREE || idx == BLOCK_ZERO)
			continue;
		uint64_t first = (uint64_t)i * v->block;
		if (first >= v->size)
			continue;
		uint64_t used = v->size - first < v->block ? v->size - first : v->block;
		uint64_t pos = v->data_off + idx * v->stride; /* < 2^32 * 2^29 */
		if (pos > fsize || used > fsize - pos)
			return vdisk_fail(err, -EINVAL,
					  "block map entry %u: data block %u at %llu "
					  "beyond end of file (size %llu)",
					  i, idx, (unsigned long long)pos,
					  (unsigned long long)fsize);
	}
	return 0;
}

static void vdi_close(void *state)
{
	struct vdi *v = state;
	if (v)
		free(v->map);
	free(v);
}

static int vdi_open(struct vdisk_source *src, unsigned depth, void **state, struct vdisk_err *err)
{
	(void)depth;
	uint8_t h[HDR_LEN];
	uint32_t map_off = 0;
	struct vdi *v = calloc(1, sizeof *v);
	if (!v)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	v->src = src;
	int r = 0;
	if (src->size < HDR_LEN)
		r = vdisk_fail(err, -EINVAL, "file of %llu bytes is too small for a VDI header",
			       (unsigned long long)src->size);
	else if ((r = src->pread(src, h, HDR_LEN, 0)) < 0)
		vdisk_fail(err, r, "cannot read the header");
	else if ((r = check_header(v, h, &map_off, err)) >= 0 &&
		 (r = vdisk_meta_reserve(src, (uint64_t)v->nblocks * 4, err)) >= 0) {
		v->map = malloc(v->nblocks ? (size_t)v->nblocks * 4 : 1);
		if (!v->map)
			r = vdisk_fail(err, -ENOMEM, "out of memory for the block map");
		else if (v->nblocks &&
			 (r = src->pread(src, v->map, (size_t)v->nblocks * 4, map_off)) < 0)
			vdisk_fail(err, r, "cannot read the block map");
	}
	if (r >= 0) {
		for (uint32_t i = 0; i < v->nblocks; i++)
			v->map[i] = ld_le32(&v->map[i]);
		r = check_map(v, err);
	}
	if (r < 0) {
		vdi_close(v);
		return r;
	}
	*state = v;
	return 0;
}

static int vdi_read(void *state, void *buf, size_t len, uint64_t off, struct vdisk_err *err)
{
	struct vdi *v = state;
	uint8_t *b = buf;
	if (off > v->size || len > v->size - off)
		return vdisk_fail(err, -EINVAL, "read beyond the end of the disk");
	while (len) {
		uint64_t bi = off / v->block, in = off % v->block;
		size_t n = v->block - in < len ? (size_t)(v->block - in) : len;
		uint32_t idx = v->map[bi];
		if (idx == BLOCK_FREE || idx == BLOCK_ZERO) {
			memset(b, 0, n);
		} else {
			uint64_t pos = v->data_off + idx * v->stride + in;
			int r = v->src->pread(v->src, b, n, pos);
			if (r < 0)
				return vdisk_fail(
					err, r, "read of %zu bytes at %llu (block %llu) failed", n,
					(unsigned long long)pos, (unsigned long long)bi);
		}
		b += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int vdi_status(void *state, uint64_t off, uint64_t len, uint64_t *pnum,
		      struct vdisk_err *err)
{
	struct vdi *v = state;
	if (off >= v->size || !len)
		return vdisk_fail(err, -EINVAL, "status beyond the end of the disk");
	if (len > v->size - off)
		len = v->size - off;
	uint64_t bi = off / v->block, done = 0;
	int status = -1;
	while (done < len) {
		uint32_t idx = v->map[bi++];
		int st = idx == BLOCK_FREE || idx == BLOCK_ZERO ? VDISK_ZERO : VDISK_DATA;
		if (status >= 0 && st != status)
			break;
		status = st;
		uint64_t span = v->block - (off + done) % v->block;
		done += span < len - done ? span : len - done;
	}
	*pnum = done;
	return status;
}

static void vdi_info(void *state, struct vdisk_info *info)
{
	struct vdi *v = state;
	const uint8_t *u = v->uuid;
	info->virtual_size = v->size;
	info->cluster_size = v->block;
	struct vdisk_kv *kv = &info->specific[info->n_specific++];
	snprintf(kv->key, sizeof kv->key, "image-type");
	snprintf(kv->value, sizeof kv->value, "%s", type_name(v->type));
	if (is_null(u))
		return;
	/* VirtualBox stores the first three UUID fields little-endian. */
	kv = &info->specific[info->n_specific++];
	snprintf(kv->key, sizeof kv->key, "uuid");
	snprintf(kv->value, sizeof kv->value, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 ld_le32(u), ld_le16(u + 4), ld_le16(u + 6), u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

/* The one version check every driver makes (drivers/driver.h). */
static int vdi_init(const void *host)
{
	return vdisk_check_host(host);
}

static const struct vdisk_format vdi_format = {
	.name = "vdi",
	.open = vdi_open,
	.read = vdi_read,
	.status = vdi_status,
	.info = vdi_info,
	.close = vdi_close,
};

LM_MODULE("1.0", "VirtualBox disk images, dynamic and static", vdi_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_FORMAT, "vdi", &vdi_format);
LM_PROBE_MAGIC(VDISK_KIND_FORMAT, "vdi", 0x40, "\x7f\x10\xda\xbe", 100);
LM_PROBE_EXT(VDISK_KIND_FORMAT, "vdi", "vdi", 10);
