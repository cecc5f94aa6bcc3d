/* SPDX-License-Identifier: MIT */
/*
 * vmdk - VMware virtual disks: hosted sparse extents ("KDMV" header, grain
 * directory and grain tables, optionally deflate-compressed grains with
 * markers as in streamOptimized), and text descriptors that assemble a disk
 * from FLAT, SPARSE and ZERO extents (monolithicFlat, twoGbMaxExtent*).
 *
 * A descriptor names its extent files relative to its own directory; the
 * host opens them (the open_file service), as it opens the descriptor, so
 * that it knows every file read and applies the same checks to each.
 */
#include <errno.h>
#include <stdlib.h>

#define LM_MODULE_NAME vmdk
#include <lazymod/module.h>

#include "../driver.h"

#define SECTOR 512u
#define GD_AT_END UINT64_MAX
#define MAX_EXTENTS 1024
#define MAX_DESC (64u << 10)
#define MAX_META (256ull << 20)	      /* a grain directory; the caches of all extents */
#define MAX_SECTORS (1ull << 54)      /* keeps every byte offset well inside 64 bits */
#define MAX_GRAIN_SECTORS 0x200000ull /* 1 GiB grains, as far as any tool goes */
#define MAX_ZGRAIN_SECTORS 0x8000ull  /* 16 MiB: compressed grains are buffered whole */
#define MAX_GTES 512u
#define GT_SLOTS 16
/* The grain directory is read in pages, on demand, into a cache of
 * GD_SLOTS pages: a huge sparse directory costs what is looked up. */
#define GD_PAGE 1024u
#define GD_SLOTS 16u

/* Header flags. */
#define F_NL_CHECK (1u << 0)
#define F_COMPRESSED (1u << 16)
#define F_MARKERS (1u << 17)

/* Marker types of stream-optimized extents. */
#define MARKER_EOS 0
#define MARKER_FOOTER 3

/* Grain table entry meaning "this grain reads as zeros". */
#define GTE_ZERO 1

enum ext_type { EXT_FLAT, EXT_SPARSE, EXT_ZERO };
enum ext_access { ACC_RW, ACC_RDONLY, ACC_NOACCESS };
enum grain_class { G_UNALLOC, G_ZERO, G_DATA };


/* An extent file the host opened for us, beside the descriptor. */
struct xfile {
	struct vdisk_source *src; /* the host's; close_file gives it back */
	char *fname;		  /* as the descriptor names it */
};

struct extent {
	enum ext_type type;
	uint64_t start, len; /* guest bytes */
	struct vdisk_source *src;
	const char *fname;
	uint64_t flat_off; /* FLAT: bytes into the file */
	/* SPARSE */
	uint64_t grain; /* bytes */
	uint32_t ngte;
	unsigned version;
	int compressed, markers;
	uint64_t gd_pos, ngd;	    /* the directory: bytes into the file, entries */
	uint32_t *gdc;		    /* gd_slots cached pages of it */
	unsigned gd_slots;
	uint64_t gdc_tag[GD_SLOTS]; /* page index + 1, 0 when empty */
	uint32_t *gtc;		    /* GT_SLOTS cached grain tables */
	uint64_t gtc_tag[GT_SLOTS]; /* directory index + 1, 0 when empty */
};

/* What a descriptor says. */
struct dext {
	enum ext_access access;
	enum ext_type type;
	uint64_t sectors, offset;
	char *fname;
	unsigned line;
};

struct desc {
	char create_type[64];
	char parent[1024];
	uint32_t cid, pcid;
	int have_ct, have_cid, have_pcid, have_version, have_parent;
	struct dext *ext;
	unsigned next;
};

struct vmdk {
	struct vdisk_source *src;
	struct extent *ext;
	unsigned next;
	struct xfile *files;
	unsigned nfiles;
	uint64_t size, meta;
	char create_type[64];
	char parent[1024];
	uint32_t cid, pcid;
	int have_cid, have_pcid;
	struct vdisk_image *backing;
	uint64_t backing_size;
	const struct vdisk_codec *codec;
	/* The last grain we inflated, kept for the reads that follow. */
	uint8_t *zin, *zout;
	size_t zin_len, zout_len;
	const struct extent *zext;
	uint64_t zidx;
	unsigned last; /* extent of the last lookup */
};

/* ---- extent files ------------------------------------------------------ */

/*
 * The extent file fname, beside the descriptor: opened once, through the
 * host (open_file), which resolves the name, refuses one that leaves the
 * descriptor's directory, and so knows every file this image reads.
 */
static int open_extent_file(struct vmdk *v, const char *fname, struct vdisk_source **out,
			    struct vdisk_err *err)
{
	for (unsigned i = 0; i < v->nfiles; i++)
		if (!strcmp(v->files[i].fname, fname)) {
			*out = v->files[i].src;
			return 0;
		}
	struct xfile *files = realloc(v->files, (v->nfiles + 1) * sizeof *files);
	if (!files)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	v->files = files;
	struct xfile *f = &files[v->nfiles];
	if (!(f->fname = strdup(fname)))
		return vdisk_fail(err, -ENOMEM, "out of memory");
	int r = v->src->svc->open_file(v->src, fname, &f->src, err);
	if (r < 0) {
		free(f->fname);
		return r;
	}
	v->nfiles++;
	*out = f->src;
	return 0;
}

/* ---- descriptor ------------------------------------------------------- */

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *skip_blank(char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

/* A decimal number below `max`; advances *pp past it. */
static int parse_dec(char **pp, uint64_t max, uint64_t *out)
{
	char *p = *pp;
	uint64_t n = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if (mul_u64(n, 10, &n) || add_u64(n, (uint64_t)(*p - '0'), &n) || n > max)
			return -1;
	*pp = p;
	*out = n;
	return 0;
}

static int parse_cid(const char *s, uint32_t *out)
{
	uint32_t n = 0;
	size_t i = 0;
	for (; s[i]; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16u;
		if (d > 15 || i >= 8)
			return -1;
		n = n << 4 | d;
	}
	if (!i)
		return -1;
	*out = n;
	return 0;
}

/* The next word of capital letters, for access modes and extent types. */
static size_t word_len(const char *p)
{
	size_t n = 0;
	while (p[n] >= 'A' && p[n] <= 'Z')
		n++;
	return n;
}

static int word_is(const char *p, size_t n, const char *w)
{
	return strlen(w) == n && !memcmp(p, w, n);
}

/* "ACCESS SIZE TYPE ["FILE" [OFFSET]]" */
static int parse_extent(struct desc *d, char *p, unsigned line, struct vdisk_err *err)
{
	struct dext x = {.line = line};
	size_t n = word_len(p);
	if (word_is(p, n, "RW"))
		x.access = ACC_RW;
	else if (word_is(p, n, "RDONLY"))
		x.access = ACC_RDONLY;
	else
		x.access = ACC_NOACCESS;
	p = skip_blank(p + n);
	if (parse_dec(&p, MAX_SECTORS, &x.sectors) < 0 || !is_blank(*p))
		return vdisk_fail(err, -EINVAL,
				  "descriptor line %u: extent size is not a number "
				  "of sectors below 2^54",
				  line);
	if (!x.sectors)
		return vdisk_fail(err, -EINVAL, "descriptor line %u: extent of 0 sectors", line);
	p = skip_blank(p);
	n = word_len(p);
	const char *type = p;
	if (word_is(p, n, "FLAT") || word_is(p, n, "VMFS"))
		x.type = EXT_FLAT;
	else if (word_is(p, n, "SPARSE"))
		x.type = EXT_SPARSE;
	else if (word_is(p, n, "ZERO"))
		x.type = EXT_ZERO;
	else if (word_is(p, n, "VMFSSPARSE") || word_is(p, n, "SESPARSE") ||
		 word_is(p, n, "VMFSRDM") || word_is(p, n, "VMFSRAW"))
		return vdisk_fail(err, -ENOTSUP,
				  "descriptor line %u: extent type %.*s is not supported", line,
				  (int)n, type);
	else
		return vdisk_fail(err, -EINVAL, "descriptor line %u: unknown extent type \"%.*s\"",
				  line, (int)strcspn(type, " \t"), type);
	p = skip_blank(p + n);
	if (*p == '"') {
		char *end = strchr(p + 1, '"');
		if (!end || end == p + 1 || end - p - 1 > 1023)
			return vdisk_fail(err, -EINVAL,
					  "descriptor line %u: extent file name is "
					  "empty, unterminated or too long",
					  line);
		for (char *c = p + 1; c < end; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return vdisk_fail(err, -EINVAL,
						  "descriptor line %u: control "
						  "character in extent file name",
						  line);
		*end = 0;
		x.fname = p + 1;
		p = end + 1;
		if (*p && !is_blank(*p))
			return vdisk_fail(err, -EINVAL,
					  "descriptor line %u: junk after the extent file name",
					  line);
		p = skip_blank(p);
		if (*p) {
			if (x.type != EXT_FLAT)
				return vdisk_fail(err, -EINVAL,
						  "descriptor line %u: only FLAT "
						  "extents take an offset",
						  line);
			if (parse_dec(&p, MAX_SECTORS, &x.offset) < 0)
				return vdisk_fail(err, -EINVAL,
						  "descriptor line %u: extent offset "
						  "is not a number of sectors below 2^54",
						  line);
			p = skip_blank(p);
		}
	}
	if (*p)
		return vdisk_fail(err, -EINVAL,
				  "descriptor line %u: junk at the end of the extent line", line);
	if (x.type == EXT_ZERO && x.fname)
		return vdisk_fail(err, -EINVAL, "descriptor line %u: a ZERO extent names no file",
				  line);
	if (x.type != EXT_ZERO && !x.fname)
		return vdisk_fail(err, -EINVAL, "descriptor line %u: extent names no file", line);
	if (x.access == ACC_NOACCESS)
		return vdisk_fail(err, -ENOTSUP,
				  "descriptor line %u: NOACCESS extents are not supported", line);
	if (d->next >= MAX_EXTENTS)
		return vdisk_fail(err, -EFBIG, "descriptor lists more than %d extents",
				  MAX_EXTENTS);
	if (x.fname && !(x.fname = strdup(x.fname)))
		return vdisk_fail(err, -ENOMEM, "out of memory");
	struct dext *e = realloc(d->ext, (d->next + 1) * sizeof *e);
	if (!e) {
		free(x.fname);
		return vdisk_fail(err, -ENOMEM, "out of memory");
	}
	d->ext = e;
	d->ext[d->next++] = x;
	return 0;
}

/* Copies a quoted value (or, when quoted is 0, a bare one) into out. */
static int take_value(char *val, int quoted, char *out, size_t size)
{
	size_t n = strlen(val);
	if (!quoted && !n)
		return -1;
	if (n >= size)
		return -1;
	memcpy(out, val, n + 1);
	return 0;
}

/* s with bytes that would garble a message replaced, in place. */
static const char *printable(char *s)
{
	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	return s;
}

/* "key = value" or "key = "value"" */
static int parse_kv(struct desc *d, char *p, unsigned line, struct vdisk_err *err)
{
	char *key = p;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '.' || *p == '_' || *p == '-')
		p++;
	char *kend = p;
	p = skip_blank(p);
	if (kend == key || *p != '=')
		return vdisk_fail(err, -EINVAL,
				  "descriptor line %u: neither \"key=value\" nor an "
				  "extent: \"%.40s\"",
				  line, printable(key));
	*kend = 0;
	p = skip_blank(p + 1);
	int quoted = *p == '"';
	char *val = p + quoted;
	if (quoted) {
		char *end = strchr(val, '"');
		if (!end || *skip_blank(end + 1))
			return vdisk_fail(err, -EINVAL,
					  "descriptor line %u: bad quoting in the value of %.40s",
					  line, key);
		*end = 0;
	}
	for (char *c = val; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return vdisk_fail(err, -EINVAL,
					  "descriptor line %u: control character in "
					  "the value of %.40s",
					  line, key);
	int dup = 0, bad = 0;
	if (!strcmp(key, "version")) {
		dup = d->have_version++;
		uint64_t ver;
		char *q = val;
		bad = parse_dec(&q, 3, &ver) < 0 || *q || !ver;
		if (bad)
			return vdisk_fail(err, -ENOTSUP,
					  "descriptor line %u: descriptor version "
					  "\"%.20s\" is not 1, 2 or 3",
					  line, val);
	} else if (!strcmp(key, "CID")) {
		dup = d->have_cid++;
		bad = parse_cid(val, &d->cid) < 0;
	} else if (!strcmp(key, "parentCID")) {
		dup = d->have_pcid++;
		bad = parse_cid(val, &d->pcid) < 0;
	} else if (!strcmp(key, "createType")) {
		dup = d->have_ct++;
		bad = !quoted || take_value(val, 1, d->create_type, sizeof d->create_type) < 0;
	} else if (!strcmp(key, "parentFileNameHint")) {
		dup = d->have_parent++;
		bad = !quoted || !*val || take_value(val, 1, d->parent, sizeof d->parent) < 0;
	}
	if (dup)
		return vdisk_fail(err, -EINVAL, "descriptor line %u: %s given twice", line, key);
	if (bad)
		return vdisk_fail(err, -EINVAL, "descriptor line %u: bad value \"%.40s\" for %s",
				  line, printable(val), key);
	return 0;
}

static void free_desc(struct desc *d)
{
	for (unsigned i = 0; i < d->next; i++)
		free(d->ext[i].fname);
	free(d->ext);
}

/* Parses descriptor text (len bytes, ends at the first NUL). */
static int parse_desc(const char *text, size_t len, struct desc *d, struct vdisk_err *err)
{
	char *buf = malloc(len + 1);
	if (!buf)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	memcpy(buf, text, len);
	buf[len] = 0;
	unsigned line = 0;
	int r = 0;
	for (char *p = buf, *next; *p && r >= 0; p = next) {
		char *nl = strchr(p, '\n');
		next = nl ? nl + 1 : p + strlen(p);
		if (nl)
			*nl = 0;
		line++;
		size_t n = strlen(p);
		while (n && (p[n - 1] == '\r' || is_blank(p[n - 1])))
			p[--n] = 0;
		p = skip_blank(p);
		if (!*p || *p == '#')
			continue;
		size_t w = word_len(p);
		if ((word_is(p, w, "RW") || word_is(p, w, "RDONLY") || word_is(p, w, "NOACCESS")) &&
		    is_blank(p[w]))
			r = parse_extent(d, p, line, err);
		else
			r = parse_kv(d, p, line, err);
	}
	free(buf);
	return r;
}

/* ---- sparse extents --------------------------------------------------- */

/*
 * Counts bytes of metadata against this image's limit and the budget its
 * backing chain shares, before they are allocated.
 */
static int meta_reserve(struct vmdk *v, uint64_t bytes, struct vdisk_err *err)
{
	if (bytes > MAX_META - v->meta)
		return vdisk_fail(err, -EFBIG, "VMDK metadata tables exceed %llu MiB",
				  MAX_META >> 20);
	int r = vdisk_meta_reserve(v->src, bytes, err);
	if (r < 0)
		return r;
	v->meta += bytes;
	return 0;
}

/* The header, or the footer's copy of it when the header defers to the end. */
static int read_header(struct vdisk_source *s, const char *what, uint8_t hdr[SECTOR],
		       struct vdisk_err *err)
{
	if (s->size < SECTOR)
		return vdisk_fail(err, -EINVAL,
				  "%s: file of %llu bytes is too small for a sparse extent header",
				  what, (unsigned long long)s->size);
	int r = s->pread(s, hdr, SECTOR, 0);
	if (r < 0)
		return vdisk_fail(err, r, "%s: cannot read the sparse extent header", what);
	if (!memcmp(hdr, "COWD", 4))
		return vdisk_fail(err, -ENOTSUP, "%s: VMFS sparse (COWD) extents are not supported",
				  what);
	if (memcmp(hdr, "KDMV", 4))
		return vdisk_fail(err, -EINVAL, "%s: no KDMV magic: not a sparse VMDK extent",
				  what);
	if (ld_le64(hdr + 56) != GD_AT_END)
		return 0;
	/* Footer marker, footer (a header copy), end-of-stream marker: the last
	 * three sectors of the file. */
	uint64_t end = s->size & ~(uint64_t)(SECTOR - 1);
	if (end < 4 * SECTOR)
		return vdisk_fail(err, -EINVAL,
				  "%s: grain directory is at the end, but the file "
				  "is too small for a footer",
				  what);
	uint8_t f[3 * SECTOR];
	r = s->pread(s, f, sizeof f, end - sizeof f);
	if (r < 0)
		return vdisk_fail(err, r, "%s: cannot read the footer", what);
	if (ld_le32(f + 8) != 0 || ld_le32(f + 12) != MARKER_FOOTER ||
	    memcmp(f + SECTOR, "KDMV", 4) || ld_le64(f + 2 * SECTOR) != 0 ||
	    ld_le32(f + 2 * SECTOR + 8) != 0 || ld_le32(f + 2 * SECTOR + 12) != MARKER_EOS)
		return vdisk_fail(err, -EINVAL,
				  "%s: grain directory is at the end, but no valid "
				  "footer and end-of-stream marker end the file",
				  what);
	memcpy(hdr, f + SECTOR, SECTOR);
	if (ld_le64(hdr + 56) == GD_AT_END)
		return vdisk_fail(err, -EINVAL,
				  "%s: the footer, too, puts the grain directory at the end", what);
	return 0;
}

/* Sets up e as the sparse extent in s; *capacity gets its size in sectors. */
static int open_sparse(struct vmdk *v, struct extent *e, struct vdisk_source *s, const char *what,
		       uint8_t hdr[SECTOR], uint64_t *capacity, struct vdisk_err *err)
{
	int r = read_header(s, what, hdr, err);
	if (r < 0)
		return r;
	unsigned version = ld_le32(hdr + 4);
	uint32_t flags = ld_le32(hdr + 8);
	uint64_t cap = ld_le64(hdr + 12), grain = ld_le64(hdr + 20);
	uint32_t ngte = ld_le32(hdr + 44);
	uint64_t gd_off = ld_le64(hdr + 56), overhead = ld_le64(hdr + 64);
	unsigned algo = ld_le16(hdr + 77);

	if (version < 1 || version > 3)
		return vdisk_fail(err, -ENOTSUP,
				  "%s: sparse extent version %u is not supported (only 1 to 3)",
				  what, version);
	if ((flags & F_NL_CHECK) && memcmp(hdr + 73, "\n \r\n", 4))
		return vdisk_fail(err, -EINVAL,
				  "%s: the header's line-end check bytes are "
				  "damaged (transferred in text mode?)",
				  what);
	if (algo > 1)
		return vdisk_fail(err, -ENOTSUP,
				  "%s: compression algorithm %u is not supported (only deflate)",
				  what, algo);
	e->compressed = algo == 1;
	e->markers = !!(flags & F_MARKERS);
	if (e->markers && !e->compressed)
		return vdisk_fail(err, -ENOTSUP,
				  "%s: grain markers without compression are not supported", what);
	if (!grain || grain > (e->compressed ? MAX_ZGRAIN_SECTORS : MAX_GRAIN_SECTORS))
		return vdisk_fail(err, -EINVAL, "%s: grain size of %llu sectors is out of range",
				  what, (unsigned long long)grain);
	if (!ngte || ngte > MAX_GTES)
		return vdisk_fail(err, -EINVAL, "%s: %u entries per grain table (must be 1 to %u)",
				  what, ngte, MAX_GTES);
	if (cap > MAX_SECTORS)
		return vdisk_fail(err, -EINVAL, "%s: capacity of %llu sectors is too large", what,
				  (unsigned long long)cap);
	if (overhead > s->size / SECTOR)
		return vdisk_fail(err, -EINVAL,
				  "%s: file truncated: grains start at sector %llu "
				  "but the file has %llu sectors",
				  what, (unsigned long long)overhead,
				  (unsigned long long)(s->size / SECTOR));
	uint64_t span = grain * ngte; /* sectors per grain table: at most 2^30 */
	uint64_t ngd = cap / span + (cap % span != 0), gd_bytes = ngd * 4, gd_pos = 0;
	if (ngd && (mul_u64(gd_off, SECTOR, &gd_pos) || !gd_off || gd_pos > s->size ||
		    gd_bytes > s->size - gd_pos))
		return vdisk_fail(err, -EINVAL,
				  "%s: grain directory at sector %llu (%llu entries) "
				  "beyond end of file (size %llu)",
				  what, (unsigned long long)gd_off, (unsigned long long)ngd,
				  (unsigned long long)s->size);
	if (gd_bytes > MAX_META)
		return vdisk_fail(err, -EFBIG, "%s: grain directory of %llu entries exceeds %llu MiB",
				  what, (unsigned long long)ngd, MAX_META >> 20);
	e->gd_pos = gd_pos;
	e->ngd = ngd;
	uint64_t pages = ngd / GD_PAGE + (ngd % GD_PAGE != 0);
	e->gd_slots = pages < GD_SLOTS ? (unsigned)pages : GD_SLOTS;
	/* The caches, paid for now and allocated on the first lookup: reads
	 * never fail for want of budget. */
	if ((r = meta_reserve(v, (uint64_t)e->gd_slots * GD_PAGE * 4 +
					 (uint64_t)GT_SLOTS * ngte * 4, err)) < 0)
		return r;
	e->type = EXT_SPARSE;
	e->src = s;
	e->version = version;
	e->grain = grain * SECTOR;
	e->ngte = ngte;
	*capacity = cap;
	return 0;
}

/*
 * Directory entry gdi (the sector of a grain table, 0 for none) into *gt,
 * through the cache of directory pages. Each page is checked as it is
 * read: every grain table it names must lie in the file.
 */
static int gd_entry(struct extent *e, uint64_t gdi, uint32_t *gt, struct vdisk_err *err)
{
	uint64_t page = gdi / GD_PAGE;
	unsigned slot = (unsigned)(page % e->gd_slots);
	if (!e->gdc && !(e->gdc = malloc((size_t)e->gd_slots * GD_PAGE * 4)))
		return vdisk_fail(err, -ENOMEM, "out of memory for the grain directory cache");
	uint32_t *p = e->gdc + (size_t)slot * GD_PAGE;
	if (e->gdc_tag[slot] != page + 1) {
		struct vdisk_source *s = e->src;
		uint64_t first = page * GD_PAGE;
		size_t n = e->ngd - first < GD_PAGE ? (size_t)(e->ngd - first) : GD_PAGE;
		e->gdc_tag[slot] = 0;
		int r = s->pread(s, p, n * 4, e->gd_pos + first * 4);
		if (r < 0)
			return vdisk_fail(err, r, "%s: cannot read the grain directory", e->fname);
		for (size_t i = 0; i < n; i++) {
			uint64_t t = ld_le32(&p[i]);
			p[i] = (uint32_t)t;
			if (t && (t * SECTOR > s->size || e->ngte * 4 > s->size - t * SECTOR))
				return vdisk_fail(err, -EINVAL,
						  "%s: grain directory entry %llu: grain table "
						  "at sector %llu beyond end of file (size %llu)",
						  e->fname, (unsigned long long)(first + i),
						  (unsigned long long)t, (unsigned long long)s->size);
		}
		e->gdc_tag[slot] = page + 1;
	}
	*gt = p[gdi % GD_PAGE];
	return 0;
}

/* The grain table at sector gts, for directory entry gdi, through the cache. */
static int load_gt(struct extent *e, uint64_t gdi, uint32_t gts, const uint32_t **gt,
		   struct vdisk_err *err)
{
	unsigned slot = (unsigned)(gdi % GT_SLOTS);
	if (!e->gtc && !(e->gtc = malloc((size_t)GT_SLOTS * e->ngte * 4)))
		return vdisk_fail(err, -ENOMEM, "out of memory for the grain table cache");
	uint32_t *t = e->gtc + (size_t)slot * e->ngte;
	if (e->gtc_tag[slot] != gdi + 1) {
		e->gtc_tag[slot] = 0;
		int r = e->src->pread(e->src, t, e->ngte * 4, (uint64_t)gts * SECTOR);
		if (r < 0)
			return vdisk_fail(err, r, "%s: cannot read the grain table at sector %u",
					  e->fname, gts);
		for (uint32_t i = 0; i < e->ngte; i++)
			t[i] = ld_le32(&t[i]);
		e->gtc_tag[slot] = gdi + 1;
	}
	*gt = t;
	return 0;
}

/* Classifies grain gi of e; for data, *sector is where the grain lies. When
 * the whole grain table is absent, *run gets how many grains share that. */
static int lookup(struct extent *e, uint64_t gi, uint32_t *sector, uint64_t *run,
		  struct vdisk_err *err)
{
	uint64_t gdi = gi / e->ngte;
	uint32_t gts = 0;
	*run = 1;
	if (gdi >= e->ngd)
		return vdisk_fail(err, -EIO, "%s: grain %llu beyond the grain directory", e->fname,
				  (unsigned long long)gi);
	int r = gd_entry(e, gdi, &gts, err);
	if (r < 0)
		return r;
	if (!gts) {
		*run = e->ngte - gi % e->ngte;
		return G_UNALLOC;
	}
	const uint32_t *gt = NULL;
	r = load_gt(e, gdi, gts, &gt, err);
	if (r < 0)
		return r;
	uint32_t gte = gt[gi % e->ngte];
	*sector = gte;
	return gte == 0 ? G_UNALLOC : gte == GTE_ZERO ? G_ZERO : G_DATA;
}

static int get_codec(struct vmdk *v, struct vdisk_err *err)
{
	if (v->codec)
		return 0;
	return v->src->svc->codec(v->src, "zlib", &v->codec, err);
}

static int grow(uint8_t **buf, size_t *have, size_t want, struct vdisk_err *err)
{
	if (*have >= want)
		return 0;
	uint8_t *b = realloc(*buf, want);
	if (!b)
		return vdisk_fail(err, -ENOMEM, "out of memory for a %zu-byte grain buffer", want);
	*buf = b;
	*have = want;
	return 0;
}

/* Inflates grain gi of e, whose marker (or data) is at sector, into v->zout. */
static int inflate_grain(struct vmdk *v, struct extent *e, uint64_t gi, uint32_t sector,
			 struct vdisk_err *err)
{
	if (v->zext == e && v->zidx == gi)
		return 0;
	int r = get_codec(v, err);
	if (r < 0)
		return r;
	struct vdisk_source *s = e->src;
	uint64_t pos = (uint64_t)sector * SECTOR, gstart = gi * e->grain;
	uint64_t need = e->len - gstart < e->grain ? e->len - gstart : e->grain;
	size_t maxc = (size_t)e->grain * 2 + 12;
	if ((r = grow(&v->zin, &v->zin_len, maxc, err)) < 0 ||
	    (r = grow(&v->zout, &v->zout_len, (size_t)e->grain, err)) < 0)
		return r;
	v->zext = NULL;
	if (pos >= s->size)
		return vdisk_fail(err, -EINVAL,
				  "%s: compressed grain at sector %u beyond end of "
				  "file (size %llu)",
				  e->fname, sector, (unsigned long long)s->size);
	uint64_t avail = s->size - pos;
	size_t got = avail < 4096 ? (size_t)avail : 4096, off = 0, clen;
	if (got > maxc)
		got = maxc;
	if ((r = s->pread(s, v->zin, got, pos)) < 0)
		return vdisk_fail(err, r, "%s: cannot read the grain at sector %u", e->fname,
				  sector);
	if (e->markers) {
		if (got < 12)
			return vdisk_fail(err, -EINVAL,
					  "%s: grain marker at sector %u cut off by "
					  "the end of file",
					  e->fname, sector);
		uint64_t lba = ld_le64(v->zin);
		clen = ld_le32(v->zin + 8);
		off = 12;
		if (!clen)
			return vdisk_fail(err, -EINVAL,
					  "%s: marker at sector %u has size 0 (a "
					  "metadata marker where a grain belongs)",
					  e->fname, sector);
		if (clen > e->grain * 2 || clen > avail - 12)
			return vdisk_fail(err, -EINVAL,
					  "%s: grain marker at sector %u: compressed "
					  "size %zu is larger than twice the grain or "
					  "runs past end of file (size %llu)",
					  e->fname, sector, clen, (unsigned long long)s->size);
		if (lba != gstart / SECTOR)
			return vdisk_fail(err, -EINVAL,
					  "%s: grain marker at sector %u is for sector "
					  "%llu, not %llu",
					  e->fname, sector, (unsigned long long)lba,
					  (unsigned long long)(gstart / SECTOR));
		if (clen + 12 > got &&
		    (r = s->pread(s, v->zin + got, clen + 12 - got, pos + got)) < 0)
			return vdisk_fail(err, r, "%s: cannot read the grain at sector %u",
					  e->fname, sector);
	} else {
		/* No marker says how long the stream is: offer what could hold it. */
		clen = avail < maxc ? (size_t)avail : maxc;
		if (clen > got && (r = s->pread(s, v->zin + got, clen - got, pos + got)) < 0)
			return vdisk_fail(err, r, "%s: cannot read the grain at sector %u",
					  e->fname, sector);
	}
	long n = v->codec->decompress(v->zin + off, clen, v->zout, (size_t)e->grain);
	if (n < 0)
		return vdisk_fail(err, (int)n, "%s: compressed grain at sector %u is corrupt",
				  e->fname, sector);
	if ((uint64_t)n < need)
		return vdisk_fail(err, -EINVAL,
				  "%s: compressed grain at sector %u inflates to %ld "
				  "bytes, not %llu",
				  e->fname, sector, n, (unsigned long long)need);
	memset(v->zout + n, 0, (size_t)(e->grain - (uint64_t)n));
	v->zext = e;
	v->zidx = gi;
	return 0;
}

/* ---- open ------------------------------------------------------------- */

/* A new, zeroed extent at the end of v's list, or NULL. */
static struct extent *add_extent(struct vmdk *v)
{
	struct extent *x = realloc(v->ext, (v->next + 1) * sizeof *x);
	if (!x)
		return NULL;
	v->ext = x;
	return memset(&x[v->next++], 0, sizeof *x);
}

/* Builds the extents a text descriptor lists. */
static int open_desc_extents(struct vmdk *v, struct desc *d, struct vdisk_err *err)
{
	if (!d->next)
		return vdisk_fail(err, -EINVAL, "descriptor lists no extents");
	uint64_t sectors = 0;
	for (unsigned i = 0; i < d->next; i++) {
		struct dext *x = &d->ext[i];
		struct extent *e = add_extent(v);
		int r;
		if (!e)
			return vdisk_fail(err, -ENOMEM, "out of memory");
		e->type = x->type;
		e->start = sectors * SECTOR;
		e->len = x->sectors * SECTOR;
		if (add_u64(sectors, x->sectors, &sectors) || sectors > MAX_SECTORS)
			return vdisk_fail(err, -EINVAL,
					  "descriptor line %u: extents add up to more "
					  "than 2^54 sectors",
					  x->line);
		if (x->type == EXT_ZERO) {
			e->fname = "ZERO extent";
			continue;
		}
		struct vdisk_source *s = NULL;
		if ((r = open_extent_file(v, x->fname, &s, err)) < 0)
			return r;
		e->fname = s->name;
		if (x->type == EXT_FLAT) {
			uint64_t end;
			e->src = s;
			e->flat_off = x->offset * SECTOR;
			if (add_u64(e->flat_off, e->len, &end) || end > s->size)
				return vdisk_fail(err, -EINVAL,
						  "descriptor line %u: FLAT extent needs "
						  "bytes up to %llu of %.80s, which has %llu",
						  x->line, (unsigned long long)end, e->fname,
						  (unsigned long long)s->size);
			continue;
		}
		uint8_t hdr[SECTOR];
		uint64_t cap = 0;
		if ((r = open_sparse(v, e, s, e->fname, hdr, &cap, err)) < 0)
			return r;
		if (cap < x->sectors)
			return vdisk_fail(err, -EINVAL,
					  "descriptor line %u: extent of %llu sectors, "
					  "but %.80s holds only %llu",
					  x->line, (unsigned long long)x->sectors, e->fname,
					  (unsigned long long)cap);
	}
	v->size = sectors * SECTOR;
	return 0;
}

static void take_desc_info(struct vmdk *v, const struct desc *d)
{
	if (d->have_ct)
		memcpy(v->create_type, d->create_type, sizeof v->create_type);
	v->cid = d->cid;
	v->have_cid = d->have_cid;
	v->pcid = d->pcid;
	v->have_pcid = d->have_pcid;
	if (d->have_parent)
		memcpy(v->parent, d->parent, sizeof v->parent);
}

/* A monolithic sparse file: one extent, and maybe an embedded descriptor. */
static int open_monolithic(struct vmdk *v, struct vdisk_err *err)
{
	struct extent *e = add_extent(v);
	uint8_t hdr[SECTOR];
	uint64_t cap = 0;
	int r;
	if (!e)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	e->fname = "sparse extent";
	if ((r = open_sparse(v, e, v->src, e->fname, hdr, &cap, err)) < 0)
		return r;
	e->len = cap * SECTOR;
	v->size = e->len;
	snprintf(v->create_type, sizeof v->create_type, "%s",
		 e->compressed ? "streamOptimized" : "monolithicSparse");

	uint64_t doff = ld_le64(hdr + 28), dsize = ld_le64(hdr + 36), pos;
	if (!doff || !dsize)
		return 0;
	if (dsize > MAX_DESC / SECTOR)
		return vdisk_fail(err, -EFBIG,
				  "embedded descriptor of %llu sectors is larger than %u KiB",
				  (unsigned long long)dsize, MAX_DESC >> 10);
	if (mul_u64(doff, SECTOR, &pos) || pos > v->src->size ||
	    dsize * SECTOR > v->src->size - pos)
		return vdisk_fail(err, -EINVAL,
				  "embedded descriptor at sector %llu (%llu sectors) "
				  "beyond end of file (size %llu)",
				  (unsigned long long)doff, (unsigned long long)dsize,
				  (unsigned long long)v->src->size);
	char *text = malloc(dsize * SECTOR);
	if (!text)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	if ((r = v->src->pread(v->src, text, dsize * SECTOR, pos)) < 0) {
		free(text);
		return vdisk_fail(err, r, "cannot read the embedded descriptor");
	}
	struct desc d = {0};
	r = parse_desc(text, dsize * SECTOR, &d, err);
	free(text);
	if (r >= 0) {
		/* Its extent lines describe this very file: the header rules. */
		char ct[sizeof v->create_type];
		memcpy(ct, v->create_type, sizeof ct);
		take_desc_info(v, &d);
		if (e->compressed)
			memcpy(v->create_type, ct, sizeof ct);
	}
	free_desc(&d);
	return r;
}

static int open_text(struct vmdk *v, struct vdisk_err *err)
{
	if (v->src->size > MAX_DESC)
		return vdisk_fail(err, -EFBIG,
				  "no KDMV magic, and a %llu-byte file is too large for "
				  "a descriptor (at most %u KiB)",
				  (unsigned long long)v->src->size, MAX_DESC >> 10);
	size_t len = (size_t)v->src->size;
	char *text = malloc(len + 1);
	if (!text)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	int r = v->src->pread(v->src, text, len, 0);
	if (r < 0) {
		free(text);
		return vdisk_fail(err, r, "cannot read the descriptor");
	}
	/* Text, maybe padded with NULs (qemu-img pads to a sector): a control
	 * byte, or anything after the padding starts, means no descriptor. */
	size_t nul = strnlen(text, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (i < nul ? c < 0x20 && c != '\t' && c != '\r' && c != '\n' : c != 0) {
			free(text);
			return vdisk_fail(err, -EINVAL,
					  "no KDMV magic, and byte 0x%02x at %zu "
					  "shows this is no text descriptor: not a VMDK image",
					  c, i);
		}
	}
	struct desc d = {0};
	r = parse_desc(text, len, &d, err);
	free(text);
	if (r >= 0 && !d.have_ct)
		r = vdisk_fail(err, -EINVAL,
			       "no KDMV magic, and no createType in what would be a "
			       "descriptor: not a VMDK image");
	if (r >= 0) {
		take_desc_info(v, &d);
		r = open_desc_extents(v, &d, err);
	}
	free_desc(&d);
	return r;
}

static void vmdk_close(void *state)
{
	struct vmdk *v = state;
	if (!v)
		return;
	if (v->backing)
		v->src->svc->image_close(v->backing);
	for (unsigned i = 0; i < v->next; i++) {
		free(v->ext[i].gdc);
		free(v->ext[i].gtc);
	}
	for (unsigned i = 0; i < v->nfiles; i++) {
		v->src->svc->close_file(v->files[i].src);
		free(v->files[i].fname);
	}
	free(v->files);
	free(v->ext);
	free(v->zin);
	free(v->zout);
	free(v);
}

static int vmdk_open(struct vdisk_source *src, unsigned depth, void **state, struct vdisk_err *err)
{
	struct vmdk *v = calloc(1, sizeof *v);
	if (!v)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	v->src = src;
	uint8_t magic[4] = {0};
	int r = src->size >= 4 ? src->pread(src, magic, 4, 0) : 0;
	if (r < 0)
		vdisk_fail(err, r, "cannot read the first bytes");
	else if (!memcmp(magic, "KDMV", 4) || !memcmp(magic, "COWD", 4))
		r = open_monolithic(v, err);
	else
		r = open_text(v, err);
	if (r >= 0 && v->parent[0]) {
		r = src->svc->open_backing(src, v->parent, "vmdk", depth + 1, &v->backing, err);
		if (r >= 0)
			v->backing_size = src->svc->image_size(v->backing);
	}
	if (r < 0) {
		vmdk_close(v);
		return r;
	}
	*state = v;
	return 0;
}

/* ---- read ------------------------------------------------------------- */

static struct extent *find_extent(struct vmdk *v, uint64_t off)
{
	unsigned lo = 0, hi = v->next;
	if (v->last < v->next && off >= v->ext[v->last].start &&
	    off - v->ext[v->last].start < v->ext[v->last].len)
		return &v->ext[v->last];
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (off < v->ext[mid].start)
			hi = mid;
		else if (off - v->ext[mid].start >= v->ext[mid].len)
			lo = mid + 1;
		else
			return &v->ext[v->last = mid];
	}
	return NULL;
}

static int read_backing(struct vmdk *v, uint8_t *buf, uint64_t len, uint64_t off,
			struct vdisk_err *err)
{
	uint64_t n = 0;
	if (v->backing && off < v->backing_size) {
		n = v->backing_size - off < len ? v->backing_size - off : len;
		int r = v->src->svc->image_read(v->backing, buf, (size_t)n, off, err);
		if (r < 0)
			return r;
	}
	memset(buf + n, 0, (size_t)(len - n));
	return 0;
}

static int read_sparse(struct vmdk *v, struct extent *e, uint8_t *buf, uint64_t len, uint64_t rel,
		       struct vdisk_err *err)
{
	while (len) {
		uint64_t gi = rel / e->grain, in = rel % e->grain, run;
		uint64_t n = e->grain - in < len ? e->grain - in : len;
		uint32_t sector = 0;
		int c = lookup(e, gi, &sector, &run, err);
		if (c < 0)
			return c;
		if (c == G_UNALLOC) {
			int r = read_backing(v, buf, n, e->start + rel, err);
			if (r < 0)
				return r;
		} else if (c == G_ZERO) {
			memset(buf, 0, (size_t)n);
		} else if (e->compressed) {
			int r = inflate_grain(v, e, gi, sector, err);
			if (r < 0)
				return r;
			memcpy(buf, v->zout + in, (size_t)n);
		} else {
			uint64_t pos = (uint64_t)sector * SECTOR + in;
			if (pos > e->src->size || n > e->src->size - pos)
				return vdisk_fail(err, -EINVAL,
						  "%s: grain %llu at sector %u beyond "
						  "end of file (size %llu)",
						  e->fname, (unsigned long long)gi, sector,
						  (unsigned long long)e->src->size);
			int r = e->src->pread(e->src, buf, (size_t)n, pos);
			if (r < 0)
				return vdisk_fail(err, r, "%s: cannot read grain %llu", e->fname,
						  (unsigned long long)gi);
		}
		buf += n;
		rel += n;
		len -= n;
	}
	return 0;
}

static int vmdk_read(void *state, void *buf, size_t len, uint64_t off, struct vdisk_err *err)
{
	struct vmdk *v = state;
	uint8_t *b = buf;
	if (off > v->size || len > v->size - off)
		return vdisk_fail(err, -EINVAL, "read beyond the end of the disk");
	while (len) {
		struct extent *e = find_extent(v, off);
		if (!e)
			return vdisk_fail(err, -EIO, "no extent holds offset %llu",
					  (unsigned long long)off);
		uint64_t rel = off - e->start, n = e->len - rel < len ? e->len - rel : len;
		int r = 0;
		if (e->type == EXT_ZERO) {
			memset(b, 0, (size_t)n);
		} else if (e->type == EXT_FLAT) {
			r = e->src->pread(e->src, b, (size_t)n, e->flat_off + rel);
			if (r < 0)
				vdisk_fail(err, r, "%s: read of %llu bytes at %llu failed",
					   e->fname, (unsigned long long)n,
					   (unsigned long long)(e->flat_off + rel));
		} else {
			r = read_sparse(v, e, b, n, rel, err);
		}
		if (r < 0)
			return r;
		b += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Grains one status call looks at, at most: a run that long is long enough. */
#define STATUS_SCAN 65536

static int vmdk_status(void *state, uint64_t off, uint64_t len, uint64_t *pnum,
		       struct vdisk_err *err)
{
	struct vmdk *v = state;
	if (off >= v->size || !len)
		return vdisk_fail(err, -EINVAL, "status beyond the end of the disk");
	struct extent *e = find_extent(v, off);
	if (!e)
		return vdisk_fail(err, -EIO, "no extent holds offset %llu",
				  (unsigned long long)off);
	uint64_t rel = off - e->start;
	if (len > e->len - rel)
		len = e->len - rel;
	if (e->type != EXT_SPARSE) {
		*pnum = len;
		return e->type == EXT_ZERO ? VDISK_ZERO : VDISK_DATA;
	}
	uint64_t done = 0;
	int status = -1;
	for (unsigned i = 0; i < STATUS_SCAN && done < len; i++) {
		uint64_t pos = rel + done, gi = pos / e->grain, run;
		uint32_t sector;
		int c = lookup(e, gi, &sector, &run, err);
		if (c < 0)
			return c;
		int st = c == G_DATA || (c == G_UNALLOC && v->backing) ? VDISK_DATA : VDISK_ZERO;
		if (status >= 0 && st != status)
			break;
		status = st;
		uint64_t span = run * e->grain - pos % e->grain;
		done += span < len - done ? span : len - done;
	}
	*pnum = done;
	return status;
}

/* ---- info ------------------------------------------------------------- */


static void vmdk_info(void *state, struct vdisk_info *info)
{
	struct vmdk *v = state;
	char num[24];
	info->virtual_size = v->size;
	for (unsigned i = 0; i < v->next; i++)
		if (v->ext[i].type == EXT_SPARSE) {
			info->cluster_size = v->ext[i].grain;
			break;
		}
	int compressed = 0;
	for (unsigned i = 0; i < v->next; i++)
		compressed |= v->ext[i].type == EXT_SPARSE && v->ext[i].compressed;
	if (compressed)
		snprintf(info->compression, sizeof info->compression, "zlib");
	if (v->parent[0]) {
		snprintf(info->backing_file, sizeof info->backing_file, "%s", v->parent);
		snprintf(info->backing_format, sizeof info->backing_format, "vmdk");
	}
	vdisk_add_kv(info, "create-type", v->create_type, 0);
	if (v->have_cid) {
		snprintf(num, sizeof num, "%u", v->cid);
		vdisk_add_kv(info, "cid", num, 1);
	}
	if (v->have_pcid) {
		snprintf(num, sizeof num, "%u", v->pcid);
		vdisk_add_kv(info, "parent-cid", num, 1);
	}
	snprintf(num, sizeof num, "%u", v->next);
	vdisk_add_kv(info, "extents", num, 1);
	if (compressed)
		vdisk_add_kv(info, "compressed", "true", 1);
}

/* ---- probe and manifest ----------------------------------------------- */

/* Text descriptors have no magic: look for the lines only they carry. */
static int vmdk_probe(const struct lm_probe_input *in)
{
	const char *h = (const char *)in->head, *end = h + in->head_len;
	if (in->head_len >= 4 && !memcmp(h, "KDMV", 4))
		return 100;
	int ct = 0, ver = 0, first = 1;
	for (const char *p = h; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break; /* a line cut off by the end of head proves nothing */
		for (const char *c = p; c < nl; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\r')
				return 0;
		while (p < nl && is_blank(*p))
			p++;
		size_t n = (size_t)(nl - p);
		if (first && n >= 21 && !memcmp(p, "# Disk DescriptorFile", 21))
			return 100;
		if (n)
			first = 0;
		if (n >= 11 && !memcmp(p, "createType=", 11))
			ct = 1;
		if (n >= 8 && !memcmp(p, "version=", 8))
			ver = 1;
		p = nl + 1;
	}
	return ct ? (ver ? 100 : 80) : 0;
}

static int vmdk_init(const void *host)
{
	return vdisk_check_host(host);
}

static const struct vdisk_format vmdk_format = {
	.name = "vmdk",
	.open = vmdk_open,
	.read = vmdk_read,
	.status = vmdk_status,
	.info = vmdk_info,
	.close = vmdk_close,
};

LM_MODULE("1.0", "VMware virtual disks: sparse, flat, split and stream-optimized", vmdk_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_FORMAT, "vmdk", &vmdk_format);
LM_PROBE_MAGIC(VDISK_KIND_FORMAT, "vmdk", 0, "KDMV", 100);
LM_PROBE_FUNC(VDISK_KIND_FORMAT, "vmdk", vmdk_probe);
LM_PROBE_EXT(VDISK_KIND_FORMAT, "vmdk", "vmdk", 10);
