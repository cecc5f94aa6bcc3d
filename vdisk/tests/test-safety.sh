#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-safety.sh - what vdisk refuses so as never to destroy or misread an
# image: convert never overwrites a file it reads (the image, a vmdk extent,
# through hard and symbolic links); extent names that leave the
# descriptor's directory through a symbolic link are refused; an output is
# complete or absent, whatever error or signal ends convert; and QEMU's
# image locks are honoured both ways, checked against a real qemu-io.
#
#   VDISK=/path/to/vdisk test-safety.sh
#
# Needs qemu-img and qemu-io. Prints TAP.

set -u
if [ -z "${VDISK:-}" ]; then
	echo "test-safety.sh: set VDISK to the vdisk executable" >&2
	exit 2
fi
case $VDISK in /*) ;; *) VDISK=$PWD/$VDISK ;; esac
. "$(dirname "$0")/../../tests/lib/tap.sh"
T=$(mktemp -d)
QEMU_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1

# refused NAME PATTERN CMD...: vdisk exits 1 saying something matching PATTERN.
refused() {
	local name=$1 pattern=$2 rc
	shift 2
	timeout 60 "$VDISK" "$@" >out.txt 2>err.txt
	rc=$?
	if sanitized err.txt; then
		fail "$name" err.txt
	elif [ $rc -ne 1 ]; then
		fail "$name: exit status $rc, want 1" err.txt
	elif ! grep -qE -- "$pattern" err.txt; then
		fail "$name: message does not match /$pattern/" err.txt
	else
		pass "$name"
	fi
}

# ---- an output that is an input ----------------------------------------------

head -c 3M /dev/urandom >data.raw
truncate -s 4M data.raw
qemu-img convert -q -f raw -O vmdk -o subformat=monolithicFlat data.raw disk.vmdk
cp disk-flat.vmdk flat.keep
refused "convert onto the flat extent of its descriptor" "reads; not overwriting" \
	convert disk.vmdk disk-flat.vmdk
check "... leaves the extent byte-identical" "$(cmp -s flat.keep disk-flat.vmdk; echo $?)"
ln disk-flat.vmdk hard.raw
refused "convert onto a hard link to the extent" "reads; not overwriting" \
	convert disk.vmdk hard.raw
ln -s disk-flat.vmdk sym.raw
refused "convert onto a symbolic link to the extent" "reads; not overwriting" \
	convert disk.vmdk sym.raw
refused "convert onto the image itself" "reads; not overwriting" convert disk.vmdk disk.vmdk
check "... extent and descriptor unchanged" \
	"$(cmp -s flat.keep disk-flat.vmdk && grep -q disk-flat.vmdk disk.vmdk; echo $?)"

mkdir split sparse
qemu-img convert -q -f raw -O vmdk -o subformat=twoGbMaxExtentFlat data.raw split/d.vmdk
qemu-img convert -q -f raw -O vmdk -o subformat=twoGbMaxExtentSparse data.raw sparse/d.vmdk
for kind in split sparse; do
	ext=$(ls $kind | grep -v '^d.vmdk$' | head -1)
	cp "$kind/$ext" ext.keep
	refused "convert onto an extent of a $kind descriptor" "reads; not overwriting" \
		convert "$kind/d.vmdk" "$kind/$ext"
	check "... leaves that extent byte-identical" "$(cmp -s ext.keep "$kind/$ext"; echo $?)"
done

qemu-img create -q -f qcow2 -b data.raw -F raw top.qcow2
cp data.raw data.keep
refused "convert onto the backing file of a qcow2" "reads; not overwriting" \
	convert top.qcow2 data.raw
check "... leaves the backing file byte-identical" "$(cmp -s data.keep data.raw; echo $?)"

# ---- extent names that leave the descriptor's directory ----------------------

mkdir -p in outside
cp disk-flat.vmdk outside/flat.bin
desc() { # FILE EXTENT-NAME
	printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n' >"$1"
	printf 'createType="monolithicFlat"\nRW 8192 FLAT "%s" 0\n' "$2" >>"$1"
}
ln -s ../outside in/link
desc in/dirlink.vmdk link/flat.bin
refused "an extent under a symlinked directory that leaves the descriptor's" \
	"leaves the descriptor's directory through a symbolic link" convert in/dirlink.vmdk o.raw
ln -s ../outside/flat.bin in/flat-link.bin
desc in/filelink.vmdk flat-link.bin
refused "an extent that is a symbolic link out of the descriptor's directory" \
	"leaves the descriptor's directory through a symbolic link" convert in/filelink.vmdk o.raw
desc in/dotdot.vmdk ../outside/flat.bin
refused "an extent named with .." "leaves the descriptor's directory" convert in/dotdot.vmdk o.raw
cp outside/flat.bin in/real.bin
ln -s real.bin in/inside-link.bin
desc in/inside.vmdk inside-link.bin
"$VDISK" convert in/inside.vmdk o.raw 2>err.txt && cmp -s o.raw data.raw
check "a symbolic link that stays in the directory is read" $? err.txt
rm -f o.raw

# ---- atomic output: an error or a signal leaves the old file or none ----------

head -c 256M /dev/zero | tr '\0' x >big.raw
# interrupt HOW OUTPUT: starts convert, waits for its temporary file, then
# ends it with signal HOW, or by shrinking the input (HOW=error).
interrupt() {
	"$VDISK" convert big.raw "$2" 2>err.txt &
	local pid=$! i
	for i in $(seq 500); do
		compgen -G ".$2.vdisk-*" >/dev/null && break
		sleep 0.01
	done
	case $1 in
	error) truncate -s 1M big.raw ;;
	*) kill -"$1" $pid ;;
	esac
	wait $pid
	rc=$?
	[ "$1" = error ] && truncate -s 256M big.raw && head -c 256M /dev/zero | tr '\0' x >big.raw
	return 0
}
for how in INT TERM HUP error; do
	rm -f new.raw
	interrupt $how new.raw
	want=$([ $how = error ] && echo 1 || echo $((128 + $(kill -l $how))))
	if [ $rc -ne "$want" ]; then
		fail "convert ended by $how: exit status $rc, want $want" err.txt
	elif [ -e new.raw ] || compgen -G ".new.raw.vdisk-*" >/dev/null; then
		fail "convert ended by $how: an output or a temporary file is left" "$(ls -a)"
	else
		pass "convert ended by $how leaves no output and no temporary file"
	fi
	echo old >old.raw
	interrupt $how old.raw
	if [ "$(cat old.raw)" != old ] || compgen -G ".old.raw.vdisk-*" >/dev/null; then
		fail "convert ended by $how: the old output is not intact" "$(ls -a)"
	else
		pass "convert ended by $how leaves the old output as it was"
	fi
done
rm -f big.raw
"$VDISK" convert data.raw done.raw 2>err.txt && cmp -s done.raw data.raw &&
	! compgen -G ".done.raw.vdisk-*" >/dev/null
check "a complete convert renames its output into place" $? err.txt

# ---- QEMU's locks --------------------------------------------------------------

qemu-img create -q -f qcow2 busy.qcow2 4M
mkfifo cmds
# qemu-io opens the image read-write and waits for commands on the FIFO,
# held open by this shell on fd 7.
qemu-io -f qcow2 busy.qcow2 <cmds >/dev/null 2>&1 &
QEMU_PID=$!
exec 7>cmds
for i in $(seq 100); do
	qemu-img info busy.qcow2 >/dev/null 2>&1 || break
	sleep 0.05
done
refused "an image that qemu-io holds open for writing is refused" "open for writing" \
	info busy.qcow2
refused "... by convert too" "open for writing" convert busy.qcow2 o.raw
"$VDISK" info -U busy.qcow2 >/dev/null 2>err.txt
check "... and read with -U" $? err.txt
"$VDISK" convert --force-share busy.qcow2 o.raw 2>err.txt
check "... and converted with --force-share" $? err.txt
refused "an output that qemu-io has open is not overwritten" "has it open" \
	convert data.raw busy.qcow2
echo quit >&7
exec 7>&-
wait $QEMU_PID
QEMU_PID=

# vdisk reading an image (cat, blocked on a full pipe) forbids QEMU to write it.
qemu-img convert -q -f raw -O qcow2 data.raw read.qcow2
mkfifo pipe
"$VDISK" cat read.qcow2 >pipe 2>err.txt &
cat_pid=$!
exec 8<pipe
sleep 0.5
qemu-io -f qcow2 -c 'write 0 512' read.qcow2 >qemu.txt 2>&1
qrc=$?
exec 8<&-
wait $cat_pid
[ $qrc -ne 0 ] && grep -q 'lock' qemu.txt
check "qemu-io cannot write an image vdisk is reading" $? qemu.txt

tap_done
