/* SPDX-License-Identifier: MIT */
/*
 * vdisk.h - the interface between vdisk and its drivers.
 *
 * Every format, protocol and codec of vdisk is a lazymod module. A driver
 * registers a const object (struct vdisk_format, vdisk_protocol or
 * vdisk_codec) as a lazymod feature, and reaches the host only through the
 * service table handed to its init: it never links against vdisk itself.
 * The service table is append-only: a field once published keeps its place
 * and meaning, new ones go at the end, and `size` tells a driver which
 * fields this host has.
 *
 * Interface version: VDISK_IFACE_MAJOR.VDISK_IFACE_MINOR. A driver is built
 * against it with LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR).
 */
#ifndef VDISK_H
#define VDISK_H

#include <stddef.h>
#include <stdint.h>

#define VDISK_IFACE_MAJOR 1
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
struct vdisk_source {
	int (*pread)(struct vdisk_source *src, void *buf, size_t len, uint64_t off);
	uint64_t size;
	const char *name; /* file name or URI, for messages */
};

/* A decompressor. decompress returns the number of bytes written to out,
 * or a negative errno value (-EINVAL for corrupt input). */
struct vdisk_codec {
	uint32_t abi; /* VDISK_CODEC_ABI */
	const char *name;
	/* Decompresses a whole stream from in into out (at most out_len bytes).
	 * The input may be followed by unrelated bytes (qcow2 reads whole
	 * sectors); the codec stops at the end of its stream or when out is
	 * full. */
	long (*decompress)(const void *in, size_t in_len, void *out, size_t out_len);
};
#define VDISK_CODEC_ABI 1

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
	uint32_t abi; /* VDISK_FORMAT_ABI */
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
#define VDISK_FORMAT_ABI 1

/* The object of a block-protocol feature. */
struct vdisk_protocol {
	uint32_t abi; /* VDISK_PROTOCOL_ABI */
	const char *name;
	/* Opens uri; options are "key=value" strings (NULL-terminated). */
	int (*open)(const char *uri, const char *const *options, struct vdisk_source **src,
		    struct vdisk_err *err);
	void (*close)(struct vdisk_source *src);
};
#define VDISK_PROTOCOL_ABI 1

/* What the host offers its drivers (append-only). */
struct vdisk_services {
	uint32_t version; /* VDISK_IFACE_MINOR of the host */
	uint32_t size;    /* sizeof(struct vdisk_services) of the host */
	/* A codec by name ("zlib", "zstd"); its module loads on first use. */
	int (*codec)(const char *name, const struct vdisk_codec **codec, struct vdisk_err *err);
	/* Opens a backing file: `backing` as recorded in the image whose name
	 * is `base` (relative names are relative to base's directory); `format`
	 * may be NULL or "" to probe. depth counts the chain so far. */
	int (*open_backing)(const char *base, const char *backing, const char *format, unsigned depth,
			    struct vdisk_image **image, struct vdisk_err *err);
	int (*image_read)(struct vdisk_image *image, void *buf, size_t len, uint64_t off,
			  struct vdisk_err *err);
	uint64_t (*image_size)(struct vdisk_image *image);
	void (*image_close)(struct vdisk_image *image);
	/* A protocol's cause for the pread of src that is failing: pread can
	 * return only an errno value, which the format driver then reports
	 * without knowing why ("HTTP error 503", "the file changed on the
	 * server"). The host copies msg and shows it after the driver's error.
	 * Check `size` before calling: older hosts lack it. */
	void (*source_error)(struct vdisk_source *src, const char *msg);
	/* Takes bytes of metadata memory (tables and caches a driver keeps
	 * while the image is open) from the budget of the image whose source
	 * is src. The image the user named and its whole backing chain share
	 * one budget of VDISK_META_BUDGET bytes, so that a chain costs at most
	 * what one image may. Returns 0, or -EFBIG with err saying how much the
	 * chain already holds: the driver fails its open then, or a cache stays
	 * at the size it has. The host gives the bytes back when it closes the
	 * source. Check `size` before calling: older hosts lack it. */
	int (*meta_reserve)(struct vdisk_source *src, uint64_t bytes, struct vdisk_err *err);
};

/* Metadata memory an image and its backing chain may hold, together. */
#define VDISK_META_BUDGET (512ull << 20)

/* Longest backing chain vdisk follows. */
#define VDISK_MAX_CHAIN 16

#endif /* VDISK_H */
