/* SPDX-License-Identifier: MIT */
/*
 * index.c - the binary index: building it from manifests, writing it
 * atomically, and reading it in place from a read-only mapping.
 *
 * Layout (native byte order, all offsets from the start of the file):
 *   header        struct lm__ihdr: magic, version, sizes, checksums, tables
 *   modules       struct lm__imod[nmods], in the order they were scanned
 *   features      struct lm__ifeat[nfeats], sorted by kind then name
 *   kinds         struct lm__ikind[nkinds]: each kind's feature and rule range
 *   rules         struct lm__irule[nrules], grouped by kind
 *   refs          uint32_t[nrefs]: modules' dependency, target and feature lists
 *   feature hash  struct lm__islot[fslots], open addressing, linear probing
 *   module hash   struct lm__islot[mslots]
 *   strings       NUL-terminated; starts and ends with a NUL
 *
 * Opening checks the header alone (O(1)). Each record carries a CRC-32C of
 * its bytes and of the strings and refs it points to, and each hash slot
 * one of its own, checked when a lookup touches them: a lookup reads only
 * the pages it needs, and still never answers from a damaged record. The
 * body checksum in the header covers everything, for `lazymod check`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lazymod-private.h"

_Static_assert(sizeof(struct lm__ihdr) == 104, "index header layout");
_Static_assert(sizeof(struct lm__imod) == 168, "index module layout");
_Static_assert(sizeof(struct lm__irule) == 32, "index rule layout");

#define EMPTY UINT32_MAX
#define MAX_ENTRIES (1u << 24) /* per table: far beyond any real module set */

/* ---- reading --------------------------------------------------------------- */

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), LM_E_CORRUPT)

static bool section_ok(const struct lm__ihdr *h, size_t size, uint32_t off, uint64_t count,
		       size_t elem)
{
	uint64_t len = count * elem;
	return count <= MAX_ENTRIES && off >= h->header_size && off % 8 == 0 && off <= size &&
	       len <= size - off;
}

int lm__index_open(struct lm__index *ix, const void *base, size_t size, char *why, size_t whylen)
{
	/* ix->ok is the caller's to set, after the header is checked. */
	const struct lm__ihdr *h = base;
	memset(ix, 0, sizeof *ix);
	if (size < sizeof *h)
		return WHY("%zu bytes: shorter than its header", size);
	if (memcmp(h->magic, LM__INDEX_MAGIC, 8) != 0)
		return WHY("bad magic");
	if (h->version != LM__INDEX_VERSION) {
		snprintf(why, whylen, "format version %u, this library reads version %u",
			 h->version, LM__INDEX_VERSION);
		return LM_E_VERSION;
	}
	if (h->header_size != sizeof *h)
		return WHY("header size %u, expected %zu", h->header_size, sizeof *h);
	if (h->file_size != size)
		return WHY("header says %llu bytes, the file has %zu (truncated or extended)",
			   (unsigned long long)h->file_size, size);
	struct lm__ihdr copy = *h;
	copy.header_crc = 0;
	if (lm__crc32c(0, &copy, sizeof copy) != h->header_crc)
		return WHY("header checksum mismatch");
	if (!section_ok(h, size, h->mods_off, h->nmods, sizeof(struct lm__imod)) ||
	    !section_ok(h, size, h->feats_off, h->nfeats, sizeof(struct lm__ifeat)) ||
	    !section_ok(h, size, h->kinds_off, h->nkinds, sizeof(struct lm__ikind)) ||
	    !section_ok(h, size, h->rules_off, h->nrules, sizeof(struct lm__irule)) ||
	    !section_ok(h, size, h->refs_off, h->nrefs, sizeof(uint32_t)) ||
	    !section_ok(h, size, h->fhash_off, h->fslots, sizeof(struct lm__islot)) ||
	    !section_ok(h, size, h->mhash_off, h->mslots, sizeof(struct lm__islot)) ||
	    !section_ok(h, size, h->strings_off, h->strings_size, 1))
		return WHY("a table lies outside the file or is too large");
	if (!h->fslots || (h->fslots & (h->fslots - 1)) || h->fslots <= h->nfeats || !h->mslots ||
	    (h->mslots & (h->mslots - 1)) || h->mslots <= h->nmods)
		return WHY("hash table sizes are not powers of two above their counts");
	const unsigned char *s = (const unsigned char *)base + h->strings_off;
	if (h->strings_size < 1 || s[0] != 0 || s[h->strings_size - 1] != 0)
		return WHY("string table is not NUL-delimited");
	ix->base = base;
	ix->size = size;
	ix->h = h;
	return 0;
}

const char *lm__index_str(const struct lm__index *ix, uint32_t off)
{
	if (off >= ix->h->strings_size)
		return NULL;
	return (const char *)ix->base + ix->h->strings_off + off;
}

int lm__index_ref(const struct lm__index *ix, uint32_t i, uint32_t *val)
{
	if (i >= ix->h->nrefs)
		return LM_E_CORRUPT;
	memcpy(val, ix->base + ix->h->refs_off + (size_t)i * 4, 4);
	return 0;
}

/* CRC of a string at off (with its NUL); false when off is out of bounds. */
static bool crc_str(const struct lm__index *ix, uint32_t off, uint32_t *crc)
{
	const char *s = lm__index_str(ix, off);
	if (!s)
		return false;
	*crc = lm__crc32c(*crc, s, strlen(s) + 1);
	return true;
}

static uint32_t record_crc(const void *rec, size_t len, size_t crc_off)
{
	unsigned char tmp[sizeof(struct lm__imod)];
	memcpy(tmp, rec, len);
	memset(tmp + crc_off, 0, 4);
	return lm__crc32c(0, tmp, len);
}

/* Whether record `slot` of ix->ok was verified before; marks it when now is. */
static bool verified(const struct lm__index *ix, size_t slot)
{
	const _Atomic unsigned char *b = ix->ok ? lm__sparse_peek(ix->ok, slot) : NULL;
	return b && atomic_load_explicit(b, memory_order_relaxed);
}

static void mark_verified(const struct lm__index *ix, size_t slot)
{
	/* Out of memory the mark is lost: the record is checked again next time. */
	_Atomic unsigned char *b = ix->ok ? lm__sparse_slot(ix->ok, slot) : NULL;
	if (b)
		atomic_store_explicit(b, 1, memory_order_relaxed);
}

const struct lm__ifeat *lm__index_feat(const struct lm__index *ix, uint32_t i)
{
	if (i >= ix->h->nfeats)
		return NULL;
	const struct lm__ifeat *f = (const void *)(ix->base + ix->h->feats_off + (size_t)i * sizeof *f);
	if (verified(ix, i))
		return f;
	uint32_t crc = record_crc(f, sizeof *f, offsetof(struct lm__ifeat, crc));
	if (!crc_str(ix, f->kind, &crc) || !crc_str(ix, f->name, &crc) || crc != f->crc ||
	    f->mod >= ix->h->nmods)
		return NULL;
	mark_verified(ix, i);
	return f;
}

static bool crc_refs(const struct lm__index *ix, uint32_t first, uint32_t n, bool strings,
		     uint32_t *crc)
{
	if (first > ix->h->nrefs || n > ix->h->nrefs - first)
		return false;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t v;
		lm__index_ref(ix, first + k, &v);
		*crc = lm__crc32c(*crc, &v, 4);
		if (strings ? !crc_str(ix, v, crc) : v >= ix->h->nfeats)
			return false;
	}
	return true;
}

const struct lm__imod *lm__index_mod(const struct lm__index *ix, uint32_t i)
{
	if (i >= ix->h->nmods)
		return NULL;
	const struct lm__imod *m = (const void *)(ix->base + ix->h->mods_off + (size_t)i * sizeof *m);
	uint32_t crc = record_crc(m, sizeof *m, offsetof(struct lm__imod, crc));
	if (!crc_str(ix, m->name, &crc) || !crc_str(ix, m->version, &crc) ||
	    !crc_str(ix, m->description, &crc) || !crc_str(ix, m->package, &crc) ||
	    !crc_str(ix, m->path, &crc) || !crc_refs(ix, m->deps_first, m->ndeps, true, &crc) ||
	    !crc_refs(ix, m->targets_first, m->ntargets, true, &crc) ||
	    !crc_refs(ix, m->feats_first, m->nfeats, false, &crc) || crc != m->crc ||
	    m->build_id_len > sizeof m->build_id)
		return NULL;
	return m;
}

const struct lm__irule *lm__index_rule(const struct lm__index *ix, uint32_t i)
{
	if (i >= ix->h->nrules)
		return NULL;
	const struct lm__irule *r = (const void *)(ix->base + ix->h->rules_off + (size_t)i * sizeof *r);
	if (verified(ix, (size_t)ix->h->nfeats + i))
		return r;
	uint32_t crc = record_crc(r, sizeof *r, offsetof(struct lm__irule, crc));
	/* The writer never makes longer patterns, nor empty magic. */
	if (r->len > LM__MAX_RULE_BYTES ||
	    ((r->type == LM_RULE_MAGIC || r->type == LM_RULE_MAGIC_END) && r->len == 0))
		return NULL;
	uint32_t blen = r->len + 1;
	if (r->bytes >= ix->h->strings_size || blen > ix->h->strings_size - r->bytes)
		return NULL;
	crc = lm__crc32c(crc, ix->base + ix->h->strings_off + r->bytes, blen);
	if (r->mask) {
		if (r->mask >= ix->h->strings_size || blen > ix->h->strings_size - r->mask)
			return NULL;
		crc = lm__crc32c(crc, ix->base + ix->h->strings_off + r->mask, blen);
	}
	if (crc != r->crc || r->feat >= ix->h->nfeats)
		return NULL;
	mark_verified(ix, (size_t)ix->h->nfeats + i);
	return r;
}

static const struct lm__ikind *index_kind(const struct lm__index *ix, uint32_t i)
{
	const struct lm__ikind *k = (const void *)(ix->base + ix->h->kinds_off + (size_t)i * sizeof *k);
	uint32_t crc = record_crc(k, sizeof *k, offsetof(struct lm__ikind, crc));
	if (!crc_str(ix, k->kind, &crc) || crc != k->crc || k->feats_first > ix->h->nfeats ||
	    k->nfeats > ix->h->nfeats - k->feats_first || k->rules_first > ix->h->nrules ||
	    k->nrules > ix->h->nrules - k->rules_first)
		return NULL;
	return k;
}

static uint32_t slot_check(uint32_t pos, uint32_t hash, uint32_t index)
{
	uint32_t v[3] = {pos, hash, index};
	return lm__crc32c(0, v, sizeof v);
}

/*
 * Walks the probe sequence of hash h in a table, calling match on each
 * candidate until it says yes (1), no more (empty slot), or damage.
 */
static int hash_find(const struct lm__index *ix, uint32_t off, uint32_t nslots, uint32_t h,
		     int (*match)(const struct lm__index *, uint32_t, const void *), const void *key,
		     uint32_t *out)
{
	const struct lm__islot *slots = (const void *)(ix->base + off);
	for (uint32_t i = 0; i < nslots; i++) {
		uint32_t pos = (h + i) & (nslots - 1);
		struct lm__islot s = slots[pos];
		if (s.check != slot_check(pos, s.hash, s.index))
			return LM_E_CORRUPT;
		if (s.index == EMPTY)
			return LM_E_NOTFOUND;
		if (s.hash != h)
			continue;
		int r = match(ix, s.index, key);
		if (r < 0)
			return r;
		if (r) {
			*out = s.index;
			return 0;
		}
	}
	return LM_E_NOTFOUND;
}

struct fkey {
	const char *kind, *name;
	const struct lm__ifeat *found; /* the verified record that matched */
};

static int match_feat(const struct lm__index *ix, uint32_t i, const void *key)
{
	struct fkey *k = (struct fkey *)key;
	const struct lm__ifeat *f = lm__index_feat(ix, i);
	if (!f)
		return LM_E_CORRUPT;
	k->found = f;
	return !strcmp(lm__index_str(ix, f->kind), k->kind) &&
	       !strcmp(lm__index_str(ix, f->name), k->name);
}

struct mkey {
	const char *name, *target; /* target NULL: any build */
};

static int match_mod(const struct lm__index *ix, uint32_t i, const void *key)
{
	const struct mkey *k = key;
	const struct lm__imod *m = lm__index_mod(ix, i);
	if (!m)
		return LM_E_CORRUPT;
	return !strcmp(lm__index_str(ix, m->name), k->name) &&
	       (!k->target || lm__index_serves(ix, m, k->target));
}

bool lm__index_serves(const struct lm__index *ix, const struct lm__imod *rec, const char *target)
{
	for (uint32_t i = 0; i < rec->ntargets; i++) {
		uint32_t off = 0;
		lm__index_ref(ix, rec->targets_first + i, &off);
		if (!strcmp(lm__index_str(ix, off), target))
			return true;
	}
	return !rec->ntargets;
}

int lm__index_get_feature(const struct lm__index *ix, const char *kind, const char *name,
			  uint32_t *feat, const struct lm__ifeat **rec)
{
	struct fkey k = {kind, name, NULL};
	int r = hash_find(ix, ix->h->fhash_off, ix->h->fslots, lm__hash(kind, name), match_feat, &k,
			  feat);
	if (r == 0 && rec)
		*rec = k.found;
	return r;
}

int lm__index_find_feature(const struct lm__index *ix, const char *kind, const char *name,
			   uint32_t *feat)
{
	return lm__index_get_feature(ix, kind, name, feat, NULL);
}

int lm__index_find_module(const struct lm__index *ix, const char *name, uint32_t *mod)
{
	return lm__index_find_build(ix, name, NULL, mod);
}

int lm__index_find_build(const struct lm__index *ix, const char *name, const char *target,
			 uint32_t *mod)
{
	struct mkey k = {name, target};
	return hash_find(ix, ix->h->mhash_off, ix->h->mslots, lm__hash(name, NULL), match_mod, &k,
			 mod);
}

int lm__index_next_build(const struct lm__index *ix, uint32_t fi, uint32_t *next)
{
	const struct lm__ifeat *f = lm__index_feat(ix, fi);
	if (!f || !(f->flags & LM__IFEAT_MORE))
		return f ? LM_E_NOTFOUND : LM_E_CORRUPT;
	const struct lm__ifeat *n = lm__index_feat(ix, fi + 1);
	if (!n || strcmp(lm__index_str(ix, f->kind), lm__index_str(ix, n->kind)) ||
	    strcmp(lm__index_str(ix, f->name), lm__index_str(ix, n->name)))
		return LM_E_CORRUPT;
	*next = fi + 1;
	return 0;
}

int lm__index_find_kind(const struct lm__index *ix, const char *kind, const struct lm__ikind **out)
{
	/* Few kinds, sorted: a binary search. */
	uint32_t lo = 0, hi = ix->h->nkinds;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct lm__ikind *k = index_kind(ix, mid);
		if (!k)
			return LM_E_CORRUPT;
		int c = strcmp(kind, lm__index_str(ix, k->kind));
		if (c == 0) {
			*out = k;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return LM_E_NOTFOUND;
}

int lm__index_verify(const struct lm__index *ix, char *why, size_t whylen)
{
	const struct lm__ihdr *h = ix->h;
	if (lm__crc32c(0, ix->base + h->header_size, ix->size - h->header_size) != h->body_crc)
		return WHY("body checksum mismatch");
	for (uint32_t i = 0; i < h->nmods; i++)
		if (!lm__index_mod(ix, i))
			return WHY("module record %u is damaged", i);
	for (uint32_t i = 0; i < h->nfeats; i++)
		if (!lm__index_feat(ix, i))
			return WHY("feature record %u is damaged", i);
	for (uint32_t i = 0; i < h->nrules; i++)
		if (!lm__index_rule(ix, i))
			return WHY("rule record %u is damaged", i);
	for (uint32_t i = 0; i < h->nkinds; i++)
		if (!index_kind(ix, i))
			return WHY("kind record %u is damaged", i);
	for (uint32_t i = 0; i < h->nfeats; i++) {
		const struct lm__ifeat *f = lm__index_feat(ix, i);
		uint32_t found;
		/* Another build of the feature before: the lookup finds the first. */
		if (i > 0 && (lm__index_feat(ix, i - 1)->flags & LM__IFEAT_MORE)) {
			if (lm__index_next_build(ix, i - 1, &found) < 0)
				return WHY("feature %u is not another build of feature %u", i, i - 1);
			continue;
		}
		if (lm__index_find_feature(ix, lm__index_str(ix, f->kind), lm__index_str(ix, f->name),
					   &found) < 0 ||
		    found != i)
			return WHY("feature hash table does not find feature %u", i);
	}
	for (uint32_t i = 0; i < h->nmods; i++) {
		uint32_t found;
		if (lm__index_find_module(ix, lm__index_str(ix, lm__index_mod(ix, i)->name), &found) < 0)
			return WHY("module hash table does not find module %u", i);
	}
	return 0;
}

/* ---- building ------------------------------------------------------------- */

struct builder {
	struct lm__mset *set;
	lm__report_fn report;
	void *data;
	bool *skip_mod;     /* duplicate module names: later ones dropped */
	uint32_t *order;    /* index feature -> set feature */
	uint32_t *mod_of;   /* set module -> index module, or EMPTY */
	uint32_t nfeats, nmods;
	struct lm__buf strings;
	/* Open-addressing maps from names to set modules and index features:
	 * the builder is linear in the size of the set, not quadratic. */
	uint32_t *mod_map, *feat_map; /* index + 1; 0 is empty */
	uint32_t mod_mask, feat_mask;
	/* Dependencies grouped by set module. */
	uint32_t *deps_first, *ndeps_of, *deps_by_mod;
	/* Targets grouped by set module. */
	uint32_t *tg_first, *tg_count, *tg_items;
	/* Set module -> the next kept build of the same name, or EMPTY. */
	uint32_t *next_build;
};

static void reportf(struct builder *b, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reportf(struct builder *b, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	b->report(b->data, err, msg);
}

static const char *mod_where(const struct lm__mmod *m)
{
	return m->path ? m->path : "(built in)";
}

static uint32_t add_str(struct builder *b, const char *s)
{
	if (!s || !*s)
		return 0;
	return (uint32_t)lm__buf_append(&b->strings, s, strlen(s) + 1);
}

static uint32_t add_bytes(struct builder *b, const unsigned char *p, uint32_t len)
{
	uint32_t off = (uint32_t)lm__buf_append(&b->strings, p, len);
	lm__buf_append(&b->strings, "", 1);
	return off;
}

/* Orders set features (indexes into set->feats) by kind, name, module.
 * Through qsort_r's argument: two threads may build at once. */
static int cmp_feat(const void *a, const void *b, void *arg)
{
	const struct lm__mset *set = arg;
	const struct lm__mitem *x = &set->feats[*(const uint32_t *)a];
	const struct lm__mitem *y = &set->feats[*(const uint32_t *)b];
	int c = strcmp(x->a, y->a);
	if (!c)
		c = strcmp(x->b, y->b);
	if (!c)
		c = (x->mod > y->mod) - (x->mod < y->mod);
	return c;
}

static uint32_t map_size(size_t n)
{
	uint32_t size = 16;
	while (size < 2 * n && size < (1u << 30))
		size <<= 1;
	return size;
}

/* Finds set module by name among kept modules; EMPTY when absent. */
static uint32_t find_set_mod(struct builder *b, const char *name)
{
	for (uint32_t h = lm__hash(name, NULL);; h++) {
		uint32_t v = b->mod_map[h & b->mod_mask];
		if (!v)
			return EMPTY;
		if (!strcmp(b->set->mods[v - 1].name, name))
			return v - 1;
	}
}

/* Maps each kept module's name to its first provider. */
static void map_modules(struct builder *b)
{
	for (size_t i = 0; i < b->set->nmods; i++) {
		const char *name = b->set->mods[i].name;
		if (find_set_mod(b, name) != EMPTY)
			continue;
		uint32_t h = lm__hash(name, NULL);
		while (b->mod_map[h & b->mod_mask])
			h++;
		b->mod_map[h & b->mod_mask] = (uint32_t)i + 1;
	}
}

/* The index feature of kind/name, or EMPTY. */
static uint32_t find_feat(struct builder *b, const char *kind, const char *name)
{
	for (uint32_t h = lm__hash(kind, name);; h++) {
		uint32_t v = b->feat_map[h & b->feat_mask];
		if (!v)
			return EMPTY;
		const struct lm__mitem *f = &b->set->feats[b->order[v - 1]];
		if (!strcmp(f->a, kind) && !strcmp(f->b, name))
			return v - 1;
	}
}

/* Whether index features x and y have the same kind and name. */
static bool same_feat(const struct builder *b, uint32_t x, uint32_t y)
{
	const struct lm__mitem *f = &b->set->feats[b->order[x]], *g = &b->set->feats[b->order[y]];
	return !strcmp(f->a, g->a) && !strcmp(f->b, g->b);
}

static void map_feature(struct builder *b, uint32_t fi)
{
	const struct lm__mitem *f = &b->set->feats[b->order[fi]];
	uint32_t h = lm__hash(f->a, f->b);
	while (b->feat_map[h & b->feat_mask])
		h++;
	b->feat_map[h & b->feat_mask] = fi + 1;
}

/*
 * Groups items by key (0 <= key < nkeys, EMPTY to drop) keeping their
 * order: *first[k] is where key k's run starts in *out, of n[k] items.
 * Returns the number of items placed, or -1 when out of memory.
 */
static long group_by(const uint32_t *keys, size_t nitems, uint32_t nkeys, uint32_t **first,
		     uint32_t **count, uint32_t **out)
{
	*first = lm__calloc(nkeys + 1, sizeof **first);
	*count = lm__calloc(nkeys + 1, sizeof **count);
	*out = lm__calloc(nitems + 1, sizeof **out);
	if (!*first || !*count || !*out)
		return -1;
	for (size_t i = 0; i < nitems; i++)
		if (keys[i] != EMPTY)
			(*count)[keys[i]]++;
	uint32_t at = 0;
	for (uint32_t k = 0; k < nkeys; k++) {
		(*first)[k] = at;
		at += (*count)[k];
	}
	uint32_t *fill = lm__calloc(nkeys + 1, sizeof *fill);
	if (!fill)
		return -1;
	for (size_t i = 0; i < nitems; i++)
		if (keys[i] != EMPTY)
			(*out)[(*first)[keys[i]] + fill[keys[i]]++] = (uint32_t)i;
	free(fill);
	return at;
}

/*
 * Depth-first search for cycles from module root; color: 0 new, 1 on the
 * path, 2 done. Iterative: a dependency chain as long as the input likes
 * must not take the stack with it. stack[] holds the path, next[] where each
 * module of it is in its list of dependencies.
 */
static void find_cycles(struct builder *b, uint32_t root, uint8_t *color, uint32_t *stack,
			uint32_t *next)
{
	struct lm__mset *set = b->set;
	size_t depth = 0;
	stack[0] = root;
	next[0] = 0;
	color[root] = 1;
	for (;;) {
		uint32_t m = stack[depth];
		if (next[depth] == b->ndeps_of[m]) {
			color[m] = 2;
			if (depth-- == 0)
				return;
			continue;
		}
		size_t i = b->deps_by_mod[b->deps_first[m] + next[depth]++];
		uint32_t d = find_set_mod(b, set->deps[i].a);
		if (d == EMPTY || color[d] == 2)
			continue;
		if (color[d] == 1) {
			char path[1024] = "";
			size_t at = depth;
			while (at > 0 && stack[at] != d)
				at--;
			for (size_t j = at; j <= depth; j++) {
				size_t used = strlen(path);
				snprintf(path + used, sizeof path - used, "%s -> ",
					 set->mods[stack[j]].name);
			}
			reportf(b, LM_E_CYCLE, "dependency cycle: %s%s", path, set->mods[d].name);
			continue;
		}
		color[d] = 1;
		stack[++depth] = d;
		next[depth] = 0;
	}
}

/*
 * Whether set module i shares its file with another module (a bundle). The
 * modules of one file are added to the set in a row.
 */
static bool in_bundle(const struct lm__mset *set, size_t i)
{
	const char *p = set->mods[i].path;
	return p && ((i > 0 && set->mods[i - 1].path && !strcmp(set->mods[i - 1].path, p)) ||
		     (i + 1 < set->nmods && set->mods[i + 1].path && !strcmp(set->mods[i + 1].path, p)));
}

/* Whether two module files lie in the same directory. */
static bool same_dir(const char *a, const char *b)
{
	const char *sa = a ? strrchr(a, '/') : NULL, *sb = b ? strrchr(b, '/') : NULL;
	return sa && sb && sa - a == sb - b && !memcmp(a, b, (size_t)(sa - a));
}

/* Whether set modules x and y would both serve some target. */
static bool share_target(const struct builder *b, uint32_t x, uint32_t y)
{
	if (!b->tg_count[x] || !b->tg_count[y])
		return true; /* a module that names no target serves every one */
	const struct lm__mitem *t = b->set->targets;
	for (uint32_t i = 0; i < b->tg_count[x]; i++)
		for (uint32_t j = 0; j < b->tg_count[y]; j++)
			if (!strcmp(t[b->tg_items[b->tg_first[x] + i]].a,
				    t[b->tg_items[b->tg_first[y] + j]].a))
				return true;
	return false;
}

/*
 * Keeps the first module of each name, and after it the builds of the
 * same name for other targets (variants: each names its targets, no two
 * share one); drops and reports any other module of a name already kept.
 */
static void check_set(struct builder *b)
{
	struct lm__mset *set = b->set;
	for (size_t i = 0; i < set->nmods; i++) {
		uint32_t first = find_set_mod(b, set->mods[i].name);
		if (first == EMPTY || first >= i)
			continue;
		uint32_t clash = EMPTY, last = first;
		for (uint32_t j = first; j != EMPTY && clash == EMPTY; j = b->next_build[j]) {
			if (share_target(b, (uint32_t)i, j))
				clash = j;
			last = j;
		}
		if (clash == EMPTY) {
			b->next_build[last] = (uint32_t)i;
			continue;
		}
		b->skip_mod[i] = true;
		const struct lm__mmod *m = &set->mods[i], *f = &set->mods[clash];
		if (in_bundle(set, i) != in_bundle(set, clash) && same_dir(m->path, f->path))
			/* One source built both ways: which build runs would depend
			 * on file names, so the indexer refuses the directory. */
			reportf(b, LM__E_BUNDLE_AND_ALONE,
				"module %s is both in bundle %s and alone in %s: build it one way only",
				m->name, in_bundle(set, i) ? m->path : f->path,
				in_bundle(set, i) ? f->path : m->path);
		else
			reportf(b, LM_E_INVAL, "module %s in %s ignored: %s already provides it",
				m->name, mod_where(m), mod_where(f));
	}
	for (size_t i = 0; i < set->ndeps; i++)
		if (!b->skip_mod[set->deps[i].mod] && find_set_mod(b, set->deps[i].a) == EMPTY)
			reportf(b, LM_E_NOTFOUND,
				"module %s depends on %s, which no module here provides",
				set->mods[set->deps[i].mod].name, set->deps[i].a);
	uint8_t *color = lm__calloc(set->nmods ? set->nmods : 1, 1);
	uint32_t *stack = lm__calloc(set->nmods ? set->nmods : 1, sizeof *stack);
	uint32_t *next = lm__calloc(set->nmods ? set->nmods : 1, sizeof *next);
	if (color && stack && next)
		for (size_t i = 0; i < set->nmods; i++)
			if (!b->skip_mod[i] && !color[i])
				find_cycles(b, (uint32_t)i, color, stack, next);
	free(color);
	free(stack);
	free(next);
}

/* Whether module mod declares feature kind/name. */
static bool declares(const struct lm__mset *set, uint32_t mod, const char *kind, const char *name)
{
	for (size_t f = 0; f < set->nfeats; f++)
		if (set->feats[f].mod == mod && !strcmp(set->feats[f].a, kind) &&
		    !strcmp(set->feats[f].b, name))
			return true;
	return false;
}

static uint32_t pow2_above(uint32_t n)
{
	uint32_t s = 1;
	while (s <= n * 2 && s < (1u << 30))
		s <<= 1;
	return s;
}

static void fill_slots(struct lm__islot *slots, uint32_t nslots)
{
	for (uint32_t i = 0; i < nslots; i++)
		slots[i] = (struct lm__islot){0, EMPTY, slot_check(i, 0, EMPTY)};
}

static void put_slot(struct lm__islot *slots, uint32_t nslots, uint32_t h, uint32_t index)
{
	uint32_t pos = h & (nslots - 1);
	while (slots[pos].index != EMPTY)
		pos = (pos + 1) & (nslots - 1);
	slots[pos] = (struct lm__islot){h, index, slot_check(pos, h, index)};
}

int lm__index_build(struct lm__mset *set, const char *index_dir, lm__report_fn report,
		    void *data, struct lm__buf *out)
{
	struct builder b = {.set = set, .report = report, .data = data};
	size_t nm = set->nmods ? set->nmods : 1, nf = set->nfeats ? set->nfeats : 1;
	int r = LM_E_NOMEM;
	uint32_t *refs = NULL;
	size_t nrefs = 0;
	struct lm__irule *rules = NULL;
	size_t nrules = 0;
	struct lm__ikind *kinds = NULL;
	size_t nkinds = 0, capkinds = 0;
	struct lm__imod *mods = NULL;
	struct lm__ifeat *feats = NULL;
	struct lm__islot *fslots = NULL, *mslots = NULL;
	char **paths = NULL;
	uint32_t *keys = NULL, *tg_first = NULL, *tg_count = NULL, *tg_items = NULL;
	uint32_t *ru_first = NULL, *ru_count = NULL, *ru_items = NULL;
	uint32_t *fe_first = NULL, *fe_count = NULL, *fe_items = NULL;

	if (set->nmods > MAX_ENTRIES || set->nfeats > MAX_ENTRIES || set->nrules > MAX_ENTRIES)
		return lm__fail(LM_E_INVAL, "too many modules, features or rules for one index");
	b.skip_mod = lm__calloc(nm, sizeof *b.skip_mod);
	b.mod_of = lm__calloc(nm, sizeof *b.mod_of);
	b.order = lm__calloc(nf, sizeof *b.order);
	paths = lm__calloc(nm, sizeof *paths);
	if (!b.skip_mod || !b.mod_of || !b.order || !paths)
		goto out;
	lm__buf_append(&b.strings, "", 1);
	if (b.strings.oom)
		goto out;

	b.mod_mask = map_size(set->nmods) - 1;
	b.feat_mask = map_size(set->nfeats) - 1;
	b.mod_map = lm__calloc(b.mod_mask + 1, sizeof *b.mod_map);
	b.feat_map = lm__calloc(b.feat_mask + 1, sizeof *b.feat_map);
	if (!b.mod_map || !b.feat_map)
		goto out;
	map_modules(&b);
	/* Dependencies and targets grouped by module, in declaration order. */
	keys = lm__calloc(set->ndeps + set->ntargets + set->nrules + set->nprobes + set->nfeats + 1,
			  sizeof *keys);
	if (!keys)
		goto out;
	for (size_t i = 0; i < set->ndeps; i++)
		keys[i] = set->deps[i].mod;
	if (group_by(keys, set->ndeps, (uint32_t)set->nmods, &b.deps_first, &b.ndeps_of,
		     &b.deps_by_mod) < 0)
		goto out;
	for (size_t i = 0; i < set->ntargets; i++)
		keys[i] = set->targets[i].mod;
	if (group_by(keys, set->ntargets, (uint32_t)set->nmods, &tg_first, &tg_count, &tg_items) < 0)
		goto out;
	b.tg_first = tg_first;
	b.tg_count = tg_count;
	b.tg_items = tg_items;
	b.next_build = lm__calloc(nm, sizeof *b.next_build);
	if (!b.next_build)
		goto out;
	memset(b.next_build, 0xff, nm * sizeof *b.next_build);

	check_set(&b);

	/* Modules kept, in scan order. */
	for (size_t i = 0; i < set->nmods; i++)
		b.mod_of[i] = b.skip_mod[i] ? EMPTY : b.nmods++;

	/* Features: sorted by kind and name; the first provider of each wins. */
	uint32_t ncand = 0;
	for (size_t i = 0; i < set->nfeats; i++)
		if (!b.skip_mod[set->feats[i].mod])
			b.order[ncand++] = (uint32_t)i;
	qsort_r(b.order, ncand, sizeof *b.order, cmp_feat, set);
	for (uint32_t i = 0; i < ncand; i++) {
		const struct lm__mitem *f = &set->feats[b.order[i]];
		if (b.nfeats > 0) {
			const struct lm__mitem *prev = &set->feats[b.order[b.nfeats - 1]];
			if (!strcmp(prev->a, f->a) && !strcmp(prev->b, f->b) &&
			    (prev->mod == f->mod ||
			     strcmp(set->mods[prev->mod].name, set->mods[f->mod].name))) {
				reportf(&b, LM_E_INVAL,
					"feature %s/%s provided by both %s (%s) and %s (%s): the first is used",
					f->a, f->b, set->mods[prev->mod].name,
					mod_where(&set->mods[prev->mod]), set->mods[f->mod].name,
					mod_where(&set->mods[f->mod]));
				continue;
			}
		}
		b.order[b.nfeats++] = b.order[i];
	}
	/* Builds of one feature are adjacent: the maps hold the first. */
	for (uint32_t i = 0; i < b.nfeats; i++)
		if (i == 0 || !same_feat(&b, i - 1, i))
			map_feature(&b, i);

	mods = lm__calloc(b.nmods ? b.nmods : 1, sizeof *mods);
	feats = lm__calloc(b.nfeats ? b.nfeats : 1, sizeof *feats);
	if (!mods || !feats)
		goto out;

	/* Kinds, from the sorted features. */
	for (uint32_t i = 0; i < b.nfeats; i++) {
		const struct lm__mitem *f = &set->feats[b.order[i]];
		if (!nkinds || strcmp((const char *)b.strings.p + kinds[nkinds - 1].kind, f->a)) {
			if (lm__grow((void **)&kinds, &capkinds, nkinds, sizeof *kinds) < 0)
				goto out;
			kinds[nkinds++] = (struct lm__ikind){.kind = add_str(&b, f->a), .feats_first = i};
		}
		kinds[nkinds - 1].nfeats++;
		feats[i] = (struct lm__ifeat){.kind = kinds[nkinds - 1].kind,
					      .name = add_str(&b, f->b),
					      .mod = b.mod_of[f->mod]};
		if (i > 0 && same_feat(&b, i - 1, i))
			feats[i - 1].flags |= LM__IFEAT_MORE;
	}

	/*
	 * Rules grouped by feature, so by kind: declarative rules first (items
	 * 0..nrules-1), then the code probe. A rule whose feature another module
	 * won is dropped with it; one for a feature its module does not declare
	 * at all is reported.
	 */
	size_t nitems = set->nrules + set->nprobes;
	for (size_t i = 0; i < nitems; i++) {
		bool code = i >= set->nrules;
		uint32_t mod = code ? set->probes[i - set->nrules].mod : set->rules[i].mod;
		const char *kind = code ? set->probes[i - set->nrules].a : set->rules[i].kind;
		const char *name = code ? set->probes[i - set->nrules].b : set->rules[i].name;
		uint32_t fi = find_feat(&b, kind, name);
		while (fi != EMPTY && set->feats[b.order[fi]].mod != mod && fi + 1 < b.nfeats &&
		       same_feat(&b, fi, fi + 1))
			fi++;
		keys[i] = fi != EMPTY && set->feats[b.order[fi]].mod == mod ? fi : EMPTY;
		if (keys[i] == EMPTY && !b.skip_mod[mod] && !declares(set, mod, kind, name))
			reportf(&b, LM_E_INVAL, "module %s: probe rule for %s/%s, which it does not provide",
				set->mods[mod].name, kind, name);
	}
	if (group_by(keys, nitems, b.nfeats, &ru_first, &ru_count, &ru_items) < 0)
		goto out;
	rules = lm__calloc(nitems + 1, sizeof *rules);
	if (!rules)
		goto out;
	for (size_t k = 0; k < nkinds; k++) {
		kinds[k].rules_first = (uint32_t)nrules;
		for (uint32_t fi = kinds[k].feats_first; fi < kinds[k].feats_first + kinds[k].nfeats;
		     fi++) {
			for (uint32_t j = 0; j < ru_count[fi]; j++) {
				size_t i = ru_items[ru_first[fi] + j];
				struct lm__irule ir = {.feat = fi};
				if (i < set->nrules) {
					const struct lm__mrule *mr = &set->rules[i];
					ir.type = mr->type;
					ir.score = mr->score;
					ir.len = mr->len;
					ir.offset = mr->offset;
					ir.bytes = add_bytes(&b, mr->bytes, mr->len);
					ir.mask = mr->mask ? add_bytes(&b, mr->mask, mr->len) : 0;
				} else {
					ir.type = LM__RULE_CODE;
					ir.bytes = add_bytes(&b, (const unsigned char *)"", 0);
					feats[fi].flags |= 1;
				}
				rules[nrules++] = ir;
			}
		}
		kinds[k].nrules = (uint32_t)nrules - kinds[k].rules_first;
	}

	/* Module records and their refs (features grouped by module too). */
	for (uint32_t f = 0; f < b.nfeats; f++)
		keys[f] = set->feats[b.order[f]].mod;
	if (group_by(keys, b.nfeats, (uint32_t)set->nmods, &fe_first, &fe_count, &fe_items) < 0)
		goto out;
	refs = lm__calloc(set->ndeps + set->ntargets + b.nfeats + 1, sizeof *refs);
	if (!refs)
		goto out;
	for (size_t i = 0; i < set->nmods; i++) {
		if (b.skip_mod[i])
			continue;
		const struct lm__mmod *mm = &set->mods[i];
		struct lm__imod *m = &mods[b.mod_of[i]];
		m->name = add_str(&b, mm->name);
		m->version = add_str(&b, mm->version);
		m->description = add_str(&b, mm->description);
		m->package = add_str(&b, mm->package);
		if (mm->path) {
			paths[i] = lm__path_relative(index_dir, mm->path);
			if (!paths[i])
				goto out;
			m->path = add_str(&b, paths[i]);
		}
		m->flags = (mm->builtin ? LM__IMOD_BUILTIN : 0) | (mm->has_iface ? LM__IMOD_IFACE : 0) |
			   (in_bundle(set, i) ? LM__IMOD_BUNDLE : 0);
		m->iface_major = mm->iface_major;
		m->iface_minor = mm->iface_minor;
		m->size = mm->size;
		m->build_id_len = mm->build_id_len;
		memcpy(m->build_id, mm->build_id, mm->build_id_len);
		if (mm->has_sha256) {
			m->flags |= LM__IMOD_SHA256;
			memcpy(m->sha256, mm->sha256, sizeof m->sha256);
		}
		m->deps_first = (uint32_t)nrefs;
		m->ndeps = b.ndeps_of[i];
		for (uint32_t k = 0; k < m->ndeps; k++)
			refs[nrefs++] = add_str(&b, set->deps[b.deps_by_mod[b.deps_first[i] + k]].a);
		m->targets_first = (uint32_t)nrefs;
		m->ntargets = tg_count[i];
		for (uint32_t k = 0; k < m->ntargets; k++)
			refs[nrefs++] = add_str(&b, set->targets[tg_items[tg_first[i] + k]].a);
		m->feats_first = (uint32_t)nrefs;
		m->nfeats = fe_count[i];
		for (uint32_t k = 0; k < m->nfeats; k++)
			refs[nrefs++] = fe_items[fe_first[i] + k];
	}
	if (b.strings.oom)
		goto out;
	lm__buf_align(&b.strings, 8);

	/* Lay the file out; checksums need the final string offsets. */
	struct lm__ihdr h = {.version = LM__INDEX_VERSION, .header_size = sizeof h};
	memcpy(h.magic, LM__INDEX_MAGIC, 8);
	h.fslots = pow2_above(b.nfeats);
	h.mslots = pow2_above(b.nmods);
	size_t pos = sizeof h;
#define PLACE(off, count, n, elem)                                                                 \
	do {                                                                                       \
		h.off = (uint32_t)pos;                                                             \
		h.count = (uint32_t)(n);                                                           \
		pos += ((size_t)(n) * (elem) + 7) & ~(size_t)7;                                    \
	} while (0)
	PLACE(mods_off, nmods, b.nmods, sizeof *mods);
	PLACE(feats_off, nfeats, b.nfeats, sizeof *feats);
	PLACE(kinds_off, nkinds, nkinds, sizeof *kinds);
	PLACE(rules_off, nrules, nrules, sizeof *rules);
	PLACE(refs_off, nrefs, nrefs, sizeof *refs);
	h.fhash_off = (uint32_t)pos;
	pos += ((size_t)h.fslots * sizeof(struct lm__islot) + 7) & ~(size_t)7;
	h.mhash_off = (uint32_t)pos;
	pos += ((size_t)h.mslots * sizeof(struct lm__islot) + 7) & ~(size_t)7;
	h.strings_off = (uint32_t)pos;
	h.strings_size = (uint32_t)b.strings.len;
	pos += b.strings.len;
#undef PLACE
	if (pos > UINT32_MAX) {
		r = lm__fail(LM_E_INVAL, "index would exceed 4 GiB");
		goto out;
	}
	h.file_size = pos;

	out->len = 0;
	lm__buf_append(out, NULL, pos);
	if (out->oom)
		goto out;
	unsigned char *img = out->p;
	memcpy(img + h.strings_off, b.strings.p, b.strings.len);
	if (nrefs)
		memcpy(img + h.refs_off, refs, nrefs * sizeof *refs);
	memcpy(img, &h, sizeof h);
	struct lm__index ix = {img, pos, (const struct lm__ihdr *)img};

	/* Now each record's checksum, computed by the reader's own code. */
	fslots = (struct lm__islot *)(img + h.fhash_off);
	mslots = (struct lm__islot *)(img + h.mhash_off);
	fill_slots(fslots, h.fslots);
	fill_slots(mslots, h.mslots);
	for (uint32_t i = 0; i < b.nfeats; i++) {
		struct lm__ifeat *f = (struct lm__ifeat *)(img + h.feats_off) + i;
		*f = feats[i];
		uint32_t crc = record_crc(f, sizeof *f, offsetof(struct lm__ifeat, crc));
		crc_str(&ix, f->kind, &crc);
		crc_str(&ix, f->name, &crc);
		f->crc = crc;
		if (i == 0 || !(feats[i - 1].flags & LM__IFEAT_MORE))
			put_slot(fslots, h.fslots, lm__hash(lm__index_str(&ix, f->kind), lm__index_str(&ix, f->name)), i);
	}
	for (uint32_t i = 0; i < b.nmods; i++) {
		struct lm__imod *m = (struct lm__imod *)(img + h.mods_off) + i;
		*m = mods[i];
		uint32_t crc = record_crc(m, sizeof *m, offsetof(struct lm__imod, crc));
		crc_str(&ix, m->name, &crc);
		crc_str(&ix, m->version, &crc);
		crc_str(&ix, m->description, &crc);
		crc_str(&ix, m->package, &crc);
		crc_str(&ix, m->path, &crc);
		crc_refs(&ix, m->deps_first, m->ndeps, true, &crc);
		crc_refs(&ix, m->targets_first, m->ntargets, true, &crc);
		crc_refs(&ix, m->feats_first, m->nfeats, false, &crc);
		m->crc = crc;
		put_slot(mslots, h.mslots, lm__hash(lm__index_str(&ix, m->name), NULL), i);
	}
	for (size_t i = 0; i < nrules; i++) {
		struct lm__irule *ir = (struct lm__irule *)(img + h.rules_off) + i;
		*ir = rules[i];
		uint32_t crc = record_crc(ir, sizeof *ir, offsetof(struct lm__irule, crc));
		crc = lm__crc32c(crc, b.strings.p + ir->bytes, ir->len + 1);
		if (ir->mask)
			crc = lm__crc32c(crc, b.strings.p + ir->mask, ir->len + 1);
		ir->crc = crc;
	}
	for (size_t i = 0; i < nkinds; i++) {
		struct lm__ikind *k = (struct lm__ikind *)(img + h.kinds_off) + i;
		*k = kinds[i];
		uint32_t crc = record_crc(k, sizeof *k, offsetof(struct lm__ikind, crc));
		crc_str(&ix, k->kind, &crc);
		k->crc = crc;
	}
	h.body_crc = lm__crc32c(0, img + sizeof h, pos - sizeof h);
	h.header_crc = lm__crc32c(0, &h, sizeof h);
	memcpy(img, &h, sizeof h);
	r = 0;
out:
	if (r == LM_E_NOMEM)
		lm__fail(r, "out of memory building the index");
	for (size_t i = 0; paths && i < set->nmods; i++)
		free(paths[i]);
	free(paths);
	free(b.skip_mod);
	free(b.mod_of);
	free(b.order);
	free(b.mod_map);
	free(b.feat_map);
	free(b.deps_first);
	free(b.ndeps_of);
	free(b.deps_by_mod);
	free(b.next_build);
	free(keys);
	free(tg_first);
	free(tg_count);
	free(tg_items);
	free(ru_first);
	free(ru_count);
	free(ru_items);
	free(fe_first);
	free(fe_count);
	free(fe_items);
	free(b.strings.p);
	free(refs);
	free(rules);
	free(kinds);
	free(mods);
	free(feats);
	return r;
}

int lm__index_write_file(const char *path, const void *image, size_t len)
{
	char *tmp = lm__malloc(strlen(path) + 16);
	if (!tmp)
		return lm__fail(LM_E_NOMEM, "out of memory");
	sprintf(tmp, "%s.tmpXXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return lm__fail(LM_E_IO, "%s: cannot create a temporary file: %s", path, strerror(e));
	}
	const char *p = image;
	size_t left = len;
	int e = 0;
	while (left && !e) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			e = n < 0 ? errno : EIO;
		else
			p += n, left -= (size_t)n;
	}
	/* Readable by all: the index is shared by every process of the host. */
	if (!e && fchmod(fd, 0644) < 0)
		e = errno;
	if (!e && fsync(fd) < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) < 0)
		e = errno;
	if (e) {
		unlink(tmp);
		free(tmp);
		return lm__fail(LM_E_IO, "%s: %s", path, strerror(e));
	}
	free(tmp);
	/* Make the rename itself durable. */
	char *dir = lm__strdup(path);
	if (dir) {
		char *slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = 0;
		int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dir);
	}
	return 0;
}
