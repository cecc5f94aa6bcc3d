#!/bin/sh
# SPDX-License-Identifier: MIT
# Line and branch coverage of the fuzz targets' corpora, with clang's
# source-based coverage (llvm-profdata, llvm-cov).
#
#   coverage.sh BUILD TARGET...
#
# Runs BUILD/cov/fuzz-TARGET (built by `make -C fuzz coverage`) once over
# each input of the target's corpus: the scratch corpus of the last run
# (BUILD/run/TARGET/corpus) when there is one, else fuzz/corpus/TARGET.
# Prints llvm-cov's report of the files each target is about (the index
# writer counts for notes and elf: they build what they read).
set -eu
build=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
v=$(clang --version | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -1)
profdata=$(command -v "llvm-profdata-$v" || command -v llvm-profdata || true)
cov=$(command -v "llvm-cov-$v" || command -v llvm-cov || true)
if [ -z "$profdata" ] || [ -z "$cov" ]; then
	echo "coverage: llvm-profdata and llvm-cov are missing: apt-get install llvm-$v" >&2
	exit 1
fi
for t in "$@"; do
	bin=$build/cov/fuzz-$t
	corpus=$build/run/$t/corpus
	[ -d "$corpus" ] || corpus=$here/corpus/$t
	rm -f "$build/cov/$t".*.profraw
	LLVM_PROFILE_FILE="$build/cov/$t.%p.profraw" "$bin" -runs=0 "$corpus" >"$build/cov/$t.log" 2>&1 || true
	"$profdata" merge -sparse "$build/cov/$t".*.profraw -o "$build/cov/$t.profdata"
	case $t in
	notes | elf) srcs="$top/lib/note.c $top/lib/index.c" ;;
	index) srcs="$top/lib/index.c $top/lib/probe.c $top/lib/context.c" ;;
	probe) srcs="$top/lib/probe.c $top/lib/index.c" ;;
	*) srcs="$top/vdisk/drivers/formats/$t.c" ;;
	esac
	echo "== $t ($(ls "$corpus" | wc -l) inputs from $corpus)"
	# shellcheck disable=SC2086
	"$cov" report "$bin" -instr-profile="$build/cov/$t.profdata" $srcs |
		sed -e "s|$top/||"
done
