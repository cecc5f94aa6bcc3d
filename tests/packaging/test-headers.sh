#!/bin/bash
# SPDX-License-Identifier: MIT
# test-headers.sh - lazymod.h and lazymod/module.h in every language and
# standard a consumer may use: headers.c (every manifest macro and a host)
# (13 notes) compiled as C99, C11 and C++11/17 with -pedantic -Werror, by gcc and, when
# installed, clang; a probe score out of range or a mask of the wrong length
# must stop the build in each.
set -u
source=${LAZYMOD_SOURCE:?run through meson test}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$source/tests/packaging/tap.sh"
file=$source/tests/packaging/headers.c

compilers=("gcc -x c -std=c99" "gcc -x c -std=c11" "g++ -x c++ -std=c++11" "g++ -x c++ -std=c++17")
if command -v clang >/dev/null; then
	compilers+=("clang -x c -std=c99" "clang++ -x c++ -std=c++11")
fi
for c in "${compilers[@]}"; do
	# shellcheck disable=SC2086
	check "$c -pedantic -Werror" $c -pedantic -Wall -Wextra -Werror -I"$source/include" -c "$file" \
		-o "$tmp/h.o"
	notes=$(readelf -n "$tmp/h.o" 2>/dev/null | grep -c '^  lazymod')
	expect "$c: 13 manifest notes (got $notes)" test "$notes" = 13
	for bad in BAD_SCORE BAD_MASK; do
		# shellcheck disable=SC2086
		if $c -I"$source/include" -D$bad -c "$file" -o "$tmp/bad.o" 2>/dev/null; then
			not_ok "$c: $bad is refused"
		else
			ok "$c: $bad is refused"
		fi
	done
done
done_tap
