/* SPDX-License-Identifier: MIT */
/*
 * vmpick - what choosing a vmrun accelerator costs: a context over DIR for
 * TARGET, the first lm_get of vmrun-accel/NAME (the build for TARGET found
 * and loaded), then ROUNDS lookups of the loaded feature.
 *
 *   vmpick DIR TARGET NAME ROUNDS
 *
 * Prints one line of key=value words for runcells: main (CLOCK_MONOTONIC
 * at main), first (ns of the first lm_get), op (ns per later lm_get).
 */
#include <stdio.h>
#include <stdlib.h>

#include <lazymod.h>

#include "bench.h"

int main(int argc, char **argv)
{
	uint64_t t_main = bench_now();
	if (argc != 5) {
		fprintf(stderr, "usage: vmpick DIR TARGET NAME ROUNDS\n");
		return 2;
	}
	const char *dirs[] = {argv[1], NULL};
	struct lm_options o = {.dirs = dirs, .iface_major = 1, .target = argv[2],
			       .flags = LM_CTX_NO_ENV_PATH};
	struct lm_context *ctx;
	if (lm_context_new(&o, &ctx) < 0)
		return 1;
	const void *obj;
	uint64_t t0 = bench_now();
	int r = lm_get(ctx, "vmrun-accel", argv[3], &obj);
	uint64_t t1 = bench_now();
	if (r < 0) {
		fprintf(stderr, "vmpick: %s\n", lm_errdetail(ctx));
		return 1;
	}
	long rounds = atol(argv[4]);
	uint64_t t2 = bench_now();
	for (long i = 0; i < rounds; i++)
		if (lm_get(ctx, "vmrun-accel", argv[3], &obj) < 0)
			return 1;
	uint64_t t3 = bench_now();
	printf("main=%llu first=%llu op=%llu\n", (unsigned long long)t_main,
	       (unsigned long long)(t1 - t0),
	       (unsigned long long)((t3 - t2) / (uint64_t)(rounds > 0 ? rounds : 1)));
	lm_context_unref(ctx);
	return 0;
}
