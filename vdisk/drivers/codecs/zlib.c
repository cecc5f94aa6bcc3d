/* SPDX-License-Identifier: MIT */
/*
 * zlib - inflate for vdisk: "deflate" decodes a raw deflate stream (RFC 1951),
 * as qcow2 stores its compressed clusters; "zlib" decodes a zlib-wrapped
 * stream (RFC 1950), as VMDK streamOptimized grains hold.
 */
#include <errno.h>
#include <limits.h>
#include <zlib.h>

#define LM_MODULE_NAME zlib
#include <lazymod/module.h>

#include "../driver.h"

/*
 * Inflates until the stream ends or out is full. Either is success: qcow2
 * reads whole sectors, so bytes after the stream are normal, and a stream
 * that would produce more than out holds is cut where the caller wants.
 * Running out of input first means the stream is truncated.
 */
static long inflate_stream(int window_bits, const void *in, size_t in_len, void *out,
			   size_t out_len)
{
	z_stream s = {0};
	size_t in_left = in_len, out_left;
	long ret;

	if (out_len > LONG_MAX)
		out_len = LONG_MAX;
	out_left = out_len;
	if (inflateInit2(&s, window_bits) != Z_OK)
		return -ENOMEM;
	s.next_in = (Bytef *)in;
	s.next_out = out;
	for (;;) {
		/* avail_in and avail_out are only 32 bits wide: feed in slices. */
		if (!s.avail_in && in_left) {
			s.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
			in_left -= s.avail_in;
		}
		if (!s.avail_out && out_left) {
			s.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
			out_left -= s.avail_out;
		}
		int r = inflate(&s, Z_NO_FLUSH);
		int full = !s.avail_out && !out_left;
		if (r == Z_STREAM_END || ((r == Z_OK || r == Z_BUF_ERROR) && full)) {
			ret = (long)(out_len - out_left - s.avail_out);
			break;
		}
		if (r == Z_OK)
			continue;
		ret = r == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
		break;
	}
	inflateEnd(&s);
	return ret;
}

static long deflate_decompress(const void *in, size_t in_len, void *out, size_t out_len)
{
	/* Negative window bits: no zlib header or trailer. */
	return inflate_stream(-MAX_WBITS, in, in_len, out, out_len);
}

static long zlib_decompress(const void *in, size_t in_len, void *out, size_t out_len)
{
	return inflate_stream(MAX_WBITS, in, in_len, out, out_len);
}

/* The one version check every driver makes (drivers/driver.h). */
static int zlib_init(const void *host)
{
	return vdisk_check_host(host);
}

static const struct vdisk_codec deflate_codec = {
	.name = "deflate",
	.decompress = deflate_decompress,
};

static const struct vdisk_codec zlib_codec = {
	.name = "zlib",
	.decompress = zlib_decompress,
};

LM_MODULE("1.0", "deflate and zlib stream decompression (zlib library)", zlib_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_CODEC, "deflate", &deflate_codec);
LM_FEATURE(VDISK_KIND_CODEC, "zlib", &zlib_codec);
