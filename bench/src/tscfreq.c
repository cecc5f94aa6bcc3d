/* SPDX-License-Identifier: MIT */
/*
 * tscfreq - the rate of the CPU's time-stamp counter, in cycles per ns: what
 * glibc's LD_DEBUG=statistics counts its "cycles" in (HP_TIMING is rdtsc on
 * x86). Counts the TSC across 200 ms of CLOCK_MONOTONIC, five times, and
 * prints the median: "tsc_per_ns=X".
 */
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

#include "bench.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	double r[5];
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = bench_now(), c0 = __rdtsc(), t1;
		while ((t1 = bench_now()) - t0 < 200000000u)
			;
		uint64_t c1 = __rdtsc();
		r[i] = (double)(c1 - c0) / (double)(t1 - t0);
	}
	qsort(r, 5, sizeof r[0], cmp);
	printf("tsc_per_ns=%.6f\n", r[2]);
	return 0;
}
