/* SPDX-License-Identifier: MIT */
/*
 * cache.c - the read cache and read-ahead of vdisk's network protocols:
 * see cache.h. Built into a small static library (libvdisk-driver) that
 * each protocol module links, with hidden visibility: nothing here is
 * exported from a module.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

void rc_init(struct rcache *c, rc_fetch_fn fetch, void *opaque, uint64_t size)
{
	memset(c, 0, sizeof *c);
	c->fetch = fetch;
	c->opaque = opaque;
	c->size = size;
}

void rc_free(struct rcache *c)
{
	for (unsigned i = 0; i < RC_SLOTS; i++)
		free(c->slot[i].data);
	memset(c->slot, 0, sizeof c->slot);
}

/* The window holding byte off, or NULL. */
static struct rc_slot *rc_find(struct rcache *c, uint64_t off)
{
	for (unsigned i = 0; i < RC_SLOTS; i++) {
		struct rc_slot *s = &c->slot[i];
		if (s->len && off >= s->off && off - s->off < s->len)
			return s;
	}
	return NULL;
}

/* The window ending exactly at off: the stream a miss there carries on. */
static struct rc_slot *rc_ending_at(struct rcache *c, uint64_t off)
{
	for (unsigned i = 0; i < RC_SLOTS; i++) {
		struct rc_slot *s = &c->slot[i];
		if (s->len && s->off + s->len == off)
			return s;
	}
	return NULL;
}

/* An empty slot, or the least recently used one, with room for len bytes. */
static struct rc_slot *rc_victim(struct rcache *c, size_t len)
{
	struct rc_slot *v = &c->slot[0];
	for (unsigned i = 0; i < RC_SLOTS; i++) {
		struct rc_slot *s = &c->slot[i];
		if (!s->len) {
			v = s;
			break;
		}
		if (s->used < v->used)
			v = s;
	}
	v->len = 0;
	if (v->cap < len) {
		/* Windows only grow in steps of RC_BLOCK up to RC_MAX_WINDOW:
		 * allocating the largest once saves reallocating along a stream. */
		size_t cap = len <= RC_BLOCK ? RC_BLOCK : RC_MAX_WINDOW;
		unsigned char *p = malloc(cap);
		if (!p)
			return NULL;
		free(v->data);
		v->data = p;
		v->cap = cap;
	}
	return v;
}

/*
 * Keeps bytes the protocol already has (http's first answer, read before
 * the size was known) as a window of their own. A failure to keep them
 * costs only a request later.
 */
void rc_seed(struct rcache *c, const void *data, size_t len, uint64_t off)
{
	if (!len || len > RC_MAX_WINDOW || off > c->size || len > c->size - off)
		return;
	struct rc_slot *s = rc_victim(c, len);
	if (!s)
		return;
	memcpy(s->data, data, len);
	s->off = off;
	s->len = len;
	s->win = RC_BLOCK;
	s->used = ++c->clock;
}

/* Reads [off, off+len) through the cache; 0, or -EIO past the end, or the fetch's error. */
int rc_read(struct rcache *c, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;
	if (off > c->size || len > c->size - off)
		return -EIO;
	while (len) {
		struct rc_slot *s = rc_find(c, off);
		if (s) {
			size_t n = (size_t)(s->off + s->len - off);
			if (n > len)
				n = len;
			memcpy(p, s->data + (off - s->off), n);
			s->used = ++c->clock;
			p += n, off += n, len -= n;
			continue;
		}
		/* A large read gains nothing from a copy in the cache. */
		if (len >= RC_MAX_WINDOW) {
			size_t n = len < RC_DIRECT_MAX ? len : RC_DIRECT_MAX;
			c->requests++;
			int r = c->fetch(c->opaque, p, n, off);
			if (r < 0)
				return r;
			p += n, off += n, len -= n;
			continue;
		}
		uint64_t start = off - off % RC_BLOCK;
		struct rc_slot *prev = rc_ending_at(c, start);
		size_t win = RC_BLOCK;
		if (prev)
			win = prev->win < RC_MAX_WINDOW / 2 ? 2 * prev->win : RC_MAX_WINDOW;
		/* At least the whole read, when it fits in one window. */
		uint64_t need = off + len - start;
		need = (need + RC_BLOCK - 1) / RC_BLOCK * RC_BLOCK;
		if (need > win)
			win = need < RC_MAX_WINDOW ? (size_t)need : RC_MAX_WINDOW;
		size_t n = c->size - start < win ? (size_t)(c->size - start) : win;
		s = rc_victim(c, n);
		if (!s)
			return -ENOMEM;
		c->requests++;
		int r = c->fetch(c->opaque, s->data, n, start);
		if (r < 0)
			return r;
		s->off = start;
		s->len = n;
		s->win = win;
		s->used = ++c->clock;
	}
	return 0;
}
