/* SPDX-License-Identifier: MIT */
/*
 * image.h - vdisk's host side, shared by the commands (vdisk.c) and the
 * image layer (image.c): the lazymod context, sources (the built-in "file"
 * protocol or a protocol module), images (a source read through a format
 * driver) and the service table the drivers get.
 *
 * Error messages left in a struct vdisk_err name no file when they concern
 * the image the user named: the command prints "vdisk: FILE: cause". Errors
 * about a backing file carry its path, since the user never typed it.
 */
#ifndef VDISK_IMAGE_H
#define VDISK_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <lazymod.h>

#include "vdisk.h"

/* Bytes read from each end of an input for probing. */
#define VDISK_PROBE_BYTES (64u << 10)

/* The context every lookup goes through; NULL until host_start(). */
extern struct lm_context *vdisk_ctx;

/*
 * Whether open_backing opens backing files. `info` clears it, as qemu-img
 * info does not open them either: an image whose backing file is missing
 * or broken can still be described. Drivers then get a detached image: its
 * size is 0 and reading it fails.
 */
extern bool host_follow_backing;

/* Creates the context for this build's mode (see VDISK_MODE). */
int host_start(struct vdisk_err *err);
void host_stop(void);

/* The bytes of an image. */
struct source {
	struct vdisk_source *src;	     /* what drivers read */
	const struct vdisk_protocol *proto; /* NULL for a local file */
	struct source *next;		     /* in the list of open sources */
	char *name;			     /* as given, for messages */
	bool local;
	dev_t dev;			     /* local only */
	ino_t ino;
	uint64_t allocated;		     /* st_blocks * 512; UINT64_MAX when unknown */
	struct meta_budget *budget;	     /* its chain's; a reference, NULL until opened */
	uint64_t reserved;		     /* bytes its driver took from the budget */
	/* The built-in "file" protocol. */
	struct vdisk_source file;
	int fd;
};

/*
 * Protocol options (-o KEY=VALUE). host_add_option keeps kv (not copied: it
 * must outlive the run, as argv does) after checking that the key is known
 * and the value well-formed; -EINVAL otherwise, with err saying why (a
 * usage error). host_check_options, once the context exists, checks that
 * the protocol of image `name` takes every option given (it loads nothing);
 * -EINVAL otherwise. Each remote source opened, backing files included,
 * gets the options its protocol takes.
 */
int host_add_option(const char *kv, struct vdisk_err *err);
int host_check_options(const char *name, struct vdisk_err *err);

/*
 * A protocol's cause of a failed read ("URI: the file changed on the
 * server ..."), reported through the source_error service; NULL when none
 * is pending. Taking it clears it.
 */
const char *host_take_source_error(void);

/*
 * The metadata memory of one image the user named and its backing chain:
 * drivers take bytes with the meta_reserve service, sources give them back
 * when they close. Reference-counted by the sources that draw on it.
 */
struct meta_budget {
	uint64_t limit, used;
	unsigned refs;
};

int source_open(const char *name, struct source **out, struct vdisk_err *err);
void source_close(struct source *s);
/* Which format src holds, by lm_probe over its first and last bytes. */
int source_probe(struct source *s, struct lm_probe_result *res, struct vdisk_err *err);
/* Whether dev/ino is a file an open source reads (the output must not be one). */
bool source_in_use(dev_t dev, ino_t ino);

struct vdisk_image {
	struct source *source; /* NULL when detached */
	const struct vdisk_format *fmt;
	void *state;
	char format[64];		/* the feature name of fmt */
	struct lm_probe_result probe; /* score 0 when the format was given */
	struct vdisk_info info;
	char *name;			/* detached images: the resolved path */
};

/*
 * Opens image `name` as `format` (NULL or "" to probe). depth is 0 for the
 * image the user named.
 */
int image_open(const char *name, const char *format, unsigned depth, struct vdisk_image **out,
	       struct vdisk_err *err);
void image_close(struct vdisk_image *img);

/*
 * Where a backing file recorded as `backing` in the image named `base`
 * is: relative names are relative to base's directory. In a remote image
 * (a URI a protocol module reads), every name without a scheme is on the
 * same server: relative to the image's directory, or from the server's
 * root when absolute, percent-encoded. Returns 0, -ENAMETOOLONG when it
 * does not fit in len bytes, or -EPERM when a remote image names a local
 * file (file://...), which vdisk never opens for it.
 */
int resolve_backing(const char *base, const char *backing, char *out, size_t len);

#endif /* VDISK_IMAGE_H */
