#!/bin/bash
# SPDX-License-Identifier: MIT
# test-completion.sh - the bash completion of completion/: sourced into this
# shell, each function is called as bash calls it (COMP_WORDS, COMP_CWORD)
# and must offer every command and option the tools' help lists, the
# formats installed after `vdisk -f`, and the protocol options after -o;
# for vmrun every option of its usage, both targets, and the accelerators
# its index lists after -accel.
set -u
build=${LAZYMOD_BUILD:?run through meson test}
source=${LAZYMOD_SOURCE:?run through meson test}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$source/tests/packaging/tap.sh"
lazymod=$build/bin/lazymod
vdisk=$build/bin/vdisk
vmrun=$build/bin/vmrun
. "$source/completion/lazymod"
. "$source/completion/vdisk"
. "$source/completion/vmrun"
expect "complete knows lazymod" eval 'complete -p lazymod >/dev/null'
expect "complete knows vdisk" eval 'complete -p vdisk >/dev/null'
expect "complete knows vmrun" eval 'complete -p vmrun >/dev/null'

# offers FUNCTION NAME WANTED... -- WORD...: completing the last WORD offers
# every WANTED.
offers() {
	local fn=$1 name=$2 wanted=() missing=""
	shift 2
	while [ "$1" != -- ]; do wanted+=("$1"); shift; done
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	"$fn"
	for w in "${wanted[@]}"; do
		printf '%s\n' "${COMPREPLY[@]}" | grep -qxF -- "$w" || missing="$missing $w"
	done
	if [ -z "$missing" ]; then ok "$name"; else not_ok "$name (missing:$missing; got: ${COMPREPLY[*]})"; fi
}

# shellcheck disable=SC2046
offers _lazymod "lazymod: every command" \
	$("$lazymod" --help | awk '/^Commands:/ {c = 1; next} c && /^  [a-z]/ {print $1}') -- "$lazymod" ""
for c in $("$lazymod" --help | awk '/^Commands:/ {c = 1; next} c && /^  [a-z]/ {print $1}'); do
	# shellcheck disable=SC2046
	offers _lazymod "lazymod $c: every option" \
		$("$lazymod" "$c" --help | grep -o -- '--[a-z0-9-]*' | sort -u) --help -- "$lazymod" "$c" "-"
done
mkdir "$tmp/mods"
offers _lazymod "lazymod index: directories" "$tmp/mods" -- "$lazymod" index "$tmp/mo"

vcommands=$("$vdisk" --help | awk '/^Commands:/ {c = 1; next} /^Options:/ {c = 0} c && /^  [a-z]/ {print $1}')
# shellcheck disable=SC2086
offers _vdisk "vdisk: every command" $vcommands -- "$vdisk" ""
offers _vdisk "vdisk info: its options" --json --format --option --help -- "$vdisk" info --
offers _vdisk "vdisk convert: its options" --progress --format --output-format --option -- "$vdisk" convert --
# shellcheck disable=SC2046
offers _vdisk "vdisk -f: the formats installed" \
	$("$vdisk" formats | awk '/^[A-Z]/ {s = $1} s == "Formats:" && /^  / {print $1}') -- "$vdisk" info -f ""
# shellcheck disable=SC2046
offers _vdisk "vdisk -o: every protocol option" \
	$("$vdisk" --help | awk '/^Protocol options/ {c = 1; next} c && /^  [a-z_]*=/ {sub(/=.*/, "=", $1); print $1}') \
	-- "$vdisk" info -o ""
offers _vdisk "vdisk -O: raw" raw -- "$vdisk" convert -O ""
offers _vdisk "vdisk probe: -U" -U --force-share -- "$vdisk" probe -
offers _vdisk "vdisk convert: -U" -U --force-share -- "$vdisk" convert -

# shellcheck disable=SC2046
offers _vmrun "vmrun: every option of its usage" \
	$("$vmrun" --help | grep -o -- '\(^\|[[ ]\)-[a-z]*' | tr -d ' [' | sort -u) -- "$vmrun" -
offers _vmrun "vmrun -target: both targets" riscv32 riscv64 -- "$vmrun" -target ""
# shellcheck disable=SC2046
offers _vmrun "vmrun -accel: the accelerators installed" \
	$("$lazymod" list "$build/lib/vmrun" | awk '$1 == "provides" {sub(/.*\//, "", $2); print $2}' | sort -u) \
	-- "$vmrun" -target riscv64 -accel ""
offers _vmrun "vmrun -accel: the second name of a list" fast:interp -- "$vmrun" -accel fast:i
offers _vmrun "vmrun -accel: after a colon split off by bash" :interp -- "$vmrun" -accel fast :
offers _vmrun "vmrun -accel: a name split off by bash" interp -- "$vmrun" -accel fast : in
touch "$tmp/guest.elf"
offers _vmrun "vmrun -kernel: files" "$tmp/guest.elf" -- "$vmrun" -kernel "$tmp/gu"
offers _vmrun "vmrun -initrd: files" "$tmp/guest.elf" -- "$vmrun" -initrd "$tmp/gu"
offers _vmrun "vmrun -m: sizes" 128M -- "$vmrun" -m 1
done_tap
