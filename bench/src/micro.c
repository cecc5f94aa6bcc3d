/* SPDX-License-Identifier: MIT */
/*
 * micro - lookup and probe micro-benchmarks over the public API (linked
 * against liblazymod.so, as a host is).
 *
 *   micro inproc OUT.csv WARM RUNS OPEN10 OPEN1000 OPEN10000 MODS10 MODS1000
 *                PROBE10 PROBE100 PROBE1000
 *       In one process, cells interleaved round by round (each round runs
 *       every cell once; WARM rounds first, not kept): opening a context
 *       over each OPEN directory's index, lm_get of a feature already loaded
 *       (MODS directories hold real modules), and lm_probe of a 64 KiB head
 *       and tail against each PROBE index's rules. A run is a batch of
 *       operations; its figures are the batch's wall time and the thread's
 *       CPU time, each divided by their number. Odd rounds run the cells in
 *       the reverse order.
 *   micro open-cold DIR
 *       The first context of a fresh process, over DIR (one operation).
 *   micro getload-lm DIR NAME
 *       A context over DIR (not timed), then lm_get of bench/NAME, whose
 *       module must be loaded: its time.
 *   micro getload-strict DIR NAME
 *       The same in strict mode (LM_CTX_STRICT) over an index made with
 *       --sha256: the module's SHA-256 is checked before it is loaded.
 *   micro getload-dl FILE SYMBOL
 *       dlopen(FILE, RTLD_NOW | RTLD_LOCAL) and dlsym(SYMBOL): their time.
 *   micro getload-fd FILE SYMBOL
 *       The same through the file's descriptor, as lazymod once did: open(FILE),
 *       then dlopen("/proc/self/fd/N") and dlsym(SYMBOL).
 *   micro getmany DIR PREFIX N
 *       A context over DIR (not timed), then lm_get of bench/PREFIX0 ..
 *       bench/PREFIX<N-1>, each module loaded (one file each, or one
 *       bundle for all): their time together.
 *   micro hold DIR PREFIX N
 *       The same untimed, then prints "ready" and waits for its standard
 *       input to close: the bundle section reads its memory meanwhile.
 *
 * The one-operation commands print "op=NS ..." for runcells.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <lazymod.h>

#include "bench.h"

static const int services = 1;
static volatile uintptr_t sink;

static void die(const char *what, int r, struct lm_context *ctx)
{
	fprintf(stderr, "micro: %s: %s (%s)\n", what, lm_strerror(r), lm_errdetail(ctx));
	exit(1);
}

static int count_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (info->dlpi_name && info->dlpi_name[0] && !strstr(info->dlpi_name, "linux-vdso"))
		++*(int *)data;
	return 0;
}

static int count_objects(void)
{
	int n = 0;
	dl_iterate_phdr(count_cb, &n);
	return n;
}

static struct lm_context *open_ctx_flags(const char *dir, unsigned flags)
{
	const char *dirs[] = {dir, NULL};
	struct lm_options opts = {.dirs = dirs, .iface_major = 1, .iface_minor = 0, .host = &services,
				  .flags = flags};
	struct lm_context *ctx;
	int r = lm_context_new(&opts, &ctx);
	if (r < 0)
		die(dir, r, NULL);
	return ctx;
}

static struct lm_context *open_ctx(const char *dir)
{
	return open_ctx_flags(dir, 0);
}

/* ---- in-process cells ------------------------------------------------------ */

enum cell_type { OPEN, GET, PROBE };

struct cell {
	const char *name;
	enum cell_type type;
	unsigned n;     /* modules or rules */
	unsigned ops;   /* per run */
	const char *dir;
	struct lm_context *ctx;
	char feature[32];
};

static unsigned char head[BENCH_PROBE_LEN], tail[BENCH_PROBE_LEN];

static uint64_t cpu_overhead;

/* Runs one batch: its wall time, and the thread's CPU time in *cpu. */
static uint64_t run_cell(struct cell *c, uint64_t *cpu)
{
	uint64_t total = 0;
	*cpu = 0;
	if (c->type == OPEN) {
		/* Each call timed alone: the unref between them is not counted. */
		const char *dirs[] = {c->dir, NULL};
		struct lm_options opts = {.dirs = dirs, .iface_major = 1, .iface_minor = 0,
					  .host = &services};
		for (unsigned i = 0; i < c->ops; i++) {
			struct lm_context *ctx;
			uint64_t c0 = bench_cpu_now();
			uint64_t t0 = bench_now();
			int r = lm_context_new(&opts, &ctx);
			uint64_t t1 = bench_now();
			uint64_t c1 = bench_cpu_now();
			if (r < 0)
				die(c->dir, r, NULL);
			total += t1 - t0;
			*cpu += c1 - c0 > cpu_overhead ? c1 - c0 - cpu_overhead : 0;
			lm_context_unref(ctx);
		}
	} else if (c->type == GET) {
		const void *obj = NULL;
		uint64_t c0 = bench_cpu_now();
		uint64_t t0 = bench_now();
		for (unsigned i = 0; i < c->ops; i++) {
			lm_get(c->ctx, "bench", c->feature, &obj);
			sink += (uintptr_t)obj;
		}
		total = bench_now() - t0;
		*cpu = bench_cpu_now() - c0;
	} else {
		struct lm_probe_input in = {head, sizeof head, tail, sizeof tail,
					    (uint64_t)16 << 20, "input.bin"};
		struct lm_probe_result res;
		uint64_t c0 = bench_cpu_now();
		uint64_t t0 = bench_now();
		for (unsigned i = 0; i < c->ops; i++) {
			lm_probe(c->ctx, BENCH_PROBE_KIND, &in, &res);
			sink += (uintptr_t)res.score;
		}
		total = bench_now() - t0;
		*cpu = bench_cpu_now() - c0;
	}
	return total;
}

static int inproc(int argc, char **argv)
{
	if (argc != 13) {
		fprintf(stderr, "usage: micro inproc OUT WARM RUNS OPEN10 OPEN1000 OPEN10000 MODS10 "
				"MODS1000 PROBE10 PROBE100 PROBE1000\n");
		return 2;
	}
	/*
	 * glibc raises its mmap threshold after the first free of a mapped
	 * chunk, so that later big callocs come from the heap and are cleared
	 * with memset; a host opens its context once, with the default
	 * threshold. Pin it, so that every run allocates as a first one does.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	int warm = atoi(argv[3]), runs = atoi(argv[4]);
	struct cell cells[] = {
		{"open", OPEN, 10, 40, argv[5], NULL, ""},
		{"open", OPEN, 1000, 40, argv[6], NULL, ""},
		{"open", OPEN, 10000, 40, argv[7], NULL, ""},
		{"get-loaded", GET, 10, 200000, argv[8], NULL, "m5"},
		{"get-loaded", GET, 1000, 200000, argv[9], NULL, "m500"},
		{"probe", PROBE, 10, 4000, argv[10], NULL, ""},
		{"probe", PROBE, 100, 800, argv[11], NULL, ""},
		{"probe", PROBE, 1000, 80, argv[12], NULL, ""},
	};
	size_t ncells = sizeof cells / sizeof cells[0];
	bench_probe_input(head, tail);
	FILE *chk = NULL;
	char chkpath[4096];
	snprintf(chkpath, sizeof chkpath, "%.4000s", argv[2]);
	char *dot = strrchr(chkpath, '.');
	if (dot)
		strcpy(dot, "-checks.csv");
	chk = fopen(chkpath, "w");
	if (!chk) {
		perror(chkpath);
		return 1;
	}
	fprintf(chk, "cell,n,key,value\nprobe,all,input_head_bytes,%zu\nprobe,all,input_tail_bytes,%zu\n",
		sizeof head, sizeof tail);
	for (size_t i = 0; i < ncells; i++) {
		struct cell *c = &cells[i];
		if (c->type == OPEN)
			continue;
		c->ctx = open_ctx(c->dir);
		if (c->type == GET) {
			const struct synth_obj *o;
			int r = lm_get(c->ctx, "bench", c->feature, (const void **)&o);
			if (r < 0)
				die(c->feature, r, c->ctx);
			fprintf(chk, "%s,%u,loaded_id,%d\n", c->name, c->n, o->id);
		} else {
			struct lm_probe_input in = {head, sizeof head, tail, sizeof tail,
						    (uint64_t)16 << 20, "input.bin"};
			struct lm_probe_result res;
			int libs = count_objects();
			int r = lm_probe(c->ctx, BENCH_PROBE_KIND, &in, &res);
			if (r < 0)
				die("probe", r, c->ctx);
			char want[64];
			snprintf(want, sizeof want, BENCH_PROBE_NAME_FMT, c->n - 1);
			fprintf(chk, "%s,%u,winner,%s\n%s,%u,winner_expected,%s\n%s,%u,score,%d\n",
				c->name, c->n, res.name, c->name, c->n, want, c->name, c->n, res.score);
			fprintf(chk, "%s,%u,objects_loaded_by_probe,%d\n", c->name, c->n,
				count_objects() - libs);
			if (strcmp(res.name, want) != 0) {
				fprintf(stderr, "micro: probe of %u rules found %s, not %s\n", c->n,
					res.name, want);
				return 1;
			}
		}
	}
	int libs_start = count_objects();
	FILE *out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	cpu_overhead = bench_cpu_overhead();
	fprintf(out, "phase,round,cell,n,ops,total_ns,cpu_ns\n");
	for (int r = 0; r < warm + runs; r++)
		for (size_t k = 0; k < ncells; k++) {
			/* Odd rounds run the cells backwards (A B C C B A ...). */
			size_t i = r % 2 ? ncells - 1 - k : k;
			uint64_t cpu, t = run_cell(&cells[i], &cpu);
			fprintf(out, "%s,%d,%s,%u,%u,%llu,%llu\n", r < warm ? "warm" : "run",
				r < warm ? r : r - warm, cells[i].name, cells[i].n, cells[i].ops,
				(unsigned long long)t, (unsigned long long)cpu);
		}
	/* Probing loaded nothing, through all those runs. */
	fprintf(chk, "probe,all,objects_loaded_during_runs,%d\n",
		count_objects() - libs_start);
	for (size_t i = 0; i < ncells; i++)
		lm_context_unref(cells[i].ctx);
	fclose(chk);
	return fclose(out) == 0 ? 0 : 1;
}

/* ---- one operation per process ---------------------------------------------- */

static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* The operation's time, and the page faults taken during it. */
static int say(uint64_t ns, long faults, const char *extra)
{
	char buf[256];
	int len = snprintf(buf, sizeof buf, "op=%llu faults=%ld%s\n", (unsigned long long)ns,
			   faults, extra);
	return write(1, buf, (size_t)len) == len ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "inproc"))
		return inproc(argc, argv);
	if (argc >= 3 && !strcmp(argv[1], "open-cold")) {
		const char *dirs[] = {argv[2], NULL};
		struct lm_options opts = {.dirs = dirs, .iface_major = 1, .host = &services};
		struct lm_context *ctx;
		long f0 = minflt();
		uint64_t t0 = bench_now();
		int r = lm_context_new(&opts, &ctx);
		uint64_t t1 = bench_now();
		long f1 = minflt();
		if (r < 0)
			die(argv[2], r, NULL);
		return say(t1 - t0, f1 - f0, "");
	}
	if (argc >= 4 && (!strcmp(argv[1], "getload-lm") || !strcmp(argv[1], "getload-strict"))) {
		struct lm_context *ctx =
			open_ctx_flags(argv[2], !strcmp(argv[1], "getload-strict") ? LM_CTX_STRICT : 0);
		const struct synth_obj *o;
		int before = count_objects();
		long f0 = minflt();
		uint64_t t0 = bench_now();
		int r = lm_get(ctx, "bench", argv[3], (const void **)&o);
		uint64_t t1 = bench_now();
		long f1 = minflt();
		if (r < 0)
			die(argv[3], r, ctx);
		char extra[64];
		snprintf(extra, sizeof extra, " loaded=%d", count_objects() - before);
		return say(t1 - t0, f1 - f0, argc > 4 ? extra : "");
	}
	if (argc >= 4 && (!strcmp(argv[1], "getload-dl") || !strcmp(argv[1], "getload-fd"))) {
		int before = count_objects();
		long f0 = minflt();
		uint64_t t0 = bench_now();
		char fdpath[64];
		const char *target = argv[2];
		if (argv[1][8] == 'f') {
			int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
			snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
			target = fdpath;
		}
		void *h = dlopen(target, RTLD_NOW | RTLD_LOCAL);
		const void *sym = h ? dlsym(h, argv[3]) : NULL;
		uint64_t t1 = bench_now();
		long f1 = minflt();
		if (!sym) {
			fprintf(stderr, "micro: %s: %s\n", argv[2], dlerror());
			return 1;
		}
		char extra[64];
		snprintf(extra, sizeof extra, " loaded=%d", count_objects() - before);
		return say(t1 - t0, f1 - f0, argc > 4 ? extra : "");
	}
	if (argc >= 5 && (!strcmp(argv[1], "getmany") || !strcmp(argv[1], "hold"))) {
		struct lm_context *ctx = open_ctx_flags(argv[2], 0);
		int n = atoi(argv[4]), before = count_objects();
		long f0 = minflt();
		uint64_t t0 = bench_now();
		for (int i = 0; i < n; i++) {
			char name[64];
			const struct synth_obj *o;
			snprintf(name, sizeof name, "%s%d", argv[3], i);
			int r = lm_get(ctx, "bench", name, (const void **)&o);
			if (r < 0)
				die(name, r, ctx);
		}
		uint64_t t1 = bench_now();
		long f1 = minflt();
		if (!strcmp(argv[1], "hold")) {
			char c;
			if (write(1, "ready\n", 6) != 6)
				return 1;
			while (read(0, &c, 1) > 0)
				;
			return 0;
		}
		char extra[64];
		snprintf(extra, sizeof extra, " loaded=%d", count_objects() - before);
		return say(t1 - t0, f1 - f0, argc > 5 ? extra : "");
	}
	fprintf(stderr, "usage: micro inproc ... | open-cold DIR | getload-lm DIR NAME | "
			"getload-dl|getload-fd FILE SYMBOL | getmany|hold DIR PREFIX N\n");
	return 2;
}
