#!/bin/sh
# SPDX-License-Identifier: MIT
# make bench: the whole benchmark suite.
#
#  1. build: the library and tool in release mode in build-bench/ (never the
#     test build), the benchmark's programs (bench/tools.mk) and the synthetic
#     hosts and modules (bench/py/synth.py, make -j) in build-bench/synth/,
#     and the indexes generated from synthetic manifests;
#  2. every bench/sections/NN-*.sh in order, each writing its CSVs to
#     bench/results/ (a section added later is one more script there);
#  3. summaries and plots (bench/results/*.png, copied to docs/perf/);
#  4. docs/PERFORMANCE.md, generated from the CSVs by bench/py/report.py.
#
# BENCH_SECTIONS="10 20" runs only those sections (the report then says
# "not measured" for the others).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BENCH_BUILD=$ROOT/build-bench
BENCH_RESULTS=$ROOT/bench/results
BENCH_TOOLS=$BENCH_BUILD/benchtools
BENCH_SYNTH=$BENCH_BUILD/synth
BENCH_NS="0 10 100 1000"
export BENCH_BUILD BENCH_RESULTS BENCH_TOOLS BENCH_SYNTH BENCH_NS
unset LAZYMOD_PATH LAZYMOD_DEBUG
export PYTHONDONTWRITEBYTECODE=1
JOBS=$(nproc 2>/dev/null || echo 2)

now() { date +%s.%N; }
T_START=$(now)
rm -rf "$BENCH_RESULTS"
mkdir -p "$BENCH_RESULTS"
echo "step,seconds" >"$BENCH_RESULTS/timing.csv"
step_done() { # name start
	awk -v n="$1" -v a="$2" -v b="$(now)" 'BEGIN { printf "%s,%.3f\n", n, b - a }' \
		>>"$BENCH_RESULTS/timing.csv"
}
say() { printf '\n== bench: %s\n' "$*"; }

# ---- 1. build -------------------------------------------------------------
t=$(now)
say "build (release, build-bench/)"
sh bench/deps.sh
if [ ! -f "$BENCH_BUILD/build.ninja" ]; then
	meson setup -Dbuildtype=release "$BENCH_BUILD"
fi
meson configure -Dbuildtype=release "$BENCH_BUILD" >/dev/null
so=$(ninja -C "$BENCH_BUILD" -t targets all | sed -n 's/^\(lib\/liblazymod\.so[.0-9]*\): .*/\1/p' | head -1)
ninja -C "$BENCH_BUILD" "$so" lib/liblazymod.a lib/liblazymod-internal.a bin/lazymod
make -s -f bench/tools.mk ROOT="$ROOT" BUILD="$BENCH_BUILD" O="$BENCH_TOOLS"
python3 bench/py/synth.py "$BENCH_SYNTH" "$ROOT" "$BENCH_BUILD/lib" "$BENCH_BUILD/bin/lazymod" $BENCH_NS
make -s -C "$BENCH_SYNTH" -j"$JOBS"
# Indexes from synthetic manifests (no module files behind them).
mkdir -p "$BENCH_SYNTH/n10000" "$BENCH_SYNTH/probe10" "$BENCH_SYNTH/probe100" "$BENCH_SYNTH/probe1000"
"$BENCH_TOOLS/internal" mkindex-mods "$BENCH_SYNTH/n10000" 10000
for n in 10 100 1000; do
	"$BENCH_TOOLS/internal" mkindex-rules "$BENCH_SYNTH/probe$n" "$n"
done
# Each synthetic host answers, and gets its last module when asked to.
for n in $BENCH_NS; do
	for m in eager dlopen-all lazy builtin; do
		out=$("$BENCH_SYNTH/n$n/bin/host-$m" check) || {
			echo "bench: host-$m with $n modules failed: $out" >&2
			exit 1
		}
	done
done
step_done build "$t"
python3 bench/py/machine.py "$BENCH_RESULTS/machine.csv" "$BENCH_BUILD"

# ---- 2. sections ----------------------------------------------------------
for s in bench/sections/[0-9]*.sh; do
	name=$(basename "$s" .sh)
	num=${name%%-*}
	if [ -n "${BENCH_SECTIONS:-}" ]; then
		case " $BENCH_SECTIONS " in *" $num "*) ;; *) continue ;; esac
	fi
	say "section $name"
	t=$(now)
	sh "$s"
	step_done "$name" "$t"
done

echo "loadavg_at_end,$(cut -d' ' -f1 /proc/loadavg)" >>"$BENCH_RESULTS/machine.csv"

# ---- 3. plots -------------------------------------------------------------
t=$(now)
say "plots"
python3 bench/py/summarize.py "$BENCH_RESULTS"
sh bench/plot.sh "$BENCH_RESULTS" "$ROOT/docs/perf"
step_done plots "$t"
step_done total "$T_START"

# ---- 4. report ------------------------------------------------------------
say "report"
python3 bench/py/report.py "$BENCH_RESULTS" "$ROOT/docs/PERFORMANCE.md"
echo "bench: wrote docs/PERFORMANCE.md ($(awk -F, '$1 == "total" { print $2 }' \
	"$BENCH_RESULTS/timing.csv") s up to the report)"
