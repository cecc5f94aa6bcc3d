/* SPDX-License-Identifier: MIT */
/*
 * vpc - Microsoft Virtual Hard Disk (VHD) images, as made by Virtual PC,
 * Hyper-V and qemu-img's "vpc" format: fixed disks (the guest bytes followed
 * by a 512-byte footer) and dynamic disks (a block allocation table of
 * sparse blocks, each a sector bitmap followed by the data). Differencing
 * disks are refused: their parent locators are not implemented.
 *
 * All on-disk fields are big-endian.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define LM_MODULE_NAME vpc
#include <lazymod/module.h>

#include "../driver.h"

#define FOOTER_SIZE 512
#define DYNHDR_SIZE 1024
#define SECTOR 512ULL

#define TYPE_FIXED 2
#define TYPE_DYNAMIC 3
#define TYPE_DIFFERENCING 4

#define BAT_UNUSED 0xffffffffu
#define MIN_BLOCK_SIZE 512u
#define MAX_BLOCK_SIZE (256u << 20)
#define MAX_TABLE_BYTES (256ULL << 20)
/* The largest disk Virtual PC addresses through its CHS geometry; an image
 * whose geometry says this much may be larger, so its current size rules. */
#define MAX_CHS_SECTORS (65535ULL * 16 * 255)
/* 2040 GiB: the VHD limit that qemu and Hyper-V enforce. */
#define MAX_SECTORS 0xff000000ULL
/* BAT bytes read per pread, so that a remote source sees large requests. */
#define BAT_CHUNK (4u << 20)


struct vpc {
	struct vdisk_source *src;
	uint64_t size; /* guest bytes */
	bool dynamic;
	char creator[20]; /* printable form of the creator application */
	/* dynamic disks */
	uint32_t block_size;
	uint32_t bitmap_size; /* bytes before the data of a block, a sector multiple */
	uint32_t nblocks;     /* BAT entries the guest size needs */
	uint32_t *bat;        /* sector offset of each block, or BAT_UNUSED */
	/* the sector bitmap of one block, read on demand */
	uint32_t cached;      /* block index, or BAT_UNUSED when empty */
	bool cached_full;     /* every bit set: the whole block holds data */
	unsigned char *bitmap;
};

/* One's complement of the byte sum, skipping the 4-byte checksum field. */
static uint32_t checksum(const unsigned char *b, size_t len, size_t skip)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		if (i < skip || i >= skip + 4)
			sum += b[i];
	return ~sum;
}

static bool valid_footer(const unsigned char *f)
{
	return !memcmp(f, "conectix", 8) && checksum(f, FOOTER_SIZE, 64) == ld_be32(f + 64);
}

/*
 * The footer is at the end of the file; dynamic disks keep a copy at
 * offset 0, which rescues an image whose end was cut off or overwritten.
 */
static int read_footer(struct vpc *v, unsigned char *f, struct vdisk_err *err)
{
	struct vdisk_source *src = v->src;
	if (src->size < FOOTER_SIZE)
		return vdisk_fail(err, -EINVAL, "file of %llu bytes is too small for a VHD footer",
				  (unsigned long long)src->size);
	int e = src->pread(src, f, FOOTER_SIZE, src->size - FOOTER_SIZE);
	if (e < 0)
		return vdisk_fail(err, e, "cannot read the footer");
	if (valid_footer(f))
		return 0;

	bool end_cookie = !memcmp(f, "conectix", 8);
	uint32_t end_stored = ld_be32(f + 64), end_computed = checksum(f, FOOTER_SIZE, 64);
	if (src->size >= 2 * FOOTER_SIZE) {
		unsigned char g[FOOTER_SIZE];
		e = src->pread(src, g, FOOTER_SIZE, 0);
		if (e < 0)
			return vdisk_fail(err, e, "cannot read the footer copy at offset 0");
		/* A fixed disk has no copy: its first sector is guest data. */
		if (valid_footer(g) && ld_be32(g + 60) != TYPE_FIXED) {
			memcpy(f, g, FOOTER_SIZE);
			return 0;
		}
	}
	if (end_cookie)
		return vdisk_fail(err, -EINVAL,
				  "footer checksum 0x%08x does not match its contents (0x%08x), "
				  "and there is no valid copy at offset 0",
				  end_stored, end_computed);
	return vdisk_fail(err, -EINVAL,
			  "no VHD footer: cookie \"conectix\" is neither in the last 512 bytes "
			  "nor at offset 0");
}

static void describe_creator(struct vpc *v, const unsigned char *app)
{
	size_t n = 4, o = 0;
	while (n && (app[n - 1] == 0 || app[n - 1] == ' '))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (app[i] >= 0x20 && app[i] < 0x7f && app[i] != '\\')
			v->creator[o++] = (char)app[i];
		else
			o += (size_t)snprintf(v->creator + o, sizeof v->creator - o, "\\x%02x",
					      app[i]);
	}
	v->creator[o] = 0;
}

/*
 * Virtual PC sizes a disk by its CHS geometry, which usually falls short of
 * the current size recorded in the footer; Hyper-V, disk2vhd, XenServer,
 * XenConverter and qemu with force_size use the current size. Which applies
 * is told by the creator application. A geometry at its maximum cannot
 * describe the disk, so the current size rules then too. This is the rule
 * qemu follows, so that both read the same number of guest bytes.
 */
static uint64_t guest_sectors(const unsigned char *f)
{
	static const char *const sized_by_footer[] = {"win ", "qem2", "d2v ", "CTXS",
						       "tap\0"};
	uint64_t chs = (uint64_t)ld_be16(f + 56) * f[58] * f[59];
	bool use_chs = true;
	for (size_t i = 0; i < sizeof sized_by_footer / sizeof *sized_by_footer; i++)
		if (!memcmp(f + 28, sized_by_footer[i], 4))
			use_chs = false;
	if (!use_chs || chs == MAX_CHS_SECTORS)
		return ld_be64(f + 48) / SECTOR;
	return chs;
}

/*
 * Reads the BAT into v->bat and turns it into host byte order where it
 * lies: the table is held once, as large as on disk (as qemu holds it).
 */
static int read_bat(struct vpc *v, uint64_t table_off, struct vdisk_err *err)
{
	struct vdisk_source *src = v->src;
	size_t bytes = (size_t)v->nblocks * 4;
	int e = vdisk_meta_reserve(src, bytes, err);
	if (e < 0)
		return e;
	v->bat = malloc(bytes ? bytes : 1);
	if (!v->bat)
		return vdisk_fail(err, -ENOMEM, "out of memory for a BAT of %u entries",
				  v->nblocks);
	for (size_t done = 0; done < bytes;) {
		size_t n = bytes - done < BAT_CHUNK ? bytes - done : BAT_CHUNK;
		e = src->pread(src, (unsigned char *)v->bat + done, n, table_off + done);
		if (e < 0)
			return vdisk_fail(err, e, "cannot read the BAT at 0x%llx",
					  (unsigned long long)(table_off + done));
		done += n;
	}
	uint64_t span = (uint64_t)v->bitmap_size + v->block_size;
	for (uint32_t i = 0; i < v->nblocks; i++) {
		uint32_t s = ld_be32(&v->bat[i]);
		v->bat[i] = s;
		if (s == BAT_UNUSED)
			continue;
		uint64_t off = (uint64_t)s * SECTOR;
		if (off > src->size || span > src->size - off) {
			return vdisk_fail(err, -EINVAL,
					  "BAT entry %u: block at 0x%llx (%llu bytes with its "
					  "bitmap) extends beyond end of file (size %llu)",
					  i, (unsigned long long)off, (unsigned long long)span,
					  (unsigned long long)src->size);
		}
	}
	return 0;
}

static int open_dynamic(struct vpc *v, const unsigned char *f, struct vdisk_err *err)
{
	struct vdisk_source *src = v->src;
	unsigned char h[DYNHDR_SIZE];
	uint64_t hoff = ld_be64(f + 16);
	if (hoff > src->size || src->size - hoff < DYNHDR_SIZE)
		return vdisk_fail(err, -EINVAL,
				  "dynamic header offset 0x%llx beyond end of file (size %llu)",
				  (unsigned long long)hoff, (unsigned long long)src->size);
	int e = src->pread(src, h, DYNHDR_SIZE, hoff);
	if (e < 0)
		return vdisk_fail(err, e, "cannot read the dynamic header");
	if (memcmp(h, "cxsparse", 8))
		return vdisk_fail(err, -EINVAL,
				  "dynamic header at 0x%llx lacks its cookie \"cxsparse\"",
				  (unsigned long long)hoff);
	if (checksum(h, DYNHDR_SIZE, 36) != ld_be32(h + 36))
		return vdisk_fail(err, -EINVAL,
				  "dynamic header checksum 0x%08x does not match its contents "
				  "(0x%08x)",
				  ld_be32(h + 36), checksum(h, DYNHDR_SIZE, 36));
	if (ld_be32(h + 24) >> 16 != 1)
		return vdisk_fail(err, -ENOTSUP, "dynamic header version 0x%08x is not 1.x",
				  ld_be32(h + 24));

	uint32_t bs = ld_be32(h + 32);
	if (bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)))
		return vdisk_fail(err, -EINVAL,
				  "block size %u is not a power of two between %u and %u", bs,
				  MIN_BLOCK_SIZE, MAX_BLOCK_SIZE);
	v->block_size = bs;
	/* One bit per sector, padded to whole sectors. */
	v->bitmap_size = (uint32_t)((bs / SECTOR / 8 + SECTOR - 1) & ~(SECTOR - 1));

	uint64_t need = v->size / bs + (v->size % bs != 0);
	uint32_t entries = ld_be32(h + 28);
	if (entries < need)
		return vdisk_fail(err, -EINVAL,
				  "BAT has %u entries but a disk of %llu bytes needs %llu", entries,
				  (unsigned long long)v->size, (unsigned long long)need);
	uint64_t table_off = ld_be64(h + 16), table_bytes = (uint64_t)entries * 4;
	if (table_off > src->size || table_bytes > src->size - table_off)
		return vdisk_fail(err, -EINVAL,
				  "BAT at 0x%llx with %u entries extends beyond end of file "
				  "(size %llu)",
				  (unsigned long long)table_off, entries,
				  (unsigned long long)src->size);
	if (need * 4 > MAX_TABLE_BYTES)
		return vdisk_fail(err, -EFBIG, "BAT of %llu entries exceeds the limit of %llu MiB",
				  (unsigned long long)need, MAX_TABLE_BYTES >> 20);
	v->nblocks = (uint32_t)need;
	v->bitmap = malloc(v->bitmap_size);
	if (!v->bitmap)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	v->cached = BAT_UNUSED;
	return read_bat(v, table_off, err);
}

static void vpc_close(void *state)
{
	struct vpc *v = state;
	if (!v)
		return;
	free(v->bat);
	free(v->bitmap);
	free(v);
}

static int vpc_open(struct vdisk_source *src, unsigned depth, void **state, struct vdisk_err *err)
{
	(void)depth;
	unsigned char f[FOOTER_SIZE];
	struct vpc *v = calloc(1, sizeof *v);
	if (!v)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	v->src = src;
	int e = read_footer(v, f, err);
	if (e < 0)
		goto fail;
	e = -ENOTSUP;
	if (ld_be32(f + 12) >> 16 != 1) {
		vdisk_fail(err, e, "footer format version 0x%08x is not 1.x", ld_be32(f + 12));
		goto fail;
	}
	uint32_t type = ld_be32(f + 60);
	if (type == TYPE_DIFFERENCING) {
		vdisk_fail(err, e, "differencing VHD (disk type 4) is not supported: backing "
				   "through parent locators is not implemented");
		goto fail;
	}
	if (type != TYPE_FIXED && type != TYPE_DYNAMIC) {
		vdisk_fail(err, e, "unknown disk type %u", type);
		goto fail;
	}
	v->dynamic = type == TYPE_DYNAMIC;
	describe_creator(v, f + 28);

	e = -EINVAL;
	uint64_t sectors = guest_sectors(f);
	if (sectors > MAX_SECTORS) {
		vdisk_fail(err, e, "disk of %llu sectors exceeds the VHD limit of 2040 GiB",
			   (unsigned long long)sectors);
		goto fail;
	}
	v->size = sectors * SECTOR;
	if (!v->dynamic && v->size > src->size - FOOTER_SIZE) {
		vdisk_fail(err, e,
			   "fixed disk of %llu bytes does not fit before the footer "
			   "(file size %llu): truncated image?",
			   (unsigned long long)v->size, (unsigned long long)src->size);
		goto fail;
	}
	if (v->dynamic && (e = open_dynamic(v, f, err)) < 0)
		goto fail;
	*state = v;
	return 0;
fail:
	vpc_close(v);
	return e;
}

static int load_bitmap(struct vpc *v, uint32_t block, struct vdisk_err *err)
{
	if (v->cached == block)
		return 0;
	v->cached = BAT_UNUSED;
	int e = v->src->pread(v->src, v->bitmap, v->bitmap_size, (uint64_t)v->bat[block] * SECTOR);
	if (e < 0)
		return vdisk_fail(err, e, "cannot read the sector bitmap of block %u", block);
	uint32_t nsec = (uint32_t)(v->block_size / SECTOR), i;
	v->cached_full = true;
	for (i = 0; i < nsec / 8; i++)
		if (v->bitmap[i] != 0xff)
			v->cached_full = false;
	if (nsec % 8 && (v->bitmap[i] | 0xff >> nsec % 8) != 0xff)
		v->cached_full = false;
	v->cached = block;
	return 0;
}

static bool sector_present(const struct vpc *v, uint64_t sector)
{
	/* Bits are numbered from the most significant bit of each byte. */
	return v->cached_full || (v->bitmap[sector / 8] & (0x80 >> (sector % 8)));
}

/*
 * Status of the guest bytes from off on within one block: whether they read
 * from the file, and how many bytes (up to max) share that.
 */
static int block_run(struct vpc *v, uint64_t off, uint64_t max, uint64_t *pnum,
		     struct vdisk_err *err)
{
	uint32_t block = (uint32_t)(off / v->block_size);
	uint64_t in = off % v->block_size, room = v->block_size - in;
	if (room > max)
		room = max;
	if (v->bat[block] == BAT_UNUSED) {
		*pnum = room;
		return VDISK_ZERO;
	}
	int e = load_bitmap(v, block, err);
	if (e < 0)
		return e;
	if (v->cached_full) {
		*pnum = room;
		return VDISK_DATA;
	}
	uint64_t s = in / SECTOR;
	bool present = sector_present(v, s);
	uint64_t end = in + room;
	uint64_t next = (s + 1) * SECTOR;
	while (next < end && sector_present(v, next / SECTOR) == present)
		next += SECTOR;
	*pnum = (next < end ? next : end) - in;
	return present ? VDISK_DATA : VDISK_ZERO;
}

static int vpc_status(void *state, uint64_t off, uint64_t len, uint64_t *pnum,
		      struct vdisk_err *err)
{
	struct vpc *v = state;
	if (!v->dynamic) {
		*pnum = len;
		return VDISK_DATA;
	}
	uint64_t n;
	int st = block_run(v, off, len, &n, err);
	if (st < 0)
		return st;
	*pnum = n;
	/*
	 * Extend a zero run across unallocated blocks; a data run stops at the
	 * end of its block, as looking further costs a bitmap read per block.
	 */
	while (st == VDISK_ZERO && *pnum < len && (off + *pnum) % v->block_size == 0) {
		uint32_t next = (uint32_t)((off + *pnum) / v->block_size);
		if (v->bat[next] != BAT_UNUSED)
			break;
		uint64_t room = len - *pnum;
		*pnum += room < v->block_size ? room : v->block_size;
	}
	return st;
}

static int vpc_read(void *state, void *buf, size_t len, uint64_t off, struct vdisk_err *err)
{
	struct vpc *v = state;
	unsigned char *out = buf;
	if (!v->dynamic) {
		int e = v->src->pread(v->src, buf, len, off);
		return e < 0 ? vdisk_fail(err, e, "read of %zu bytes at %llu failed", len,
					  (unsigned long long)off)
			     : 0;
	}
	while (len) {
		uint64_t n;
		int st = block_run(v, off, len, &n, err);
		if (st < 0)
			return st;
		if (st == VDISK_ZERO) {
			memset(out, 0, n);
		} else {
			uint32_t block = (uint32_t)(off / v->block_size);
			uint64_t at = (uint64_t)v->bat[block] * SECTOR + v->bitmap_size +
				      off % v->block_size;
			int e = v->src->pread(v->src, out, n, at);
			if (e < 0)
				return vdisk_fail(err, e, "read of block %u at 0x%llx failed",
						  block, (unsigned long long)at);
		}
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}


static void vpc_info(void *state, struct vdisk_info *info)
{
	struct vpc *v = state;
	info->virtual_size = v->size;
	info->cluster_size = v->dynamic ? v->block_size : 0;
	vdisk_add_kv(info, "subformat", v->dynamic ? "dynamic" : "fixed", 0);
	vdisk_add_kv(info, "creator-app", v->creator, 0);
}

/* The one version check every driver makes (drivers/driver.h). */
static int vpc_init(const void *host)
{
	return vdisk_check_host(host);
}

static const struct vdisk_format vpc_format = {
	.name = "vpc",
	.open = vpc_open,
	.read = vpc_read,
	.status = vpc_status,
	.info = vpc_info,
	.close = vpc_close,
};

LM_MODULE("1.0", "Virtual PC / Hyper-V VHD images, fixed and dynamic", vpc_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_FORMAT, "vpc", &vpc_format);
LM_PROBE_MAGIC_END(VDISK_KIND_FORMAT, "vpc", 512, "conectix", 100);
LM_PROBE_MAGIC(VDISK_KIND_FORMAT, "vpc", 0, "conectix", 100);
LM_PROBE_EXT(VDISK_KIND_FORMAT, "vpc", "vhd", 10);
LM_PROBE_EXT(VDISK_KIND_FORMAT, "vpc", "vpc", 10);
