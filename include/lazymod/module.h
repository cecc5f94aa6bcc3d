/* SPDX-License-Identifier: MIT */
/*
 * lazymod/module.h - what a module's source includes to declare itself.
 *
 * A module names itself once, then states its manifest with the macros
 * below:
 *
 *   #define LM_MODULE_NAME qcow2
 *   #include <lazymod/module.h>
 *
 *   LM_MODULE("1.0", "QEMU copy-on-write images, versions 2 and 3", qcow2_init);
 *   LM_INTERFACE(1, 0);
 *   LM_DEPENDS("zlib");
 *   LM_FEATURE("block-format", "qcow2", &qcow2_format);
 *   LM_PROBE_MAGIC("block-format", "qcow2", 0, "QFI\xfb", 100);
 *   LM_PROBE_EXT("block-format", "qcow2", "qcow2", 20);
 *
 * Each macro emits one ELF note (owner "lazymod", shown by `readelf -n`)
 * holding plain data: the indexer and the runtime read the manifest
 * without running any module code. Notes carry no pointers, so they need
 * no relocation. The pointers a module registers (its init function, the
 * object of each feature, code probes) go into small tables the runtime
 * reaches only once it has decided to use the module.
 *
 * The same source builds as a loadable module (a shared object) or into
 * the host executable; nothing in it changes between the two.
 *
 * LM_MODULE_NAME must be a C identifier: it names the module's exported
 * descriptor, lazymod_module_<name>.
 */
#ifndef LAZYMOD_MODULE_H
#define LAZYMOD_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include <lazymod/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- implementation helpers ------------------------------------------ */
#ifndef LM_MODULE_NAME
#error "define LM_MODULE_NAME (a C identifier) before including lazymod/module.h"
#endif

#define LM__CAT2(a, b) a##b
#define LM__CAT(a, b) LM__CAT2(a, b)
#define LM__STR2(x) #x
#define LM__STR(x) LM__STR2(x)
#define LM__UNIQ(p) LM__CAT(LM__CAT(p, LM_MODULE_NAME), __COUNTER__)
#define LM__MOD LM__STR(LM_MODULE_NAME)

/*
 * A compile-time check at file scope, in every language the header serves:
 * C++ and C11 have their own; C99 gets an array whose size turns negative,
 * so that a failed check still stops the build (naming the typedef).
 */
#if defined(__cplusplus)
#define LM__STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define LM__STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#else
#define LM__STATIC_ASSERT(cond, msg) typedef char LM__UNIQ(lm__assert_)[(cond) ? 1 : -1]
#endif

/*
 * One note: the standard ELF note header, the owner padded to 8 bytes, then
 * the descriptor. Every descriptor starts with the module's name so that
 * notes of several modules built into one executable can be told apart
 * whatever order the linker puts them in. Strings are stored with their
 * NUL; numbers come first so that they stay aligned.
 */
#define LM__NOTE_ATTR __attribute__((section(".note.lazymod"), used, aligned(4)))
#define LM__NOTE(var, type, desc_fields, ...)                                                      \
	static const struct {                                                                      \
		uint32_t namesz, descsz, ntype;                                                    \
		char owner[8];                                                                     \
		struct desc_fields d;                                                              \
	} var LM__NOTE_ATTR = {8, sizeof var.d, type, LM_NOTE_OWNER, {__VA_ARGS__}}

#define LM__REG_ATTR __attribute__((section("lm_reg"), used))
#define LM__REG(var, type, kind, name, object, probe)                                              \
	static const struct lm__reg LM__CAT(var, _r) = {LM__MOD, type, kind, name, object, probe}; \
	static const struct lm__reg *const LM__CAT(var, _p) LM__REG_ATTR = &LM__CAT(var, _r)

/* ---- the manifest ------------------------------------------------------ */

/* The module itself: version string, one-line description, init (or NULL). */
#define LM_MODULE(version, description, initfn)                                                    \
	LM__MODULE_(LM__UNIQ(lm__n_), version, description, initfn)
#define LM__MODULE_(var, version, description, initfn)                                             \
	LM__NOTE(var, LM_NOTE_MODULE,                                                              \
		 {                                                                                 \
			 uint32_t flags;                                                           \
			 char m[sizeof LM__MOD];                                                   \
			 char v[sizeof(version)];                                                  \
			 char s[sizeof(description)];                                              \
		 },                                                                                \
		 0, LM__MOD, version, description);                                                \
	extern const struct lm__reg *const __start_lm_reg[] __attribute__((weak, visibility("hidden"))); \
	extern const struct lm__reg *const __stop_lm_reg[] __attribute__((weak, visibility("hidden")));  \
	__attribute__((visibility("default"))) extern const struct lm__module_desc LM__CAT(            \
		lazymod_module_, LM_MODULE_NAME);                                                  \
	const struct lm__module_desc LM__CAT(lazymod_module_, LM_MODULE_NAME) = {                  \
		LM__MODULE_ABI, LM__MOD, initfn, __start_lm_reg, __stop_lm_reg};                   \
	static const struct lm__module_desc *const LM__CAT(var, _d)                                \
		__attribute__((section("lm_mods"), used)) = &LM__CAT(lazymod_module_, LM_MODULE_NAME)

/* The host interface version the module was built against. */
#define LM_INTERFACE(major, minor)                                                                 \
	LM__NOTE(LM__UNIQ(lm__n_), LM_NOTE_INTERFACE,                                              \
		 {                                                                                 \
			 uint16_t maj;                                                             \
			 uint16_t min;                                                        \
			 char m[sizeof LM__MOD];                                                   \
		 },                                                                                \
		 major, minor, LM__MOD)

/* A feature of kind `kind` and name `name`, whose object is `object`. */
#define LM_FEATURE(kind, name, object) LM__FEATURE_(LM__UNIQ(lm__n_), kind, name, object)
#define LM__FEATURE_(var, kind, name, object)                                                      \
	LM__NOTE(var, LM_NOTE_FEATURE,                                                             \
		 {                                                                                 \
			 uint32_t flags;                                                           \
			 char m[sizeof LM__MOD];                                                   \
			 char k[sizeof(kind)];                                                     \
			 char n[sizeof(name)];                                                     \
		 },                                                                                \
		 0, LM__MOD, kind, name);                                                          \
	LM__REG(var, LM__REG_FEATURE, kind, name, object, NULL)

/* Another module (by name) that must be ready before this one. */
#define LM_DEPENDS(module)                                                                         \
	LM__NOTE(LM__UNIQ(lm__n_), LM_NOTE_DEPENDS,                                                \
		 {                                                                                 \
			 char m[sizeof LM__MOD];                                                   \
			 char d[sizeof(module)];                                                   \
		 },                                                                                \
		 LM__MOD, module)

/* A target (e.g. "x86_64") the module serves; none declared means any. */
#define LM_TARGET(target)                                                                          \
	LM__NOTE(LM__UNIQ(lm__n_), LM_NOTE_TARGET,                                                 \
		 {                                                                                 \
			 char m[sizeof LM__MOD];                                                   \
			 char t[sizeof(target)];                                                   \
		 },                                                                                \
		 LM__MOD, target)

/* The package that ships the module, named in "not installed" errors. */
#define LM_PACKAGE(package)                                                                        \
	LM__NOTE(LM__UNIQ(lm__n_), LM_NOTE_PACKAGE,                                                \
		 {                                                                                 \
			 char m[sizeof LM__MOD];                                                   \
			 char p[sizeof(package)];                                                  \
		 },                                                                                \
		 LM__MOD, package)

/*
 * A declarative probe rule for feature kind/name. `bytes` and `mask` are
 * string literals (they may hold "\0"); `mask`, when given, has the same
 * length and is ANDed with the input before comparing.
 */
#define LM__RULE(var, type, kind, name, offset, bytes, mask, score)                                \
	LM__NOTE(var, LM_NOTE_RULE,                                                                \
		 {                                                                                 \
			 uint32_t off_lo;                                                          \
			 uint32_t off_hi;                                                          \
			 uint32_t len;                                                             \
			 uint8_t rtype;                                                            \
			 uint8_t rscore;                                                           \
			 uint8_t has_mask;                                                         \
			 uint8_t pad;                                                              \
			 char m[sizeof LM__MOD];                                                   \
			 char k[sizeof(kind)];                                                     \
			 char n[sizeof(name)];                                                     \
			 char b[sizeof(bytes)];                                                    \
			 char x[sizeof(mask)];                                                     \
		 },                                                                                \
		 (uint32_t)(uint64_t)(offset), (uint32_t)((uint64_t)(offset) >> 32),              \
		 sizeof(bytes) - 1, type, score, sizeof(mask) > 1, 0, LM__MOD, kind, name, \
		 bytes, mask);                                                                     \
	LM__STATIC_ASSERT((score) >= 1 && (score) <= 100, "probe score must be 1..100");          \
	LM__STATIC_ASSERT(sizeof(mask) == 1 || sizeof(mask) == sizeof(bytes),                     \
			  "probe mask must be as long as its bytes")

/* `bytes` at `offset` from the start of the input. */
#define LM_PROBE_MAGIC(kind, name, offset, bytes, score)                                           \
	LM__RULE(LM__UNIQ(lm__n_), LM_RULE_MAGIC, kind, name, offset, bytes, "", score)
/* The same, comparing (input & mask) with bytes. */
#define LM_PROBE_MAGIC_MASK(kind, name, offset, bytes, mask, score)                                \
	LM__RULE(LM__UNIQ(lm__n_), LM_RULE_MAGIC, kind, name, offset, bytes, mask, score)
/* `bytes` starting `offset` bytes before the end of the input. */
#define LM_PROBE_MAGIC_END(kind, name, offset, bytes, score)                                       \
	LM__RULE(LM__UNIQ(lm__n_), LM_RULE_MAGIC_END, kind, name, offset, bytes, "", score)
/* A file-name extension (without the dot, compared case-insensitively). */
#define LM_PROBE_EXT(kind, name, ext, score)                                                       \
	LM__RULE(LM__UNIQ(lm__n_), LM_RULE_EXT, kind, name, 0, ext, "", score)
/* A URI scheme, such as "https". */
#define LM_PROBE_SCHEME(kind, name, scheme, score)                                                 \
	LM__RULE(LM__UNIQ(lm__n_), LM_RULE_SCHEME, kind, name, 0, scheme, "", score)
/* Matches anything: the fallback of a kind, usually with score 1. */
#define LM_PROBE_ANY(kind, name, score)                                                            \
	LM__RULE(LM__UNIQ(lm__n_), LM_RULE_ANY, kind, name, 0, "", "", score)

/*
 * A probe function for feature kind/name, for inputs that declarative rules
 * cannot decide. It runs only when the rules found nothing certain.
 */
#define LM_PROBE_FUNC(kind, name, fn) LM__PROBE_FUNC_(LM__UNIQ(lm__n_), kind, name, fn)
#define LM__PROBE_FUNC_(var, kind, name, fn)                                                       \
	LM__NOTE(var, LM_NOTE_CODEPROBE,                                                           \
		 {                                                                                 \
			 char m[sizeof LM__MOD];                                                   \
			 char k[sizeof(kind)];                                                     \
			 char n[sizeof(name)];                                                     \
		 },                                                                                \
		 LM__MOD, kind, name);                                                             \
	LM__REG(var, LM__REG_PROBE, kind, name, NULL, fn)

#ifdef __cplusplus
}
#endif
#endif /* LAZYMOD_MODULE_H */
