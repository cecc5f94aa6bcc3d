#!/bin/bash
# SPDX-License-Identifier: MIT
# test-abi.sh - the shared library's ABI: every exported symbol carries a
# version from lib/liblazymod.sym, every symbol there is declared in the
# public header, and libabigail's abidiff finds no change against the
# committed baseline (abi/liblazymod.so.0.xml) other than added symbols.
# An intended change rewrites the baseline with `make abi-baseline`.
set -u
build=${LAZYMOD_BUILD:?run through meson test}
source=${LAZYMOD_SOURCE:?run through meson test}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$source/tests/packaging/tap.sh"
[ "${SANITIZE:-none}" != none ] && skip_all "the library of this build is instrumented ($SANITIZE)"
lib=$build/lib/liblazymod.so.0
baseline=$source/abi/liblazymod.so.0.xml
sym=$source/lib/liblazymod.sym

# Exported functions and objects (defined, global), with their versions.
readelf --dyn-syms -W "$lib" | awk '$5 == "GLOBAL" && $7 != "UND" && $8 !~ /^LAZYMOD_/ {print $8}' \
	>"$tmp/exported"
unversioned=$(grep -v '@@\?LAZYMOD_' "$tmp/exported" | tr '\n' ' ')
expect "every exported symbol is versioned${unversioned:+ (not: $unversioned)}" test -z "$unversioned"
sed 's/@.*//' "$tmp/exported" | sort -u >"$tmp/names"
# The globals of the version script, every section.
sed -n '/global:/,/local:/p' "$sym" | grep -o '^[[:space:]]*lm_[a-z_0-9]*;' | tr -d ' \t;' | sort -u \
	>"$tmp/script"
expect "the library exports exactly the symbols of liblazymod.sym" cmp -s "$tmp/names" "$tmp/script"
missing=""
for f in $(cat "$tmp/script"); do
	grep -q "[ *]$f(" "$source/include/lazymod.h" || missing="$missing $f"
done
expect "every symbol of liblazymod.sym is declared in lazymod.h${missing:+ (not:$missing)}" \
	test -z "$missing"

if ! command -v abidiff >/dev/null; then
	not_ok "abidiff is installed (scripts/deps.sh installs abigail-tools)"
	done_tap
	exit
fi
check "abidw describes the built library" sh "$source/scripts/abi-dump.sh" "$lib" "$tmp/current.xml"
grep -q "<class-decl name='lm_options'" "$tmp/current.xml" ||
	not_ok "the description has the public types (is the library built with -g?)"
abidiff --no-added-syms "$baseline" "$tmp/current.xml" >"$tmp/diff" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "abidiff: no change against the baseline"; else
	not_ok "abidiff: no change against the baseline (exit $rc; an intended change: make abi-baseline)"
	sed 's/^/# /' "$tmp/diff"
fi
# The comparison sees a grown struct: the baseline with a smaller lm_options.
sed "s/\(<class-decl name='lm_options' size-in-bits='\)[0-9]*'/\1 64'/; s/' 64'/'64'/" \
	"$baseline" >"$tmp/doctored.xml"
abidiff --no-added-syms "$tmp/doctored.xml" "$tmp/current.xml" >"$tmp/diff" 2>&1
rc=$?
expect "abidiff fails on a changed size of lm_options" test $((rc & 4)) -ne 0
grep -q "type size changed" "$tmp/diff" || not_ok "abidiff names the size change"
done_tap
