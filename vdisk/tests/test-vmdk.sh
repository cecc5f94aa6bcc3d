#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-vmdk.sh - checks the vmdk format driver against qemu-img.
#
#   test-vmdk.sh READER [INFO]
#
# READER FORMAT IMAGE OUTPUT writes the guest bytes of IMAGE as raw to OUTPUT
# (fmtread, later vdisk); INFO FORMAT IMAGE prints key=value lines. Every
# subformat qemu-img writes is compared byte for byte with qemu-img convert,
# then hand-made descriptors and damaged images must fail cleanly: exit 1, a
# message, no sanitizer report, no hang. Prints TAP.

set -u
read -ra READ <<<"$1"
INFO=()
[ $# -ge 2 ] && read -ra INFO <<<"$2"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
. "$(dirname "$0")/../../tests/lib/tap.sh"

# Little-endian patching of binary files.
le32() { printf '%02x%02x%02x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
le64() { echo "$(le32 $(($1 & 0xffffffff)))$(le32 $((($1 >> 32) & 0xffffffff)))"; }
poke() {
	local esc='' i
	for ((i = 0; i < ${#3}; i += 2)); do esc+="\\x${3:i:2}"; done
	printf '%b' "$esc" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
peek32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }

vsize() { qemu-img info --output=json "$1" | sed -n 's/^    "virtual-size": \([0-9]*\),$/\1/p'; }

# same NAME IMAGE: the reader agrees with qemu-img on bytes and size.
same() {
	local name=$1 img=$2 want
	rm -f out.raw ref.raw
	if ! timeout 20 "${READ[@]}" vmdk "$img" out.raw 2>err || ! clean err; then
		fail "$name: reader failed" err
		return
	fi
	qemu-img convert -f vmdk -O raw "$img" ref.raw
	want=$(vsize "$img")
	if [ "$(stat -c %s out.raw)" != "$want" ]; then
		fail "$name: output size $(stat -c %s out.raw), qemu-img says $want"
	elif ! cmp -s out.raw ref.raw; then
		fail "$name: guest bytes differ from qemu-img convert"
	elif [ ${#INFO[@]} -gt 0 ] && ! "${INFO[@]}" vmdk "$img" 2>err | grep -qx "virtual-size=$want"; then
		fail "$name: info does not say virtual-size=$want" err
	else
		pass "$name"
	fi
}

# bad NAME IMAGE [read]: the reader refuses the image cleanly. Failures found
# while reading leave the harness's image open, so leaks are not checked then.
bad() {
	local rc opts=${ASAN_OPTIONS:-}
	[ "${3:-}" = read ] && opts="detect_leaks=0${opts:+:$opts}"
	ASAN_OPTIONS=$opts timeout 20 "${READ[@]}" vmdk "$2" out.raw >/dev/null 2>err
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

# A raw disk with data at scattered places, holes and a run of zeros.
pattern() {
	qemu-img create -q -f raw "$1" "$2"
	local o
	for o in $3; do
		qemu-io -f raw -c "write -P 0x5a $o 64k" "$1" >/dev/null
	done
	qemu-io -f raw -c "write -P 0x11 1M 1536k" -c "write -P 0x77 3M 100k" "$1" >/dev/null
	# Incompressible data, so that compressed grains are large too.
	dd if=/dev/urandom of="$1" bs=64k seek=80 count=3 conv=notrunc status=none
}
pattern small.raw 64M "0 512k 7M 33M 64M-64k"
# Over 2 GiB so that twoGbMaxExtent* split it, with data across the split.
pattern big.raw 2112M "0 70M 2G-32k 2G+10M 2112M-64k"

# ---- every subformat qemu-img writes --------------------------------------

for sub in monolithicSparse monolithicFlat streamOptimized; do
	qemu-img convert -O vmdk -o subformat=$sub small.raw $sub.vmdk
	same "$sub" $sub.vmdk
done
for sub in twoGbMaxExtentSparse twoGbMaxExtentFlat; do
	qemu-img convert -O vmdk -o subformat=$sub big.raw $sub.vmdk
	same "$sub, two extents" $sub.vmdk
done
# A size that ends inside a grain.
head -c $((10 * 1048576 + 1536)) /dev/urandom >odd.raw
truncate -s 1M odd.raw && truncate -s $((10 * 1048576 + 1536)) odd.raw
dd if=/dev/urandom of=odd.raw bs=512 seek=$((10 * 2048)) count=3 conv=notrunc status=none
for sub in monolithicSparse streamOptimized; do
	qemu-img convert -O vmdk -o subformat=$sub odd.raw odd-$sub.vmdk
	same "$sub, size not a multiple of the grain" odd-$sub.vmdk
done
qemu-img convert -O vmdk -o compat6=on small.raw compat6.vmdk
same "monolithicSparse, compat6" compat6.vmdk

# Zeroed-grain entries (GTE 1) inside allocated data.
qemu-img create -q -f vmdk -o zeroed_grain=on zg.vmdk 16M
qemu-io -f vmdk -c "write -P 0x31 0 2M" -c "write -z 128k 256k" -c "write -z 8M 1M" zg.vmdk >/dev/null
same "zeroed grains" zg.vmdk

# A sparse overlay over a sparse parent.
qemu-img convert -O vmdk small.raw base.vmdk
qemu-img create -q -f vmdk -b base.vmdk -F vmdk overlay.vmdk 64M
qemu-io -f vmdk -c "write -P 0x42 448k 128k" -c "write -P 0x43 40M 64k" overlay.vmdk >/dev/null
same "overlay on a parent" overlay.vmdk
if [ ${#INFO[@]} -gt 0 ]; then
	if "${INFO[@]}" vmdk overlay.vmdk 2>err | grep -qx "backing-filename=base.vmdk"; then
		pass "overlay info names its parent"
	else
		fail "overlay info names its parent" err
	fi
	if "${INFO[@]}" vmdk streamOptimized.vmdk 2>err | grep -qx "create-type=streamOptimized"; then
		pass "streamOptimized info"
	else
		fail "streamOptimized info" err
	fi
fi

# streamOptimized with its grain directory given by a footer: the header
# says "at the end", the footer (marker, header copy, end-of-stream) says where.
make_footer() {
	local src=$1 dst=$2 size
	size=$(stat -c %s "$src")
	head -c $((size - 512)) "$src" >"$dst"
	{
		printf '\x01\0\0\0\0\0\0\0\0\0\0\0\x03\0\0\0'
		head -c 496 /dev/zero
		head -c 512 "$src"
		head -c 512 /dev/zero
	} >>"$dst"
	poke "$dst" 56 ffffffffffffffff
}
make_footer streamOptimized.vmdk footer.vmdk
same "streamOptimized, grain directory in the footer" footer.vmdk

# Descriptor written by hand: FLAT with an offset, RDONLY, ZERO, SPARSE, and
# CRLF line ends. qemu-img skips ZERO extents, so compare with a raw built here.
head -c 3M /dev/urandom >flat.bin
qemu-img convert -O vmdk -o subformat=monolithicSparse small.raw part.vmdk
printf '# Disk DescriptorFile\r\nversion=1\r\nCID=12345678\r\nparentCID=ffffffff\r\ncreateType="custom"\r\n\r\n# Extent description\r\nRW 2048 FLAT "flat.bin" 16\r\nRDONLY 1024 ZERO\r\n  RW 131072 SPARSE "part.vmdk"\r\n\r\nddb.adapterType = "ide"\r\n' >custom.vmdk
{
	dd if=flat.bin bs=512 skip=16 count=2048 status=none
	head -c 512K /dev/zero
	cat small.raw
} >want.raw
if timeout 20 "${READ[@]}" vmdk custom.vmdk out.raw 2>err && clean err && cmp -s out.raw want.raw; then
	pass "hand-written descriptor: FLAT+offset, ZERO, SPARSE, CRLF"
else
	fail "hand-written descriptor: FLAT+offset, ZERO, SPARSE, CRLF" err
fi

# ---- damaged and hostile images -------------------------------------------

img=monolithicSparse.vmdk
gd=$(( $(peek32 $img 56) * 512 ))
gt=$(( $(peek32 $img $gd) * 512 ))

cp $img t.vmdk && truncate -s 700 t.vmdk && bad "truncated sparse extent" t.vmdk
cp $img t.vmdk && truncate -s 100 t.vmdk && bad "truncated inside the header" t.vmdk
: >t.vmdk && bad "empty file" t.vmdk
cp $img t.vmdk && poke t.vmdk 0 4b444d58 && bad "bad magic" t.vmdk
cp $img t.vmdk && poke t.vmdk 0 434f5744 && bad "COWD magic (unsupported)" t.vmdk
cp $img t.vmdk && poke t.vmdk 4 "$(le32 4)" && bad "version 4" t.vmdk
cp $img t.vmdk && poke t.vmdk 56 "$(le64 $((1 << 40)))" && bad "grain directory past the end" t.vmdk
cp $img t.vmdk && poke t.vmdk 12 "$(le64 $((1 << 53)))" && bad "huge capacity" t.vmdk
cp $img t.vmdk && poke t.vmdk 20 "$(le64 0)" && bad "grain size 0" t.vmdk
cp $img t.vmdk && poke t.vmdk 20 "$(le64 $((1 << 40)))" && bad "huge grain size" t.vmdk
cp $img t.vmdk && poke t.vmdk 44 "$(le32 0)" && bad "0 entries per grain table" t.vmdk
cp $img t.vmdk && poke t.vmdk 44 "$(le32 100000)" && bad "huge grain tables" t.vmdk
cp $img t.vmdk && poke t.vmdk 64 "$(le64 $((1 << 40)))" && bad "overhead past the end" t.vmdk
cp $img t.vmdk && poke t.vmdk 77 "$(le32 7)" && bad "unknown compression algorithm" t.vmdk
cp $img t.vmdk && poke t.vmdk 73 0a0a0a0a && bad "damaged line-end check bytes" t.vmdk
cp $img t.vmdk && poke t.vmdk 28 "$(le64 $((1 << 40)))" && bad "embedded descriptor past the end" t.vmdk
cp $img t.vmdk && poke t.vmdk 36 "$(le64 100000)" && bad "huge embedded descriptor" t.vmdk
cp $img t.vmdk && poke t.vmdk $gd "$(le32 0x7ffffff0)" && bad "grain table past the end" t.vmdk read
cp $img t.vmdk && poke t.vmdk $gt "$(le32 0x7ffffff0)" && bad "grain past the end" t.vmdk read
cp $img t.vmdk && poke t.vmdk 512 "$(printf 'CID=zz\n' | od -An -tx1 | tr -d ' \n')" &&
	bad "bad CID in the embedded descriptor" t.vmdk
printf '# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\nparentFileNameHint="self.vmdk"\ncreateType="twoGbMaxExtentSparse"\nRW 131072 SPARSE "part.vmdk"\n' >self.vmdk
bad "parent is itself (cycle)" self.vmdk

s=streamOptimized.vmdk
sgd=$(( $(peek32 $s 56) * 512 ))
sgt=$(( $(peek32 $s $sgd) * 512 ))
grain=$(( $(peek32 $s $sgt) * 512 ))
cp $s t.vmdk && poke t.vmdk $((grain + 14)) ffffffffffffffffffffffffffffffff && bad "corrupt deflate data" t.vmdk read
cp $s t.vmdk && poke t.vmdk $((grain + 8)) "$(le32 0x7fffffff)" && bad "huge compressed grain size" t.vmdk read
cp $s t.vmdk && poke t.vmdk $((grain + 8)) "$(le32 0)" && bad "compressed grain size 0" t.vmdk read
cp $s t.vmdk && poke t.vmdk $grain "$(le64 12345)" && bad "grain marker for another sector" t.vmdk read
cp footer.vmdk t.vmdk && poke t.vmdk $(($(stat -c %s t.vmdk) - 1536 + 12)) "$(le32 1)" &&
	bad "footer marker of the wrong type" t.vmdk
cp footer.vmdk t.vmdk && poke t.vmdk $(($(stat -c %s t.vmdk) - 1024 + 56)) ffffffffffffffff &&
	bad "footer also puts the directory at the end" t.vmdk

desc() { printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="%s"\n%b' "$1" "$2" >t.vmdk; }
desc monolithicFlat 'RW 2048 FOO "flat.bin" 0\n' && bad "unknown extent type" t.vmdk
desc monolithicFlat 'RW 0 FLAT "flat.bin" 0\n' && bad "extent of 0 sectors" t.vmdk
desc monolithicFlat 'RW -5 FLAT "flat.bin" 0\n' && bad "negative extent size" t.vmdk
desc monolithicFlat 'RW 99999999999999999999 FLAT "flat.bin" 0\n' && bad "extent size overflows" t.vmdk
desc monolithicFlat 'RW 2048 FLAT "flat.bin 0\n' && bad "unterminated file name" t.vmdk
desc monolithicFlat 'RW 2048 FLAT "flat.bin" 0 junk\n' && bad "junk after an extent" t.vmdk
desc monolithicFlat 'RW 2048 FLAT "flat.bin" 6000\n' && bad "FLAT extent beyond its file" t.vmdk
desc monolithicFlat 'RW 2048 FLAT "missing.bin" 0\n' && bad "missing extent file" t.vmdk
desc monolithicFlat "RW 2048 FLAT \"$T/flat.bin\" 0\n" && bad "absolute extent file name" t.vmdk
desc monolithicFlat 'RW 2048 FLAT "../x/flat.bin" 0\n' && bad "extent file name with .." t.vmdk
desc monolithicFlat 'NOACCESS 2048 FLAT "flat.bin" 0\n' && bad "NOACCESS extent" t.vmdk
desc monolithicFlat 'RW 2048 VMFSSPARSE "flat.bin"\n' && bad "VMFSSPARSE extent (unsupported)" t.vmdk
desc monolithicFlat 'RW 2048 ZERO "flat.bin"\n' && bad "ZERO extent naming a file" t.vmdk
desc monolithicFlat 'RW 2048 SPARSE "flat.bin"\n' && bad "SPARSE extent that is not sparse" t.vmdk
desc twoGbMaxExtentSparse 'RW 999999 SPARSE "part.vmdk"\n' && bad "SPARSE extent larger than its file's capacity" t.vmdk
desc monolithicFlat 'RW 9007199254740991 ZERO\nRW 9007199254740991 ZERO\nRW 9007199254740991 ZERO\n' &&
	bad "extents add up past the limit" t.vmdk
desc monolithicFlat 'this is not a descriptor line\n' && bad "junk line" t.vmdk
desc monolithicFlat 'CID=12345678\nRW 2048 ZERO\n' && bad "CID given twice" t.vmdk
desc monolithicFlat '' && bad "descriptor without extents" t.vmdk
mkfifo fifo.bin
desc monolithicFlat 'RW 1 FLAT "fifo.bin" 0\n' && bad "extent file is a FIFO" t.vmdk
desc monolithicFlat "$(for i in $(seq 1100); do printf 'RW 1 ZERO\\n'; done)" && bad "more than 1024 extents" t.vmdk
desc monolithicFlat "RW 1 ZERO\n" && head -c 70000 /dev/zero | tr "\0" "#" >>t.vmdk && bad "descriptor over 64 KiB" t.vmdk
printf 'version=1\nRW 1 ZERO\n' >t.vmdk && bad "text without createType" t.vmdk
head -c 4096 /dev/urandom >t.vmdk && bad "random bytes" t.vmdk

tap_done
