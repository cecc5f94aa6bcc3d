/* SPDX-License-Identifier: MIT */
/*
 * lazymod.h - modules loaded on demand: the host's side.
 *
 * A host creates a context over its module directories. Creating it maps
 * each directory's index (written by `lazymod index`) and checks its header:
 * no module is opened, scanned or stat'ed. Asking the context for a feature
 * (a kind and a name) loads the module that provides it, with its
 * dependencies, the first time, exactly once, from any thread, and returns
 * the object the module registered. Probing an input and listing features
 * read the index alone.
 *
 * Functions return 0 (or a count) on success and a negative enum lm_error
 * value on failure; lm_errdetail() then names the module, file and cause.
 * The library never prints, aborts or exits on its own: it logs through
 * the host's callback, or to stderr when LAZYMOD_DEBUG is set.
 *
 * Limits. Each is checked where the input enters (by `lazymod index`, the
 * notes reader or the call), and going past it is an error or a reported
 * warning, never a silent cut:
 *   - a kind, feature name, module name or target: at most LM_NAME_MAX
 *     (255) bytes; a name without '/' nor ".."; a module name a C
 *     identifier. Longer ones are refused (LM_E_INVAL, or the module's
 *     notes refused as LM_E_BADMODULE and reported by the indexer);
 *   - a magic pattern (LM_PROBE_MAGIC...): at most LM_RULE_BYTES_MAX (4096)
 *     bytes;
 *   - the notes of one module file (its features, rules, dependencies):
 *     at most 1 MiB in all, so some ten thousand rules; a file past it is
 *     refused and reported;
 *   - one index: at most 2^24 modules, 2^24 features, 2^24 rules, 4 GiB;
 *   - a dependency chain: at most 64 modules deep (LM_E_CYCLE beyond);
 *   - code probes of a kind, rules per module or per kind: no limit but
 *     the above;
 *   - an error detail: 1023 bytes, cut at the end (it is prose).
 *
 * Lifetimes. Every pointer the library hands out lives as follows:
 *   - the context: until its last lm_context_unref;
 *   - a feature's object (lm_get): as long as the context, and longer:
 *     a loaded module is unloaded only by the context's end;
 *   - the strings of struct lm_feature_info (lm_feature_info, lm_list):
 *     until the context's end, whatever is reindexed meanwhile; the struct
 *     itself is the caller's;
 *   - lm_errdetail(ctx): until the calling thread's next call on ctx, or the
 *     context's end; lm_errdetail(NULL): until the thread's next call;
 *   - lm_strerror, lm_errname, lm_version: static.
 */
#ifndef LAZYMOD_H
#define LAZYMOD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <lazymod/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LM_EXPORT __attribute__((visibility("default")))

/* Longest kind, feature name, module name or target, without its NUL. */
#define LM_NAME_MAX 255
/* Longest magic pattern of a probe rule, in bytes. */
#define LM_RULE_BYTES_MAX 4096

/* Error codes: one table gives each its name and message. */
#define LM__ERRORS(X)                                                                              \
	X(NOTFOUND, 1, "not installed")                                                            \
	X(NEEDLIB, 2, "a shared library it needs is missing")                                     \
	X(IFACE, 3, "built for another interface version")                                        \
	X(TARGET, 4, "built for another target")                                                   \
	X(STALE, 5, "changed since it was indexed")                                                \
	X(CORRUPT, 6, "index is corrupt")                                                          \
	X(INIT, 7, "initialisation failed")                                                        \
	X(DEP, 8, "a dependency failed")                                                           \
	X(CYCLE, 9, "dependency cycle")                                                            \
	X(NOMEM, 10, "out of memory")                                                              \
	X(IO, 11, "input/output error")                                                            \
	X(INVAL, 12, "invalid argument")                                                           \
	X(BADMODULE, 13, "not a valid module")                                                     \
	X(LOAD, 14, "the dynamic loader refused it")                                               \
	X(VERSION, 15, "index format version not supported")                                       \
	X(NOMATCH, 16, "no probe rule matched")                                                    \
	X(NOINDEX, 17, "no index")                                                                \
	X(UNSAFE, 18, "unsafe file or directory")

enum lm_error {
	LM_OK = 0,
#define LM__ERRENUM(name, num, msg) LM_E_##name = -(num),
	LM__ERRORS(LM__ERRENUM)
#undef LM__ERRENUM
};

/* "not installed", ...; "unknown error" for a value outside the table. */
LM_EXPORT const char *lm_strerror(int err);
/* "LM_E_NOTFOUND", ...; NULL for a value outside the table. */
LM_EXPORT const char *lm_errname(int err);

struct lm_context;

/* Log priorities: syslog's values. */
enum lm_log_priority { LM_LOG_ERR = 3, LM_LOG_WARNING = 4, LM_LOG_INFO = 6, LM_LOG_DEBUG = 7 };
typedef void (*lm_log_fn)(void *data, int priority, const char *file, int line, const char *fn,
			  const char *format, va_list args);

enum lm_context_flags {
	/* Fail with LM_E_NOINDEX / LM_E_CORRUPT / LM_E_STALE instead of
	 * falling back to reading the module directories' notes. */
	LM_CTX_NO_FALLBACK = 1u << 0,
	/* Ignore LAZYMOD_PATH even when the process is not AT_SECURE. */
	LM_CTX_NO_ENV_PATH = 1u << 1,
	/* Load modules from files or directories writable by group or others,
	 * or owned by another user than root or the process's (refused by
	 * default with LM_E_UNSAFE). */
	LM_CTX_ALLOW_UNSAFE = 1u << 2,
	/* Strict mode: load only modules whose SHA-256 the index records
	 * (`lazymod index --sha256`) and whose file still has it; refuse the
	 * others with LM_E_UNSAFE. Implies LM_CTX_NO_FALLBACK, since notes read
	 * from a directory carry no digest. */
	LM_CTX_STRICT = 1u << 3,
};

struct lm_options {
	/* Module directories, searched in order; NULL-terminated. A leading
	 * "$ORIGIN" stands for the directory of the running executable. */
	const char *const *dirs;
	/* Host interface version: a module built for the same major and a
	 * minor no newer than this is compatible. */
	unsigned iface_major, iface_minor;
	/* The context's target; NULL means the build machine's (e.g. x86_64). */
	const char *target;
	/* Handed to every module's init: the host's service table. */
	const void *host;
	/* enum lm_context_flags */
	unsigned flags;
	/* Log callback (NULL: quiet unless LAZYMOD_DEBUG is set). */
	lm_log_fn log;
	void *log_data;
};

/* The built-in modules of the calling executable, passed by the macro. */
extern const struct lm__module_desc *const __start_lm_mods[] __attribute__((weak, visibility("hidden")));
extern const struct lm__module_desc *const __stop_lm_mods[] __attribute__((weak, visibility("hidden")));

/*
 * Creates a context with one reference. Returns 0 and sets *out, or a
 * negative lm_error (only LM_E_NOMEM or LM_E_INVAL: missing or broken
 * indexes are reported later, per lookup, or fall back to reading notes).
 * Built-in modules of the calling executable are found from its own notes.
 */
#define lm_context_new(opts, out) lm__context_new((opts), (out), __start_lm_mods, __stop_lm_mods)
LM_EXPORT int lm__context_new(const struct lm_options *opts, struct lm_context **out,
			      const struct lm__module_desc *const *builtin_start,
			      const struct lm__module_desc *const *builtin_stop);
/* Reference counting; both accept NULL. unref returns NULL when it freed. */
LM_EXPORT struct lm_context *lm_context_ref(struct lm_context *ctx);
LM_EXPORT struct lm_context *lm_context_unref(struct lm_context *ctx);

/*
 * Gets the object registered for feature kind/name, loading its module and
 * the module's dependencies first if needed. Safe from any thread; each
 * module's init runs once. Once loaded, a feature is found without a
 * system call or a lock. A module that failed stays failed: the same error
 * is returned again.
 */
LM_EXPORT int lm_get(struct lm_context *ctx, const char *kind, const char *name,
		     const void **object);

/*
 * The detail of the calling thread's last call on ctx: after a failure,
 * what failed and why (module, file, cause); after a success, "" -- except
 * when lm_get found the feature in a later directory past a provider it
 * refused as unsafe, when it says which and why. Each thread has its own,
 * on each context. With ctx NULL: the thread's last failure of any call,
 * e.g. of lm_context_new. Lives until the thread's next call on ctx (or
 * the context's end); never NULL.
 */
LM_EXPORT const char *lm_errdetail(const struct lm_context *ctx);

/* The answer of a probe. Every name an index holds fits: res.name is the
 * name lm_get takes. */
struct lm_probe_result {
	char name[LM_NAME_MAX + 1];   /* the feature that won */
	char module[LM_NAME_MAX + 1]; /* its module */
	int score;
	/* The rule that decided, for people: e.g. "magic \"QFI\\xfb\" at offset
	 * 0"; a long pattern is shown by its first bytes and "...". */
	char rule[160];
};

/*
 * Finds the feature of `kind` that best matches `in`. Declarative rules are
 * evaluated from the index, loading nothing; score 100 ends the search.
 * Only when no rule is certain are the code probes of that kind run (their
 * modules loaded), every one of them. Returns 0, LM_E_NOMATCH, or another
 * error. (Programs built against lazymod 0.1, whose result held 63-byte
 * names, get LM_E_INVAL for a longer name, never a cut one.)
 */
LM_EXPORT int lm_probe(struct lm_context *ctx, const char *kind, const struct lm_probe_input *in,
		       struct lm_probe_result *result);

/*
 * How much of an input the declarative rules of `kind` look at: *head is
 * the most bytes from the start any LM_PROBE_MAGIC rule reads (its offset
 * plus its length), *tail the most bytes before the end any
 * LM_PROBE_MAGIC_END rule reads (its offset). A host that gives lm_probe
 * that many first and last bytes lets every rule decide. Code probes read
 * what they are given: this does not count them. Reads the index alone.
 * Returns 0, LM_E_NOTFOUND when no index knows the kind, or another error.
 */
LM_EXPORT int lm_probe_window(struct lm_context *ctx, const char *kind, size_t *head,
			      size_t *tail);

/* What the index says of one feature. The strings belong to the context
 * and live until its end. */
struct lm_feature_info {
	const char *kind;
	const char *name;
	const char *module;
	const char *module_version;
	const char *description;
	const char *package;  /* "" when none declared */
	const char *path;     /* the module file; "" for a built-in module */
	int builtin;
	int loaded;           /* its module is loaded and initialised */
};
typedef int (*lm_list_fn)(void *data, const struct lm_feature_info *info);

/*
 * Calls fn for each feature of `kind` (all kinds when NULL), reading the
 * index alone, in directory order then name order, each kind/name once (the
 * provider lm_get would use). Stops and returns fn's value when it is
 * non-zero; returns 0 at the end, or a negative lm_error.
 */
LM_EXPORT int lm_list(struct lm_context *ctx, const char *kind, lm_list_fn fn, void *data);

/* Fills *info for kind/name without loading anything. */
LM_EXPORT int lm_feature_info(struct lm_context *ctx, const char *kind, const char *name,
			      struct lm_feature_info *info);

/* Whether module `name` is loaded and initialised in ctx (1 or 0). */
LM_EXPORT int lm_module_loaded(struct lm_context *ctx, const char *name);

/* The library version, e.g. "0.1.0". */
LM_EXPORT const char *lm_version(void);

#ifdef __cplusplus
}
#endif
#endif /* LAZYMOD_H */
