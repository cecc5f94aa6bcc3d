/* SPDX-License-Identifier: MIT */
/*
 * vdisk.h - the interface between vdisk and its drivers.
 *
 * Every format, protocol and codec of vdisk is a lazymod module. A driver
 * registers a const object (struct vdisk_format, vdisk_protocol or
 * vdisk_codec) as a lazymod feature, and reaches the host only through the
 * handle its init gets and every source carries: a struct vdisk_services,
 * the first member of the host that handed it out. Drivers never link
 * against vdisk itself, and keep no copy of the handle: each call goes
 * through the source (src->svc) it concerns.
 *
 * One version rule: the interface is VDISK_IFACE_MAJOR.VDISK_IFACE_MINOR,
 * and a driver states the one it was built against with
 * LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR). lazymod loads it only
 * into a host of the same major and at least that minor, and its init
 * checks the handle with vdisk_check_host (drivers/driver.h), so a driver
 * may use every service of its minor. The service table is append-only
 * within a major (a new service goes at the end, with a new minor); the
 * objects drivers register change only with a new major.
 */
#ifndef VDISK_H
#define VDISK_H

#include <stddef.h>
#include <stdint.h>

#define VDISK_IFACE_MAJOR 2
#define VDISK_IFACE_MINOR 0

/* Feature kinds. */
#define VDISK_KIND_FORMAT "block-format"
#define VDISK_KIND_PROTOCOL "block-protocol"
#define VDISK_KIND_CODEC "codec"

/* Room for an error message; drivers fill it with the cause (no file name:
 * the host adds it). */
#define VDISK_ERRLEN 256
struct vdisk_err {
	char msg[VDISK_ERRLEN];
};

/*
 * The bytes of an image: a local file or a remote object. pread returns 0
 * when it read exactly len bytes, or a negative errno value (-EIO for a
 * read that would cross the end: callers check ranges against size first).
 */
struct vdisk_services;
struct vdisk_source {
	int (*pread)(struct vdisk_source *src, void *buf, size_t len, uint64_t off);
	uint64_t size;
	const char *name; /* file name or URI, for messages */
	/* The services of the host that opened it, set by the host (a
	 * protocol leaves it alone): how a driver reaches its host. */
	const struct vdisk_services *svc;
};

/* A decompressor. decompress returns the number of bytes written to out,
 * or a negative errno value (-EINVAL for corrupt input). */
struct vdisk_codec {
	const char *name;
	/* Decompresses a whole stream from in into out (at most out_len bytes).
	 * The input may be followed by unrelated bytes (qcow2 reads whole
	 * sectors); the codec stops at the end of its stream or when out is
	 * full. */
	long (*decompress)(const void *in, size_t in_len, void *out, size_t out_len);
};

/* An open image, as the host sees it (opaque to drivers). */
struct vdisk_image;

/* A key and value of format-specific information, for `info`. */
struct vdisk_kv {
	char key[48];
	char value[208];
	int is_number; /* value is a JSON number or boolean (true/false) */
};
#define VDISK_MAX_KV 24

/* What `info` shows. Drivers fill what applies; zero means unknown. */
struct vdisk_info {
	uint64_t virtual_size;
	uint64_t cluster_size;          /* or block / grain size */
	char backing_file[1024];        /* as recorded in the image, "" if none */
	char backing_format[32];        /* "" if not recorded */
	char compression[16];           /* "zlib", "zstd" or "" */
	struct vdisk_kv specific[VDISK_MAX_KV]; /* format-specific fields */
	unsigned n_specific;
};

/* Allocation status of a range, for convert to leave holes. */
enum vdisk_status {
	VDISK_DATA = 0, /* bytes must be read */
	VDISK_ZERO = 1, /* reads as zeros (unallocated, zero cluster, hole) */
};

/* The object of a block-format feature. */
struct vdisk_format {
	const char *name;
	/* Opens the image in src (which stays valid until close). depth is 0
	 * for the image the user named and grows by one along a backing chain
	 * (pass depth + 1 to open_backing). On failure returns a negative errno
	 * value and says why in err. */
	int (*open)(struct vdisk_source *src, unsigned depth, void **state, struct vdisk_err *err);
	/* Reads guest bytes [off, off+len); off+len <= virtual size. */
	int (*read)(void *state, void *buf, size_t len, uint64_t off, struct vdisk_err *err);
	/* Status of the guest range starting at off: sets *pnum to how many
	 * bytes from off (at least 1, at most len) share the returned status. */
	int (*status)(void *state, uint64_t off, uint64_t len, uint64_t *pnum, struct vdisk_err *err);
	void (*info)(void *state, struct vdisk_info *info);
	void (*close)(void *state);
};

/* The object of a block-protocol feature. */
struct vdisk_protocol {
	const char *name;
	/* Opens uri; options are "key=value" strings (NULL-terminated). */
	int (*open)(const char *uri, const char *const *options, struct vdisk_source **src,
		    struct vdisk_err *err);
	void (*close)(struct vdisk_source *src);
};

/*
 * What the host offers its drivers (append-only within a major). Each
 * service reaches the host through the source or image it is given.
 */
struct vdisk_services {
	uint32_t major; /* VDISK_IFACE_MAJOR of the host */
	uint32_t minor; /* VDISK_IFACE_MINOR of the host */
	/* A codec by name ("zlib", "zstd") for the image read from src; its
	 * module loads on first use. */
	int (*codec)(struct vdisk_source *src, const char *name, const struct vdisk_codec **codec,
		     struct vdisk_err *err);
	/* Opens a backing file: `backing` as recorded in the image read from
	 * base (relative names are relative to its directory); `format` may be
	 * NULL or "" to probe. depth counts the chain so far. */
	int (*open_backing)(struct vdisk_source *base, const char *backing, const char *format,
			    unsigned depth, struct vdisk_image **image, struct vdisk_err *err);
	int (*image_read)(struct vdisk_image *image, void *buf, size_t len, uint64_t off,
			  struct vdisk_err *err);
	uint64_t (*image_size)(struct vdisk_image *image);
	void (*image_close)(struct vdisk_image *image);
	/* A protocol's cause for the pread of src that is failing: pread can
	 * return only an errno value, which the format driver then reports
	 * without knowing why ("HTTP error 503", "the file changed on the
	 * server"). The host copies msg and shows it after the driver's error. */
	void (*source_error)(struct vdisk_source *src, const char *msg);
	/* Opens `name`, a file that the image read from `base` names beside
	 * itself (a vmdk extent or descriptor), through the host: the same
	 * protocol and the same checks as an image, so that the host knows
	 * every file a command reads. name is relative to base's directory and
	 * must stay inside it: absolute names, "..", and names that resolve
	 * elsewhere through symbolic links are refused (-EPERM), as are names
	 * beside a remote image (-ENOTSUP). *out stays valid until close_file. */
	int (*open_file)(struct vdisk_source *base, const char *name, struct vdisk_source **out,
			 struct vdisk_err *err);
	void (*close_file)(struct vdisk_source *src);
	/* Takes bytes of metadata memory (tables and caches a driver keeps
	 * while the image is open) from the budget of the image whose source
	 * is src. The image the user named and its whole backing chain share
	 * one budget of VDISK_META_BUDGET bytes, so that a chain costs at most
	 * what one image may. Returns 0, or -EFBIG with err saying how much the
	 * chain already holds: the driver fails its open then, or a cache stays
	 * at the size it has. The host gives the bytes back when it closes the
	 * source. */
	int (*meta_reserve)(struct vdisk_source *src, uint64_t bytes, struct vdisk_err *err);
};

/* Metadata memory an image and its backing chain may hold, together. */
#define VDISK_META_BUDGET (512ull << 20)

/* Longest backing chain vdisk follows. */
#define VDISK_MAX_CHAIN 16

#endif /* VDISK_H */
