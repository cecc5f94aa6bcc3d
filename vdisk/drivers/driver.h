/* SPDX-License-Identifier: MIT */
/*
 * driver.h - small helpers every vdisk driver uses: unaligned loads of
 * little- and big-endian integers from on-disk structures, overflow-checked
 * arithmetic, and filling a struct vdisk_err.
 */
#ifndef VDISK_DRIVER_H
#define VDISK_DRIVER_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../vdisk.h"

static inline uint16_t ld_le16(const void *p)
{
	const unsigned char *b = p;
	return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t ld_le32(const void *p)
{
	const unsigned char *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t ld_le64(const void *p)
{
	return ld_le32(p) | (uint64_t)ld_le32((const unsigned char *)p + 4) << 32;
}
static inline uint16_t ld_be16(const void *p)
{
	const unsigned char *b = p;
	return (uint16_t)(b[0] << 8 | b[1]);
}
static inline uint32_t ld_be32(const void *p)
{
	const unsigned char *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}
static inline uint64_t ld_be64(const void *p)
{
	return (uint64_t)ld_be32(p) << 32 | ld_be32((const unsigned char *)p + 4);
}

/*
 * The one version rule (vdisk.h), checked by every driver's init on the
 * handle it gets: a vdisk host of this major, and of at least this minor
 * (lazymod checked LM_INTERFACE already; this refuses anything else handed
 * over as the host). Returns 0 or -ENOSYS.
 */
static inline int vdisk_check_host(const void *host)
{
	const struct vdisk_services *s = host;
	/* minor + 1 > MINOR is minor >= MINOR, without a comparison that is
	 * always true while MINOR is 0. */
	return s && s->major == VDISK_IFACE_MAJOR && s->minor + 1 > VDISK_IFACE_MINOR ? 0 : -ENOSYS;
}

/* a + b into *r; returns 0, or -1 when it would overflow. */
static inline int add_u64(uint64_t a, uint64_t b, uint64_t *r)
{
	return __builtin_add_overflow(a, b, r) ? -1 : 0;
}
static inline int mul_u64(uint64_t a, uint64_t b, uint64_t *r)
{
	return __builtin_mul_overflow(a, b, r) ? -1 : 0;
}

/* Adds a format-specific field to what info shows (dropped past VDISK_MAX_KV). */
static inline void vdisk_add_kv(struct vdisk_info *info, const char *key, const char *value,
				int is_number)
{
	if (info->n_specific >= VDISK_MAX_KV)
		return;
	struct vdisk_kv *kv = &info->specific[info->n_specific++];
	snprintf(kv->key, sizeof kv->key, "%s", key);
	snprintf(kv->value, sizeof kv->value, "%s", value);
	kv->is_number = is_number;
}

/*
 * Takes bytes from the metadata budget that src's image shares with its
 * backing chain (see meta_reserve in vdisk.h). A source the host did not
 * open (a driver's own test harness) has no budget: 0, the driver's own
 * limits apply.
 */
static inline int vdisk_meta_reserve(struct vdisk_source *src, uint64_t bytes,
				     struct vdisk_err *err)
{
	if (!src || !src->svc || !src->svc->meta_reserve)
		return 0;
	return src->svc->meta_reserve(src, bytes, err);
}

/* Fills err with a message and returns `code` (a negative errno value). */
__attribute__((format(printf, 3, 4))) static inline int vdisk_fail(struct vdisk_err *err, int code,
								     const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return code;
}

#endif /* VDISK_DRIVER_H */
