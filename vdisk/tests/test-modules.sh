#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-modules.sh - checks that vdisk loads what a command needs and nothing
# else: which modules become ready (LAZYMOD_DEBUG=1 traces "module NAME
# ready") and which shared libraries the dynamic loader maps
# (LD_DEBUG=files), for the build mode vdisk was made in.
#
#   VDISK=/path/to/vdisk [VDISK_MODE=lazy|builtin|eager|dlopen-all|bundle] test-modules.sh
#
# VDISK_MODE defaults to what `vdisk --version` says. What each mode must do:
#   lazy        a module is ready only once a command needs it; a codec's
#               library (libzstd, libz) is mapped only with its module
#   builtin     the same readiness (inits run on first use); the libraries
#               are linked into vdisk, so only "no module file is opened"
#   eager       every module ready before any command; no module file opened
#   dlopen-all  every module ready and its file opened before any command
#   bundle      the readiness of lazy; the formats and codecs are one file
#               (drivers.so), opened once with its libraries (libz, libzstd)
#               when a command first needs one of them; protocols stay alone
# Needs qemu-img and python3. Prints TAP.

set -u
if [ -z "${VDISK:-}" ]; then
	echo "test-modules.sh: set VDISK to the vdisk executable" >&2
	exit 2
fi
case $VDISK in /*) ;; *) VDISK=$PWD/$VDISK ;; esac
MODE=${VDISK_MODE:-$("$VDISK" --version | sed -n 's/.*modules: \([a-z-]*\).*/\1/p')}
case $MODE in
lazy | builtin | eager | dlopen-all | bundle) ;;
*)
	echo "test-modules.sh: unknown mode '$MODE'" >&2
	exit 2
	;;
esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
unset LAZYMOD_PATH

. "$(dirname "$0")/../../tests/lib/tap.sh"

# ready CMD...: runs vdisk with LAZYMOD_DEBUG=1 and sets $got to the sorted
# names of the modules that became ready; returns vdisk's status.
got=
ready() {
	local rc
	LAZYMOD_DEBUG=1 timeout 20 "$VDISK" "$@" >out.bin 2>trace.txt
	rc=$?
	got=$(sed -n 's/^lazymod: debug: module \(.*\) ready$/\1/p' trace.txt | sort | xargs)
	return $rc
}
# expect NAME WANT CMD...: exactly the modules WANT (sorted, space-separated) become ready.
expect() {
	local name=$1 want=$2
	shift 2
	if ! ready "$@"; then
		fail "$name" "vdisk $* failed: $(grep -v '^lazymod: ' trace.txt)"
	elif [ "$got" != "$want" ]; then
		fail "$name" "modules ready: '${got}', want '${want}'"
	else
		pass "$name"
	fi
}
# libs CMD...: runs vdisk with LD_DEBUG=files; the loader's trace goes to libs.txt.
libs() {
	LD_DEBUG=files timeout 20 "$VDISK" "$@" >out.bin 2>libs.txt
}
# Module files opened: lazymod hands the loader /proc/self/fd/N (or, without
# /proc, the path). The caller is not matched: sanitizers intercept dlopen.
dlopened() {
	local module='(/proc/self/fd/[0-9]+|[^ ]*/vdisk/[^ /]*\.so)'
	grep -cE "file=$module \[[0-9]+\];  dynamically loaded" libs.txt
}

# ---- images ---------------------------------------------------------------------------

truncate -s 8M src.raw
head -c 1M /dev/urandom | dd of=src.raw bs=1M seek=2 conv=notrunc status=none
printf 'plain text\n' | dd of=src.raw bs=1 seek=5000000 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 src.raw local.qcow2
qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd src.raw zstd.qcow2
qemu-img convert -c -f raw -O qcow2 src.raw zlib.qcow2
qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat src.raw desc.vmdk
cp src.raw base.img
qemu-img create -q -f qcow2 -b base.img -F raw overlay.qcow2 8M
head -c 70000 /dev/urandom >random.bin

ALL=$("$VDISK" formats --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(sorted({f["module"] for k in ("formats", "protocols", "codecs")
                       for f in d[k] if f["module"]})))')
case " $ALL " in
*" qcow2 "*" zstd "*) pass "formats --json names the modules: $ALL" ;;
*) fail "formats --json names the modules" "got '$ALL'" ;;
esac

# ---- which modules become ready -----------------------------------------------------------

case $MODE in
lazy | builtin | bundle)
	expect "formats --json makes no module ready" "" formats --json
	expect "probe of a qcow2 makes no module ready" "" probe local.qcow2
	expect "info of an uncompressed qcow2: only qcow2" "qcow2" info local.qcow2
	expect "info --json of a zstd qcow2: only qcow2 (no cluster is read)" "qcow2" \
		info --json zstd.qcow2
	expect "cat of a zstd-compressed qcow2: qcow2 and zstd, not zlib" "qcow2 zstd" \
		cat zstd.qcow2
	expect "cat of a deflate-compressed qcow2: qcow2 and zlib, not zstd" "qcow2 zlib" \
		cat zlib.qcow2
	expect "cat -f qcow2 of an uncompressed qcow2: only qcow2" "qcow2" cat -f qcow2 local.qcow2
	expect "info of an overlay: not its backing file's format" "qcow2" info overlay.qcow2
	expect "convert of a qcow2 over a raw file: qcow2 and raw" "qcow2 raw" \
		convert overlay.qcow2 out.raw
	# No rule is certain of a text descriptor: vmdk's code probe decides.
	expect "probe of a vmdk descriptor: vmdk's code probe only" "vmdk" probe desc.vmdk
	expect "probe of random bytes: only the code probe's module" "vmdk" probe random.bin
	expect "cat of random bytes: the code probe's module and raw" "raw vmdk" cat random.bin
	;;
eager | dlopen-all)
	expect "every module is ready before formats runs" "$ALL" formats --json
	expect "every module is ready before probe runs" "$ALL" probe local.qcow2
	expect "every module is ready before info runs" "$ALL" info local.qcow2
	expect "cat of a zstd qcow2 works with everything loaded" "$ALL" cat zstd.qcow2
	;;
esac

# ---- which libraries the loader maps ----------------------------------------------------------

nmods=$(wc -w <<<"$ALL")
case $MODE in
lazy)
	if libs info local.qcow2; then
		! grep -qE 'file=lib(zstd|z)\.so' libs.txt
		check "info of a qcow2 maps neither libzstd nor libz" $? \
			"$(grep -E 'file=lib(zstd|z)\.so' libs.txt | head -2)"
		! grep -qE 'file=lib(curl|ssh)' libs.txt
		check "info of a qcow2 maps no libcurl or libssh" $?
		[ "$(dlopened)" -eq 1 ]
		check "info of a qcow2 opens one module file" $? "$(dlopened) opened"
	else
		fail "info of a qcow2 under LD_DEBUG" "$(tail -3 libs.txt)"
	fi
	if libs cat zstd.qcow2 && grep -q 'file=libzstd\.so' libs.txt; then
		pass "cat of a zstd qcow2 maps libzstd"
	else
		fail "cat of a zstd qcow2 maps libzstd"
	fi
	if libs formats; then
		[ "$(dlopened)" -eq 0 ]
		check "formats opens no module file" $? "$(dlopened) opened"
	else
		fail "formats under LD_DEBUG"
	fi
	;;
bundle)
	if libs cat zstd.qcow2; then
		[ "$(dlopened)" -eq 1 ]
		check "cat of a zstd qcow2 opens one module file" $? "$(dlopened) opened"
		# The one file loaded is the bundle: qcow2 and zstd came from it,
		# and so did libzstd, which only the zstd codec needs.
		bundle=$(sed -n 's/.*file=\([^ ]*\) \[[0-9]*\];  dynamically loaded.*/\1/p' libs.txt)
		case $bundle in /proc/self/fd/* | */vdisk/drivers.so) st=0 ;; *) st=1 ;; esac
		grep -qF "file=libzstd.so.1 [0];  needed by $bundle " libs.txt || st=1
		check "the file opened is the bundle, and libzstd comes with it" $st \
			"loaded '$bundle'; $(grep libzstd libs.txt | head -1)"
		! grep -qE 'file=lib(curl|ssh)' libs.txt
		check "cat of a zstd qcow2 maps no libcurl or libssh (protocols stay alone)" $?
	else
		fail "cat of a zstd qcow2 under LD_DEBUG" "$(tail -3 libs.txt)"
	fi
	if libs formats; then
		[ "$(dlopened)" -eq 0 ]
		check "formats opens no module file" $? "$(dlopened) opened"
	else
		fail "formats under LD_DEBUG"
	fi
	;;
builtin | eager)
	skip "libzstd and libz mapped only on demand" \
		"the codecs are linked into vdisk in mode $MODE"
	if libs cat zstd.qcow2; then
		[ "$(dlopened)" -eq 0 ]
		check "no module file is opened: the drivers are built in" $? "$(dlopened) opened"
	else
		fail "cat under LD_DEBUG" "$(tail -3 libs.txt)"
	fi
	;;
dlopen-all)
	if libs info local.qcow2; then
		[ "$(dlopened)" -eq "$nmods" ]
		check "every module file is opened ($nmods)" $? "$(dlopened) opened"
		grep -q 'file=libzstd\.so' libs.txt
		check "libzstd is mapped at start-up" $?
	else
		fail "info under LD_DEBUG" "$(tail -3 libs.txt)"
	fi
	;;
esac

tap_done
