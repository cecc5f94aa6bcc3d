/* SPDX-License-Identifier: MIT */
/*
 * cache.h - the read cache and read-ahead of vdisk's network protocols
 * (http, sftp), written once in cache.c.
 *
 * Format drivers read small pieces (a 512-byte header, a 64 KiB cluster, an
 * L2 table), each of which would cost a network round trip. The cache turns
 * them into few, large requests: a miss fetches a whole window around the
 * wanted bytes, a window that carries on where a cached one ends doubles in
 * size (a sequential stream: convert), up to RC_MAX_WINDOW, and a small LRU
 * of windows keeps the metadata a format keeps going back to.
 *
 * cache.c is part of libvdisk-driver, the static library of code shared
 * by drivers: each protocol module links it (hidden, so a module exports
 * none of it) and in the builtin and eager modes vdisk links it once.
 */
#ifndef VDISK_PROTOCOL_CACHE_H
#define VDISK_PROTOCOL_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* Smallest fetch, and the alignment of every window. */
#define RC_BLOCK (256u << 10)
/* Largest window: a stream's read-ahead stops growing there. */
#define RC_MAX_WINDOW (4u << 20)
/* Windows kept: at most RC_SLOTS * RC_MAX_WINDOW bytes (32 MiB). */
#define RC_SLOTS 8
/* A read this large goes straight to the caller's buffer, in requests of at
 * most RC_DIRECT_MAX bytes, so that no single request is unbounded. */
#define RC_DIRECT_MAX (16u << 20)

/*
 * Reads exactly len bytes at off (within the size given to rc_init) into
 * buf, in one request. Returns 0 or a negative errno value; a protocol
 * explains its failures itself (vdisk_services.source_error).
 */
typedef int (*rc_fetch_fn)(void *opaque, void *buf, size_t len, uint64_t off);

struct rc_slot {
	unsigned char *data;
	size_t cap;    /* bytes allocated */
	uint64_t off;  /* the window's first byte */
	size_t len;    /* 0: empty */
	size_t win;    /* the read-ahead it was fetched with */
	uint64_t used; /* LRU clock */
};

struct rcache {
	rc_fetch_fn fetch;
	void *opaque;
	uint64_t size; /* of the source: no window goes past it */
	uint64_t clock;
	unsigned long requests; /* fetches made, for debugging and tests */
	struct rc_slot slot[RC_SLOTS];
};

/* Starts an empty cache over a source of size bytes read with fetch. */
void rc_init(struct rcache *c, rc_fetch_fn fetch, void *opaque, uint64_t size);
/* Frees every window; the cache can be used again after rc_init. */
void rc_free(struct rcache *c);
/* Keeps len bytes already fetched at off (a response's first bytes). */
void rc_seed(struct rcache *c, const void *data, size_t len, uint64_t off);
/* Reads len bytes at off through the cache: 0 or a negative errno value. */
int rc_read(struct rcache *c, void *buf, size_t len, uint64_t off);

#endif /* VDISK_PROTOCOL_CACHE_H */
