#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-fallback.sh - a built tree copied elsewhere, whose module index is
# then truncated, bit-flipped in its records, or deleted, still reads images
# correctly, through lazymod's fallback to the modules' notes, and says once
# that it fell back. Needs VDISK (the built vdisk), qemu-img and python3.
# Prints TAP.

set -u
if [ -z "${VDISK:-}" ]; then
	echo "test-fallback.sh: set VDISK to the vdisk executable" >&2
	exit 2
fi
case $VDISK in /*) ;; *) VDISK=$PWD/$VDISK ;; esac
tree=$(cd "$(dirname "$VDISK")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../../tests/lib/tap.sh"

# Images: an uncompressed and a zstd-compressed qcow2 (so that a codec module
# loads too), and a vmdk; the expected bytes come from qemu-img.
head -c 3M /dev/urandom > "$T/data.raw"
truncate -s 16M "$T/data.raw"
qemu-img convert -q -f raw -O qcow2 "$T/data.raw" "$T/plain.qcow2"
qemu-img convert -q -c -f raw -O qcow2 -o compression_type=zstd "$T/data.raw" "$T/zstd.qcow2"
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "$T/data.raw" "$T/disk.vmdk"

# damage NAME: copies the built tree and damages its vdisk index.
damage() {
	rm -rf "$T/copy"
	mkdir "$T/copy"
	cp -a "$tree/bin" "$tree/lib" "$T/copy/"
	local ix=$T/copy/lib/vdisk/lazymod.index
	case $1 in
	truncated) truncate -s 77 "$ix" ;;
	bit-flipped)
		# One bit in every feature record: past the header, so only the
		# per-record checks can tell. In modes builtin and eager the
		# index lists no module: flip a bit of its header instead.
		python3 - "$ix" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
nfeats, feats_off = struct.unpack_from("<II", b, 40)
for i in range(nfeats):
    b[feats_off + 20 * i + 4] ^= 0x20
if nfeats == 0:
    b[40] ^= 1
open(p, "wb").write(b)
PY
		;;
	deleted) rm "$ix" ;;
	esac
}

for how in truncated bit-flipped deleted; do
	damage "$how"
	for img in plain.qcow2 zstd.qcow2 disk.vmdk; do
		rm -f "$T/out.raw"
		if ! "$T/copy/bin/vdisk" convert -O raw "$T/$img" "$T/out.raw" 2>"$T/err"; then
			fail "index $how: convert $img" "$T/err"
		elif ! cmp -s "$T/out.raw" "$T/data.raw"; then
			fail "index $how: $img reads the same bytes as qemu-img wrote"
		else
			pass "index $how: $img reads correctly through the fallback"
		fi
		warnings=$(grep -c "^vdisk: warning:" "$T/err")
		if [ "$warnings" -eq 1 ] && grep -q "reading the module notes" "$T/err"; then
			pass "index $how: $img: one warning says it fell back"
		else
			fail "index $how: $img: one warning says it fell back ($warnings warnings)" "$T/err"
		fi
	done
done

tap_done
