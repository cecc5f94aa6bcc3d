#!/bin/sh
# SPDX-License-Identifier: MIT
# Building the index of 100 and of 1000 modules: `lazymod index` (read every
# module's notes, build, write atomically with fsync), one process per run,
# interleaved. The copy goes beside the real index, which stays as it is.
set -eu
S=$BENCH_SYNTH
spec=$BENCH_RESULTS/index.spec
: >"$spec"
for n in 100 1000; do
	printf 'index/%s\t%s\tindex\t-o\t%s\t%s\n' "$n" "$BENCH_BUILD/bin/lazymod" \
		"$S/n$n/mods/bench-copy.index" "$S/n$n/mods" >>"$spec"
done
"$BENCH_TOOLS/runcells" -a -o "$BENCH_RESULTS/index.csv" -w 3 -r "${INDEX_RUNS:-30}" "$spec"
rm -f "$S/n100/mods/bench-copy.index" "$S/n1000/mods/bench-copy.index"
