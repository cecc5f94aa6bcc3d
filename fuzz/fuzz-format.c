/* SPDX-License-Identifier: MIT */
/*
 * fuzz-format - one vdisk format driver (FUZZ_FORMAT, set when compiling:
 * raw, qcow2, vmdk, vdi, vpc or vhdx) on an arbitrary image, driven as the
 * host drives it (vdisk/vdisk.c, copy_image): open, info, then
 * status and read over the whole virtual size, with zero runs asked about
 * in growing spans, and a few reads at the end and across block
 * boundaries. Work is capped per input, so that a huge virtual size keeps
 * a run fast. The drivers are linked in, found through their registration
 * table (section lm_reg), and initialised with a stub service table: codec
 * returns the real zlib and zstd codec drivers, linked in too; opening a
 * backing file fails; open_file opens only plain names in the image's
 * directory (see below), as vdisk's host refuses names that leave it.
 *
 * The input is the image. Images whose structures lie megabytes apart
 * (VHDX, dynamic VHD and VDI with qemu's block sizes) are too large for
 * a fuzzer's inputs, so an input may instead describe a sparse image:
 *
 *   "FZSPARSE", u64 image size (capped at 1 GiB), then any number of
 *   u32 offset, u16 length, length bytes (all little-endian)
 *
 * The image reads as zeros but for those runs (a later run wins where they
 * overlap). FUZZ_DUMP=FILE writes the image an input stands for (as a
 * sparse file), to hand a finding to fmtread or vdisk; FUZZ_VERBOSE=1 says
 * what open made of each input.
 *
 * VMDK descriptors name extent files relative to the image: the image is
 * given the name DIR/image.vmdk, where DIR is a new directory holding
 * flat.img (16 KiB of a pattern) and sparse.vmdk (a small hosted sparse
 * extent of 64 sectors), so descriptors can name those two.
 *
 * Besides sanitizer reports, leaks and hangs, a run stops on a driver that
 * breaks the interface of vdisk.h: a status other than VDISK_DATA or
 * VDISK_ZERO, a run of 0 bytes or longer than asked, a range said to read
 * as zeros that reads as something else, bytes that read differently whole
 * and in pieces, an error message that is not NUL-terminated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lazymod/common.h>

#include "../vdisk/vdisk.h"

#ifndef FUZZ_FORMAT
#error "compile with -DFUZZ_FORMAT='\"qcow2\"' (the name of the format)"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SPARSE_MAGIC "FZSPARSE"
#define SPARSE_MAX_SIZE (1ull << 30)
#define SPARSE_MAX_RUNS 4096

#define BUF_SIZE (1u << 20)   /* longest read, as vdisk's copy buffer (2 MiB) */
#define MAX_SPAN (1ull << 30) /* longest zero run asked about, as vdisk */
#define MAX_CALLS 128         /* status and read calls per input */
#define MAX_BYTES (8u << 20)  /* guest bytes read per input */
#define ZERO_CHECK 4096u      /* bytes of a zero run read back to check */
#define SPLIT_MAX (256u << 10) /* bytes read whole and in pieces to compare */

extern const struct lm__reg *const __start_lm_reg[] __attribute__((weak, visibility("hidden")));
extern const struct lm__reg *const __stop_lm_reg[] __attribute__((weak, visibility("hidden")));
extern const struct lm__module_desc *const __start_lm_mods[]
	__attribute__((weak, visibility("hidden")));
extern const struct lm__module_desc *const __stop_lm_mods[]
	__attribute__((weak, visibility("hidden")));

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz-%s: driver broke the interface: ", FUZZ_FORMAT);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static const void *find(const char *kind, const char *name)
{
	for (const struct lm__reg *const *r = __start_lm_reg; r < __stop_lm_reg; r++)
		if ((*r)->type == LM__REG_FEATURE && !strcmp((*r)->kind, kind) &&
		    !strcmp((*r)->name, name))
			return (*r)->object;
	return NULL;
}

/* ---- the host's services: codecs linked in, no backing files ------------- */

static int svc_codec(struct vdisk_source *src, const char *name, const struct vdisk_codec **codec,
		     struct vdisk_err *err)
{
	(void)src;
	*codec = find(VDISK_KIND_CODEC, name);
	if (!*codec) {
		snprintf(err->msg, sizeof err->msg, "no codec %s", name);
		return -ENOENT;
	}
	return 0;
}

static int svc_open_backing(struct vdisk_source *base, const char *backing, const char *format,
			    unsigned depth, struct vdisk_image **image, struct vdisk_err *err)
{
	(void)base, (void)format, (void)depth, (void)image;
	snprintf(err->msg, sizeof err->msg, "%.200s: the fuzzer opens no backing file", backing);
	return -ENOENT;
}

static int svc_image_read(struct vdisk_image *image, void *buf, size_t len, uint64_t off,
			  struct vdisk_err *err)
{
	(void)image, (void)buf, (void)len, (void)off, (void)err;
	die("image_read called, but no backing image was ever opened");
}

static uint64_t svc_image_size(struct vdisk_image *image)
{
	(void)image;
	die("image_size called, but no backing image was ever opened");
}

static void svc_image_close(struct vdisk_image *image)
{
	(void)image;
	die("image_close called, but no backing image was ever opened");
}

/* A file beside the image: a plain name in its directory, read whole. */
struct file_source {
	struct vdisk_source src;
	unsigned char *data;
	char *name;
};

static int file_pread(struct vdisk_source *src, void *out, size_t len, uint64_t off)
{
	struct file_source *f = (struct file_source *)src;
	if (off > src->size || len > src->size - off)
		return -EIO;
	memcpy(out, f->data + off, len);
	return 0;
}

static const struct vdisk_services services;

static int svc_open_file(struct vdisk_source *base, const char *name, struct vdisk_source **out,
			 struct vdisk_err *err)
{
	const char *slash = strrchr(base->name, '/');
	if (!*name || strchr(name, '/') || !strcmp(name, "..") || !slash) {
		snprintf(err->msg, sizeof err->msg, "%.200s: not a plain name", name);
		return -EPERM;
	}
	struct file_source *f = calloc(1, sizeof *f);
	if (!f || asprintf(&f->name, "%.*s%s", (int)(slash - base->name + 1), base->name, name) < 0)
		die("out of memory");
	FILE *fp = fopen(f->name, "rb");
	long size = -1;
	if (fp && !fseek(fp, 0, SEEK_END) && (size = ftell(fp)) >= 0 && !fseek(fp, 0, SEEK_SET) &&
	    (f->data = malloc((size_t)size + 1)) && fread(f->data, 1, (size_t)size, fp) == (size_t)size) {
		fclose(fp);
		f->src.pread = file_pread;
		f->src.size = (uint64_t)size;
		f->src.name = f->name;
		f->src.svc = &services;
		*out = &f->src;
		return 0;
	}
	if (fp)
		fclose(fp);
	snprintf(err->msg, sizeof err->msg, "%.200s: cannot read it", name);
	free(f->data);
	free(f->name);
	free(f);
	return -ENOENT;
}

static void svc_close_file(struct vdisk_source *src)
{
	struct file_source *f = (struct file_source *)src;
	free(f->data);
	free(f->name);
	free(f);
}

static const struct vdisk_services services = {
	.major = VDISK_IFACE_MAJOR,
	.minor = VDISK_IFACE_MINOR,
	.codec = svc_codec,
	.open_backing = svc_open_backing,
	.image_read = svc_image_read,
	.image_size = svc_image_size,
	.image_close = svc_image_close,
	.open_file = svc_open_file,
	.close_file = svc_close_file,
};

/* ---- the image: the input itself, or the sparse image it describes ------- */

struct run {
	uint64_t off;
	size_t len;
	const uint8_t *p;
};

struct mem_source {
	struct vdisk_source src;
	const uint8_t *data; /* plain image */
	struct run *runs;    /* sparse image, or NULL */
	size_t nruns;
};

static int mem_pread(struct vdisk_source *src, void *buf, size_t len, uint64_t off)
{
	struct mem_source *m = (struct mem_source *)src;
	if (off > src->size || len > src->size - off)
		return -EIO;
	if (!len)
		return 0;
	if (!m->runs) {
		memcpy(buf, m->data + off, len);
		return 0;
	}
	memset(buf, 0, len);
	for (size_t i = 0; i < m->nruns; i++) {
		const struct run *r = &m->runs[i];
		uint64_t lo = r->off > off ? r->off : off;
		uint64_t hi = r->off + r->len < off + len ? r->off + r->len : off + len;
		if (lo < hi)
			memcpy((char *)buf + (lo - off), r->p + (lo - r->off), hi - lo);
	}
	return 0;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Sets m up over the input; false when out of memory. */
static bool source_init(struct mem_source *m, const uint8_t *data, size_t size, const char *name)
{
	memset(m, 0, sizeof *m);
	m->src.pread = mem_pread;
	m->src.name = name;
	m->src.svc = &services;
	if (size < 16 || memcmp(data, SPARSE_MAGIC, 8)) {
		m->data = data;
		m->src.size = size;
		return true;
	}
	m->src.size = le(data + 8, 8);
	if (m->src.size > SPARSE_MAX_SIZE)
		m->src.size = SPARSE_MAX_SIZE;
	m->runs = malloc(SPARSE_MAX_RUNS * sizeof *m->runs);
	if (!m->runs)
		return false;
	const uint8_t *p = data + 16, *end = data + size;
	while (end - p >= 6 && m->nruns < SPARSE_MAX_RUNS) {
		struct run r = {le(p, 4), (size_t)le(p + 4, 2), p + 6};
		p += 6;
		if (r.len > (size_t)(end - p))
			r.len = (size_t)(end - p);
		m->runs[m->nruns++] = r;
		p += r.len;
	}
	return true;
}

static void dump(const struct mem_source *m, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && ftruncate(fd, (off_t)m->src.size) == 0;
	if (ok && !m->runs && m->src.size)
		ok = pwrite(fd, m->data, m->src.size, 0) == (ssize_t)m->src.size;
	for (size_t i = 0; ok && m->runs && i < m->nruns; i++) {
		const struct run *r = &m->runs[i];
		if (r->off >= m->src.size)
			continue;
		size_t n = r->len < m->src.size - r->off ? r->len : (size_t)(m->src.size - r->off);
		ok = pwrite(fd, r->p, n, (off_t)r->off) == (ssize_t)n;
	}
	if (!ok)
		perror(path);
	if (fd >= 0)
		close(fd);
}

/* ---- the extent files a VMDK descriptor may name -------------------------- */

static char dir[] = "/tmp/vdisk-fuzz-XXXXXX";
static char image_name[sizeof dir + 16];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void write_file(const char *name, const void *data, size_t len)
{
	char path[sizeof dir + 32];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static void make_extent_files(void)
{
	static uint8_t flat[16384];
	for (size_t i = 0; i < sizeof flat; i++)
		flat[i] = (uint8_t)(i * 13 + i / 512);
	write_file("flat.img", flat, sizeof flat);

	/* Hosted sparse extent: 64 sectors in grains of 8; header, grain
	 * directory (sector 1), one grain table of 16 entries (sector 2), and
	 * grains 0 and 5 from sector 3; grain 2 reads as zeros. */
	static uint8_t sp[512 * 19];
	memcpy(sp, "KDMV", 4);
	put32(sp + 4, 1);	 /* version */
	put32(sp + 8, 1);	 /* flags: newline check */
	put64(sp + 12, 64);	 /* capacity */
	put64(sp + 20, 8);	 /* grain */
	put32(sp + 44, 16);	 /* grain table entries */
	put64(sp + 56, 1);	 /* grain directory */
	put64(sp + 64, 3);	 /* overhead */
	memcpy(sp + 73, "\n \r\n", 4);
	put32(sp + 512, 2);	 /* directory entry 0: the table at sector 2 */
	put32(sp + 1024, 3);	 /* grain 0 at sector 3 */
	put32(sp + 1024 + 8, 1); /* grain 2: zeros */
	put32(sp + 1024 + 20, 11); /* grain 5 at sector 11 */
	for (size_t i = 3 * 512; i < sizeof sp; i++)
		sp[i] = (uint8_t)(i * 7);
	write_file("sparse.vmdk", sp, sizeof sp);
}

/* ---- driving the driver --------------------------------------------------- */

static const struct vdisk_format *fmt;
static unsigned char *buf, *split;
static const char *dump_path;
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	for (const struct lm__module_desc *const *d = __start_lm_mods; d < __stop_lm_mods; d++)
		if ((*d)->init && (*d)->init(&services) < 0) {
			fprintf(stderr, "fuzz-%s: init of module %s failed\n", FUZZ_FORMAT,
				(*d)->name);
			exit(1);
		}
	fmt = find(VDISK_KIND_FORMAT, FUZZ_FORMAT);
	if (!fmt || !fmt->open || !fmt->read || !fmt->status ||
	    !fmt->info || !fmt->close) {
		fprintf(stderr, "fuzz-%s: no usable format driver %s linked in\n", FUZZ_FORMAT,
			FUZZ_FORMAT);
		exit(1);
	}
	buf = malloc(BUF_SIZE);
	split = malloc(SPLIT_MAX);
	if (!buf || !split || !mkdtemp(dir)) {
		perror("fuzz: setup");
		exit(1);
	}
	atexit(cleanup);
	make_extent_files();
	snprintf(image_name, sizeof image_name, "%s/image.vmdk", dir);
	dump_path = getenv("FUZZ_DUMP");
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

static void check_msg(const struct vdisk_err *err, const char *what)
{
	if (!memchr(err->msg, 0, sizeof err->msg))
		die("%s: error message not NUL-terminated", what);
}

/* Reads [off, off+len); a range status called zero must read as zeros. */
static void read_range(void *st, uint64_t off, uint64_t len, bool zero)
{
	struct vdisk_err err = {""};
	int r = fmt->read(st, buf, (size_t)len, off, &err);
	check_msg(&err, "read");
	if (r > 0)
		die("read at %llu returned %d", (unsigned long long)off, r);
	/* memcmp, not a loop: the harness's own loops would be instrumented. */
	static const unsigned char zeros[ZERO_CHECK];
	if (r == 0 && zero && len <= ZERO_CHECK && memcmp(buf, zeros, (size_t)len))
		for (uint64_t i = 0; i < len; i++)
			if (buf[i])
				die("status says the %llu bytes at %llu read as zeros, but byte "
				    "%llu reads 0x%02x",
				    (unsigned long long)len, (unsigned long long)off,
				    (unsigned long long)(off + i), buf[i]);
}

/*
 * Reads [off, off+len) whole, then in three pieces cut at odd places, the
 * second piece first: when all reads succeed, the bytes must agree (caches
 * of tables, bitmaps and inflated clusters must not depend on the order).
 */
static void check_split(void *st, uint64_t off, uint64_t len)
{
	if (len > SPLIT_MAX)
		len = SPLIT_MAX;
	if (len < 3)
		return;
	struct vdisk_err err = {""};
	uint64_t a = len / 3 | 1, b = a + (len - a) / 2;
	if (fmt->read(st, split, (size_t)len, off, &err) < 0)
		return;
	if (fmt->read(st, buf + a, (size_t)(b - a), off + a, &err) < 0 ||
	    fmt->read(st, buf, (size_t)a, off, &err) < 0 ||
	    fmt->read(st, buf + b, (size_t)(len - b), off + b, &err) < 0)
		return;
	check_msg(&err, "read");
	if (!memcmp(buf, split, (size_t)len))
		return;
	for (uint64_t i = 0; i < len; i++)
		if (buf[i] != split[i])
			die("the %llu bytes at %llu read whole differ from the same bytes read in "
			    "pieces (at %llu, pieces at %llu and %llu)",
			    (unsigned long long)len, (unsigned long long)off,
			    (unsigned long long)(off + i), (unsigned long long)(off + a),
			    (unsigned long long)(off + b));
}

/* Asks status at off for want bytes; -1 on error, else the status, *n set. */
static int status(void *st, uint64_t off, uint64_t want, uint64_t *n)
{
	struct vdisk_err err = {""};
	*n = 0;
	int s = fmt->status(st, off, want, n, &err);
	check_msg(&err, "status");
	if (s < 0)
		return -1;
	if (s != VDISK_DATA && s != VDISK_ZERO)
		die("status at %llu: %d is neither VDISK_DATA nor VDISK_ZERO",
		    (unsigned long long)off, s);
	if (*n == 0 || *n > want)
		die("status at %llu for %llu bytes: a run of %llu bytes", (unsigned long long)off,
		    (unsigned long long)want, (unsigned long long)*n);
	return s;
}

/* A range as the host reads it: status, then the data or a check of zeros. */
static uint64_t visit(void *st, uint64_t off, uint64_t want)
{
	uint64_t n;
	int s = status(st, off, want, &n);
	if (s < 0)
		return 0;
	uint64_t len = n < BUF_SIZE ? n : BUF_SIZE;
	if (s == VDISK_ZERO && len > ZERO_CHECK)
		len = ZERO_CHECK;
	read_range(st, off, len, s == VDISK_ZERO);
	return n;
}

static void exercise(void *st, uint64_t size)
{
	/* From the start, as vdisk's copy_image walks an image. */
	uint64_t off = 0, span = BUF_SIZE, bytes = 0, data_off = 0, data_len = 0;
	unsigned calls = 0;
	while (off < size && calls < MAX_CALLS && bytes < MAX_BYTES) {
		uint64_t want = size - off < span ? size - off : span, n;
		int s = status(st, off, want, &n);
		calls++;
		if (s < 0)
			break;
		if (s == VDISK_ZERO) {
			if (n == want && span < MAX_SPAN)
				span *= 2;
			uint64_t len = n < ZERO_CHECK ? n : ZERO_CHECK;
			read_range(st, off, len, true);
			bytes += len;
		} else {
			span = BUF_SIZE;
			if (n > BUF_SIZE)
				n = BUF_SIZE;
			read_range(st, off, n, false);
			bytes += n;
			if (!data_len) {
				data_off = off;
				data_len = n;
			}
		}
		calls++;
		off += n;
	}
	if (!size)
		return;
	if (data_len)
		check_split(st, data_off, data_len);
	/* The end of the disk, where the last block may be partial. */
	uint64_t tail = size < 65536 ? size : 65536;
	for (uint64_t at = size - tail; at < size && calls < 2 * MAX_CALLS; calls++) {
		uint64_t n = visit(st, at, size - at);
		if (!n)
			break;
		at += n;
	}
	read_range(st, size - 1, 1, false);
	check_split(st, size - tail, tail);
	/* Ranges across the boundaries of the usual block sizes. */
	static const uint64_t blocks[] = {512, 4096, 65536, 1u << 20, 2u << 20, 32u << 20};
	for (size_t i = 0; i < sizeof blocks / sizeof *blocks && blocks[i] < size; i++) {
		uint64_t at = blocks[i] - 3, len = size - at < 4099 ? size - at : 4099;
		read_range(st, at, len, false);
		visit(st, at, len);
	}
	/* And a range in the middle. */
	uint64_t mid = size / 2 - (size / 2) % 512 + 17;
	if (mid < size)
		visit(st, mid, size - mid < 3 * 65536 ? size - mid : 3 * 65536);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem_source m;
	if (!source_init(&m, data, size, image_name))
		return 0;
	if (dump_path) {
		dump(&m, dump_path);
		dump_path = NULL;
	}
	struct vdisk_err err = {""};
	void *st = NULL;
	int r = fmt->open(&m.src, 0, &st, &err);
	check_msg(&err, "open");
	if (verbose)
		fprintf(stderr, "fuzz-%s: %s image of %llu bytes: open: %s\n", FUZZ_FORMAT,
			m.runs ? "sparse" : "plain", (unsigned long long)m.src.size,
			r < 0 ? err.msg : "ok");
	if (r > 0)
		die("open returned %d", r);
	if (r == 0) {
		struct vdisk_info info;
		memset(&info, 0, sizeof info);
		fmt->info(st, &info);
		if (info.n_specific > VDISK_MAX_KV)
			die("info: %u format-specific fields", info.n_specific);
		if (!memchr(info.backing_file, 0, sizeof info.backing_file) ||
		    !memchr(info.backing_format, 0, sizeof info.backing_format) ||
		    !memchr(info.compression, 0, sizeof info.compression))
			die("info: a string is not NUL-terminated");
		for (unsigned i = 0; i < info.n_specific; i++)
			if (!memchr(info.specific[i].key, 0, sizeof info.specific[i].key) ||
			    !memchr(info.specific[i].value, 0, sizeof info.specific[i].value))
				die("info: field %u is not NUL-terminated", i);
		if (verbose)
			fprintf(stderr, "fuzz-%s: virtual size %llu\n", FUZZ_FORMAT,
				(unsigned long long)info.virtual_size);
		exercise(st, info.virtual_size);
		fmt->close(st);
	}
	free(m.runs);
	return 0;
}
