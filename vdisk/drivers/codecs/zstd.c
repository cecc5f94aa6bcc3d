/* SPDX-License-Identifier: MIT */
/*
 * zstd - Zstandard decompression for vdisk: one zstd frame, as qcow2 stores
 * its clusters when the image's compression_type is zstd.
 */
#include <errno.h>
#include <limits.h>
#include <zstd.h>
#include <zstd_errors.h>

#define LM_MODULE_NAME zstd
#include <lazymod/module.h>

#include "../driver.h"

/*
 * The largest window a frame may ask for. The decoder allocates the window,
 * so a hostile frame could otherwise make it take 128 MiB (zstd's default
 * limit); qcow2 clusters are at most 2 MiB, and encoders size the window to
 * the input, so 32 MiB leaves ample room.
 */
#define WINDOW_LOG_MAX 25

/*
 * Streaming decompression, not ZSTD_decompress(): it stops at the end of
 * the first frame (qcow2 reads whole sectors, so other bytes may follow)
 * and never writes past out.
 */
static long zstd_decompress(const void *in, size_t in_len, void *out, size_t out_len)
{
	ZSTD_inBuffer ib = {in, in_len, 0};
	ZSTD_outBuffer ob = {out, out_len > LONG_MAX ? LONG_MAX : out_len, 0};
	ZSTD_DCtx *d = ZSTD_createDCtx();
	long ret;

	if (!d)
		return -ENOMEM;
	if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, WINDOW_LOG_MAX))) {
		ZSTD_freeDCtx(d);
		return -EINVAL;
	}
	for (;;) {
		size_t in_pos = ib.pos, out_pos = ob.pos;
		size_t r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r)) {
			ret = ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM
										     : -EINVAL;
			break;
		}
		/* 0: the frame is complete and flushed. */
		if (r == 0 || ob.pos == ob.size) {
			ret = (long)ob.pos;
			break;
		}
		/* No progress with room left: the input ends inside the frame. */
		if (ib.pos == in_pos && ob.pos == out_pos) {
			ret = -EINVAL;
			break;
		}
	}
	ZSTD_freeDCtx(d);
	return ret;
}

/* The one version check every driver makes (drivers/driver.h). */
static int zstd_init(const void *host)
{
	return vdisk_check_host(host);
}

static const struct vdisk_codec zstd_codec = {
	.name = "zstd",
	.decompress = zstd_decompress,
};

LM_MODULE("1.0", "Zstandard frame decompression (zstd library)", zstd_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_CODEC, "zstd", &zstd_codec);
