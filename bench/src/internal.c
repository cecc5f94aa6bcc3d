/* SPDX-License-Identifier: MIT */
/*
 * internal - what the benchmarks need from the library's internals (linked
 * against the internal static library, lib/lazymod-private.h).
 *
 *   internal mkindex-mods DIR N
 *       DIR/lazymod.index over N synthetic manifests shaped like the
 *       start-up benchmark's modules (mI, feature bench/mI, interface 1.0,
 *       a 20-byte build-id, a file DIR/mI.so that does not exist): built by
 *       lm__index_build from a filled struct lm__mset, so that an index of
 *       10000 modules needs no 10000 compiled files. Opening and lookups
 *       read the index alone, so the files' absence does not matter to them.
 *   internal mkindex-rules DIR N
 *       DIR/lazymod.index with N modules pI, each with one feature
 *       probe-bench/fI and one declarative rule: magic bytes at an offset
 *       from the start (even I) or from the end (odd I), each equal to the
 *       benchmark input there but for its last byte, so none matches and each
 *       compares all its bytes; the last one is "BENCHMAT" at offset 0, which
 *       matches with score 100.
 *   internal parts OUT.csv WARM RUNS MODS1000 PROBE1000 OPEN10000
 *       The pieces the public calls are made of, timed alone (interleaved
 *       round by round, a run being a batch): for the "why" of the report.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lazymod-private.h"

#include "bench.h"

static void report(void *data, int err, const char *msg)
{
	(void)data;
	fprintf(stderr, "internal: index: %s (%s)\n", msg, lm_errname(err));
}

static void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m);
	if (!p) {
		perror("calloc");
		exit(1);
	}
	return p;
}

static char *xstrdup(const char *fmt, unsigned i)
{
	char buf[256];
	snprintf(buf, sizeof buf, fmt, i);
	return strdup(buf);
}

static int write_index(struct lm__mset *set, const char *dir)
{
	char real[PATH_MAX];
	if (!realpath(dir, real)) {
		perror(dir);
		return 1;
	}
	struct lm__buf img = {0};
	int r = lm__index_build(set, real, report, NULL, &img);
	if (r < 0) {
		fprintf(stderr, "internal: %s\n", lm__detail());
		return 1;
	}
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/lazymod.index", real);
	r = lm__index_write_file(path, img.p, img.len);
	if (r < 0) {
		fprintf(stderr, "internal: %s\n", lm__detail());
		return 1;
	}
	free(img.p);
	return 0;
}

static void fill_mod(struct lm__mset *set, unsigned i, const char *dir, const char *fmt)
{
	struct lm__mmod *m = &set->mods[i];
	m->name = xstrdup(fmt, i);
	m->version = "1.0";
	m->description = xstrdup("synthetic module %u", i);
	m->package = NULL;
	m->iface_major = 1;
	m->iface_minor = 0;
	m->has_iface = true;
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s.so", dir, m->name);
	m->path = strdup(path);
	m->size = 15800 + i % 97;
	m->build_id_len = 20;
	uint64_t s = 0x1234567u + i;
	for (int k = 0; k < 20; k++)
		m->build_id[k] = (uint8_t)bench_xorshift(&s);
	m->order = i;
}

static int mkindex_mods(const char *dir, unsigned n)
{
	char real[PATH_MAX];
	if (!realpath(dir, real)) {
		perror(dir);
		return 1;
	}
	struct lm__mset set = {0};
	set.mods = xcalloc(n, sizeof *set.mods);
	set.feats = xcalloc(n, sizeof *set.feats);
	for (unsigned i = 0; i < n; i++) {
		fill_mod(&set, i, real, "m%u");
		set.feats[i] = (struct lm__mitem){i, "bench", set.mods[i].name};
	}
	set.nmods = set.capmods = n;
	set.nfeats = set.capfeats = n;
	return write_index(&set, real);
}

static int mkindex_rules(const char *dir, unsigned n)
{
	static unsigned char head[BENCH_PROBE_LEN], tail[BENCH_PROBE_LEN];
	bench_probe_input(head, tail);
	char real[PATH_MAX];
	if (!realpath(dir, real)) {
		perror(dir);
		return 1;
	}
	struct lm__mset set = {0};
	set.mods = xcalloc(n, sizeof *set.mods);
	set.feats = xcalloc(n, sizeof *set.feats);
	set.rules = xcalloc(n, sizeof *set.rules);
	for (unsigned i = 0; i < n; i++) {
		fill_mod(&set, i, real, "p%05u");
		char *fname = xstrdup(BENCH_PROBE_NAME_FMT, i);
		set.feats[i] = (struct lm__mitem){i, BENCH_PROBE_KIND, fname};
		struct lm__mrule *r = &set.rules[i];
		unsigned char *bytes = xcalloc(9, 1);
		r->mod = i;
		r->kind = BENCH_PROBE_KIND;
		r->name = fname;
		r->len = 8;
		r->score = 100;
		if (i == n - 1) {
			r->type = LM_RULE_MAGIC;
			r->offset = 0;
			memcpy(bytes, BENCH_PROBE_MATCH, 8);
		} else if (i % 2 == 0) {
			r->type = LM_RULE_MAGIC;
			r->offset = bench_rule_offset(i);
			memcpy(bytes, head + r->offset, 8);
			bytes[7] ^= 0xff;
		} else {
			r->type = LM_RULE_MAGIC_END;
			r->offset = bench_rule_offset(i);
			memcpy(bytes, tail + BENCH_PROBE_LEN - r->offset, 8);
			bytes[7] ^= 0xff;
		}
		r->bytes = bytes;
		r->mask = NULL;
	}
	set.nmods = set.capmods = n;
	set.nfeats = set.capfeats = n;
	set.nrules = set.caprules = n;
	if (write_index(&set, real))
		return 1;
	/* Every rule made it into the index? */
	struct lm__index ix;
	char path[PATH_MAX + 32], why[256];
	snprintf(path, sizeof path, "%s/lazymod.index", real);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *map = fd >= 0 && fstat(fd, &st) == 0
			    ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)
			    : MAP_FAILED;
	const struct lm__ikind *k = NULL;
	if (map == MAP_FAILED || lm__index_open(&ix, map, (size_t)st.st_size, why, sizeof why) < 0 ||
	    lm__index_find_kind(&ix, BENCH_PROBE_KIND, &k) < 0 || k->nrules != n) {
		fprintf(stderr, "internal: %s holds %u of the %u rules\n", path, k ? k->nrules : 0, n);
		return 1;
	}
	close(fd);
	return 0;
}

/* ---- parts ---------------------------------------------------------------- */

static volatile uintptr_t sink;

/*
 * CRC-32C with the SSE4.2 crc32 instruction, for comparison with the
 * library's table-driven one (same polynomial, same result).
 */
#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *buf,
								 size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc;
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	uint32_t c32 = (uint32_t)c;
	for (; len; len--, p++)
		c32 = __builtin_ia32_crc32qi(c32, *p);
	return ~c32;
}
static int have_sse42(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}
#else
static uint32_t crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
	return lm__crc32c(crc, buf, len);
}
static int have_sse42(void)
{
	return 0;
}
#endif

struct mapped {
	struct lm__index ix;
	void *map;
	size_t len;
};

static void map_index(struct mapped *m, const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/lazymod.index", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		exit(1);
	}
	m->len = (size_t)st.st_size;
	m->map = mmap(NULL, m->len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	char why[256];
	if (m->map == MAP_FAILED || lm__index_open(&m->ix, m->map, m->len, why, sizeof why) < 0) {
		fprintf(stderr, "internal: %s: cannot open the index\n", path);
		exit(1);
	}
}

enum part {
	P_CRC64,
	P_CRC64_SSE42,
	P_CHECK_NAMES,
	P_HASH,
	P_FIND_FEATURE,
	P_INDEX_FEAT,
	P_GET_LOADED,
	P_RULE_RECORD,
	P_RULE_MATCH,
	P_PROBE,
	P_REALPATH,
	P_OPEN_FSTAT_CLOSE,
	P_MMAP_MUNMAP,
	P_HEADER_CHECK,
	P_STATE_CALLOC,
	P_CONTEXT_NEW,
	P_CONTEXT_UNREF,
	P_MODULE_OPEN_FSTAT_CLOSE,
	P_BUILD_ID,
	P_ACCESS_PROC_FD,
};

struct pcell {
	const char *name;
	enum part part;
	unsigned ops;
	unsigned per_op; /* items per op (rules), for ns per item */
};

static struct {
	struct mapped mods, probe, open;
	struct lm_context *ctx, *pctx;
	const char *open_dir;
	char index_path[PATH_MAX];
	char module_path[PATH_MAX];
	int module_fd;
	char module_fdpath[64];
	uint32_t fi;
	const struct lm__ikind *kind;
	const struct lm__irule **rules;
	unsigned char buf[64];
	unsigned char head[BENCH_PROBE_LEN], tail[BENCH_PROBE_LEN];
} P;

static uint64_t cpu_overhead;

/* One batch: its wall time; the thread's CPU time in *cpu. */
static uint64_t run_part(const struct pcell *c, uint64_t *cpu)
{
	struct lm_probe_input in = {P.head, sizeof P.head, P.tail, sizeof P.tail,
				    (uint64_t)16 << 20, "input.bin"};
	uint64_t c0 = bench_cpu_now(), t0 = bench_now(), acc = 0, untimed = 0, cuntimed = 0;
	for (unsigned i = 0; i < c->ops; i++) {
		switch (c->part) {
		case P_CRC64:
			acc += lm__crc32c(0, P.buf, sizeof P.buf);
			break;
		case P_CRC64_SSE42:
			acc += crc32c_sse42(0, P.buf, sizeof P.buf);
			break;
		case P_CHECK_NAMES:
			acc += (uint64_t)lm__check_name("feature kind", "bench") +
			       (uint64_t)lm__check_name("feature name", "m500");
			break;
		case P_HASH:
			acc += lm__hash("bench", "m500");
			break;
		case P_FIND_FEATURE: {
			uint32_t fi;
			acc += (uint64_t)lm__index_find_feature(&P.mods.ix, "bench", "m500", &fi) + fi;
			break;
		}
		case P_INDEX_FEAT:
			acc += (uintptr_t)lm__index_feat(&P.mods.ix, P.fi);
			break;
		case P_GET_LOADED: {
			const void *o;
			lm_get(P.ctx, "bench", "m500", &o);
			acc += (uintptr_t)o;
			break;
		}
		case P_RULE_RECORD:
			for (uint32_t r = 0; r < P.kind->nrules; r++)
				acc += (uintptr_t)lm__index_rule(&P.probe.ix, P.kind->rules_first + r);
			break;
		case P_RULE_MATCH:
			for (uint32_t r = 0; r < P.kind->nrules; r++)
				acc += lm__rule_match(&P.probe.ix, P.rules[r], &in);
			break;
		case P_PROBE: {
			struct lm_probe_result res;
			lm_probe(P.pctx, BENCH_PROBE_KIND, &in, &res);
			acc += (uint64_t)res.score;
			break;
		}
		case P_REALPATH: {
			char real[PATH_MAX];
			acc += (uintptr_t)realpath(P.open_dir, real);
			break;
		}
		case P_OPEN_FSTAT_CLOSE: {
			int fd = open(P.index_path, O_RDONLY | O_CLOEXEC);
			struct stat st;
			acc += (uint64_t)fstat(fd, &st);
			close(fd);
			break;
		}
		case P_MMAP_MUNMAP: {
			int fd = open(P.index_path, O_RDONLY | O_CLOEXEC);
			void *m = mmap(NULL, P.open.len, PROT_READ, MAP_SHARED, fd, 0);
			close(fd);
			acc += (uintptr_t)m;
			munmap(m, P.open.len);
			break;
		}
		case P_HEADER_CHECK: {
			struct lm__index ix;
			char why[256];
			acc += (uint64_t)lm__index_open(&ix, P.open.map, P.open.len, why, sizeof why);
			break;
		}
		case P_STATE_CALLOC: {
			uint32_t nm = P.open.ix.h->nmods, nf = P.open.ix.h->nfeats;
			void *a = calloc(nm, sizeof(struct lm__modstate));
			void *b = calloc(nf, sizeof(void *));
			acc += (uintptr_t)a + (uintptr_t)b;
			free(a);
			free(b);
			break;
		}
		case P_MODULE_OPEN_FSTAT_CLOSE: {
			int fd = open(P.module_path, O_RDONLY | O_CLOEXEC);
			struct stat st;
			acc += (uint64_t)fstat(fd, &st);
			close(fd);
			break;
		}
		case P_BUILD_ID: {
			uint8_t id[64], len;
			char why[256];
			acc += (uint64_t)lm__elf_build_id(P.module_fd, id, &len, why, sizeof why) + len;
			break;
		}
		case P_ACCESS_PROC_FD:
			acc += (uint64_t)access(P.module_fdpath, F_OK);
			break;
		case P_CONTEXT_NEW:
		case P_CONTEXT_UNREF: {
			/* Timed apart: only the call the cell names counts. */
			const char *dirs[] = {P.open_dir, NULL};
			struct lm_options opts = {.dirs = dirs, .iface_major = 1};
			struct lm_context *ctx;
			uint64_t ca = bench_cpu_now(), a = bench_now();
			acc += (uint64_t)lm_context_new(&opts, &ctx);
			uint64_t b = bench_now(), cb = bench_cpu_now();
			lm_context_unref(ctx);
			uint64_t e = bench_now(), ce = bench_cpu_now();
			untimed += c->part == P_CONTEXT_NEW ? e - b : b - a;
			/* Each untimed stretch holds a clock reading of overhead. */
			cuntimed += (c->part == P_CONTEXT_NEW ? ce - cb : cb - ca) + cpu_overhead;
			break;
		}
		}
	}
	uint64_t t = bench_now() - t0 - untimed;
	uint64_t cc = bench_cpu_now() - c0;
	*cpu = cc > cuntimed ? cc - cuntimed : 0;
	sink += acc;
	return t;
}

static int parts(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: internal parts OUT WARM RUNS MODS1000 PROBE1000 OPEN10000\n");
		return 2;
	}
	mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* as micro does: see there */
	int warm = atoi(argv[3]), runs = atoi(argv[4]);
	map_index(&P.mods, argv[5]);
	map_index(&P.probe, argv[6]);
	map_index(&P.open, argv[7]);
	P.open_dir = argv[7];
	snprintf(P.index_path, sizeof P.index_path, "%s/lazymod.index", argv[7]);
	for (size_t i = 0; i < sizeof P.buf; i++)
		P.buf[i] = (unsigned char)(i * 7);
	snprintf(P.module_path, sizeof P.module_path, "%s/m500.so", argv[5]);
	P.module_fd = open(P.module_path, O_RDONLY | O_CLOEXEC);
	if (P.module_fd < 0) {
		perror(P.module_path);
		return 1;
	}
	snprintf(P.module_fdpath, sizeof P.module_fdpath, "/proc/self/fd/%d", P.module_fd);
	bench_probe_input(P.head, P.tail);
	if (lm__index_find_feature(&P.mods.ix, "bench", "m500", &P.fi) < 0 ||
	    lm__index_find_kind(&P.probe.ix, BENCH_PROBE_KIND, &P.kind) < 0) {
		fprintf(stderr, "internal: the indexes lack bench/m500 or the probe kind\n");
		return 1;
	}
	P.rules = calloc(P.kind->nrules, sizeof *P.rules);
	for (uint32_t r = 0; r < P.kind->nrules; r++)
		P.rules[r] = lm__index_rule(&P.probe.ix, P.kind->rules_first + r);
	const char *d1[] = {argv[5], NULL}, *d2[] = {argv[6], NULL};
	struct lm_options o1 = {.dirs = d1, .iface_major = 1}, o2 = {.dirs = d2, .iface_major = 1};
	const void *obj;
	if (lm_context_new(&o1, &P.ctx) < 0 || lm_context_new(&o2, &P.pctx) < 0 ||
	    lm_get(P.ctx, "bench", "m500", &obj) < 0) {
		fprintf(stderr, "internal: %s\n", lm__detail());
		return 1;
	}
	unsigned nr = P.kind->nrules;
	if (have_sse42() && crc32c_sse42(0, P.buf, sizeof P.buf) != lm__crc32c(0, P.buf, sizeof P.buf)) {
		fprintf(stderr, "internal: the SSE4.2 CRC-32C disagrees with the library's\n");
		return 1;
	}
	const struct pcell cells[] = {
		{"crc32c-64-bytes", P_CRC64, 100000, 1},
		{have_sse42() ? "crc32c-64-bytes-sse42" : "crc32c-64-bytes-sse42-absent", P_CRC64_SSE42,
		 100000, 1},
		{"check-names", P_CHECK_NAMES, 100000, 1},
		{"hash", P_HASH, 100000, 1},
		{"find-feature", P_FIND_FEATURE, 100000, 1},
		{"feature-record", P_INDEX_FEAT, 100000, 1},
		{"get-loaded", P_GET_LOADED, 100000, 1},
		{"rule-record", P_RULE_RECORD, 50, nr},
		{"rule-match", P_RULE_MATCH, 50, nr},
		{"probe", P_PROBE, 50, nr},
		{"realpath", P_REALPATH, 200, 1},
		{"open-fstat-close", P_OPEN_FSTAT_CLOSE, 200, 1},
		{"open-mmap-munmap", P_MMAP_MUNMAP, 200, 1},
		{"header-check", P_HEADER_CHECK, 10000, 1},
		{"state-calloc", P_STATE_CALLOC, 200, 1},
		{"context-new", P_CONTEXT_NEW, 40, 1},
		{"context-unref", P_CONTEXT_UNREF, 40, 1},
		{"module-open-fstat-close", P_MODULE_OPEN_FSTAT_CLOSE, 200, 1},
		{"module-build-id", P_BUILD_ID, 200, 1},
		{"access-proc-fd", P_ACCESS_PROC_FD, 200, 1},
	};
	FILE *out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	cpu_overhead = bench_cpu_overhead();
	fprintf(out, "phase,round,cell,ops,per_op,total_ns,cpu_ns\n");
	size_t ncells = sizeof cells / sizeof cells[0];
	for (int r = 0; r < warm + runs; r++)
		for (size_t k = 0; k < ncells; k++) {
			size_t i = r % 2 ? ncells - 1 - k : k; /* A B C C B A ... */
			uint64_t cpu, t = run_part(&cells[i], &cpu);
			fprintf(out, "%s,%d,%s,%u,%u,%llu,%llu\n", r < warm ? "warm" : "run",
				r < warm ? r : r - warm, cells[i].name, cells[i].ops, cells[i].per_op,
				(unsigned long long)t, (unsigned long long)cpu);
		}
	return fclose(out) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "mkindex-mods"))
		return mkindex_mods(argv[2], (unsigned)atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "mkindex-rules"))
		return mkindex_rules(argv[2], (unsigned)atoi(argv[3]));
	if (argc >= 2 && !strcmp(argv[1], "parts"))
		return parts(argc, argv);
	fprintf(stderr, "usage: internal mkindex-mods DIR N | mkindex-rules DIR N | parts ...\n");
	return 2;
}
