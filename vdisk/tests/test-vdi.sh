#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-vdi.sh - checks the vdi format driver against qemu-img.
#
#   test-vdi.sh READER [INFO]
#
# READER FORMAT IMAGE OUTPUT writes the guest bytes of IMAGE as raw to OUTPUT
# (fmtread, later vdisk); INFO FORMAT IMAGE prints key=value lines. Dynamic
# and static images from qemu-img are compared byte for byte with qemu-img
# convert, a hand-built image checks what qemu-img cannot write (another
# block size, extra data before blocks, zero blocks), and damaged images must
# fail cleanly: exit 1, a message, no sanitizer report, no hang. Prints TAP.

set -u
read -ra READ <<<"$1"
INFO=()
[ $# -ge 2 ] && read -ra INFO <<<"$2"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
. "$(dirname "$0")/../../tests/lib/tap.sh"

le32() { printf '%02x%02x%02x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
le64() { echo "$(le32 $(($1 & 0xffffffff)))$(le32 $((($1 >> 32) & 0xffffffff)))"; }
poke() {
	local esc='' i
	for ((i = 0; i < ${#3}; i += 2)); do esc+="\\x${3:i:2}"; done
	printf '%b' "$esc" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

vsize() { qemu-img info --output=json "$1" | sed -n 's/^    "virtual-size": \([0-9]*\),$/\1/p'; }

# check NAME IMAGE WANT: the reader writes exactly WANT (a raw file).
check() {
	rm -f out.raw
	if ! timeout 20 "${READ[@]}" vdi "$2" out.raw 2>err || ! clean err; then
		fail "$1: reader failed" err
	elif ! cmp -s out.raw "$3"; then
		fail "$1: guest bytes differ"
	else
		pass "$1"
	fi
}

# same NAME IMAGE: the reader agrees with qemu-img on bytes and size.
same() {
	local want
	qemu-img convert -f vdi -O raw "$2" ref.raw
	want=$(vsize "$2")
	if [ "$(stat -c %s ref.raw)" != "$want" ]; then
		fail "$1: qemu-img's raw is not $want bytes"
		return
	fi
	check "$1" "$2" ref.raw
	if [ ${#INFO[@]} -gt 0 ] && ! "${INFO[@]}" vdi "$2" 2>err | grep -qx "virtual-size=$want"; then
		fail "$1: info does not say virtual-size=$want" err
	fi
}

# bad NAME IMAGE: the reader refuses the image cleanly.
bad() {
	local rc
	timeout 20 "${READ[@]}" vdi "$2" out.raw >/dev/null 2>err
	rc=$?
	if [ $rc -ne 1 ]; then
		fail "$1: exit status $rc, not 1" err
	elif ! clean err; then
		fail "$1: sanitizer report" err
	elif [ ! -s err ]; then
		fail "$1: no message"
	else
		pass "$1"
		[ -n "${VERBOSE:-}" ] && sed 's/^/#   /' err
	fi
}

# ---- images qemu-img writes ------------------------------------------------

qemu-img create -q -f raw src.raw 300M
for o in 0 700k 5M 64M-4k 150M 300M-64k; do
	qemu-io -f raw -c "write -P 0x5a $o 64k" src.raw >/dev/null
done
dd if=/dev/urandom of=src.raw bs=64k seek=200 count=20 conv=notrunc status=none
qemu-img convert -O vdi src.raw dyn.vdi
same "dynamic" dyn.vdi

# Blocks allocated out of order: the map is not the identity.
qemu-img create -q -f vdi order.vdi 40M
qemu-io -f vdi -c "write -P 0x21 30M 1M" -c "write -P 0x22 2M 512k" -c "write -P 0x23 17M+4k 8k" \
	-c "write -P 0x24 39M 1M" order.vdi >/dev/null
same "dynamic, blocks out of order" order.vdi

qemu-img create -q -f vdi -o static=on static.vdi 20M
qemu-io -f vdi -c "write -P 0x31 1M 64k" -c "write -P 0x32 19M 1M" static.vdi >/dev/null
same "static" static.vdi

qemu-img create -q -f vdi -o static=on small-static.vdi 3000000
qemu-io -f vdi -c "write -P 0x41 2M 512" small-static.vdi >/dev/null
same "static, size not a multiple of the block" small-static.vdi

# A disk size that is not a whole number of sectors is rounded up.
cp order.vdi odd.vdi && poke odd.vdi $((0x170)) "$(le64 $((40 * 1048576 - 700)))"
same "disk size rounded up to a sector" odd.vdi

# A zero block (0xfffffffe) where data was.
cp order.vdi zero.vdi && poke zero.vdi $((0x200 + 30 * 4)) feffffff
same "zero block" zero.vdi

if [ ${#INFO[@]} -gt 0 ]; then
	"${INFO[@]}" vdi static.vdi >info 2>err
	if grep -qx "cluster-size=1048576" info && grep -qx "image-type=static" info; then
		pass "info: block size and image type"
	else
		fail "info: block size and image type" err
	fi
fi

# ---- what qemu-img does not write: 64 KiB blocks, 512 bytes of extra data
# before each, blocks in shuffled order, a zero block --------------------------

head -c 512 dyn.vdi >custom.vdi
poke custom.vdi $((0x154)) "$(le32 0x200)$(le32 0x400)"
poke custom.vdi $((0x170)) "$(le64 1048576)$(le32 65536)$(le32 512)$(le32 16)$(le32 4)"
head -c 1024 /dev/zero | tr '\0' '\377' | dd of=custom.vdi bs=1 seek=512 count=64 conv=notrunc status=none
truncate -s 1024 custom.vdi
truncate -s 1M want.raw
idx=0
for blk in 15 6 5 1; do
	poke custom.vdi $((0x200 + blk * 4)) "$(le32 $idx)"
	head -c 512 /dev/zero | tr '\0' '\356' >>custom.vdi
	head -c 65536 /dev/urandom >chunk
	cat chunk >>custom.vdi
	dd if=chunk of=want.raw bs=64k seek=$blk conv=notrunc status=none
	idx=$((idx + 1))
done
poke custom.vdi $((0x200 + 3 * 4)) feffffff
check "64 KiB blocks with extra data, shuffled, zero block" custom.vdi want.raw

# ---- damaged and hostile images ---------------------------------------------

img=order.vdi
: >t.vdi && bad "empty file" t.vdi
head -c 300 $img >t.vdi && bad "truncated inside the header" t.vdi
head -c 560 $img >t.vdi && bad "truncated block map" t.vdi
head -c $((0x200 + 160 + 1048576)) $img >t.vdi && bad "truncated data" t.vdi
cp $img t.vdi && poke t.vdi $((0x40)) 7f10dabf && bad "bad signature" t.vdi
cp $img t.vdi && poke t.vdi $((0x44)) "$(le32 0x00010000)" && bad "version 1.0" t.vdi
cp $img t.vdi && poke t.vdi $((0x48)) "$(le32 0)" && bad "header size 0" t.vdi
cp $img t.vdi && poke t.vdi $((0x48)) "$(le32 0x7fffffff)" && bad "huge header size" t.vdi
cp $img t.vdi && poke t.vdi $((0x4c)) "$(le32 4)" && bad "differencing image" t.vdi
cp $img t.vdi && poke t.vdi $((0x4c)) "$(le32 9)" && bad "unknown image type" t.vdi
cp $img t.vdi && poke t.vdi $((0x1b8)) 01 && bad "parent UUID set" t.vdi
cp $img t.vdi && poke t.vdi $((0x1a8)) 01 && bad "link UUID set" t.vdi
cp $img t.vdi && poke t.vdi $((0x168)) "$(le32 4096)" && bad "sector size 4096" t.vdi
cp $img t.vdi && poke t.vdi $((0x178)) "$(le32 0)" && bad "block size 0" t.vdi
cp $img t.vdi && poke t.vdi $((0x178)) "$(le32 1000)" && bad "block size 1000" t.vdi
cp $img t.vdi && poke t.vdi $((0x178)) "$(le32 0x80000000)" && bad "block size 2 GiB" t.vdi
cp $img t.vdi && poke t.vdi $((0x17c)) "$(le32 0xfffffe00)" && bad "huge block extra data" t.vdi
cp $img t.vdi && poke t.vdi $((0x170)) "$(le64 $((41 * 1048576)))" && bad "disk larger than its blocks" t.vdi
cp $img t.vdi && poke t.vdi $((0x170)) ffffffffffffffff && bad "disk size 2^64-1" t.vdi
cp $img t.vdi && poke t.vdi $((0x180)) "$(le32 0x7fffffff)" && bad "huge block count" t.vdi
cp $img t.vdi && poke t.vdi $((0x180)) "$(le32 0x1000000)" && bad "block map past the end" t.vdi
cp $img t.vdi && poke t.vdi $((0x184)) "$(le32 41)" && bad "more blocks allocated than exist" t.vdi
cp $img t.vdi && poke t.vdi $((0x154)) "$(le32 0x7ffffe00)" && bad "block map offset past the end" t.vdi
cp $img t.vdi && poke t.vdi $((0x154)) "$(le32 0x100)" && bad "block map inside the header" t.vdi
cp $img t.vdi && poke t.vdi $((0x158)) "$(le32 0x200)" && bad "data over the block map" t.vdi
cp $img t.vdi && poke t.vdi $((0x200 + 2 * 4)) "$(le32 0x7fffffff)" && bad "block past the end" t.vdi
cp $img t.vdi && poke t.vdi $((0x200 + 2 * 4)) "$(le32 4)" && bad "block index past the data" t.vdi
head -c 4096 /dev/urandom >t.vdi && bad "random bytes" t.vdi

tap_done
