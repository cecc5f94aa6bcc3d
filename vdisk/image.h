/* SPDX-License-Identifier: MIT */
/*
 * image.h - vdisk's host side, shared by the commands (vdisk.c) and the
 * image layer (image.c): the host object (its lazymod context, options and
 * the service table its drivers get), sources (the built-in "file"
 * protocol or a protocol module) and images (a source read through a
 * format driver).
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

/*
 * A host: everything one run of vdisk keeps (the lazymod context, protocol
 * options, the sources open, the chain being opened). Its first member is
 * the service table, and the handle drivers get (lm_options.host, each
 * source's svc) points there. host_new returns NULL when out of memory;
 * host_free takes NULL.
 */
struct vdisk_host;
struct vdisk_host *host_new(void);
void host_free(struct vdisk_host *h);
/* Creates the context for this build's mode (see VDISK_MODE). */
int host_start(struct vdisk_host *h, struct vdisk_err *err);
/* The context every lookup goes through; NULL until host_start(). */
struct lm_context *host_context(struct vdisk_host *h);
/*
 * Whether open_backing opens backing files (on by default). `info` turns
 * it off, as qemu-img info does not open them either: an image whose
 * backing file is missing or broken can still be described. Drivers then
 * get a detached image: its size is 0 and reading it fails.
 */
void host_set_follow_backing(struct vdisk_host *h, bool on);
/*
 * -U, --force-share: read local images that another process (QEMU) has
 * open for writing, and forbid it nothing. Without it, each local input
 * carries the shared locks qemu-img takes, and one that QEMU writes is
 * refused.
 */
void host_set_force_share(struct vdisk_host *h, bool on);

/*
 * Takes the exclusive locks of an output on fd (QEMU's lock bytes, all
 * of them): -EBUSY, with err saying why, when another process holds any.
 */
int host_lock_output(int fd, struct vdisk_err *err);
/* Whether the file at path, which convert would replace, is free of
 * QEMU's locks: 0, or -EBUSY with err saying why. */
int host_check_output(const char *path, struct vdisk_err *err);

/* The bytes of an image. */
struct source {
	struct vdisk_source *src;	     /* what drivers read */
	const struct vdisk_protocol *proto; /* NULL for a local file */
	struct vdisk_host *host;	     /* that opened it */
	struct source *next;		     /* in its host's list of open sources */
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
 * -EINVAL otherwise; vdisk's own options (backing_origin) apply to any
 * image. Each remote source opened gets the options its protocol takes,
 * except that a backing file off the user's image's origin gets none of
 * those that make vdisk trust a server (sslverify, cacert, identity,
 * known_hosts, host_key_check).
 */
int host_add_option(struct vdisk_host *h, const char *kv, struct vdisk_err *err);
int host_check_options(struct vdisk_host *h, const char *name, struct vdisk_err *err);

/*
 * A protocol's cause of a failed read ("URI: the file changed on the
 * server ..."), reported through the source_error service; NULL when none
 * is pending. Taking it clears it.
 */
const char *host_take_source_error(struct vdisk_host *h);

/*
 * The metadata memory of one image the user named and its backing chain:
 * drivers take bytes with the meta_reserve service, sources give them back
 * when they close. Reference-counted by the sources that draw on it.
 */
struct meta_budget {
	uint64_t limit, used;
	unsigned refs;
};

int source_open(struct vdisk_host *h, const char *name, struct source **out,
		struct vdisk_err *err);
void source_close(struct source *s);
/* Which format src holds, by lm_probe over its first and last bytes. */
int source_probe(struct source *s, struct lm_probe_result *res, struct vdisk_err *err);
/* Whether dev/ino is a file an open source reads (the output must not be one). */
bool source_in_use(struct vdisk_host *h, dev_t dev, ino_t ino);

struct vdisk_image {
	struct vdisk_host *host; /* NULL when detached */
	struct source *source;	 /* NULL when detached */
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
int image_open(struct vdisk_host *h, const char *name, const char *format, unsigned depth,
	       struct vdisk_image **out, struct vdisk_err *err);
void image_close(struct vdisk_image *img);

/*
 * Where a backing file recorded as `backing` in the image named `base`
 * is: relative names are relative to base's directory. In a remote image
 * (a URI a protocol module reads), every name without a scheme is on the
 * same server: relative to the image's directory, or from the server's
 * root when absolute, percent-encoded; a URI is itself. Returns 0, or
 * -ENAMETOOLONG when it does not fit in len bytes. Whether it may be
 * opened is another matter: open_backing refuses a remote image's backing
 * file on another origin (scheme, user, host, port), a local file
 * included, unless -o backing_origin=any.
 */
int resolve_backing(const char *base, const char *backing, char *out, size_t len);

#endif /* VDISK_IMAGE_H */
