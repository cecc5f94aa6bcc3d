/* SPDX-License-Identifier: MIT */
/*
 * probe.c - which feature of a kind an input is: a declarative pass over the
 * index's rules (magic bytes from the start or the end, masks, extensions,
 * URI schemes), which loads nothing, then, only if no rule was certain, the
 * code probes of the modules that declare one.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lazymod-private.h"

static bool bytes_match(const unsigned char *in, const unsigned char *pat,
			const unsigned char *mask, uint32_t len)
{
	if (!mask)
		return memcmp(in, pat, len) == 0;
	for (uint32_t i = 0; i < len; i++)
		if ((in[i] & mask[i]) != pat[i])
			return false;
	return true;
}

/* The extension of the last path component of a name or URI ("" if none). */
static void extension(const char *name, char *buf, size_t len)
{
	buf[0] = 0;
	if (!name)
		return;
	size_t end = strcspn(name, "?#");
	if (!strstr(name, "://"))
		end = strlen(name); /* a local file may hold '?' or '#' */
	size_t base = 0;
	for (size_t i = 0; i < end; i++)
		if (name[i] == '/')
			base = i + 1;
	size_t dot = 0;
	for (size_t i = base; i < end; i++)
		if (name[i] == '.')
			dot = i + 1;
	if (dot > base + 1 && end - dot < len) { /* ".bashrc" has no extension */
		memcpy(buf, name + dot, end - dot);
		buf[end - dot] = 0;
	}
}

/* The scheme of a URI ("scheme://..."), or "" for a plain path. */
static void scheme(const char *name, char *buf, size_t len)
{
	buf[0] = 0;
	if (!name || !isalpha((unsigned char)name[0]))
		return;
	size_t n = 0;
	while (isalnum((unsigned char)name[n]) || name[n] == '+' || name[n] == '-' || name[n] == '.')
		n++;
	if (strncmp(name + n, "://", 3) != 0 || n >= len)
		return;
	memcpy(buf, name, n);
	buf[n] = 0;
}

bool lm__rule_match(const struct lm__index *ix, const struct lm__irule *r,
		    const struct lm_probe_input *in)
{
	const unsigned char *pat = (const unsigned char *)lm__index_str(ix, r->bytes);
	const unsigned char *mask = r->mask ? (const unsigned char *)lm__index_str(ix, r->mask) : NULL;
	char buf[LM__NAME_MAX + 1];
	switch (r->type) {
	case LM_RULE_MAGIC:
		if (r->offset > in->head_len || r->len > in->head_len - r->offset)
			return false;
		return bytes_match(in->head + r->offset, pat, mask, r->len);
	case LM_RULE_MAGIC_END:
		/* The bytes start r->offset bytes before the end. */
		if (r->offset > in->tail_len || r->len > r->offset)
			return false;
		if (in->size != UINT64_MAX && r->offset > in->size)
			return false;
		return bytes_match(in->tail + in->tail_len - r->offset, pat, mask, r->len);
	case LM_RULE_EXT:
		extension(in->name, buf, sizeof buf);
		return buf[0] && !strcasecmp(buf, (const char *)pat);
	case LM_RULE_SCHEME:
		scheme(in->name, buf, sizeof buf);
		return buf[0] && !strcasecmp(buf, (const char *)pat);
	case LM_RULE_ANY:
		return true;
	default:
		return false;
	}
}

/* Writes bytes as a C string literal body, escaping what is not printable. */
static void quote(const unsigned char *p, uint32_t len, char *buf, size_t size)
{
	size_t w = 0;
	uint32_t i = 0;
	/* Room for an escape and the "..." that says the pattern goes on. */
	for (; i < len && w + 8 < size; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			buf[w++] = (char)p[i];
		else
			w += (size_t)snprintf(buf + w, size - w, "\\x%02x", p[i]);
	}
	if (i < len)
		w += (size_t)snprintf(buf + w, size - w, "...");
	buf[w] = 0;
}

void lm__rule_describe(const struct lm__index *ix, const struct lm__irule *r, char *buf, size_t len)
{
	char q[96];
	const unsigned char *pat = (const unsigned char *)lm__index_str(ix, r->bytes);
	switch (r->type) {
	case LM_RULE_MAGIC:
	case LM_RULE_MAGIC_END:
		quote(pat, r->len, q, sizeof q);
		snprintf(buf, len, "magic \"%s\"%s at %s%llu%s", q, r->mask ? " (masked)" : "",
			 r->type == LM_RULE_MAGIC ? "offset " : "", (unsigned long long)r->offset,
			 r->type == LM_RULE_MAGIC ? "" : " bytes before the end");
		break;
	case LM_RULE_EXT:
		snprintf(buf, len, "extension .%s", (const char *)pat);
		break;
	case LM_RULE_SCHEME:
		snprintf(buf, len, "scheme %s://", (const char *)pat);
		break;
	case LM_RULE_ANY:
		snprintf(buf, len, "fallback (any input)");
		break;
	default:
		snprintf(buf, len, "code probe");
	}
}

struct candidate {
	int score;
	uint32_t len; /* a longer pattern wins a tie */
	struct lm__gen *gen;
	uint32_t feat;
	const struct lm__irule *rule;
	lm_probe_fn fn;
};

static void fill(struct lm_probe_result *res, const struct candidate *c)
{
	const struct lm__index *ix = &c->gen->ix;
	const struct lm__ifeat *f = lm__index_feat(ix, c->feat);
	const struct lm__imod *m = lm__index_mod(ix, f->mod);
	snprintf(res->name, sizeof res->name, "%s", lm__index_str(ix, f->name));
	snprintf(res->module, sizeof res->module, "%s", m ? lm__index_str(ix, m->name) : "?");
	res->score = c->score;
	if (c->rule->type == LM__RULE_CODE)
		/* The module's name is in res->module whole; the rule says it
		 * when it fits. */
		snprintf(res->rule, sizeof res->rule, "code probe of module %.*s",
			 (int)(sizeof res->rule - sizeof "code probe of module "), res->module);
	else
		lm__rule_describe(ix, c->rule, res->rule, sizeof res->rule);
}

/* lm_probe, with *code (the code probes met, as many as the index holds)
 * the caller's to free. */
static int probe(struct lm_context *ctx, const char *kind, const struct lm_probe_input *in,
		 struct lm_probe_result *res, struct candidate **code)
{
	int r = lm__check_name("feature kind", kind);
	if (r < 0)
		return r;
	if ((in->head_len && !in->head) || (in->tail_len && !in->tail))
		return lm__fail(LM_E_INVAL, "lm_probe: a length without its bytes");
	memset(res, 0, sizeof *res);
	uint64_t t0 = lm__now_ns();
	struct candidate best;
	size_t ncode, capcode = 0;
	bool certain;
again:
	best = (struct candidate){0};
	ncode = 0;
	certain = false;
	for (size_t i = 0; i < ctx->nsources && !certain; i++) {
		struct lm__gen *g = atomic_load_explicit(&ctx->sources[i].gen, memory_order_acquire);
		const struct lm__ikind *k;
		if (!g || (r = lm__index_find_kind(&g->ix, kind, &k)) == LM_E_NOTFOUND)
			continue;
		/* A damaged index: read that directory's notes, and start over. */
		if (r == LM_E_CORRUPT && lm__recover(ctx, i))
			goto again;
		if (r < 0)
			return lm__fail(r, "index of %s: damaged kind table", ctx->sources[i].dir);
		for (uint32_t ri = k->rules_first; ri < k->rules_first + k->nrules; ri++) {
			const struct lm__irule *rule = lm__index_rule(&g->ix, ri);
			if (!rule && lm__recover(ctx, i))
				goto again;
			if (!rule)
				return lm__fail(LM_E_CORRUPT, "index of %s: probe rule %u is damaged",
						ctx->sources[i].dir, ri);
			if (rule->type == LM__RULE_CODE) {
				if (lm__grow((void **)code, &capcode, ncode, sizeof **code) < 0)
					return lm__fail(LM_E_NOMEM, "out of memory");
				(*code)[ncode++] = (struct candidate){0, 0, g, rule->feat, rule, NULL};
				continue;
			}
			if (!lm__rule_match(&g->ix, rule, in))
				continue;
			if (!lm__index_feat(&g->ix, rule->feat) && lm__recover(ctx, i))
				goto again;
			if (!lm__index_feat(&g->ix, rule->feat))
				return lm__fail(LM_E_CORRUPT,
						"index of %s: feature record %u is damaged",
						ctx->sources[i].dir ? ctx->sources[i].dir
								    : "built-in modules",
						rule->feat);
			if (rule->score > best.score ||
			    (rule->score == best.score && rule->len > best.len))
				best = (struct candidate){rule->score, rule->len, g, rule->feat, rule, NULL};
			if (best.score >= LM_SCORE_CERTAIN) {
				certain = true;
				break;
			}
		}
	}
	/* Code probes only when no rule was certain; they load their modules. */
	for (size_t c = 0; c < ncode && !certain; c++) {
		const struct lm__ifeat *f = lm__index_feat(&(*code)[c].gen->ix, (*code)[c].feat);
		if (!f)
			continue;
		const char *name = lm__index_str(&(*code)[c].gen->ix, f->name);
		lm_probe_fn fn;
		if (lm__get_probe(ctx, kind, name, &fn) < 0) {
			lm__warn(&ctx->log, "probe: skipping %s/%s: %s", kind, name, lm__detail());
			continue;
		}
		int score = fn(in);
		score = score < 0 ? 0 : score > 100 ? 100 : score;
		lm__dbg(&ctx->log, "probe: code probe of %s/%s says %d", kind, name, score);
		if (score > best.score) {
			best = (*code)[c];
			best.score = score;
			certain = score >= LM_SCORE_CERTAIN;
		}
	}
	if (!best.score)
		return lm__fail(LM_E_NOMATCH, "no %s matches %s", kind, in->name ? in->name : "the input");
	fill(res, &best);
	lm__dbg(&ctx->log, "probe %s: %s (score %d, %s) in %.3f ms", in->name ? in->name : "input",
		res->name, res->score, res->rule, (lm__now_ns() - t0) / 1e6);
	return 0;
}

/*
 * lm_probe has two versions in the shared library: LAZYMOD_0.2 (the default)
 * with names up to LM_NAME_MAX, and LAZYMOD_0.1 for programs built against
 * the result that held 63-byte names, which gets LM_E_INVAL for a longer
 * one rather than a cut name lm_get would not find.
 */
LM_EXPORT int lm__probe_0_2(struct lm_context *ctx, const char *kind,
			    const struct lm_probe_input *in, struct lm_probe_result *res);
__asm__(".symver lm__probe_0_2, lm_probe@@LAZYMOD_0.2");
LM_EXPORT int lm__probe_0_2(struct lm_context *ctx, const char *kind,
			    const struct lm_probe_input *in, struct lm_probe_result *res)
{
	if (!ctx || !in || !res)
		return lm__fail(LM_E_INVAL, "lm_probe: missing context, input or result");
	struct candidate *code = NULL;
	lm__call_begin(ctx);
	int r = probe(ctx, kind, in, res, &code);
	free(code);
	return lm__call_end(ctx, r);
}

__asm__(".symver lm__probe_0_1, lm_probe@LAZYMOD_0.1");
LM_EXPORT int lm__probe_0_1(struct lm_context *ctx, const char *kind,
			    const struct lm_probe_input *in, struct lm__probe_result_0_1 *old)
{
	if (!ctx || !in || !old)
		return lm__fail(LM_E_INVAL, "lm_probe: missing context, input or result");
	struct lm_probe_result res;
	struct candidate *code = NULL;
	lm__call_begin(ctx);
	int r = probe(ctx, kind, in, &res, &code);
	free(code);
	if (r == 0 && (strlen(res.name) >= sizeof old->name || strlen(res.module) >= sizeof old->module))
		r = lm__fail(LM_E_INVAL,
			     "probe %s: %s (module %s) has a name longer than the %zu bytes this "
			     "program's lm_probe_result holds: rebuild it against this lazymod",
			     kind, res.name, res.module, sizeof old->name - 1);
	if (r == 0) {
		memset(old, 0, sizeof *old);
		memcpy(old->name, res.name, strlen(res.name));
		memcpy(old->module, res.module, strlen(res.module));
		old->score = res.score;
		snprintf(old->rule, sizeof old->rule, "%s", res.rule);
	}
	return lm__call_end(ctx, r);
}

/* Widens *head and *tail to what source i's rules of kind read; 1 when the
 * index knows the kind, 0 when not, or an error. */
static int window_of(struct lm_context *ctx, size_t i, const char *kind, size_t *head,
		     size_t *tail)
{
	struct lm__gen *g = atomic_load_explicit(&ctx->sources[i].gen, memory_order_acquire);
	const struct lm__ikind *k;
	int r = g ? lm__index_find_kind(&g->ix, kind, &k) : LM_E_NOTFOUND;
	if (r == LM_E_NOTFOUND)
		return 0;
	if (r < 0)
		return r;
	for (uint32_t ri = k->rules_first; ri < k->rules_first + k->nrules; ri++) {
		const struct lm__irule *rule = lm__index_rule(&g->ix, ri);
		if (!rule)
			return LM_E_CORRUPT;
		uint64_t need = rule->type == LM_RULE_MAGIC ? rule->offset + rule->len
				: rule->type == LM_RULE_MAGIC_END ? rule->offset
								  : 0;
		size_t *at = rule->type == LM_RULE_MAGIC ? head : tail;
		if (need > *at)
			*at = need > SIZE_MAX ? SIZE_MAX : (size_t)need;
	}
	return 1;
}

LM_EXPORT int lm_probe_window(struct lm_context *ctx, const char *kind, size_t *head,
			      size_t *tail)
{
	if (!ctx)
		return lm__fail(LM_E_INVAL, "lm_probe_window: no context");
	lm__call_begin(ctx);
	int r = head && tail ? lm__check_name("feature kind", kind)
			     : lm__fail(LM_E_INVAL, "lm_probe_window: no place for the answer");
	if (r < 0)
		return lm__call_end(ctx, r);
	bool known = false;
	*head = *tail = 0;
	for (size_t i = 0; r == 0 && i < ctx->nsources; i++) {
		int e = window_of(ctx, i, kind, head, tail);
		/* A damaged index: read that directory's notes, and ask them. */
		if (e == LM_E_CORRUPT && lm__recover(ctx, i))
			e = window_of(ctx, i, kind, head, tail);
		if (e < 0)
			r = lm__fail(e, "index of %s: damaged while reading the rules of %s",
				     ctx->sources[i].dir ? ctx->sources[i].dir : "built-in modules",
				     kind);
		known |= e == 1;
	}
	if (r == 0 && !known)
		r = lm__fail(LM_E_NOTFOUND, "no index knows the kind %s", kind);
	return lm__call_end(ctx, r);
}
