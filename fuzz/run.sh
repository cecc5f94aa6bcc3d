#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the fuzz targets built by fuzz/Makefile.
#
#   run.sh BUILD SECONDS TARGET...            each target for SECONDS on a
#                                             scratch copy of its corpus
#   run.sh --regress BUILD 0 TARGET...        each target once over its
#                                             reproducers (fuzz/regressions/)
#
# Scratch corpora, logs and crash artifacts go to BUILD/run/TARGET/ (kept
# for inspection). Exits 1 if any target crashed, leaked, timed out or ran
# out of memory, after a summary line per target. FUZZ_JOBS is not used: one
# process per target, one target after another, so that the whole run takes
# about SECONDS per target.
set -u

regress=0
if [ "${1:-}" = "--regress" ]; then
	regress=1
	shift
fi
if [ $# -lt 3 ]; then
	echo "usage: $0 [--regress] BUILD SECONDS TARGET..." >&2
	exit 2
fi
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

# Per-target input size limits: enough for the seeds and a bit more.
max_len() {
	case $1 in
	notes | probe) echo 4096 ;;
	index) echo 16384 ;;
	elf) echo 24576 ;;
	*) echo 65536 ;;
	esac
}

# Each input must finish in 25 s; drivers may take 256 MiB tables, no more.
common="-timeout=25 -rss_limit_mb=2560 -malloc_limit_mb=1024"
# Stack traces for UBSan reports too; every report is fatal.
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS ASAN_OPTIONS

failed=""
summary=""
for t in "$@"; do
	bin=$build/fuzz-$t
	if [ ! -x "$bin" ]; then
		echo "fuzz: $bin is not built" >&2
		exit 2
	fi
	if [ $regress = 1 ]; then
		# Reproducers too large to keep are made by a script (NAME.py FILE).
		gen=""
		for py in "$here/regressions/$t"/*.py; do
			[ -f "$py" ] || continue
			mkdir -p "$build/regress/$t"
			out="$build/regress/$t/$(basename "$py" .py)"
			if python3 "$py" "$out"; then
				gen="$gen $out"
			else
				echo "fuzz: $py failed" >&2
			fi
		done
		files=$( (find "$here/regressions/$t" -type f ! -name '*.md' ! -name '*.py' 2>/dev/null
			for g in $gen; do echo "$g"; done) | sort)
		if [ -z "$files" ]; then
			summary="$summary
  $t: no reproducers"
			continue
		fi
		n=0
		bad=0
		for f in $files; do
			n=$((n + 1))
			if ! "$bin" $common "$f" >"$build/regress-$t.log" 2>&1; then
				bad=$((bad + 1))
				echo "fuzz: $t: $f still fails:" >&2
				grep -E 'ERROR|SUMMARY|runtime error|property|broke|#[0-9]+ ' "$build/regress-$t.log" | head -12 >&2
			fi
		done
		summary="$summary
  $t: $n reproducer(s), $bad failing"
		[ $bad -gt 0 ] && failed="$failed $t"
		continue
	fi

	work=$build/run/$t
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$here/corpus/$t" ]; then
		cp "$here/corpus/$t"/* "$work/corpus/" 2>/dev/null
	fi
	dict=""
	[ -f "$here/dict/$t.dict" ] && dict="-dict=$here/dict/$t.dict"
	echo "fuzz: $t for ${seconds}s ($(ls "$work/corpus" | wc -l) seeds)"
	# shellcheck disable=SC2086
	"$bin" $common -max_len="$(max_len "$t")" -max_total_time="$seconds" \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/" $dict \
		"$work/corpus" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
	cov=$(grep -E '^#[0-9]+' "$work/log" | tail -1 | sed -n 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*\(corp: [0-9]*\/[0-9a-zA-Z]*\).*/\1 \2 \3/p')
	arts=$(ls "$work/artifacts" | wc -l)
	line="$t: rc=$rc, ${execs:-?} execs, ${speed:-?} exec/s, ${cov:-no coverage line}"
	if [ $rc -ne 0 ] || [ "$arts" -gt 0 ]; then
		failed="$failed $t"
		line="$line, FAILED ($arts artifact(s) in $work/artifacts)"
		echo "fuzz: $t FAILED; from $work/log:" >&2
		grep -E 'ERROR:|SUMMARY:|runtime error|property violated|broke the interface|^    #[0-9]+ ' "$work/log" | head -30 >&2
	fi
	summary="$summary
  $line"
done

echo "fuzz: summary:$summary"
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
exit 0
