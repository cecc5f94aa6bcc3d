/* SPDX-License-Identifier: MIT */
/*
 * sparse.c - an array whose memory is allocated where it is first written:
 * a radix tree of 64-way nodes over leaves of 64 slots. An empty one costs
 * its root alone (64 pointers, inside the owner), whatever its length, so
 * that opening an index of 10,000 modules allocates no more than one of ten;
 * a module's state takes memory once the module is used.
 *
 * Readers take no lock: a slot never written reads as NULL (zero), and a
 * node, once published, stays until lm__sparse_free. Writers may race: each
 * new node is published with a compare-and-swap, and the loser frees its own.
 */
#include <stdlib.h>

#include "lazymod-private.h"

#define BITS 6
#define FAN (1u << BITS)

void lm__sparse_init(struct lm__sparse *s, size_t n, size_t elem)
{
	for (unsigned i = 0; i < FAN; i++)
		atomic_init(&s->root[i], NULL);
	s->elem = elem;
	s->n = n;
	/* Levels of nodes under the root, so that the root covers n slots. */
	s->depth = 0;
	for (size_t cover = (size_t)FAN * FAN; cover < n; cover <<= BITS)
		s->depth++;
}

/* The child of `node` at index k, allocated when `make` and missing. */
static void *child(_Atomic(void *) *node, unsigned k, size_t size, bool make)
{
	void *c = atomic_load_explicit(&node[k], memory_order_acquire);
	if (c || !make)
		return c;
	void *fresh = lm__calloc(1, size);
	if (!fresh)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(&node[k], &c, fresh, memory_order_acq_rel,
						    memory_order_acquire))
		return fresh;
	free(fresh);
	return c; /* another writer's */
}

static void *walk(const struct lm__sparse *cs, size_t i, bool make)
{
	struct lm__sparse *s = (struct lm__sparse *)cs; /* written only when make */
	if (i >= s->n)
		return NULL;
	_Atomic(void *) *node = s->root;
	for (unsigned level = s->depth + 1; level > 1; level--) {
		unsigned k = (unsigned)(i >> (BITS * level)) & (FAN - 1);
		node = child(node, k, FAN * sizeof(_Atomic(void *)), make);
		if (!node)
			return NULL;
	}
	unsigned char *leaf = child(node, (unsigned)(i >> BITS) & (FAN - 1), FAN * s->elem, make);
	return leaf ? leaf + (i & (FAN - 1)) * s->elem : NULL;
}

void *lm__sparse_peek(const struct lm__sparse *s, size_t i)
{
	return walk(s, i, false);
}

void *lm__sparse_slot(struct lm__sparse *s, size_t i)
{
	return walk(s, i, true);
}

static void free_node(_Atomic(void *) *node, unsigned level, void (*each)(void *slot),
		      size_t elem)
{
	for (unsigned k = 0; k < FAN; k++) {
		void *c = atomic_load_explicit(&node[k], memory_order_relaxed);
		if (!c)
			continue;
		if (level > 1) {
			free_node(c, level - 1, each, elem);
		} else if (each) {
			for (unsigned j = 0; j < FAN; j++)
				each((unsigned char *)c + j * elem);
		}
		free(c);
	}
}

void lm__sparse_free(struct lm__sparse *s, void (*each)(void *slot))
{
	free_node(s->root, s->depth + 1, each, s->elem);
	lm__sparse_init(s, s->n, s->elem);
}
