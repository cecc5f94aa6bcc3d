#!/bin/sh
# SPDX-License-Identifier: MIT
# Lookup and probe micro-benchmarks:
#   lookup.csv        opening a context, getting a loaded feature, probing
#                     (in one process, cells interleaved; -checks.csv beside it)
#   open-cold.csv     the first context of a fresh process
#   getload.csv       getting a feature whose module must be loaded, against
#                     dlopen + dlsym of the same file (fresh process each run)
#   parts.csv         the internal pieces those calls are made of
set -eu
S=$BENCH_SYNTH
T=$BENCH_TOOLS
R=$BENCH_RESULTS
"$T/micro" inproc "$R/lookup.csv" "${LOOKUP_WARMUP:-5}" "${LOOKUP_RUNS:-50}" \
	"$S/n10/mods" "$S/n1000/mods" "$S/n10000" "$S/n10/mods" "$S/n1000/mods" \
	"$S/probe10" "$S/probe100" "$S/probe1000"

spec=$R/open-cold.spec
printf 'open-cold/10\t%s\topen-cold\t%s\n' "$T/micro" "$S/n10/mods" >"$spec"
printf 'open-cold/1000\t%s\topen-cold\t%s\n' "$T/micro" "$S/n1000/mods" >>"$spec"
printf 'open-cold/10000\t%s\topen-cold\t%s\n' "$T/micro" "$S/n10000" >>"$spec"
"$T/runcells" -a -o "$R/open-cold.csv" -w 5 -r "${LOOKUP_RUNS:-50}" "$spec"

# The same module file on both sides, loaded in a fresh process each run;
# warm-up runs also report how many objects the load mapped. The strict mode
# reads a copy of the directory indexed with --sha256.
rm -rf "$S/n1000-sha"
cp -a "$S/n1000/mods" "$S/n1000-sha"
"$BENCH_BUILD/bin/lazymod" index --sha256 "$S/n1000-sha" 2>/dev/null
spec=$R/getload.spec
printf 'getload/lazymod\t%s\tgetload-lm\t%s\tm500\n' "$T/micro" "$S/n1000/mods" >"$spec"
printf 'getload/strict\t%s\tgetload-strict\t%s\tm500\n' "$T/micro" "$S/n1000-sha" >>"$spec"
printf 'getload/dlopen\t%s\tgetload-dl\t%s\tlazymod_module_m500\n' "$T/micro" \
	"$S/n1000/mods/m500.so" >>"$spec"
# And dlopen through /proc/self/fd/N, the route lazymod took before it loaded
# the path and checked the object: what that route cost.
printf 'getload/dlopen-fd\t%s\tgetload-fd\t%s\tlazymod_module_m500\n' "$T/micro" \
	"$S/n1000/mods/m500.so" >>"$spec"
"$T/runcells" -a -o "$R/getload.csv" -w 5 -r "${GETLOAD_RUNS:-100}" -x loaded "$spec"

"$T/internal" parts "$R/parts.csv" 3 "${PARTS_RUNS:-30}" "$S/n1000/mods" "$S/probe1000" \
	"$S/n10000"
