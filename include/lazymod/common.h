/* SPDX-License-Identifier: MIT */
/*
 * lazymod/common.h - types shared by hosts (lazymod.h) and modules
 * (lazymod/module.h): note and rule encodings, the probe input, and the
 * registration entries the manifest macros emit.
 */
#ifndef LAZYMOD_COMMON_H
#define LAZYMOD_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Owner name of every lazymod note, and the note types. */
#define LM_NOTE_OWNER "lazymod"
enum lm_note_type {
	LM_NOTE_MODULE = 0x4c4d0001,    /* version, description */
	LM_NOTE_INTERFACE = 0x4c4d0002, /* host interface major.minor built against */
	LM_NOTE_FEATURE = 0x4c4d0003,   /* kind, name */
	LM_NOTE_DEPENDS = 0x4c4d0004,   /* another module's name */
	LM_NOTE_RULE = 0x4c4d0005,      /* a declarative probe rule */
	LM_NOTE_CODEPROBE = 0x4c4d0006, /* kind, name: the module has a probe function */
	LM_NOTE_TARGET = 0x4c4d0007,    /* a target the module serves */
	LM_NOTE_PACKAGE = 0x4c4d0008,   /* package to install when it is missing */
};

/* Declarative probe rule types. */
enum lm_rule_type {
	LM_RULE_MAGIC = 1,     /* bytes at an offset from the start */
	LM_RULE_MAGIC_END = 2, /* bytes at an offset counted back from the end */
	LM_RULE_EXT = 3,       /* file-name extension, without the dot */
	LM_RULE_SCHEME = 4,    /* URI scheme, without "://" */
	LM_RULE_ANY = 5,       /* always matches: a fallback */
};

/* Highest score: a rule or probe this sure ends the search. */
#define LM_SCORE_CERTAIN 100

/*
 * What a probe sees of an input: its first and last bytes (either may be
 * empty), its total size when known (UINT64_MAX when not), and its file
 * name or URI (may be NULL).
 */
struct lm_probe_input {
	const unsigned char *head;
	size_t head_len;
	const unsigned char *tail;
	size_t tail_len;
	uint64_t size;
	const char *name;
};

/*
 * A code probe: returns a score from 0 (not mine) to 100 (certainly mine).
 * It runs after the module is loaded and initialised.
 */
typedef int (*lm_probe_fn)(const struct lm_probe_input *in);

/*
 * A module's init: runs once, on first use of one of its features, after
 * its dependencies are ready. `host` is the pointer the host passed in its
 * context options (typically its versioned service table). Returns 0, or a
 * negative errno value; on failure the module is marked failed and is
 * neither retried nor used.
 */
typedef int (*lm_init_fn)(const void *host);

/* Runtime registration entries; internal layout, used through the macros. */
enum lm__reg_type { LM__REG_FEATURE = 1, LM__REG_PROBE = 2 };
struct lm__reg {
	const char *module;
	unsigned type;
	const char *kind;
	const char *name;
	const void *object;
	lm_probe_fn probe;
};

#define LM__MODULE_ABI 1
struct lm__module_desc {
	unsigned abi;
	const char *name;
	lm_init_fn init;
	const struct lm__reg *const *reg_start;
	const struct lm__reg *const *reg_stop;
};

#ifdef __cplusplus
}
#endif
#endif /* LAZYMOD_COMMON_H */
