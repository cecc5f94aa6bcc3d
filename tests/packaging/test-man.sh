#!/bin/bash
# SPDX-License-Identifier: MIT
# test-man.sh - the manual pages: each built page renders through man(1)
# (groff) with every warning on and passes mandoc's lint at level error
# without a message; lazymod(3) names every function of lazymod.h and of
# lib/liblazymod.sym, and the host-side macro; lazymod(1) names every command
# and option that the tool's help lists; vdisk(1) every command and option
# of vdisk's help; vmrun(1) every option of vmrun's usage and both
# accelerators with their packages; lazymod-module(3) every manifest macro of the header.
set -u
build=${LAZYMOD_BUILD:?run through meson test}
source=${LAZYMOD_SOURCE:?run through meson test}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$source/tests/packaging/tap.sh"
man=$build/man

for page in lazymod.1 vdisk.1 vmrun.1 lazymod.3 lazymod-module.3 lazymod.index.5; do
	if [ ! -s "$man/$page" ]; then
		not_ok "$page is built"
		continue
	fi
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 "$man/$page" >"$tmp/$page.txt" 2>"$tmp/err"
	if [ -s "$tmp/err" ]; then
		not_ok "$page renders without a warning"
		sed 's/^/# /' "$tmp/err" | head -20
	else ok "$page renders without a warning"; fi
	check "$page passes mandoc -T lint -W error" mandoc -T lint -W error "$man/$page"
	# The rendered text, with hyphenation and hyphens undone, for the greps.
	col -b <"$tmp/$page.txt" | sed -e 's/[‐-]$//' | tr -d '\n' | sed 's/‐/-/g; s/  */ /g' >"$tmp/$page.flat"
done

# mentions PAGE WHAT WORD...: each WORD appears in the rendered PAGE.
mentions() {
	local page=$1 what=$2 missing=""
	shift 2
	for w in "$@"; do grep -qF -- "$w" "$tmp/$page.flat" || missing="$missing $w"; done
	if [ -z "$missing" ]; then ok "$page names every $what ($#)"; else not_ok "$page names every $what (missing:$missing)"; fi
}

functions=$( (grep -o 'lm_[a-z_]*(' "$source/include/lazymod.h" | tr -d '('
	sed -n '/global:/,/local:/p' "$source/lib/liblazymod.sym" | grep -o 'lm_[a-z_0-9]*') | sort -u)
expect "found the public functions" test "$(echo "$functions" | wc -l)" -ge 12
# shellcheck disable=SC2086
mentions lazymod.3 "public function" $functions

"$build/bin/lazymod" --help >"$tmp/help"
commands=$(awk '/^Commands:/ {c = 1; next} c && /^  [a-z]/ {print $1}' "$tmp/help")
expect "found the tool's commands" test -n "$commands"
opts=""
for c in $commands; do
	# shellcheck disable=SC2086
	mentions lazymod.1 "option of lazymod $c" "lazymod $c" $("$build/bin/lazymod" "$c" --help | grep -o -- '--[a-z0-9-]*' | sort -u)
	opts="$opts $("$build/bin/lazymod" "$c" --help | grep -o -- ' -[a-z]\b' | tr -d ' ')"
done
# shellcheck disable=SC2086
mentions lazymod.1 "option of the tool" $(grep -o -- '--[a-z-]*' "$tmp/help" | sort -u) $opts

"$build/bin/vdisk" --help >"$tmp/vhelp"
vcommands=$(awk '/^Commands:/ {c = 1; next} /^Options:/ {c = 0} c && /^  [a-z]/ {print $1}' "$tmp/vhelp")
expect "found vdisk's commands" test "$(echo "$vcommands" | wc -w)" -ge 5
# shellcheck disable=SC2086
mentions vdisk.1 "command of vdisk" $(for c in $vcommands; do echo "vdisk $c"; done)
# shellcheck disable=SC2086
mentions vdisk.1 "option of vdisk" $(grep -o -- '--[a-z-]*\|\s-[a-zA-Z]\b' "$tmp/vhelp" | tr -d ' ' | sort -u)
# shellcheck disable=SC2086
mentions vdisk.1 "protocol option of vdisk" $(awk '/^Protocol options/ {c = 1; next} c && /^  [a-z_]*=/ {sub(/=.*/, "=", $1); print $1}' "$tmp/vhelp")

"$build/bin/vmrun" --help >"$tmp/rhelp"
ropts=$(grep -o -- '\(^\|[[ ]\)-[a-z]*' "$tmp/rhelp" | tr -d ' [' | sort -u)
expect "found vmrun's options" test "$(echo "$ropts" | wc -w)" -ge 6
# shellcheck disable=SC2086
mentions vmrun.1 "option of vmrun" $ropts riscv32 riscv64
# shellcheck disable=SC2046
mentions vmrun.1 "accelerator and package of vmrun" $("$build/bin/lazymod" list "$build/lib/vmrun" |
	awk '$1 == "provides" {sub(/.*\//, "", $2); print $2} / package / {print $NF}' | sort -u)

# shellcheck disable=SC2086
mentions lazymod-module.3 "manifest macro" $(grep -o '^#define LM_[A-Z_]*' "$source/include/lazymod/module.h" | awk '{print $2}' | grep -v '^LM__' | grep -v LM_MODULE_NAME) LM_MODULE_NAME
done_tap
