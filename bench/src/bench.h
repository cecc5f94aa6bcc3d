/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what the benchmark programs share: the clock, the object every
 * synthetic module registers, and the probe input the rule benchmarks are
 * generated against (the same bytes in the index generator and the probe
 * harness, so that every rule but the last fails on its very last byte).
 */
#ifndef LAZYMOD_BENCH_H
#define LAZYMOD_BENCH_H

#include <stdint.h>
#include <string.h>
#include <time.h>

/* CLOCK_MONOTONIC in ns: one clock shared by the drivers and their children. */
static inline uint64_t bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * CPU time of the calling thread, in ns (user and system): what a batch of
 * operations cost it, leaving out the time other processes held the CPU, which
 * on a shared machine dominates the wall time. A system call, not the vDSO:
 * bench_cpu_overhead() says what a reading adds to an interval.
 */
static inline uint64_t bench_cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bench_cpu_overhead(void)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 2000; i++) {
		uint64_t a = bench_cpu_now(), b = bench_cpu_now();
		if (b - a < best)
			best = b - a;
	}
	return best;
}

/* What a synthetic module registers for its feature bench/m<ID>. */
struct synth_obj {
	int id;
	int (*call)(int x);
};

/* The probe input: 64 KiB of head and 64 KiB of tail. */
#define BENCH_PROBE_LEN 65536
#define BENCH_PROBE_KIND "probe-bench"
#define BENCH_PROBE_MATCH "BENCHMAT" /* at offset 0 of the head: the last rule */
/*
 * Feature names of the rule benchmark. Their length is chosen so that the
 * index builder's string table does not grow while it adds the rules of a
 * kind, for 10, 100 and 1000 rules: lm__index_build keeps a pointer to the
 * kind's name in that table across the growth and drops every later rule
 * (see bench/README.md). mkindex-rules checks that all rules are there.
 */
#define BENCH_PROBE_NAME_FMT "f%05u-synthetic-fmt"

static inline uint64_t bench_xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline void bench_probe_input(unsigned char *head, unsigned char *tail)
{
	uint64_t s = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < BENCH_PROBE_LEN; i++)
		head[i] = (unsigned char)bench_xorshift(&s);
	for (size_t i = 0; i < BENCH_PROBE_LEN; i++)
		tail[i] = (unsigned char)bench_xorshift(&s);
	memcpy(head, BENCH_PROBE_MATCH, 8);
}

/* Rule i of n (n-1 is the matching one): magic at an offset from the start
 * (even i) or from the end (odd i), never at the start of the head. */
static inline uint64_t bench_rule_offset(unsigned i)
{
	return 64 + ((uint64_t)i * 4099u) % (BENCH_PROBE_LEN - 128);
}

#endif
