#!/bin/sh
# SPDX-License-Identifier: MIT
# Start-up of the synthetic hosts: N modules (0, 10, 100, 1000), each with a
# library of its own, in four modes; one process per run, every cell once a
# round, the order reversed every other round (runcells -a). The cells the
# goals compare are neighbours: lazy at 0 and at 1000, lazy and eager at 100.
# Writes startup.csv (see bench/src/runcells.c for its columns).
set -eu
spec=$BENCH_RESULTS/startup.spec
: >"$spec"
cell() { # mode n
	printf 'startup/%s/%s\t%s\n' "$1" "$2" "$BENCH_SYNTH/n$2/bin/host-$1" >>"$spec"
}
cell lazy 0
cell lazy 1000
cell lazy 10
cell lazy 100
cell eager 100
for n in 100 0 10 1000; do
	[ "$n" = 100 ] || cell eager "$n"
	cell builtin "$n"
	cell dlopen-all "$n"
done
"$BENCH_TOOLS/runcells" -a -o "$BENCH_RESULTS/startup.csv" -w "${STARTUP_WARMUP:-5}" \
	-r "${STARTUP_RUNS:-50}" -x count "$spec"
