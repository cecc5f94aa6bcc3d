#!/bin/sh
# SPDX-License-Identifier: MIT
# Sixteen processes of one host holding the 10000-module index at once:
# mapped by lazymod, against read into private memory. Writes memory.csv.
set -eu
"$BENCH_TOOLS/memhost" run "$BENCH_RESULTS/memory.csv" 2 "${MEMORY_RUNS:-30}" 16 \
	"$BENCH_SYNTH/n10000"
