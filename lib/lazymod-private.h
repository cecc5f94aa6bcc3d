/* SPDX-License-Identifier: MIT */
/*
 * lazymod-private.h - declarations shared by the library's files, grouped
 * by the file that defines them. Nothing here is part of the ABI.
 *
 * Prefixes: lm_ is public, lm__ crosses files inside the library, static
 * names carry none.
 */
#ifndef LAZYMOD_PRIVATE_H
#define LAZYMOD_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lazymod.h"

#define LM__NAME_MAX LM_NAME_MAX             /* longest kind, feature or module name */
#define LM__MAX_RULE_BYTES LM_RULE_BYTES_MAX /* longest probe pattern */

/* ---- util.c -------------------------------------------------------------- */
uint32_t lm__crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t lm__hash(const char *a, const char *b); /* FNV-1a of a, NUL, b */
/* A growable byte buffer. */
struct lm__buf {
	unsigned char *p;
	size_t len, cap;
	bool oom;
};
size_t lm__buf_append(struct lm__buf *b, const void *data, size_t len); /* returns offset */
void lm__buf_align(struct lm__buf *b, size_t align);
/* Grows an array of elem-sized items to hold n+1; returns 0 or -1. */
int lm__grow(void **arr, size_t *cap, size_t n, size_t elem);
/* Joins dir and rel into a new string (rel absolute: copied). */
char *lm__path_join(const char *dir, const char *rel);
/* Relative path from directory `from` to file `to` (both absolute). */
char *lm__path_relative(const char *from, const char *to);
/*
 * Opens a file lazymod expects to be a module or an index, without
 * blocking: returns its descriptor (close-on-exec) and fills *st, or
 * LM_E_NOTFOUND, LM_E_IO, or LM_E_INVAL for anything but a regular file
 * (FIFO, socket, device, directory), with the reason in why ("a FIFO, not a
 * regular file"). A FIFO or device is refused before any read.
 */
struct stat;
int lm__open_regular(const char *path, struct stat *st, char *why, size_t whylen);
/* "a FIFO", "a socket", "a character device", "a directory"... */
const char *lm__file_kind(mode_t mode);
/* Directory of the running executable, or NULL. Caller frees. */
char *lm__exe_dir(void);
/* A set of strings, each kept once: returns the pool's copy of s (NULL
 * when out of memory). Locks p->lock. */
struct lm__strpool;
const char *lm__intern(struct lm__strpool *p, const char *s);
void lm__strpool_free(struct lm__strpool *p);
/* Allocation wrappers. Tests make the Nth allocation from now fail by
 * setting lm__fault_alloc_after to N (-1: never). */
extern int lm__fault_alloc_after;
void *lm__malloc(size_t n);
void *lm__calloc(size_t n, size_t m);
void *lm__realloc(void *p, size_t n);
char *lm__strdup(const char *s);

/* ---- sparse.c ------------------------------------------------------------ */
/* An array whose memory is allocated where it is first written (sparse.c). */
struct lm__sparse {
	_Atomic(void *) root[64];
	size_t elem, n;
	unsigned depth; /* node levels under the root */
};
/* Sets s up empty for n slots of elem bytes: allocates nothing. */
void lm__sparse_init(struct lm__sparse *s, size_t n, size_t elem);
/* Slot i, or NULL while no slot near it was written (it reads as zero). No lock. */
void *lm__sparse_peek(const struct lm__sparse *s, size_t i);
/* Slot i, allocated zeroed when missing; NULL when out of memory or i >= n. */
void *lm__sparse_slot(struct lm__sparse *s, size_t i);
/* Frees every node (calling each, when given, on every slot of each leaf). */
void lm__sparse_free(struct lm__sparse *s, void (*each)(void *slot));

/* ---- error.c -------------------------------------------------------------- */
#define LM__DETAIL_MAX 1024 /* longest error detail, with its NUL */
/* Sets the calling thread's error detail and returns err. */
int lm__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread's detail buffer. */
const char *lm__detail(void);
struct lm_context;
/* Ends a public call on ctx that returns err: a failure's detail becomes
 * what lm_errdetail(ctx) says in this thread, a success (0) clears it.
 * err > 0 is a success with a note in the thread's detail (an answer found
 * past a refused module), kept likewise; 0 is returned for it. */
int lm__done(struct lm_context *ctx, int err);
void lm__errslots_free(struct lm_context *ctx);

/* ---- log.c ---------------------------------------------------------------- */
struct lm__log {
	lm_log_fn fn;
	void *data;
	int priority; /* messages above this are skipped before formatting */
};
void lm__log_init(struct lm__log *log, lm_log_fn fn, void *data);
void lm__log_emit(const struct lm__log *log, int priority, const char *file, int line,
		  const char *fn, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define lm__log(log, prio, ...)                                                                    \
	do {                                                                                       \
		if ((log)->priority >= (prio))                                                    \
			lm__log_emit((log), (prio), __FILE__, __LINE__, __func__, __VA_ARGS__);    \
	} while (0)
#define lm__dbg(log, ...) lm__log(log, LM_LOG_DEBUG, __VA_ARGS__)
#define lm__warn(log, ...) lm__log(log, LM_LOG_WARNING, __VA_ARGS__)
uint64_t lm__now_ns(void);

/* ---- note.c --------------------------------------------------------------- */
/*
 * Manifests as read from notes: flat tables whose strings point into the
 * note bytes (owned by the set, or by the running executable for built-in
 * modules).
 */
struct lm__mmod {
	const char *name, *version, *description, *package;
	uint16_t iface_major, iface_minor;
	bool has_iface, builtin;
	char *path; /* absolute path of its file; NULL for built-in (owned) */
	uint64_t size;
	uint8_t build_id[64];
	uint8_t build_id_len;
	bool has_sha256;
	uint8_t sha256[32]; /* strict mode: the whole file's digest */
	uint32_t order;     /* position in the set, for stable sorting */
};
struct lm__mitem { /* a feature, dependency, target or code probe */
	uint32_t mod;
	const char *a, *b; /* feature/probe: kind, name; dep and target: name, NULL */
};
struct lm__mrule {
	uint32_t mod;
	const char *kind, *name;
	uint64_t offset;
	uint32_t len;
	uint8_t type, score;
	const unsigned char *bytes, *mask; /* mask NULL when none */
};
struct lm__mset {
	struct lm__mmod *mods;
	size_t nmods, capmods;
	struct lm__mitem *feats, *deps, *targets, *probes;
	size_t nfeats, capfeats, ndeps, capdeps, ntargets, captargets, nprobes, capprobes;
	struct lm__mrule *rules;
	size_t nrules, caprules;
	void **bufs; /* owned note buffers */
	size_t nbufs, capbufs;
	bool want_sha256; /* lm__elf_read records each file's SHA-256 */
};
void lm__mset_free(struct lm__mset *set);
/* Parses the notes in [notes, notes+len) (a PT_NOTE segment's bytes). New
 * modules get `path` and builtin. Returns 0 or an lm_error. */
int lm__notes_parse(struct lm__mset *set, const unsigned char *notes, size_t len, size_t first,
		    const char *path,
		    bool builtin, char *why, size_t whylen);
/*
 * Reads the lazymod notes, build-id and size of the ELF file open on fd.
 * Adds its modules to set (none if it has no lazymod note: returns 0 with
 * *found = 0). Returns LM_E_BADMODULE with a reason for a malformed file.
 */
int lm__elf_read(struct lm__mset *set, int fd, const char *path, int *found, char *why,
		 size_t whylen);
/* Reads only the GNU build-id of the ELF file on fd. */
int lm__elf_build_id(int fd, uint8_t *id, uint8_t *len, char *why, size_t whylen);
/* The build-id of the loaded object whose load address (l_addr) is base. */
int lm__loaded_build_id(const void *base, uint8_t *id, uint8_t *len);
/* Collects the notes of the loaded object containing addr (built-in modules). */
int lm__self_notes(struct lm__mset *set, const void *addr, char *why, size_t whylen);
/* Reads every module file of dir (sorted by name) into set. */
typedef void (*lm__report_fn)(void *data, int err, const char *msg);
int lm__scan_dir(struct lm__mset *set, const char *dir, lm__report_fn report, void *data);

/* ---- sha256.c ------------------------------------------------------------ */
/* SHA-256 of the file on fd (size bytes), through libcrypto opened on first use. */
int lm__sha256_fd(int fd, uint64_t size, uint8_t out[32], char *why, size_t whylen);

/* ---- index.c -------------------------------------------------------------- */
#define LM__INDEX_MAGIC "LMINDEX\0"
#define LM__INDEX_VERSION 1u
#define LM__RULE_CODE 6 /* rule record of a code probe */

struct lm__ihdr {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t file_size;
	uint32_t header_crc; /* crc32c of the header with this field zero */
	uint32_t body_crc;   /* crc32c of everything after the header */
	uint32_t nmods, mods_off;
	uint32_t nfeats, feats_off;
	uint32_t fslots, fhash_off;
	uint32_t mslots, mhash_off;
	uint32_t nrules, rules_off;
	uint32_t nkinds, kinds_off;
	uint32_t nrefs, refs_off;
	uint32_t strings_size, strings_off;
	uint32_t flags, reserved;
};
struct lm__imod {
	uint32_t name, version, description, package, path; /* string offsets */
	uint32_t flags;                                     /* LM__IMOD_* */
	uint16_t iface_major, iface_minor;
	uint32_t deps_first, ndeps;       /* refs: dependency name strings */
	uint32_t targets_first, ntargets; /* refs: target strings */
	uint32_t feats_first, nfeats;     /* refs: feature indexes */
	uint32_t build_id_len;
	uint8_t build_id[64];
	uint64_t size;
	uint8_t sha256[32]; /* when LM__IMOD_SHA256 */
	uint32_t crc;
	uint32_t pad;
};
#define LM__IMOD_BUILTIN 1u
#define LM__IMOD_IFACE 2u
#define LM__IMOD_SHA256 4u
#define LM__IMOD_BUNDLE 8u /* its file holds other modules too: see bundle.c */
struct lm__ifeat {
	uint32_t kind, name, mod, flags, crc; /* flags: LM__IFEAT_* */
};
#define LM__IFEAT_CODEPROBE 1u
/* The next record is the same feature from another build of the module
 * (for another target): builds of one feature are adjacent, and the hash
 * table holds the first. */
#define LM__IFEAT_MORE 2u
struct lm__irule {
	uint32_t feat;
	uint8_t type, score;
	uint16_t pad;
	uint32_t len, bytes, mask; /* mask 0: none */
	uint32_t crc;
	uint64_t offset;
};
struct lm__ikind {
	uint32_t kind, feats_first, nfeats, rules_first, nrules, crc;
};
struct lm__islot {
	uint32_t hash, index, check; /* index UINT32_MAX: empty */
};

/* A validated view of an index image (mapped file or memory). */
struct lm__index {
	const unsigned char *base;
	size_t size;
	const struct lm__ihdr *h;
	/*
	 * Optional: a byte per feature record, then per rule record, set once
	 * the record's checksum was verified, so that later lookups skip it.
	 * The image never changes under its readers: an index is replaced by
	 * renaming a new file over it, never rewritten in place.
	 */
	struct lm__sparse *ok; /* a byte a record */
};
/* Checks the header of image [base, base+size): O(1). */
int lm__index_open(struct lm__index *ix, const void *base, size_t size, char *why, size_t whylen);
/* Full verification: body checksum and every record (lazymod check). */
int lm__index_verify(const struct lm__index *ix, char *why, size_t whylen);
/* Lookups; each verifies what it touches. Return 0, LM_E_NOTFOUND or LM_E_CORRUPT. */
int lm__index_find_feature(const struct lm__index *ix, const char *kind, const char *name,
			   uint32_t *feat);
/* The same, also giving the verified feature record. */
int lm__index_get_feature(const struct lm__index *ix, const char *kind, const char *name,
			  uint32_t *feat, const struct lm__ifeat **rec);
/* The first module record named name (of any target). */
int lm__index_find_module(const struct lm__index *ix, const char *name, uint32_t *mod);
/* The first build of module name that serves target (any build if NULL). */
int lm__index_find_build(const struct lm__index *ix, const char *name, const char *target,
			 uint32_t *mod);
/* The record after feature fi holding another build of it: 0 with *next,
 * LM_E_NOTFOUND when fi is the last build, or LM_E_CORRUPT. */
int lm__index_next_build(const struct lm__index *ix, uint32_t fi, uint32_t *next);
/* Whether a module serves target: it names it, or names no target. */
bool lm__index_serves(const struct lm__index *ix, const struct lm__imod *rec, const char *target);
int lm__index_find_kind(const struct lm__index *ix, const char *kind, const struct lm__ikind **k);
const struct lm__imod *lm__index_mod(const struct lm__index *ix, uint32_t i);
const struct lm__ifeat *lm__index_feat(const struct lm__index *ix, uint32_t i);
const struct lm__irule *lm__index_rule(const struct lm__index *ix, uint32_t i);
/* A string at offset off, or NULL when out of bounds; records' checksums
 * cover their strings, so callers use this after fetching the record. */
const char *lm__index_str(const struct lm__index *ix, uint32_t off);
int lm__index_ref(const struct lm__index *ix, uint32_t i, uint32_t *val);
/* Builds an index image from set; module paths are made relative to
 * index_dir. Reports duplicates, missing dependencies and cycles. */
int lm__index_build(struct lm__mset *set, const char *index_dir, lm__report_fn report,
		    void *data, struct lm__buf *out);
/* What lm__index_build reports for a module that is both in a bundle and
 * alone in one directory: an error for the indexer, not a warning. */
#define LM__E_BUNDLE_AND_ALONE (-1000)
/* Writes an image atomically to path (temporary file, fsync, rename). */
int lm__index_write_file(const char *path, const void *image, size_t len);

/* ---- loader.c ------------------------------------------------------------- */
/*
 * dlopens the module file at path, which was verified open on a descriptor
 * whose fstat is *verified, and makes sure the object the loader returns is
 * that file (device and inode; the build-id where /proc is missing). Returns
 * 0 with *handle, LM_E_STALE when the file was replaced while loading,
 * LM_E_NEEDLIB, LM_E_LOAD or LM_E_NOMEM, with the detail set.
 */
struct stat;
int lm__dlopen_verified(const char *name, const char *path, const struct stat *verified,
			const uint8_t *build_id, uint8_t build_id_len, void **handle);

/* ---- context.c ------------------------------------------------------------ */
enum lm__state { LM__UNLOADED = 0, LM__READY = 1, LM__FAILED = 2 };
struct lm__modstate {
	_Atomic int state;
	int err;
	char *detail;
	void *handle;
	const struct lm__module_desc *desc;
};
/* One generation of a source: an index image and the state of its modules. */
struct lm__gen {
	struct lm__index ix;
	void *map;       /* mmap'ed file, or NULL */
	size_t maplen;
	void *heap;      /* in-memory image, or NULL */
	struct lm__sparse mods; /* struct lm__modstate per module, made on first use */
	struct lm__sparse objs; /* const void * per feature, valid once its module is READY */
	struct lm__sparse ok;   /* the index's verified marks (ix.ok) */
	struct lm__gen *prev;
};
struct lm__source {
	char *dir; /* absolute; NULL for the built-in modules */
	_Atomic(struct lm__gen *) gen;
	_Atomic bool fallback; /* the current generation was built from notes */
	bool warned;
	int err;      /* why there is no generation (LM_CTX_NO_FALLBACK) */
	char *detail; /* owned */
	/* The index file as mapped, to notice when it is rewritten. */
	dev_t ix_dev;
	ino_t ix_ino;
	struct timespec ix_mtime;
};
struct lm__bundle; /* bundle.c */
struct lm_context {
	_Atomic int refcount;
	struct lm__log log;
	struct lm__source *sources;
	size_t nsources;
	unsigned iface_major, iface_minor;
	char *target;
	const void *host;
	unsigned flags;
	const struct lm__module_desc *const *builtin_start, *const *builtin_stop;
	pthread_mutex_t lock; /* recursive: an init may ask for features */
	/*
	 * Generations replaced by a reindex stay readable while a public call
	 * that may have read them is in flight: `calls` counts those calls,
	 * and the last to end frees the retired generations (lock held).
	 * Modules loaded from a retired generation and not carried over stay
	 * loaded: their handles move to `orphans`, closed with the context.
	 */
	_Atomic unsigned calls;
	_Atomic bool has_retired;
	struct lm__gen *retired; /* lock */
	struct lm__orphan {
		void *handle;
	} *orphans; /* lock */
	size_t norphans, caporphans;
	/* Strings handed out by lm_feature_info and lm_list, one copy each:
	 * they live as long as the context, whatever generation they came from. */
	struct lm__strpool {
		char **slots;
		size_t n, cap;
		pthread_mutex_t lock;
	} strings;
	_Atomic(struct lm__errslot *) errs; /* lm_errdetail, per thread */
	struct lm__bundle **bundles; /* files opened for bundle members (owned; lock) */
	size_t nbundles, capbundles;
};
/* Begins and ends a public call on ctx (see calls above); end records err
 * for lm_errdetail as lm__done does and returns it. */
void lm__call_begin(struct lm_context *ctx);
int lm__call_end(struct lm_context *ctx, int err);
/*
 * Verifies a module file against its index record and loads it: *handle,
 * the caller's. Lock held.
 */
int lm__open_file(struct lm_context *ctx, size_t src, const struct lm__index *ix,
		  const struct lm__imod *rec, const char *name, void **handle);
/* After damage in source i's mapped index: reads its notes instead (once);
 * 1 when the caller should look again. */
int lm__recover(struct lm_context *ctx, size_t i);
/* Loads the module of kind/name and returns its code probe. */
int lm__get_probe(struct lm_context *ctx, const char *kind, const char *name, lm_probe_fn *fn);
int lm__check_name(const char *what, const char *s);

/* ---- bundle.c ------------------------------------------------------------- */
/*
 * The loaded bundle holding module `name` (record rec of source src):
 * opened, verified and dlopened on its first member's request, then shared
 * by every member; a bundle that failed fails every member with its error.
 * *handle belongs to the context. Lock held.
 */
int lm__bundle_open(struct lm_context *ctx, size_t src, const struct lm__index *ix,
		    const struct lm__imod *rec, const char *name, void **handle);
/* Closes every bundle the context opened. */
void lm__bundles_free(struct lm_context *ctx);

/* ---- probe.c -------------------------------------------------------------- */
/* lm_probe@LAZYMOD_0.1: the result as lazymod 0.1 laid it out. */
struct lm__probe_result_0_1 {
	char name[64];
	char module[64];
	int score;
	char rule[160];
};
LM_EXPORT int lm__probe_0_1(struct lm_context *ctx, const char *kind,
			    const struct lm_probe_input *in, struct lm__probe_result_0_1 *old);
/* Whether rule r matches in (declarative rules only). */
bool lm__rule_match(const struct lm__index *ix, const struct lm__irule *r,
		    const struct lm_probe_input *in);
void lm__rule_describe(const struct lm__index *ix, const struct lm__irule *r, char *buf,
		       size_t len);

#endif /* LAZYMOD_PRIVATE_H */
