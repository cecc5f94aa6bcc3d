/* SPDX-License-Identifier: MIT */
/*
 * qcow2 - QEMU copy-on-write images, versions 2 and 3 (read only): the
 * two-level L1/L2 cluster map, with or without extended L2 entries
 * (subclusters), zero clusters, compressed clusters (deflate or zstd,
 * through a codec module fetched only when such a cluster is read), and
 * backing files opened through the host.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define LM_MODULE_NAME qcow2
#include <lazymod/module.h>

#include "../driver.h"

#define V2_HEADER_LEN 72
#define V3_HEADER_LEN 104
#define MIN_CLUSTER_BITS 9
#define MAX_CLUSTER_BITS 21 /* 2 MiB: the largest cluster qemu makes or opens */
#define MAX_L1_BYTES (32u << 20)
#define MAX_BACKING_NAME 1023

#define INCOMPAT_DIRTY (1ull << 0)
#define INCOMPAT_CORRUPT (1ull << 1)
#define INCOMPAT_DATA_FILE (1ull << 2)
#define INCOMPAT_COMPRESSION (1ull << 3)
#define INCOMPAT_EXTENDED_L2 (1ull << 4)
#define INCOMPAT_KNOWN 0x1full
#define COMPAT_LAZY_REFCOUNTS (1ull << 0)

#define HDR_EXT_END 0u
#define HDR_EXT_BACKING_FORMAT 0xe2792acau
#define HDR_EXT_FEATURE_NAMES 0x6803f857u
#define FEATURE_NAME_ENTRY 48

#define ENTRY_OFFSET 0x00fffffffffffe00ull /* bits 9-55 of L1 and L2 entries */
#define L2E_COMPRESSED (1ull << 62)
#define L2E_ZERO 1ull

#define COMPRESSION_ZLIB 0
#define COMPRESSION_ZSTD 1

/* L2 tables kept in memory: at most this, and less when the chain's
 * metadata budget runs short (at least one table, paid for at open). */
#define L2_CACHE_BYTES (8u << 20)
#define L2_CACHE_MIN 4
#define L2_CACHE_MAX 1024
/* Extents one status call looks at before answering with what it has. */
#define STATUS_MAX_STEPS 16384


struct l2slot {
	uint64_t off; /* host offset of the table; 0 when the slot is empty */
	uint64_t used;
	unsigned char *tab;
};

struct qcow2 {
	struct vdisk_source *src;
	uint32_t version;
	unsigned cluster_bits;
	uint64_t cluster_size;
	unsigned l2_bits; /* log2 of entries per L2 table */
	bool extended;
	uint64_t size;
	uint64_t *l1; /* host byte order */
	uint64_t l1_len;
	unsigned compression;

	/* for info */
	uint64_t incompat, compat;
	unsigned refcount_order;
	uint32_t header_len;
	char backing_file[MAX_BACKING_NAME + 1];
	char backing_format[32];

	struct vdisk_image *backing;
	uint64_t backing_size;

	struct l2slot *l2;
	unsigned l2_slots, l2_last;
	unsigned l2_paid; /* tables taken from the metadata budget */
	uint64_t l2_tick;

	const struct vdisk_codec *codec;
	unsigned char *cbuf; /* compressed bytes of one cluster */
	unsigned char *zbuf; /* the last cluster decompressed */
	uint64_t zkey;       /* its L2 entry; 0 when zbuf holds nothing */
};

/* What one guest range maps to. */
enum map_kind { MAP_UNALLOC, MAP_ZERO, MAP_DATA, MAP_COMPRESSED };
struct extent {
	enum map_kind kind;
	uint64_t len;
	uint64_t host; /* MAP_DATA: host offset of the first byte */
	uint64_t l2e;  /* MAP_COMPRESSED: the L2 entry */
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static int qcow2_init(const void *host)
{
	return vdisk_check_host(host);
}

/* ---- open: header, extensions, L1 table, backing file -------------------- */

/* The name the image's feature table gives an incompatible feature bit. */
static void feature_name(const unsigned char *tab, uint32_t tab_len, unsigned bit, char *out,
			 size_t out_len)
{
	snprintf(out, out_len, "unknown");
	for (uint32_t i = 0; tab && i + FEATURE_NAME_ENTRY <= tab_len; i += FEATURE_NAME_ENTRY) {
		if (tab[i] != 0 || tab[i + 1] != bit)
			continue;
		snprintf(out, out_len, "%.46s", (const char *)tab + i + 2);
		return;
	}
}

static int refuse_features(uint64_t bits, const unsigned char *tab, uint32_t tab_len,
			   struct vdisk_err *err)
{
	char list[200] = "", name[48];
	size_t n = 0;
	for (unsigned b = 0; b < 64; b++) {
		if (!(bits >> b & 1) || n >= sizeof list - 1)
			continue;
		feature_name(tab, tab_len, b, name, sizeof name);
		n += (size_t)snprintf(list + n, sizeof list - n, "%s%u (%s)", n ? ", " : "", b,
				      name);
	}
	return vdisk_fail(err, -ENOTSUP, "unsupported incompatible feature bits: %s", list);
}

/*
 * Walks the header extensions between the end of the header and `end`,
 * keeping the backing format name and the feature name table.
 */
static int parse_extensions(struct qcow2 *q, const unsigned char *hdr, uint64_t start,
			    uint64_t end, const unsigned char **names, uint32_t *names_len,
			    struct vdisk_err *err)
{
	uint64_t pos = start;
	while (pos + 8 <= end) {
		uint32_t type = ld_be32(hdr + pos), len = ld_be32(hdr + pos + 4);
		if (type == HDR_EXT_END)
			return 0;
		pos += 8;
		if (len > end - pos)
			return vdisk_fail(err, -EINVAL,
					  "header extension 0x%08x at %llu: length %u runs "
					  "past the header area (ends at %llu)",
					  type, (unsigned long long)pos - 8, len,
					  (unsigned long long)end);
		if (type == HDR_EXT_BACKING_FORMAT) {
			if (len >= sizeof q->backing_format)
				return vdisk_fail(err, -EINVAL,
						  "backing format name is %u bytes long (at most "
						  "%zu)",
						  len, sizeof q->backing_format - 1);
			memcpy(q->backing_format, hdr + pos, len);
			q->backing_format[len] = 0;
			if (strlen(q->backing_format) != len)
				return vdisk_fail(err, -EINVAL,
						  "backing format name contains a NUL byte");
		} else if (type == HDR_EXT_FEATURE_NAMES) {
			*names = hdr + pos;
			*names_len = len;
		}
		/* Padded to a multiple of 8 (the padding may be cut by `end`). */
		pos += ((uint64_t)len + 7) & ~7ull;
	}
	return 0;
}

static int parse_backing_name(struct qcow2 *q, const unsigned char *hdr, uint64_t hdr_len,
			      struct vdisk_err *err)
{
	uint64_t off = ld_be64(hdr + 8);
	uint32_t len = ld_be32(hdr + 16);
	if (!off)
		return 0;
	if (len == 0 || len > MAX_BACKING_NAME)
		return vdisk_fail(err, -EINVAL, "backing file name length %u (must be 1..%u)", len,
				  MAX_BACKING_NAME);
	if (off > hdr_len || len > hdr_len - off)
		return vdisk_fail(err, -EINVAL,
				  "backing file name at %llu (%u bytes) lies outside the header "
				  "cluster (%llu bytes)",
				  (unsigned long long)off, len, (unsigned long long)hdr_len);
	memcpy(q->backing_file, hdr + off, len);
	q->backing_file[len] = 0;
	if (strlen(q->backing_file) != len)
		return vdisk_fail(err, -EINVAL, "backing file name contains a NUL byte");
	return 0;
}

/* Version 3 fields: feature bits, refcount order, header length, compression. */
static int parse_v3(struct qcow2 *q, const unsigned char *hdr, uint64_t hdr_len,
		    struct vdisk_err *err)
{
	q->incompat = ld_be64(hdr + 72);
	q->compat = ld_be64(hdr + 80);
	q->refcount_order = ld_be32(hdr + 96);
	q->header_len = ld_be32(hdr + 100);
	if (q->header_len < V3_HEADER_LEN || q->header_len % 8 || q->header_len > hdr_len)
		return vdisk_fail(err, -EINVAL,
				  "header_length %u invalid (a multiple of 8, at least %u, within "
				  "the first cluster of %llu bytes)",
				  q->header_len, V3_HEADER_LEN, (unsigned long long)hdr_len);
	if (q->refcount_order > 6)
		return vdisk_fail(err, -EINVAL, "refcount_order %u invalid (at most 6)",
				  q->refcount_order);
	unsigned type = q->header_len > V3_HEADER_LEN ? hdr[104] : COMPRESSION_ZLIB;
	if (!(q->incompat & INCOMPAT_COMPRESSION) && type != COMPRESSION_ZLIB)
		return vdisk_fail(err, -EINVAL,
				  "compression_type %u set without incompatible feature bit 3",
				  type);
	if ((q->incompat & INCOMPAT_COMPRESSION) && type == COMPRESSION_ZLIB)
		return vdisk_fail(err, -EINVAL,
				  "incompatible feature bit 3 (compression type) set but "
				  "compression_type is zlib or absent");
	if (type != COMPRESSION_ZLIB && type != COMPRESSION_ZSTD)
		return vdisk_fail(err, -ENOTSUP, "unsupported compression_type %u", type);
	q->compression = type;
	return 0;
}

/* Refuses what this reader must not read as if it understood it. */
static int check_features(struct qcow2 *q, uint32_t crypt, const unsigned char *names,
			  uint32_t names_len, struct vdisk_err *err)
{
	if (crypt)
		return vdisk_fail(err, -ENOTSUP,
				  "encrypted image (crypt_method %u, %s) not supported", crypt,
				  crypt == 1 ? "AES" : crypt == 2 ? "LUKS" : "unknown");
	if (q->incompat & ~INCOMPAT_KNOWN)
		return refuse_features(q->incompat & ~INCOMPAT_KNOWN, names, names_len, err);
	if (q->incompat & INCOMPAT_CORRUPT)
		return vdisk_fail(err, -EUCLEAN,
				  "image is marked corrupt (incompatible feature bit 1); repair it "
				  "with qemu-img check -r");
	if (q->incompat & INCOMPAT_DATA_FILE)
		return vdisk_fail(err, -ENOTSUP,
				  "external data file (incompatible feature bit 2) not supported");
	if (q->incompat & INCOMPAT_EXTENDED_L2) {
		if (q->cluster_bits < 14)
			return vdisk_fail(err, -EINVAL,
					  "extended L2 entries need clusters of at least 16 KiB "
					  "(cluster_bits %u)",
					  q->cluster_bits);
		q->extended = true;
	}
	return 0;
}

static int load_l1(struct qcow2 *q, const unsigned char *hdr, struct vdisk_err *err)
{
	uint32_t l1_size = ld_be32(hdr + 36);
	uint64_t l1_off = ld_be64(hdr + 40);
	unsigned span_bits = q->cluster_bits + q->l2_bits; /* guest bytes per L1 entry */
	uint64_t need = (q->size >> span_bits) + !!(q->size & ((1ull << span_bits) - 1));
	uint64_t end;

	if (l1_size > MAX_L1_BYTES / 8)
		return vdisk_fail(err, -EFBIG, "L1 table size %u entries too large (at most %u)",
				  l1_size, MAX_L1_BYTES / 8);
	if (need > MAX_L1_BYTES / 8)
		return vdisk_fail(err, -EFBIG,
				  "virtual size %llu needs %llu L1 entries (at most %u supported)",
				  (unsigned long long)q->size, (unsigned long long)need,
				  MAX_L1_BYTES / 8);
	if (l1_size < need)
		return vdisk_fail(err, -EINVAL,
				  "L1 table too small: %u entries for virtual size %llu (needs "
				  "%llu)",
				  l1_size, (unsigned long long)q->size, (unsigned long long)need);
	q->l1_len = need;
	if (!need)
		return 0;
	if (l1_off & (q->cluster_size - 1))
		return vdisk_fail(err, -EINVAL, "L1 table offset 0x%llx not aligned to a cluster",
				  (unsigned long long)l1_off);
	if (add_u64(l1_off, need * 8, &end) || end > q->src->size)
		return vdisk_fail(err, -EINVAL,
				  "L1 table at 0x%llx (%llu entries) beyond end of file (size "
				  "%llu)",
				  (unsigned long long)l1_off, (unsigned long long)need,
				  (unsigned long long)q->src->size);
	int e = vdisk_meta_reserve(q->src, need * 8, err);
	if (e < 0)
		return e;
	q->l1 = malloc(need * 8);
	if (!q->l1)
		return vdisk_fail(err, -ENOMEM, "out of memory for the L1 table");
	e = q->src->pread(q->src, q->l1, need * 8, l1_off);
	if (e < 0)
		return vdisk_fail(err, e, "reading the L1 table at 0x%llx failed",
				  (unsigned long long)l1_off);
	for (uint64_t i = 0; i < need; i++)
		q->l1[i] = ld_be64(&q->l1[i]);
	return 0;
}

/*
 * Names the backing file in an error from down the chain. Only the deepest
 * qcow2 layer adds its name: prefixes from every layer of a long chain
 * would push the cause out of the message.
 */
static int blame_backing(struct qcow2 *q, int code, struct vdisk_err *err)
{
	char why[VDISK_ERRLEN];
	if (!strncmp(err->msg, "backing file ", 13))
		return code;
	snprintf(why, sizeof why, "%s", err->msg);
	return vdisk_fail(err, code, "backing file %s: %s", q->backing_file, why);
}

static int open_backing(struct qcow2 *q, unsigned depth, struct vdisk_err *err)
{
	const char *fmt = q->backing_format[0] ? q->backing_format : NULL;
	int e = q->src->svc->open_backing(q->src, q->backing_file, fmt, depth + 1, &q->backing, err);
	if (e < 0)
		return blame_backing(q, e, err);
	q->backing_size = q->src->svc->image_size(q->backing);
	return 0;
}

static void qcow2_close(void *state)
{
	struct qcow2 *q = state;
	if (!q)
		return;
	if (q->backing)
		q->src->svc->image_close(q->backing);
	for (unsigned i = 0; q->l2 && i < q->l2_slots; i++)
		free(q->l2[i].tab);
	free(q->l2);
	free(q->l1);
	free(q->cbuf);
	free(q->zbuf);
	free(q);
}

static int parse(struct qcow2 *q, unsigned depth, struct vdisk_err *err)
{
	struct vdisk_source *src = q->src;
	unsigned char fixed[V2_HEADER_LEN];
	int e;

	if (src->size < V2_HEADER_LEN)
		return vdisk_fail(err, -EINVAL, "file too small for a qcow2 header (%llu bytes)",
				  (unsigned long long)src->size);
	e = src->pread(src, fixed, sizeof fixed, 0);
	if (e < 0)
		return vdisk_fail(err, e, "reading the header failed");
	if (memcmp(fixed, "QFI\xfb", 4))
		return vdisk_fail(err, -EINVAL, "bad magic: not a qcow2 image");
	q->version = ld_be32(fixed + 4);
	if (q->version != 2 && q->version != 3)
		return vdisk_fail(err, -ENOTSUP, "unsupported qcow version %u (2 and 3 are read)",
				  q->version);
	q->cluster_bits = ld_be32(fixed + 20);
	if (q->cluster_bits < MIN_CLUSTER_BITS || q->cluster_bits > MAX_CLUSTER_BITS)
		return vdisk_fail(err, -ENOTSUP, "cluster_bits %u out of range (%u..%u)",
				  q->cluster_bits, MIN_CLUSTER_BITS, MAX_CLUSTER_BITS);
	q->cluster_size = 1ull << q->cluster_bits;
	q->size = ld_be64(fixed + 24);

	/* The header, its extensions and the backing file name share cluster 0. */
	uint64_t hdr_len = min_u64(q->cluster_size, src->size);
	unsigned char *hdr = malloc(hdr_len);
	if (!hdr)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	e = src->pread(src, hdr, hdr_len, 0);
	if (e < 0) {
		free(hdr);
		return vdisk_fail(err, e, "reading the header cluster failed");
	}

	const unsigned char *names = NULL;
	uint32_t names_len = 0;
	q->refcount_order = 4;
	q->header_len = V2_HEADER_LEN;
	e = 0;
	if (q->version == 3) {
		if (hdr_len < V3_HEADER_LEN)
			e = vdisk_fail(err, -EINVAL, "file too small for a version 3 header");
		else
			e = parse_v3(q, hdr, hdr_len, err);
	}
	if (!e) {
		/* Extensions end where the backing file name starts, if that is sooner. */
		uint64_t ext_end = hdr_len, bf = ld_be64(hdr + 8);
		if (bf > q->header_len && bf < ext_end)
			ext_end = bf;
		e = parse_extensions(q, hdr, q->header_len, ext_end, &names, &names_len, err);
	}
	if (!e)
		e = check_features(q, ld_be32(hdr + 32), names, names_len, err);
	if (!e)
		e = parse_backing_name(q, hdr, hdr_len, err);
	if (!e) {
		q->l2_bits = q->cluster_bits - (q->extended ? 4 : 3);
		e = load_l1(q, hdr, err);
	}
	free(hdr);
	if (e)
		return e;

	q->l2_slots = (unsigned)min_u64(L2_CACHE_BYTES >> q->cluster_bits, L2_CACHE_MAX);
	if (q->l2_slots < L2_CACHE_MIN)
		q->l2_slots = L2_CACHE_MIN;
	q->l2 = calloc(q->l2_slots, sizeof *q->l2);
	if (!q->l2)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	if ((e = vdisk_meta_reserve(src, q->cluster_size, err)) < 0)
		return e;
	q->l2_paid = 1;
	if (q->backing_file[0])
		return open_backing(q, depth, err);
	return 0;
}

static int qcow2_open(struct vdisk_source *src, unsigned depth, void **state, struct vdisk_err *err)
{
	if (!src->svc)
		return vdisk_fail(err, -EINVAL, "qcow2: a source without its host");
	struct qcow2 *q = calloc(1, sizeof *q);
	if (!q)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	q->src = src;
	int e = parse(q, depth, err);
	if (e < 0) {
		qcow2_close(q);
		return e;
	}
	*state = q;
	return 0;
}

/* ---- the cluster map ---------------------------------------------------- */

static int load_l2(struct qcow2 *q, uint64_t l1i, const unsigned char **tab,
		   struct vdisk_err *err)
{
	uint64_t off = q->l1[l1i] & ENTRY_OFFSET, end;
	struct l2slot *s = &q->l2[q->l2_last];

	if (s->off == off)
		goto hit;
	for (unsigned i = 0; i < q->l2_slots; i++) {
		if (q->l2[i].off == off) {
			q->l2_last = i;
			s = &q->l2[i];
			goto hit;
		}
	}
	if (off & (q->cluster_size - 1))
		return vdisk_fail(err, -EINVAL,
				  "L2 table offset 0x%llx (L1 entry %llu) not aligned to a cluster",
				  (unsigned long long)off, (unsigned long long)l1i);
	if (add_u64(off, q->cluster_size, &end) || end > q->src->size)
		return vdisk_fail(err, -EINVAL,
				  "L2 table offset 0x%llx (L1 entry %llu) beyond end of file (size "
				  "%llu)",
				  (unsigned long long)off, (unsigned long long)l1i,
				  (unsigned long long)q->src->size);
	/* Empty slots come first, and fill in order: the tables are a prefix. */
	unsigned victim = 0;
	for (unsigned i = 1; i < q->l2_slots; i++)
		if (q->l2[i].used < q->l2[victim].used)
			victim = i;
	if (!q->l2[victim].tab && victim >= q->l2_paid) {
		struct vdisk_err spare;
		if (vdisk_meta_reserve(q->src, q->cluster_size, &spare) == 0) {
			q->l2_paid++;
		} else {
			/* The budget is spent: the cache keeps the tables it has. */
			q->l2_slots = victim;
			victim = 0;
			for (unsigned i = 1; i < q->l2_slots; i++)
				if (q->l2[i].used < q->l2[victim].used)
					victim = i;
		}
	}
	s = &q->l2[victim];
	if (!s->tab && !(s->tab = malloc(q->cluster_size)))
		return vdisk_fail(err, -ENOMEM, "out of memory for an L2 table");
	s->off = 0;
	int e = q->src->pread(q->src, s->tab, q->cluster_size, off);
	if (e < 0)
		return vdisk_fail(err, e, "reading the L2 table at 0x%llx failed",
				  (unsigned long long)off);
	s->off = off;
	q->l2_last = victim;
hit:
	s->used = ++q->l2_tick;
	*tab = s->tab;
	return 0;
}

static int check_host(struct qcow2 *q, uint64_t host, uint64_t cluster, struct vdisk_err *err)
{
	if (host & (q->cluster_size - 1))
		return vdisk_fail(err, -EINVAL,
				  "data cluster offset 0x%llx (guest cluster %llu) not aligned "
				  "to a cluster",
				  (unsigned long long)host, (unsigned long long)cluster);
	if (host >= q->src->size)
		return vdisk_fail(err, -EINVAL,
				  "data cluster offset 0x%llx (guest cluster %llu) beyond end of "
				  "file (size %llu)",
				  (unsigned long long)host, (unsigned long long)cluster,
				  (unsigned long long)q->src->size);
	return 0;
}

static enum map_kind subcluster_kind(uint32_t alloc, uint32_t zero, unsigned i)
{
	return alloc >> i & 1 ? MAP_DATA : zero >> i & 1 ? MAP_ZERO : MAP_UNALLOC;
}

/* Extended L2 entry: the run of subclusters that share the state of `in`'s. */
static int map_subclusters(struct qcow2 *q, const unsigned char *ent, uint64_t cluster,
			   uint64_t in, struct extent *x, struct vdisk_err *err)
{
	uint64_t host = ld_be64(ent) & ENTRY_OFFSET, bitmap = ld_be64(ent + 8);
	uint32_t alloc = (uint32_t)bitmap, zero = (uint32_t)(bitmap >> 32);
	unsigned sc_bits = q->cluster_bits - 5, i = (unsigned)(in >> sc_bits), j;

	if (alloc & zero)
		return vdisk_fail(err, -EINVAL,
				  "guest cluster %llu: subclusters both allocated and zero (bitmap "
				  "0x%016llx)",
				  (unsigned long long)cluster, (unsigned long long)bitmap);
	if (alloc && !host)
		return vdisk_fail(err, -EINVAL,
				  "guest cluster %llu: allocated subclusters but no host offset",
				  (unsigned long long)cluster);
	if (alloc) {
		int e = check_host(q, host, cluster, err);
		if (e < 0)
			return e;
	}
	x->kind = subcluster_kind(alloc, zero, i);
	for (j = i + 1; j < 32 && subcluster_kind(alloc, zero, j) == x->kind; j++)
		;
	x->len = ((uint64_t)j << sc_bits) - in;
	x->host = host + in;
	return 0;
}

/* Maps guest offset off (below the virtual size) to an extent of at most max bytes. */
static int map(struct qcow2 *q, uint64_t off, uint64_t max, struct extent *x,
	       struct vdisk_err *err)
{
	uint64_t cluster = off >> q->cluster_bits, in = off & (q->cluster_size - 1);
	uint64_t l1i = cluster >> q->l2_bits;
	size_t l2i = (size_t)(cluster & ((1ull << q->l2_bits) - 1));
	const unsigned char *tab = NULL;
	int e;

	memset(x, 0, sizeof *x);
	if (!(q->l1[l1i] & ENTRY_OFFSET)) {
		/* No L2 table: everything it would map is unallocated. */
		uint64_t end = (l1i + 1) << (q->l2_bits + q->cluster_bits);
		x->kind = MAP_UNALLOC;
		x->len = min_u64(max, end - off);
		return 0;
	}
	e = load_l2(q, l1i, &tab, err);
	if (e < 0)
		return e;
	const unsigned char *ent = tab + (l2i << (q->extended ? 4 : 3));
	uint64_t l2e = ld_be64(ent), host = l2e & ENTRY_OFFSET;
	if (l2e & L2E_COMPRESSED) {
		if (q->extended && ld_be64(ent + 8))
			return vdisk_fail(err, -EINVAL,
					  "guest cluster %llu: compressed cluster with a "
					  "subcluster bitmap",
					  (unsigned long long)cluster);
		x->kind = MAP_COMPRESSED;
		x->l2e = l2e;
		x->len = q->cluster_size - in;
	} else if (q->extended) {
		e = map_subclusters(q, ent, cluster, in, x, err);
		if (e < 0)
			return e;
	} else if (l2e & L2E_ZERO) {
		/* Version 2 reserves the bit; qemu honours it there too. */
		x->kind = MAP_ZERO;
		x->len = q->cluster_size - in;
	} else if (!host) {
		x->kind = MAP_UNALLOC;
		x->len = q->cluster_size - in;
	} else {
		e = check_host(q, host, cluster, err);
		if (e < 0)
			return e;
		x->kind = MAP_DATA;
		x->host = host + in;
		x->len = q->cluster_size - in;
	}
	x->len = min_u64(x->len, max);
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* Host bytes; a cluster's tail past the end of the file reads as zeros. */
static int read_host(struct qcow2 *q, unsigned char *buf, uint64_t len, uint64_t host,
		     struct vdisk_err *err)
{
	uint64_t n = host < q->src->size ? min_u64(len, q->src->size - host) : 0;
	if (n) {
		int e = q->src->pread(q->src, buf, n, host);
		if (e < 0)
			return vdisk_fail(err, e, "read of %llu bytes at 0x%llx failed",
					  (unsigned long long)n, (unsigned long long)host);
	}
	memset(buf + n, 0, len - n);
	return 0;
}

/* Unallocated guest bytes: from the backing file where it reaches, else zeros. */
static int read_backing(struct qcow2 *q, unsigned char *buf, uint64_t len, uint64_t off,
			struct vdisk_err *err)
{
	uint64_t n = q->backing && off < q->backing_size ? min_u64(len, q->backing_size - off) : 0;
	if (n) {
		int e = q->src->svc->image_read(q->backing, buf, n, off, err);
		if (e < 0)
			return blame_backing(q, e, err);
	}
	memset(buf + n, 0, len - n);
	return 0;
}

static int inflate_cluster(struct qcow2 *q, uint64_t l2e, struct vdisk_err *err)
{
	unsigned x = 70 - q->cluster_bits; /* 62 - (cluster_bits - 8) */
	uint64_t coff = l2e & ((1ull << x) - 1);
	uint64_t sectors = (l2e >> x & ((1ull << (q->cluster_bits - 8)) - 1)) + 1;
	uint64_t clen = sectors * 512 - (coff & 511);
	const char *name = q->compression == COMPRESSION_ZSTD ? "zstd" : "deflate";
	int e;

	if (coff >> 56)
		return vdisk_fail(err, -EINVAL, "compressed cluster offset 0x%llx beyond 56 bits",
				  (unsigned long long)coff);
	if (coff >= q->src->size)
		return vdisk_fail(err, -EINVAL,
				  "compressed cluster offset 0x%llx beyond end of file (size %llu)",
				  (unsigned long long)coff, (unsigned long long)q->src->size);
	/* The last sector may run past the end of the file: the stream ends sooner. */
	clen = min_u64(clen, q->src->size - coff);
	if (!q->codec) {
		e = q->src->svc->codec(q->src, name, &q->codec, err);
		if (e < 0)
			return e;
	}
	if (!q->cbuf && !(q->cbuf = malloc(2 * q->cluster_size)))
		return vdisk_fail(err, -ENOMEM, "out of memory");
	if (!q->zbuf && !(q->zbuf = malloc(q->cluster_size)))
		return vdisk_fail(err, -ENOMEM, "out of memory");
	q->zkey = 0;
	e = q->src->pread(q->src, q->cbuf, clen, coff);
	if (e < 0)
		return vdisk_fail(err, e, "read of compressed cluster at 0x%llx failed",
				  (unsigned long long)coff);
	long n = q->codec->decompress(q->cbuf, clen, q->zbuf, q->cluster_size);
	if (n == -EINVAL)
		return vdisk_fail(err, -EINVAL,
				  "compressed cluster at 0x%llx (%llu bytes): corrupt %s data",
				  (unsigned long long)coff, (unsigned long long)clen, name);
	if (n < 0)
		return vdisk_fail(err, (int)n,
				  "compressed cluster at 0x%llx: %s decompression failed: %s",
				  (unsigned long long)coff, name, strerror((int)-n));
	if ((uint64_t)n != q->cluster_size)
		return vdisk_fail(err, -EINVAL,
				  "compressed cluster at 0x%llx (%llu bytes): corrupt %s data "
				  "(decompresses to %ld of %llu bytes)",
				  (unsigned long long)coff, (unsigned long long)clen, name, n,
				  (unsigned long long)q->cluster_size);
	q->zkey = l2e;
	return 0;
}

static int read_compressed(struct qcow2 *q, const struct extent *x, unsigned char *buf,
			   uint64_t off, struct vdisk_err *err)
{
	if (q->zkey != x->l2e) {
		int e = inflate_cluster(q, x->l2e, err);
		if (e < 0)
			return e;
	}
	memcpy(buf, q->zbuf + (off & (q->cluster_size - 1)), x->len);
	return 0;
}

/* Extents gathered into one request: adjacent host data, zeros, or backing. */
struct run {
	enum map_kind kind;
	uint64_t off, host, len;
	unsigned char *buf;
};

static int flush(struct qcow2 *q, struct run *r, struct vdisk_err *err)
{
	int e = 0;
	if (!r->len)
		return 0;
	if (r->kind == MAP_DATA)
		e = read_host(q, r->buf, r->len, r->host, err);
	else if (r->kind == MAP_ZERO)
		memset(r->buf, 0, r->len);
	else
		e = read_backing(q, r->buf, r->len, r->off, err);
	r->len = 0;
	return e;
}

static int qcow2_read(void *state, void *buf, size_t len, uint64_t off, struct vdisk_err *err)
{
	struct qcow2 *q = state;
	unsigned char *p = buf;
	struct run r = {.len = 0};
	int e;

	if (off > q->size || len > q->size - off)
		return vdisk_fail(err, -EINVAL, "read of %zu bytes at %llu beyond the virtual size",
				  len, (unsigned long long)off);
	while (len) {
		struct extent x;
		e = map(q, off, len, &x, err);
		if (e < 0)
			return e;
		if (r.len && x.kind == r.kind && x.kind != MAP_COMPRESSED &&
		    (x.kind != MAP_DATA || r.host + r.len == x.host)) {
			r.len += x.len;
		} else {
			e = flush(q, &r, err);
			if (e < 0)
				return e;
			if (x.kind == MAP_COMPRESSED) {
				e = read_compressed(q, &x, p, off, err);
				if (e < 0)
					return e;
			} else {
				r = (struct run){x.kind, off, x.host, x.len, p};
			}
		}
		p += x.len;
		off += x.len;
		len -= x.len;
	}
	return flush(q, &r, err);
}

static int qcow2_status(void *state, uint64_t off, uint64_t len, uint64_t *pnum,
			struct vdisk_err *err)
{
	struct qcow2 *q = state;
	uint64_t done = 0;
	int status = -1;

	if (off >= q->size || !len)
		return vdisk_fail(err, -EINVAL, "status at %llu beyond the virtual size",
				  (unsigned long long)off);
	len = min_u64(len, q->size - off);
	for (unsigned step = 0; done < len && step < STATUS_MAX_STEPS; step++) {
		uint64_t at = off + done;
		struct extent x;
		int s, e = map(q, at, len - done, &x, err);
		if (e < 0) {
			if (done)
				break; /* report what is known; the error comes back next call */
			return e;
		}
		if (x.kind == MAP_ZERO) {
			s = VDISK_ZERO;
		} else if (x.kind != MAP_UNALLOC) {
			s = VDISK_DATA;
		} else if (q->backing && at < q->backing_size) {
			s = VDISK_DATA;
			x.len = min_u64(x.len, q->backing_size - at);
		} else {
			s = VDISK_ZERO;
		}
		if (status >= 0 && s != status)
			break;
		status = s;
		done += x.len;
	}
	*pnum = done;
	return status;
}

/* ---- info --------------------------------------------------------------- */


static void qcow2_info(void *state, struct vdisk_info *info)
{
	struct qcow2 *q = state;
	const char *ctype = q->compression == COMPRESSION_ZSTD ? "zstd" : "zlib";
	char num[24];

	info->virtual_size = q->size;
	info->cluster_size = q->cluster_size;
	snprintf(info->backing_file, sizeof info->backing_file, "%s", q->backing_file);
	snprintf(info->backing_format, sizeof info->backing_format, "%s", q->backing_format);
	/* Only what the header states: v3 headers long enough to hold the field. */
	if (q->version >= 3 && q->header_len > V3_HEADER_LEN)
		snprintf(info->compression, sizeof info->compression, "%s", ctype);

	/* The keys and order of qemu-img's format-specific data. */
	vdisk_add_kv(info, "compat", q->version == 2 ? "0.10" : "1.1", 0);
	vdisk_add_kv(info, "compression-type", ctype, 0);
	if (q->version >= 3)
		vdisk_add_kv(info, "lazy-refcounts",
		       q->compat & COMPAT_LAZY_REFCOUNTS ? "true" : "false", 1);
	snprintf(num, sizeof num, "%u", 1u << q->refcount_order);
	vdisk_add_kv(info, "refcount-bits", num, 1);
	if (q->version >= 3) {
		vdisk_add_kv(info, "corrupt", q->incompat & INCOMPAT_CORRUPT ? "true" : "false", 1);
		vdisk_add_kv(info, "extended-l2", q->extended ? "true" : "false", 1);
	}
}

static const struct vdisk_format qcow2_format = {
	.name = "qcow2",
	.open = qcow2_open,
	.read = qcow2_read,
	.status = qcow2_status,
	.info = qcow2_info,
	.close = qcow2_close,
};

LM_MODULE("1.0", "QEMU copy-on-write images, versions 2 and 3", qcow2_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_FORMAT, "qcow2", &qcow2_format);
/* The magic, then a big-endian version of 2 or 3 (qcow version 1 shares the magic). */
LM_PROBE_MAGIC_MASK(VDISK_KIND_FORMAT, "qcow2", 0, "QFI\xfb\0\0\0\x02",
		    "\xff\xff\xff\xff\xff\xff\xff\xfe", 100);
LM_PROBE_EXT(VDISK_KIND_FORMAT, "qcow2", "qcow2", 10);
