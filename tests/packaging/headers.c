/* SPDX-License-Identifier: MIT */
/*
 * headers.c - both public headers and every manifest macro, in code that is
 * C99 and C++ at once: test-headers.sh compiles it as each, pedantic, with
 * warnings as errors. -DBAD_SCORE and -DBAD_MASK must not compile.
 */
#define LM_MODULE_NAME headers
#include <lazymod/module.h>
#include <lazymod.h>

static const int object = 1;

static int probe(const struct lm_probe_input *in)
{
	return in->head_len > 0 ? LM_SCORE_CERTAIN : 0;
}

static int init(const void *host)
{
	return host ? 0 : -1;
}

LM_MODULE("1.0", "every manifest macro", init);
LM_INTERFACE(1, 2);
LM_DEPENDS("other");
LM_TARGET("x86_64");
LM_PACKAGE("headers-package");
LM_FEATURE("kind", "name", &object);
LM_PROBE_MAGIC("kind", "name", 0, "MAG\0IC", 100);
LM_PROBE_MAGIC_MASK("kind", "name", 8, "AB", "\xff\xdf", 90);
LM_PROBE_MAGIC_END("kind", "name", 512, "conectix", 100);
LM_PROBE_EXT("kind", "name", "ext", 10);
LM_PROBE_SCHEME("kind", "name", "https", 50);
LM_PROBE_ANY("kind", "name", 1);
LM_PROBE_FUNC("kind", "name", probe);
#ifdef BAD_SCORE
LM_PROBE_EXT("kind", "name", "bad", 101);
#endif
#ifdef BAD_MASK
LM_PROBE_MAGIC_MASK("kind", "name", 0, "ABC", "\xff", 10);
#endif

/* The host's side: a context over a directory, as a host starts. */
int host_start(struct lm_context **out);
int host_start(struct lm_context **out)
{
	static const char *const dirs[] = {"$ORIGIN/modules", NULL};
	struct lm_options opts;
	opts.dirs = dirs;
	opts.iface_major = 1;
	opts.iface_minor = 2;
	opts.target = NULL;
	opts.host = NULL;
	opts.flags = LM_CTX_NO_FALLBACK | LM_CTX_STRICT;
	opts.log = NULL;
	opts.log_data = NULL;
	return lm_context_new(&opts, out) == LM_OK ? 0 : LM_E_INVAL;
}
