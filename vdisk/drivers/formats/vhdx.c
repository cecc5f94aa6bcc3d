/* SPDX-License-Identifier: MIT */
/*
 * vhdx - Microsoft VHDX images (Hyper-V), fixed and dynamic: a file
 * identifier, two headers, two region tables, a metadata region and a block
 * allocation table (BAT) whose payload blocks are interleaved with sector
 * bitmap entries, one per chunk. Differencing images and images whose log
 * still has to be replayed are refused.
 *
 * All on-disk fields are little-endian; GUIDs are stored in the Microsoft
 * layout (the first three fields little-endian, the rest as bytes).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define LM_MODULE_NAME vhdx
#include <lazymod/module.h>

#include "../driver.h"

#define KiB 1024ULL
#define MiB (1024ULL * KiB)

#define HEADER_AREA (320 * KiB) /* file identifier, 2 headers, 2 region tables */
#define HEADER1_OFF (64 * KiB)
#define HEADER2_OFF (128 * KiB)
#define HEADER_SIZE (4 * KiB)
#define REGION1_OFF (192 * KiB)
#define REGION2_OFF (256 * KiB)
#define REGION_SIZE (64 * KiB)
#define MAX_REGIONS 2047
#define META_TABLE_SIZE (64 * KiB)
#define MAX_META_ENTRIES 2047
#define MAX_META_ITEM (1 * MiB)

#define MIN_BLOCK_SIZE (1 * MiB)
#define MAX_BLOCK_SIZE (256 * MiB)
#define MAX_DISK_SIZE (64 * 1024 * 1024 * MiB) /* 64 TiB */
#define MAX_TABLE_BYTES (256 * MiB)
#define BAT_CHUNK (4 * MiB) /* BAT bytes per pread */

/* Payload block states (the low 3 bits of a BAT entry). */
enum {
	PAYLOAD_NOT_PRESENT = 0,
	PAYLOAD_UNDEFINED = 1,
	PAYLOAD_ZERO = 2,
	PAYLOAD_UNMAPPED = 3,
	/* Drafts of the format (0.95) numbered UNMAPPED 5; such images exist. */
	PAYLOAD_UNMAPPED_DRAFT = 5,
	PAYLOAD_FULLY_PRESENT = 6,
	PAYLOAD_PARTIALLY_PRESENT = 7,
};
#define BAT_STATE(e) ((unsigned)((e) & 7))
#define BAT_OFFSET(e) ((e) & ~(MiB - 1)) /* FileOffsetMB, bits 20..63 */

/* GUID in its on-disk byte order, from its textual fields. */
#define GUID(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                              \
	{                                                                                          \
		(a) & 0xff, (a) >> 8 & 0xff, (a) >> 16 & 0xff, (a) >> 24 & 0xff, (b) & 0xff,       \
		(b) >> 8 & 0xff, (c) & 0xff, (c) >> 8 & 0xff, d0, d1, d2, d3, d4, d5, d6, d7       \
	}
static const unsigned char guid_bat[16] =
	GUID(0x2DC27766, 0xF623, 0x4200, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08);
static const unsigned char guid_metadata[16] =
	GUID(0x8B7CA206, 0x4790, 0x4B9A, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E);

/* The metadata items this driver knows. */
enum { ITEM_FILE_PARAMS, ITEM_DISK_SIZE, ITEM_DISK_ID, ITEM_LOGICAL, ITEM_PHYSICAL,
       ITEM_PARENT_LOCATOR, N_ITEMS };
static const struct {
	unsigned char guid[16];
	const char *name;
	uint32_t len;  /* bytes this driver reads */
	bool required; /* an image without it is refused */
} items[N_ITEMS] = {
	[ITEM_FILE_PARAMS] = {GUID(0xCAA16737, 0xFA36, 0x4D43, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44,
				   0xE7, 0x6B),
			      "file parameters", 8, true},
	[ITEM_DISK_SIZE] = {GUID(0x2FA54224, 0xCD1B, 0x4876, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B,
				 0xF4, 0xB8),
			    "virtual disk size", 8, true},
	[ITEM_DISK_ID] = {GUID(0xBECA12AB, 0xB2E6, 0x4523, 0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7,
			       0x46),
			  "virtual disk id", 0, false},
	[ITEM_LOGICAL] = {GUID(0x8141BF1D, 0xA96F, 0x4709, 0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB,
			       0x5F),
			  "logical sector size", 4, true},
	[ITEM_PHYSICAL] = {GUID(0xCDA348C7, 0x445D, 0x4471, 0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51,
				0xC5, 0x56),
			   "physical sector size", 4, true},
	[ITEM_PARENT_LOCATOR] = {GUID(0xA8D35F2D, 0xB30B, 0x454D, 0xAB, 0xF7, 0xD3, 0xD8, 0x48,
				      0x34, 0xAB, 0x0C),
				 "parent locator", 0, false},
};


struct vhdx {
	struct vdisk_source *src;
	uint64_t size;       /* guest bytes */
	uint32_t block_size;
	uint32_t logical_sector, physical_sector;
	bool leave_allocated;
	uint64_t chunk_ratio; /* payload blocks per sector bitmap block */
	uint64_t nblocks;     /* payload blocks of the guest size */
	uint64_t nentries;    /* BAT entries, sector bitmap entries included */
	uint64_t *bat;
	uint64_t counts[8];   /* payload blocks per state, for info */
};

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as VHDX checksums
 * its headers and tables. zlib's crc32() is CRC-32/ISO-HDLC, a different
 * polynomial, so it cannot serve here.
 */
static uint32_t crc32c_table[256];

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? c >> 1 ^ 0x82F63B78u : c >> 1;
		crc32c_table[i] = c;
	}
}

static uint32_t crc32c(const unsigned char *b, size_t len)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < len; i++)
		c = crc32c_table[(c ^ b[i]) & 0xff] ^ c >> 8;
	return ~c;
}

/* The checksum of a structure as stored: computed with its own field (at
 * offset 4) taken as zero. */
static uint32_t struct_crc(unsigned char *b, size_t len)
{
	unsigned char saved[4];
	memcpy(saved, b + 4, 4);
	memset(b + 4, 0, 4);
	uint32_t c = crc32c(b, len);
	memcpy(b + 4, saved, 4);
	return c;
}

static void format_guid(const unsigned char *g, char *out, size_t n)
{
	snprintf(out, n, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", ld_le32(g),
		 ld_le16(g + 4), ld_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14],
		 g[15]);
}

static bool zero_guid(const unsigned char *g)
{
	for (int i = 0; i < 16; i++)
		if (g[i])
			return false;
	return true;
}

/* Says why a header is unusable into why[], or returns true. */
static bool check_header(unsigned char *h, char *why, size_t n)
{
	if (memcmp(h, "head", 4)) {
		snprintf(why, n, "no signature \"head\"");
		return false;
	}
	uint32_t c = struct_crc(h, HEADER_SIZE);
	if (c != ld_le32(h + 4)) {
		snprintf(why, n, "checksum 0x%08x does not match its contents (0x%08x)",
			 ld_le32(h + 4), c);
		return false;
	}
	return true;
}

/* The current header: of the valid ones, the one with the higher sequence number. */
static int pick_header(unsigned char *area, unsigned char **hp, struct vdisk_err *err)
{
	unsigned char *h1 = area + HEADER1_OFF, *h2 = area + HEADER2_OFF;
	char why1[96], why2[96];
	bool ok1 = check_header(h1, why1, sizeof why1), ok2 = check_header(h2, why2, sizeof why2);
	if (!ok1 && !ok2)
		return vdisk_fail(err, -EINVAL, "no valid header: header 1 has %s; header 2 has %s",
				  why1, why2);
	if (ok1 && ok2) {
		uint64_t s1 = ld_le64(h1 + 8), s2 = ld_le64(h2 + 8);
		if (s1 == s2)
			return vdisk_fail(err, -EINVAL,
					  "both headers carry sequence number %llu: cannot tell "
					  "which is current",
					  (unsigned long long)s1);
		*hp = s1 > s2 ? h1 : h2;
	} else {
		*hp = ok1 ? h1 : h2;
	}
	return 0;
}

struct region {
	uint64_t off;
	uint32_t len;
};

static int check_region_table(unsigned char *t, char *why, size_t n)
{
	if (memcmp(t, "regi", 4)) {
		snprintf(why, n, "no signature \"regi\"");
		return -1;
	}
	uint32_t c = struct_crc(t, REGION_SIZE);
	if (c != ld_le32(t + 4)) {
		snprintf(why, n, "checksum 0x%08x does not match its contents (0x%08x)",
			 ld_le32(t + 4), c);
		return -1;
	}
	if (ld_le32(t + 8) > MAX_REGIONS) {
		snprintf(why, n, "%u entries (at most %u allowed)", ld_le32(t + 8), MAX_REGIONS);
		return -1;
	}
	return 0;
}

static int check_region(struct vhdx *x, const char *name, struct region *r, struct vdisk_err *err)
{
	if (r->off % MiB || r->len % MiB || r->off < MiB || !r->len)
		return vdisk_fail(err, -EINVAL,
				  "%s region at 0x%llx of %u bytes is not 1 MiB-aligned past the "
				  "header area",
				  name, (unsigned long long)r->off, r->len);
	if (r->off > x->src->size || r->len > x->src->size - r->off)
		return vdisk_fail(err, -EINVAL,
				  "%s region at 0x%llx of %u bytes extends beyond end of file "
				  "(size %llu)",
				  name, (unsigned long long)r->off, r->len,
				  (unsigned long long)x->src->size);
	return 0;
}

/* Finds the BAT and metadata regions; the second table stands in for a damaged first. */
static int read_regions(struct vhdx *x, unsigned char *area, struct region *bat,
			struct region *meta, struct vdisk_err *err)
{
	char why1[96], why2[96];
	unsigned char *t = area + REGION1_OFF;
	if (check_region_table(t, why1, sizeof why1) < 0) {
		t = area + REGION2_OFF;
		if (check_region_table(t, why2, sizeof why2) < 0)
			return vdisk_fail(err, -EINVAL,
					  "no valid region table: table 1 has %s; table 2 has %s",
					  why1, why2);
	}
	uint32_t n = ld_le32(t + 8);
	bool have_bat = false, have_meta = false;
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *e = t + 16 + 32 * (size_t)i;
		struct region r = {ld_le64(e + 16), ld_le32(e + 24)};
		bool is_bat = !memcmp(e, guid_bat, 16), is_meta = !memcmp(e, guid_metadata, 16);
		if (!is_bat && !is_meta) {
			if (ld_le32(e + 28) & 1) {
				char g[40];
				format_guid(e, g, sizeof g);
				return vdisk_fail(err, -ENOTSUP,
						  "unknown required region {%s} is not supported",
						  g);
			}
			continue;
		}
		if ((is_bat && have_bat) || (is_meta && have_meta))
			return vdisk_fail(err, -EINVAL, "region table lists the %s region twice",
					  is_bat ? "BAT" : "metadata");
		int e2 = check_region(x, is_bat ? "BAT" : "metadata", &r, err);
		if (e2 < 0)
			return e2;
		*(is_bat ? bat : meta) = r;
		*(is_bat ? &have_bat : &have_meta) = true;
	}
	if (!have_bat || !have_meta)
		return vdisk_fail(err, -EINVAL, "region table has no %s region",
				  have_bat ? "metadata" : "BAT");
	if (bat->off < meta->off + meta->len && meta->off < bat->off + bat->len)
		return vdisk_fail(err, -EINVAL,
				  "BAT region at 0x%llx overlaps metadata region at 0x%llx",
				  (unsigned long long)bat->off, (unsigned long long)meta->off);
	return 0;
}

/* Reads the value of the known metadata items into val[] (len bytes each). */
static int read_metadata(struct vhdx *x, const struct region *meta,
			 unsigned char val[N_ITEMS][8], bool found[N_ITEMS], struct vdisk_err *err)
{
	struct vdisk_source *src = x->src;
	if (meta->len < META_TABLE_SIZE)
		return vdisk_fail(err, -EINVAL, "metadata region of %u bytes cannot hold its table",
				  meta->len);
	unsigned char *t = malloc(META_TABLE_SIZE);
	if (!t)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	int e = src->pread(src, t, META_TABLE_SIZE, meta->off);
	if (e < 0) {
		vdisk_fail(err, e, "cannot read the metadata table");
		goto out;
	}
	e = -EINVAL;
	if (memcmp(t, "metadata", 8)) {
		vdisk_fail(err, e, "metadata table at 0x%llx lacks its signature \"metadata\"",
			   (unsigned long long)meta->off);
		goto out;
	}
	unsigned n = ld_le16(t + 10);
	if (n > MAX_META_ENTRIES) {
		vdisk_fail(err, e, "metadata table has %u entries (at most %u allowed)", n,
			   MAX_META_ENTRIES);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		const unsigned char *m = t + 32 + 32 * (size_t)i;
		uint32_t off = ld_le32(m + 16), len = ld_le32(m + 20), flags = ld_le32(m + 24);
		int k = 0;
		while (k < N_ITEMS && !(memcmp(m, items[k].guid, 16) == 0 && !(flags & 1)))
			k++;
		if (len && (off < META_TABLE_SIZE || len > MAX_META_ITEM || off > meta->len ||
			    len > meta->len - off)) {
			vdisk_fail(err, e,
				   "metadata item %u at offset 0x%x of %u bytes lies outside its "
				   "region of %u bytes",
				   i, off, len, meta->len);
			goto out;
		}
		if (k == N_ITEMS) {
			if (flags & 4) {
				char g[40];
				format_guid(m, g, sizeof g);
				vdisk_fail(err, -ENOTSUP,
					   "unknown required metadata item {%s} is not supported",
					   g);
				goto out;
			}
			continue;
		}
		if (found[k]) {
			vdisk_fail(err, e, "metadata item '%s' appears twice", items[k].name);
			goto out;
		}
		found[k] = true;
		if (!items[k].len)
			continue;
		if (len < items[k].len) {
			vdisk_fail(err, e, "metadata item '%s' has %u bytes, %u expected",
				   items[k].name, len, items[k].len);
			goto out;
		}
		int r = src->pread(src, val[k], items[k].len, meta->off + off);
		if (r < 0) {
			e = r;
			vdisk_fail(err, e, "cannot read metadata item '%s'", items[k].name);
			goto out;
		}
	}
	for (int k = 0; k < N_ITEMS; k++)
		if (items[k].required && !found[k]) {
			vdisk_fail(err, e, "metadata item '%s' is missing", items[k].name);
			goto out;
		}
	e = 0;
out:
	free(t);
	return e;
}

static int parse_metadata(struct vhdx *x, const struct region *meta, struct vdisk_err *err)
{
	unsigned char val[N_ITEMS][8] = {{0}};
	bool found[N_ITEMS] = {0};
	int e = read_metadata(x, meta, val, found, err);
	if (e < 0)
		return e;
	uint32_t bs = ld_le32(val[ITEM_FILE_PARAMS]), flags = ld_le32(val[ITEM_FILE_PARAMS] + 4);
	if (flags & 2)
		return vdisk_fail(err, -ENOTSUP,
				  "differencing VHDX (has-parent) is not supported: backing "
				  "through parent locators is not implemented");
	if (bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)))
		return vdisk_fail(err, -EINVAL,
				  "block size %u is not a power of two between 1 MiB and 256 MiB",
				  bs);
	x->block_size = bs;
	x->leave_allocated = flags & 1;
	x->logical_sector = ld_le32(val[ITEM_LOGICAL]);
	x->physical_sector = ld_le32(val[ITEM_PHYSICAL]);
	if (x->logical_sector != 512 && x->logical_sector != 4096)
		return vdisk_fail(err, -EINVAL, "logical sector size %u is neither 512 nor 4096",
				  x->logical_sector);
	if (x->physical_sector != 512 && x->physical_sector != 4096)
		return vdisk_fail(err, -EINVAL, "physical sector size %u is neither 512 nor 4096",
				  x->physical_sector);
	x->size = ld_le64(val[ITEM_DISK_SIZE]);
	if (x->size > MAX_DISK_SIZE)
		return vdisk_fail(err, -EINVAL,
				  "virtual disk size %llu exceeds the limit of 64 TiB",
				  (unsigned long long)x->size);
	if (x->size % x->logical_sector)
		return vdisk_fail(err, -EINVAL,
				  "virtual disk size %llu is not a multiple of the logical sector "
				  "size %u",
				  (unsigned long long)x->size, x->logical_sector);
	return 0;
}

/* A FULLY_PRESENT block must lie past the header area and within the file. */
static int check_present(struct vhdx *x, uint64_t i, uint64_t b, uint64_t e,
			 struct vdisk_err *err)
{
	uint64_t fsize = x->src->size, off = BAT_OFFSET(e), len = x->size - b * x->block_size;
	if (len > x->block_size)
		len = x->block_size;
	if (off < MiB)
		return vdisk_fail(err, -EINVAL,
				  "BAT entry %llu: block %llu at 0x%llx lies in the header area",
				  (unsigned long long)i, (unsigned long long)b,
				  (unsigned long long)off);
	if (off > fsize || len > fsize - off)
		return vdisk_fail(err, -EINVAL,
				  "BAT entry %llu: block %llu at 0x%llx lies outside the file "
				  "(size %llu)",
				  (unsigned long long)i, (unsigned long long)b,
				  (unsigned long long)off, (unsigned long long)fsize);
	return 0;
}

static int check_entries(struct vhdx *x, struct vdisk_err *err)
{
	for (uint64_t b = 0; b < x->nblocks; b++) {
		uint64_t i = b + b / x->chunk_ratio, e = x->bat[i];
		unsigned st = BAT_STATE(e);
		x->counts[st]++;
		switch (st) {
		case PAYLOAD_NOT_PRESENT:
		case PAYLOAD_UNDEFINED:
		case PAYLOAD_ZERO:
		case PAYLOAD_UNMAPPED:
		case PAYLOAD_UNMAPPED_DRAFT:
			break;
		case PAYLOAD_FULLY_PRESENT: {
			int r = check_present(x, i, b, e, err);
			if (r < 0)
				return r;
			break;
		}
		case PAYLOAD_PARTIALLY_PRESENT:
			return vdisk_fail(err, -EINVAL,
					  "BAT entry %llu: block %llu is PARTIALLY_PRESENT in an "
					  "image without a parent",
					  (unsigned long long)i, (unsigned long long)b);
		default:
			return vdisk_fail(err, -EINVAL, "BAT entry %llu: reserved block state %u",
					  (unsigned long long)i, st);
		}
	}
	return 0;
}

static int read_bat(struct vhdx *x, const struct region *bat, struct vdisk_err *err)
{
	/* One sector bitmap block covers 2^23 sectors: chunk_ratio payload blocks. */
	x->chunk_ratio = (8 * MiB * x->logical_sector) / x->block_size;
	x->nblocks = x->size / x->block_size + (x->size % x->block_size != 0);
	x->nentries = x->nblocks ? x->nblocks + (x->nblocks - 1) / x->chunk_ratio : 0;
	uint64_t bytes = x->nentries * 8;
	if (bytes > bat->len)
		return vdisk_fail(err, -EINVAL,
				  "BAT region of %u bytes cannot hold the %llu entries of a disk "
				  "of %llu bytes",
				  bat->len, (unsigned long long)x->nentries,
				  (unsigned long long)x->size);
	if (bytes > MAX_TABLE_BYTES)
		return vdisk_fail(err, -EFBIG, "BAT of %llu entries exceeds the limit of %llu MiB",
				  (unsigned long long)x->nentries, MAX_TABLE_BYTES / MiB);
	int e = vdisk_meta_reserve(x->src, bytes, err);
	if (e < 0)
		return e;
	/* Read and decoded in place: the table is held once, as on disk. */
	x->bat = malloc(bytes ? bytes : 1);
	if (!x->bat)
		return vdisk_fail(err, -ENOMEM, "out of memory for a BAT of %llu entries",
				  (unsigned long long)x->nentries);
	for (uint64_t done = 0; done < bytes;) {
		uint64_t n = bytes - done < BAT_CHUNK ? bytes - done : BAT_CHUNK;
		e = x->src->pread(x->src, (unsigned char *)x->bat + done, n, bat->off + done);
		if (e < 0)
			return vdisk_fail(err, e, "cannot read the BAT at 0x%llx",
					  (unsigned long long)(bat->off + done));
		done += n;
	}
	for (uint64_t i = 0; i < x->nentries; i++)
		x->bat[i] = ld_le64(&x->bat[i]);
	return check_entries(x, err);
}

static void vhdx_close(void *state)
{
	struct vhdx *x = state;
	if (!x)
		return;
	free(x->bat);
	free(x);
}

static int vhdx_open(struct vdisk_source *src, unsigned depth, void **state, struct vdisk_err *err)
{
	(void)depth;
	struct vhdx *x = calloc(1, sizeof *x);
	unsigned char *area = malloc(HEADER_AREA), *h = NULL;
	struct region bat = {0, 0}, meta = {0, 0};
	int e = -ENOMEM;
	if (!x || !area) {
		vdisk_fail(err, e, "out of memory");
		goto fail;
	}
	x->src = src;
	e = -EINVAL;
	if (src->size < HEADER_AREA) {
		vdisk_fail(err, e, "file of %llu bytes is too small for the VHDX headers",
			   (unsigned long long)src->size);
		goto fail;
	}
	/* Identifier, both headers and both region tables in one request. */
	e = src->pread(src, area, HEADER_AREA, 0);
	if (e < 0) {
		vdisk_fail(err, e, "cannot read the header area");
		goto fail;
	}
	e = -EINVAL;
	if (memcmp(area, "vhdxfile", 8)) {
		vdisk_fail(err, e, "no file identifier \"vhdxfile\" at offset 0");
		goto fail;
	}
	if ((e = pick_header(area, &h, err)) < 0)
		goto fail;
	e = -ENOTSUP;
	if (ld_le16(h + 66) != 1) {
		vdisk_fail(err, e, "header version %u is not supported (only 1)", ld_le16(h + 66));
		goto fail;
	}
	if (!zero_guid(h + 48)) {
		vdisk_fail(err, e, "log needs replaying (the image was not closed cleanly)");
		goto fail;
	}
	if ((e = read_regions(x, area, &bat, &meta, err)) < 0)
		goto fail;
	if ((e = parse_metadata(x, &meta, err)) < 0)
		goto fail;
	if ((e = read_bat(x, &bat, err)) < 0)
		goto fail;
	free(area);
	*state = x;
	return 0;
fail:
	free(area);
	vhdx_close(x);
	return e;
}

static bool reads_zero(unsigned st)
{
	return st != PAYLOAD_FULLY_PRESENT;
}

static uint64_t entry_of(const struct vhdx *x, uint64_t off)
{
	uint64_t b = off / x->block_size;
	return x->bat[b + b / x->chunk_ratio];
}

static int vhdx_status(void *state, uint64_t off, uint64_t len, uint64_t *pnum,
		       struct vdisk_err *err)
{
	(void)err;
	struct vhdx *x = state;
	bool zero = reads_zero(BAT_STATE(entry_of(x, off)));
	uint64_t n = x->block_size - off % x->block_size;
	while (n < len && reads_zero(BAT_STATE(entry_of(x, off + n))) == zero)
		n += x->block_size;
	*pnum = n < len ? n : len;
	return zero ? VDISK_ZERO : VDISK_DATA;
}

static int vhdx_read(void *state, void *buf, size_t len, uint64_t off, struct vdisk_err *err)
{
	struct vhdx *x = state;
	unsigned char *out = buf;
	while (len) {
		uint64_t e = entry_of(x, off), in = off % x->block_size;
		size_t n = x->block_size - in < len ? (size_t)(x->block_size - in) : len;
		if (reads_zero(BAT_STATE(e))) {
			memset(out, 0, n);
		} else {
			int r = x->src->pread(x->src, out, n, BAT_OFFSET(e) + in);
			if (r < 0)
				return vdisk_fail(err, r, "read of block %llu at 0x%llx failed",
						  (unsigned long long)(off / x->block_size),
						  (unsigned long long)(BAT_OFFSET(e) + in));
		}
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

static void add_kv(struct vdisk_info *info, const char *key, int is_number, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add_kv(struct vdisk_info *info, const char *key, int is_number, const char *fmt, ...)
{
	if (info->n_specific >= VDISK_MAX_KV)
		return;
	struct vdisk_kv *kv = &info->specific[info->n_specific++];
	snprintf(kv->key, sizeof kv->key, "%s", key);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(kv->value, sizeof kv->value, fmt, ap);
	va_end(ap);
	kv->is_number = is_number;
}

static void vhdx_info(void *state, struct vdisk_info *info)
{
	struct vhdx *x = state;
	const uint64_t *c = x->counts;
	info->virtual_size = x->size;
	info->cluster_size = x->block_size;
	add_kv(info, "subformat", 0, "%s", x->leave_allocated ? "fixed" : "dynamic");
	add_kv(info, "logical-sector-size", 1, "%u", x->logical_sector);
	add_kv(info, "physical-sector-size", 1, "%u", x->physical_sector);
	add_kv(info, "blocks", 0, "present=%llu zero=%llu not-present=%llu unmapped=%llu",
	       (unsigned long long)c[PAYLOAD_FULLY_PRESENT], (unsigned long long)c[PAYLOAD_ZERO],
	       (unsigned long long)c[PAYLOAD_NOT_PRESENT],
	       (unsigned long long)(c[PAYLOAD_UNMAPPED] + c[PAYLOAD_UNMAPPED_DRAFT] +
				    c[PAYLOAD_UNDEFINED]));
}

static int vhdx_init(const void *host)
{
	if (vdisk_check_host(host) < 0)
		return -ENOSYS;
	crc32c_init();
	return 0;
}

static const struct vdisk_format vhdx_format = {
	.name = "vhdx",
	.open = vhdx_open,
	.read = vhdx_read,
	.status = vhdx_status,
	.info = vhdx_info,
	.close = vhdx_close,
};

LM_MODULE("1.0", "Hyper-V VHDX images, fixed and dynamic", vhdx_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_FORMAT, "vhdx", &vhdx_format);
LM_PROBE_MAGIC(VDISK_KIND_FORMAT, "vhdx", 0, "vhdxfile", 100);
LM_PROBE_EXT(VDISK_KIND_FORMAT, "vhdx", "vhdx", 10);
