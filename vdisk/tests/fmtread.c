/* SPDX-License-Identifier: MIT */
/*
 * fmtread - a test harness for vdisk's drivers, independent of the lazymod
 * runtime: the drivers are linked in directly and found through the
 * registration table their manifest macros emit (section lm_reg).
 *
 *   fmtread FORMAT IMAGE OUTPUT     writes the guest bytes to OUTPUT (raw),
 *                                   leaving holes where status says zero
 *   fmtread -i FORMAT IMAGE         prints the info fields, one per line
 *
 * Exit 0 on success, 1 with a message on stderr on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lazymod/common.h>

#include "../drivers/fileio.h"
#include "../vdisk.h"

extern const struct lm__reg *const __start_lm_reg[] __attribute__((weak, visibility("hidden")));
extern const struct lm__reg *const __stop_lm_reg[] __attribute__((weak, visibility("hidden")));

static const void *find(const char *kind, const char *name)
{
	for (const struct lm__reg *const *r = __start_lm_reg; r < __stop_lm_reg; r++)
		if ((*r)->type == LM__REG_FEATURE && !strcmp((*r)->kind, kind) &&
		    !strcmp((*r)->name, name))
			return (*r)->object;
	return NULL;
}

struct file_source {
	struct vdisk_source src;
	int fd;
};

static const struct vdisk_services services;

static int file_pread(struct vdisk_source *src, void *buf, size_t len, uint64_t off)
{
	struct file_source *fs = (struct file_source *)src;
	if (off > src->size || len > src->size - off)
		return -EIO;
	return vdisk_read_at(fs->fd, buf, len, off);
}

struct vdisk_image {
	struct file_source fs;
	const struct vdisk_format *fmt;
	void *state;
	struct vdisk_info info;
};

static int image_open(const char *path, const char *format, unsigned depth,
		      struct vdisk_image **out, struct vdisk_err *err)
{
	if (depth >= VDISK_MAX_CHAIN) {
		snprintf(err->msg, sizeof err->msg, "backing chain longer than %d",
			 VDISK_MAX_CHAIN);
		return -ELOOP;
	}
	struct vdisk_image *img = calloc(1, sizeof *img);
	if (!img)
		return -ENOMEM;
	img->fs.fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (img->fs.fd < 0 || fstat(img->fs.fd, &st) < 0) {
		int e = -errno;
		snprintf(err->msg, sizeof err->msg, "%.200s: %s", path, strerror(errno));
		if (img->fs.fd >= 0)
			close(img->fs.fd);
		free(img);
		return e;
	}
	img->fs.src.pread = file_pread;
	img->fs.src.size = (uint64_t)st.st_size;
	img->fs.src.name = strdup(path);
	img->fs.src.svc = &services;
	if (!format || !*format) {
		/* The harness's own crude probe; vdisk itself probes through lazymod. */
		unsigned char m[4] = {0};
		file_pread(&img->fs.src, m, 4, 0);
		format = !memcmp(m, "QFI\xfb", 4) ? "qcow2" : "raw";
	}
	img->fmt = find(VDISK_KIND_FORMAT, format);
	int r = -ENOENT;
	if (!img->fmt)
		snprintf(err->msg, sizeof err->msg, "no format driver %s", format);
	else
		r = img->fmt->open(&img->fs.src, depth, &img->state, err);
	if (r < 0) {
		close(img->fs.fd);
		free((char *)img->fs.src.name);
		free(img);
		return r;
	}
	img->fmt->info(img->state, &img->info);
	*out = img;
	return 0;
}

static void image_close(struct vdisk_image *img)
{
	if (!img)
		return;
	img->fmt->close(img->state);
	close(img->fs.fd);
	free((char *)img->fs.src.name);
	free(img);
}

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

static int svc_open_backing(struct vdisk_source *src, const char *backing, const char *format,
			    unsigned depth, struct vdisk_image **image, struct vdisk_err *err)
{
	char path[4096];
	const char *base = src->name;
	const char *slash = strrchr(base, '/');
	if (backing[0] != '/' && slash)
		snprintf(path, sizeof path, "%.*s/%s", (int)(slash - base), base, backing);
	else
		snprintf(path, sizeof path, "%s", backing);
	return image_open(path, format, depth, image, err);
}

static int svc_image_read(struct vdisk_image *img, void *buf, size_t len, uint64_t off,
			  struct vdisk_err *err)
{
	return img->fmt->read(img->state, buf, len, off, err);
}

static uint64_t svc_image_size(struct vdisk_image *img)
{
	return img->info.virtual_size;
}

/* A file beside an image, without vdisk's checks: the harness runs only
 * the images the tests made. */
static int svc_open_file(struct vdisk_source *base, const char *name, struct vdisk_source **out,
			 struct vdisk_err *err)
{
	char path[4096];
	const char *slash = strrchr(base->name, '/');
	snprintf(path, sizeof path, "%.*s%s", slash ? (int)(slash - base->name + 1) : 0, base->name,
		 name);
	struct file_source *fs = calloc(1, sizeof *fs);
	struct stat st;
	if (!fs)
		return -ENOMEM;
	fs->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fs->fd < 0 || fstat(fs->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err->msg, sizeof err->msg, "%.200s: %s", path,
			 fs->fd < 0 ? strerror(errno) : "not a regular file");
		if (fs->fd >= 0)
			close(fs->fd);
		free(fs);
		return -EINVAL;
	}
	fs->src.pread = file_pread;
	fs->src.size = (uint64_t)st.st_size;
	fs->src.name = strdup(path);
	fs->src.svc = &services;
	*out = &fs->src;
	return 0;
}

static void svc_close_file(struct vdisk_source *src)
{
	struct file_source *fs = (struct file_source *)src;
	close(fs->fd);
	free((char *)src->name);
	free(fs);
}

static const struct vdisk_services services = {
	.major = VDISK_IFACE_MAJOR,
	.minor = VDISK_IFACE_MINOR,
	.codec = svc_codec,
	.open_backing = svc_open_backing,
	.image_read = svc_image_read,
	.image_size = svc_image_size,
	.image_close = image_close,
	.open_file = svc_open_file,
	.close_file = svc_close_file,
};

/* Runs every init the drivers registered, as the host would on first use. */
static void init_all(void)
{
	extern const struct lm__module_desc *const __start_lm_mods[]
		__attribute__((weak, visibility("hidden")));
	extern const struct lm__module_desc *const __stop_lm_mods[]
		__attribute__((weak, visibility("hidden")));
	for (const struct lm__module_desc *const *d = __start_lm_mods; d < __stop_lm_mods; d++)
		if ((*d)->init && (*d)->init(&services) < 0) {
			fprintf(stderr, "fmtread: init of %s failed\n", (*d)->name);
			exit(1);
		}
}

int main(int argc, char **argv)
{
	int info_only = argc > 1 && !strcmp(argv[1], "-i");
	if (argc != 4) {
		fprintf(stderr, "usage: fmtread FORMAT IMAGE OUTPUT | fmtread -i FORMAT IMAGE\n");
		return 2;
	}
	init_all();
	const char *format = argv[1 + info_only], *path = argv[2 + info_only];
	struct vdisk_err err = {""};
	struct vdisk_image *img;
	if (image_open(path, format, 0, &img, &err) < 0) {
		fprintf(stderr, "fmtread: %s: %s\n", path, err.msg);
		return 1;
	}
	if (info_only) {
		struct vdisk_info *i = &img->info;
		printf("virtual-size=%llu\ncluster-size=%llu\nbacking-filename=%s\n"
		       "backing-format=%s\ncompression=%s\n",
		       (unsigned long long)i->virtual_size, (unsigned long long)i->cluster_size,
		       i->backing_file, i->backing_format, i->compression);
		for (unsigned k = 0; k < i->n_specific; k++)
			printf("%s=%s\n", i->specific[k].key, i->specific[k].value);
		image_close(img);
		return 0;
	}
	/* From here every path goes through `done`, which closes the image. */
	int status = 1;
	int out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0 || ftruncate(out, (off_t)img->info.virtual_size) < 0) {
		perror(argv[3]);
		goto done;
	}
	static char buf[1 << 20];
	uint64_t size = img->info.virtual_size, off = 0;
	while (off < size) {
		uint64_t want = size - off < sizeof buf ? size - off : sizeof buf, n;
		int st = img->fmt->status(img->state, off, want, &n, &err);
		if (st < 0 || n == 0 || n > want) {
			fprintf(stderr, "fmtread: %s: status at %llu: %s\n", path,
				(unsigned long long)off, st < 0 ? err.msg : "bad length");
			goto done;
		}
		if (st == VDISK_DATA) {
			if (img->fmt->read(img->state, buf, n, off, &err) < 0) {
				fprintf(stderr, "fmtread: %s: read at %llu: %s\n", path,
					(unsigned long long)off, err.msg);
				goto done;
			}
			if (pwrite(out, buf, n, (off_t)off) != (ssize_t)n) {
				perror(argv[3]);
				goto done;
			}
		}
		off += n;
	}
	status = 0;
done:
	if (out >= 0 && close(out) < 0 && status == 0) {
		perror(argv[3]);
		status = 1;
	}
	image_close(img);
	return status;
}
