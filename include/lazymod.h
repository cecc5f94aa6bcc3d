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

/* The detail of the calling thread's last failure on ctx ("" if none). */
LM_EXPORT const char *lm_errdetail(const struct lm_context *ctx);

/* The answer of a probe. */
struct lm_probe_result {
	char name[64];  /* the feature that won */
	char module[64];
	int score;
	char rule[160]; /* the rule that decided, e.g. "magic \"QFI\\xfb\" at 0" */
};

/*
 * Finds the feature of `kind` that best matches `in`. Declarative rules are
 * evaluated from the index, loading nothing; score 100 ends the search.
 * Only when no rule is certain are the code probes of that kind run (their
 * modules loaded). Returns 0, LM_E_NOMATCH, or another error.
 */
LM_EXPORT int lm_probe(struct lm_context *ctx, const char *kind, const struct lm_probe_input *in,
		       struct lm_probe_result *result);

/* What the index says of one feature. Strings point into the context. */
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
