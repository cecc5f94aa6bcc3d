#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-qcow2.sh - checks vdisk's qcow2 reader (and the deflate and zstd
# codecs behind it) against qemu-img: versions 2 and 3, cluster sizes from
# 512 B to 2 MiB, compressed clusters, zero clusters, extended L2 entries,
# backing chains; then hostile images, which must be refused with a message.
#
#   test-qcow2.sh READER [INFO]
#
# `READER qcow2 IMAGE OUT` must write the guest bytes of IMAGE to OUT (raw);
# `INFO qcow2 IMAGE` (optional) prints key=value lines. Output is TAP.
# SHOW_ERRORS=1 prints each refused image's message as a TAP comment.

set -u
[ $# -ge 1 ] || {
	echo "usage: test-qcow2.sh READER [INFO]" >&2
	exit 2
}
# Either may be a command with arguments ("fmtread -i").
read -ra READ <<<"$1"
read -ra INFO <<<"${2:-}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

. "$(dirname "$0")/../../tests/lib/tap.sh"
q() { # quiet qemu-io: qemu-io FMT IMG CMD...
	local fmt=$1 img=$2
	shift 2
	local args=() c
	for c in "$@"; do args+=(-c "$c"); done
	qemu-io -f "$fmt" "${args[@]}" "$img" >/dev/null || echo "qemu-io failed on $img: $*" >&2
}
qjson() { # value of "key" in qemu-img info --output=json (first occurrence)
	qemu-img info --output=json "$1" |
		sed -n "s/^ *\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -1
}

# ---- byte-level patching ----------------------------------------------------
rd64() { # FILE OFFSET -> value (decimal, two's complement)
	echo $((0x$(od -An -tx1 -j "$2" -N8 "$1" | tr -d ' \n')))
}
wrhex() { # FILE OFFSET HEXBYTES
	local hex=$3 esc=
	while [ -n "$hex" ]; do
		esc+="\\x${hex:0:2}"
		hex=${hex:2}
	done
	printf '%b' "$esc" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
wr64() { wrhex "$1" "$2" "$(printf '%016x' "$3")"; }
wr32() { wrhex "$1" "$2" "$(printf '%08x' "$3")"; }
wr8() { wrhex "$1" "$2" "$(printf '%02x' "$3")"; }
# File offset of the L2 entry for guest offset GOFF (CLUSTER_BITS, ENTRY bytes).
l2ent() { # IMG GOFF CLUSTER_BITS ENTRY
	local cb=$3 es=$4
	local l2bits=$((cb - (es == 16 ? 4 : 3)))
	local c=$(($2 >> cb)) l1
	l1=$(rd64 "$1" 40)
	local l1e
	l1e=$(rd64 "$1" $((l1 + (c >> l2bits) * 8)))
	echo $(((l1e & 0x00fffffffffffe00) + (c & ((1 << l2bits) - 1)) * es))
}

# ---- checks -------------------------------------------------------------------

# The reader's bytes equal qemu-img's, and the sizes agree with qemu-img info.
good() { # NAME IMG
	local name=$1 img=$2
	rm -f out.raw ref.raw
	if ! timeout 20 "${READ[@]}" qcow2 "$img" out.raw 2>err.txt; then
		fail "$name" "reader failed: $(cat err.txt)"
		return
	fi
	if sanitized err.txt; then
		fail "$name" "sanitizer: $(cat err.txt)"
		return
	fi
	qemu-img convert -O raw "$img" ref.raw
	local vsize
	vsize=$(qjson "$img" virtual-size)
	if ! cmp -s out.raw ref.raw; then
		fail "$name" "output differs from qemu-img convert: $(cmp out.raw ref.raw 2>&1)"
	elif [ "$(stat -c %s out.raw)" != "$vsize" ]; then
		fail "$name" "output is $(stat -c %s out.raw) bytes, virtual size $vsize"
	elif [ ${#INFO[@]} -gt 0 ] &&
		! "${INFO[@]}" qcow2 "$img" | grep -qx "virtual-size=$vsize"; then
		fail "$name" "info virtual-size is not $vsize"
	else
		pass "$name"
	fi
}

# The info command shows what qemu-img info shows, plus KEY=VALUE lines given.
info() { # NAME IMG [KEY=VALUE...]
	local name=$1 img=$2
	shift 2
	if [ ${#INFO[@]} -eq 0 ]; then
		skip "$name" "no info command"
		return
	fi
	if ! timeout 20 "${INFO[@]}" qcow2 "$img" >info.txt 2>err.txt || sanitized err.txt; then
		fail "$name" "info failed: $(cat err.txt)"
		return
	fi
	local want=("$@") k v
	want+=("cluster-size=$(qjson "$img" cluster-size)")
	want+=("backing-filename=$(qjson "$img" backing-filename)")
	want+=("backing-format=$(qjson "$img" backing-filename-format)")
	for k in compat compression-type lazy-refcounts refcount-bits corrupt extended-l2; do
		v=$(qjson "$img" "$k")
		[ -n "$v" ] && want+=("$k=$v")
	done
	for kv in "${want[@]}"; do
		if ! grep -qxF -- "$kv" info.txt; then
			fail "$name" "missing $kv in: $(tr '\n' ' ' <info.txt)"
			return
		fi
	done
	pass "$name"
}

# The reader refuses the image: exit status 1, a message matching PATTERN.
# bad_read: the image opens and a read fails. fmtread does not close the
# image when a read fails, so LeakSanitizer would report the harness's own
# leak there: leak checking is off for those cases only.
bad() { # NAME IMG PATTERN
	run_bad "$@" ""
}
bad_read() { # NAME IMG PATTERN
	run_bad "$@" "detect_leaks=0"
}
run_bad() { # NAME IMG PATTERN ASAN_OPTIONS_EXTRA
	local name=$1 img=$2 pattern=$3 extra=$4 rc
	ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}$extra" \
		timeout 20 "${READ[@]}" qcow2 "$img" out.raw 2>err.txt >/dev/null
	rc=$?
	[ -n "${SHOW_ERRORS:-}" ] && echo "# $(head -1 err.txt)"
	if sanitized err.txt; then
		fail "$name" "sanitizer: $(cat err.txt)"
	elif [ $rc -ne 1 ]; then
		fail "$name" "exit status $rc (want 1): $(cat err.txt)"
	elif ! grep -qiE -- "$pattern" err.txt; then
		fail "$name" "message does not match /$pattern/: $(cat err.txt)"
	else
		pass "$name"
	fi
}

# ---- test data ------------------------------------------------------------------

# Scattered guest writes: allocated, unallocated and zero ranges, some not
# cluster aligned, one at the very end of the disk.
scatter() { # IMG SIZE
	q qcow2 "$1" 'write -P 0x5a 0 4k' 'write -P 0xa5 1M 64k' 'write -P 0x11 3000000 777' \
		'write -P 0x22 5M 3M' 'write -z 6M 512k' 'write -z 9M 64k' \
		"write -P 0x33 $(($2 - 1536)) 1536"
}

# A raw image with compressible patterns, random (incompressible) data and holes.
mkraw() { # FILE SIZE
	truncate -s "$2" "$1"
	q raw "$1" 'write -P 0x41 0 1M' 'write -P 0x42 3M 100k' 'write -P 0x43 9000000 5000' \
		"write -P 0x44 $(($2 - 4096)) 4096"
	head -c 700000 /dev/urandom | dd of="$1" bs=4096 seek=1500 conv=notrunc status=none
	head -c 3000 /dev/urandom | dd of="$1" bs=1 seek=12345678 conv=notrunc status=none
	printf 'text between runs of zeros' | dd of="$1" bs=1 seek=2100000 conv=notrunc status=none
}

# ---- version 2 and 3, every cluster size ------------------------------------

qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 20M
scatter v2.qcow2 $((20 << 20))
good "v2, 64k clusters" v2.qcow2
info "v2 info" v2.qcow2 compat=0.10 compression=

for cs in 512 4k 64k 2M; do
	size=$(((33 << 20) + 7 * 512)) # not a multiple of the cluster size
	qemu-img create -q -f qcow2 -o compat=1.1,cluster_size=$cs v3-$cs.qcow2 $size
	scatter v3-$cs.qcow2 $size
	good "v3, $cs clusters, zero clusters, odd size" v3-$cs.qcow2
done
info "v3 info" v3-64k.qcow2 compat=1.1 compression=zlib

qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=512 v2-512.qcow2 10M
scatter v2-512.qcow2 $((10 << 20))
good "v2, 512 B clusters" v2-512.qcow2

# Fully allocated with 512 B clusters: 1280 L2 tables, more than the reader caches.
truncate -s 40M full.raw
q raw full.raw 'write -P 0x61 0 40M' 'write -P 0x62 12345 100000'
qemu-img convert -O qcow2 -o cluster_size=512 full.raw full.qcow2
good "512 B clusters, every one allocated" full.qcow2
rm -f full.raw

qemu-img create -q -f qcow2 -o lazy_refcounts=on,refcount_bits=1 lazy.qcow2 12M
scatter lazy.qcow2 $((12 << 20))
good "lazy refcounts, 1-bit refcounts" lazy.qcow2
info "lazy refcounts info" lazy.qcow2 lazy-refcounts=true refcount-bits=1

# Zero clusters turned into data again by a downgrade to version 2.
qemu-img amend -f qcow2 -o compat=0.10 v3-64k.qcow2 2>/dev/null
good "v3 amended to v2" v3-64k.qcow2

for p in metadata falloc; do
	qemu-img create -q -f qcow2 -o preallocation=$p pre-$p.qcow2 8M
	q qcow2 pre-$p.qcow2 'write -P 0x66 1M 100k'
	good "preallocation=$p" pre-$p.qcow2
done

qemu-img create -q -f qcow2 empty.qcow2 0
good "virtual size 0" empty.qcow2

qemu-img create -q -f qcow2 snap.qcow2 8M
q qcow2 snap.qcow2 'write -P 0x01 0 2M'
qemu-img snapshot -c one snap.qcow2
q qcow2 snap.qcow2 'write -P 0x02 1M 64k' 'write -z 1536k 64k'
good "internal snapshot: the active layer" snap.qcow2

# Holes stay holes: 1 GiB of which 128 KiB is written.
qemu-img create -q -f qcow2 big.qcow2 1G
q qcow2 big.qcow2 'write -P 0x77 100M 64k' 'write -P 0x78 1000M 64k'
good "1 GiB sparse image" big.qcow2
if [ -f out.raw ] && [ "$(du -k out.raw | cut -f1)" -le 4096 ]; then
	pass "status leaves holes in the output"
else
	fail "status leaves holes in the output" "output: $(du -k out.raw 2>&1)"
fi

# Dirty images (bit 0) are read as they are, as qemu does.
cp v3-4k.qcow2 dirty.qcow2
wr8 dirty.qcow2 79 1
good "dirty bit set" dirty.qcow2

# ---- compressed clusters ----------------------------------------------------

mkraw src.raw $((24 << 20))
for v in "zlib 0.10 64k" "zlib 1.1 512" "zlib 1.1 4k" "zlib 1.1 2M" "zstd 1.1 512" \
	"zstd 1.1 64k" "zstd 1.1 2M"; do
	read -r codec compat cs <<<"$v"
	img=c-$codec-$compat-$cs.qcow2
	if [ "$codec" = zstd ]; then
		opt=compression_type=zstd
	else
		opt=compat=$compat
	fi
	qemu-img convert -c -O qcow2 -o "$opt,cluster_size=$cs" src.raw "$img"
	good "compressed $codec, compat $compat, $cs clusters" "$img"
done
info "zstd info" c-zstd-1.1-64k.qcow2 compression=zstd compression-type=zstd
info "compressed v2 info" c-zlib-0.10-64k.qcow2 compression= compression-type=zlib

# A compressed image with writes on top: compressed, plain and zero clusters.
cp c-zstd-1.1-64k.qcow2 mixed.qcow2
q qcow2 mixed.qcow2 'write -P 0x55 96k 8k' 'write -z 3M 64k'
good "compressed image rewritten in places" mixed.qcow2

# ---- extended L2 entries (subclusters) --------------------------------------

qemu-img create -q -f qcow2 -o cluster_size=64k xbase.qcow2 8M
q qcow2 xbase.qcow2 'write -P 0x77 0 8M'
for cs in 64k 2M; do
	qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=$cs -b xbase.qcow2 -F qcow2 \
		xl2-$cs.qcow2 12M
	q qcow2 xl2-$cs.qcow2 'write -P 0x31 6k 2k' 'write -z 20k 4k' 'write -P 0x32 100k 1k' \
		'write -P 0x33 2M 70k' 'write -z 4M 200k' 'write -P 0x34 9M 5k'
	good "extended L2, $cs clusters, over a backing file" xl2-$cs.qcow2
done
info "extended L2 info" xl2-64k.qcow2 extended-l2=true backing-format=qcow2
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=32k xl2-plain.qcow2 12M
scatter xl2-plain.qcow2 $((12 << 20))
good "extended L2, no backing file" xl2-plain.qcow2

# ---- backing files ----------------------------------------------------------

# Three layers, each with its own cluster size; the top zeroes backed data.
qemu-img create -q -f qcow2 -o compat=0.10 base.qcow2 16M
q qcow2 base.qcow2 'write -P 0xb0 0 16M'
qemu-img create -q -f qcow2 -o cluster_size=4k -b base.qcow2 -F qcow2 mid.qcow2
q qcow2 mid.qcow2 'write -P 0xb1 1M 1M' 'write -P 0xb2 10000 300' 'write -z 4M 8k'
qemu-img create -q -f qcow2 -o cluster_size=2M -b mid.qcow2 -F qcow2 top.qcow2
q qcow2 top.qcow2 'write -P 0xb3 1536k 1M' 'write -z 8M 2M' 'write -P 0xb4 14M 4k'
good "3-image chain" top.qcow2
info "chain info" top.qcow2 backing-filename=mid.qcow2 backing-format=qcow2

# A backing file shorter than its overlay: past its end, zeros.
qemu-img create -q -f qcow2 short.qcow2 3M
q qcow2 short.qcow2 'write -P 0xc1 0 3M'
qemu-img create -q -f qcow2 -b short.qcow2 -F qcow2 long.qcow2 10M
q qcow2 long.qcow2 'write -P 0xc2 2M 2M' 'write -P 0xc3 8M 4k'
good "backing file shorter than the overlay" long.qcow2

# A raw backing file whose size is not a multiple of the cluster size.
head -c $(((3 << 20) + 512)) /dev/urandom >rawbase.img
qemu-img create -q -f qcow2 -b rawbase.img -F raw overraw.qcow2 6M
q qcow2 overraw.qcow2 'write -P 0xd1 1M 4k'
good "raw backing file" overraw.qcow2
info "raw backing info" overraw.qcow2 backing-format=raw

# No backing format extension (its type renamed to an unknown one): probed.
cp top.qcow2 noformat.qcow2
wr32 noformat.qcow2 112 $((0x12345678))
good "backing file without a recorded format" noformat.qcow2

# ---- hostile and unsupported images -------------------------------------------

qemu-img create -q -f qcow2 h.qcow2 64M
q qcow2 h.qcow2 'write -P 0x5a 1M 64k' 'write -P 0x5b 40M 64k'
L1=$(rd64 h.qcow2 40)
E=$(l2ent h.qcow2 $((1 << 20)) 16 8)

mk() { # NAME: a fresh copy of h.qcow2 to patch
	cp h.qcow2 "$1"
}

head -c 50 h.qcow2 >t1.qcow2
bad "truncated inside the header" t1.qcow2 "too small"
head -c $((L1 + 4)) h.qcow2 >t2.qcow2
bad "truncated inside the L1 table" t2.qcow2 "L1 table.*beyond end of file"
head -c $((E + 512)) h.qcow2 >t3.qcow2
bad_read "truncated inside an L2 table" t3.qcow2 "L2 table.*beyond end of file"

mk m.qcow2 && wrhex m.qcow2 0 51464900
bad "bad magic" m.qcow2 "magic"
mk v1.qcow2 && wr32 v1.qcow2 4 1
bad "version 1" v1.qcow2 "version 1"
mk v4.qcow2 && wr32 v4.qcow2 4 4
bad "version 4" v4.qcow2 "version 4"
mk cb8.qcow2 && wr32 cb8.qcow2 20 8
bad "cluster_bits 8" cb8.qcow2 "cluster_bits 8"
mk cb31.qcow2 && wr32 cb31.qcow2 20 31
bad "cluster_bits 31" cb31.qcow2 "cluster_bits 31"
mk cbx.qcow2 && wr32 cbx.qcow2 20 $((0xffffffff))
bad "cluster_bits 0xffffffff" cbx.qcow2 "cluster_bits"

mk l1far.qcow2 && wr64 l1far.qcow2 40 $((0x0fffffffffff0000))
bad "L1 table offset past the end" l1far.qcow2 "L1 table.*beyond end of file"
mk l1wrap.qcow2 && wr64 l1wrap.qcow2 40 $((0xffffffffffff0000))
bad "L1 table offset wrapping around" l1wrap.qcow2 "L1 table.*beyond end of file"
mk l1odd.qcow2 && wr64 l1odd.qcow2 40 $((L1 + 8))
bad "L1 table offset unaligned" l1odd.qcow2 "L1 table offset.*not aligned"
mk l1huge.qcow2 && wr32 l1huge.qcow2 36 $((0xffffffff))
bad "L1 size 0xffffffff" l1huge.qcow2 "L1 table size.*too large"
mk l1small.qcow2 && wr32 l1small.qcow2 36 0
bad "L1 table smaller than the disk" l1small.qcow2 "L1 table too small"
mk vhuge.qcow2 && wr64 vhuge.qcow2 24 $((1 << 62))
bad "virtual size 2^62" vhuge.qcow2 "L1 entries"

mk l2far.qcow2 && wr64 l2far.qcow2 "$L1" $(((1 << 63) | 0x7fff0000))
bad_read "L2 table past the end" l2far.qcow2 "L2 table.*beyond end of file"
mk l2odd.qcow2 && wr64 l2odd.qcow2 "$L1" $(((1 << 63) | 0x40200))
bad_read "L2 table unaligned" l2odd.qcow2 "L2 table.*not aligned"
mk dfar.qcow2 && wr64 dfar.qcow2 "$E" $(((1 << 63) | 0x7fff0000))
bad_read "data cluster past the end" dfar.qcow2 "data cluster.*beyond end of file"
mk dodd.qcow2 && wr64 dodd.qcow2 "$E" $(((1 << 63) | 0x50200))
bad_read "data cluster unaligned" dodd.qcow2 "data cluster.*not aligned"
mk cfar.qcow2 && wr64 cfar.qcow2 "$E" $(((1 << 62) | (3 << 54) | 0x7fff0000))
bad_read "compressed cluster past the end" cfar.qcow2 "compressed cluster.*beyond end of file"

for v in "zlib c-zlib-0.10-64k.qcow2" "zstd c-zstd-1.1-64k.qcow2"; do
	read -r c img <<<"$v"
	cp "$img" "cbad-$c.qcow2"
	e=$(rd64 "cbad-$c.qcow2" "$(l2ent "cbad-$c.qcow2" 0 16 8)")
	coff=$((e & ((1 << 54) - 1)))
	# 0xff: an invalid deflate block type, and not a zstd frame magic
	head -c 200 /dev/zero | tr '\0' '\377' |
		dd of="cbad-$c.qcow2" bs=1 seek=$coff conv=notrunc status=none
	bad_read "corrupt $c data" "cbad-$c.qcow2" "corrupt"
done
# A compressed cluster whose stream is cut by the end of the file.
e=$(rd64 c-zlib-1.1-4k.qcow2 "$(l2ent c-zlib-1.1-4k.qcow2 0 12 8)")
head -c $(((e & ((1 << 58) - 1)) + 10)) c-zlib-1.1-4k.qcow2 >cshort.qcow2
bad_read "compressed stream cut short" cshort.qcow2 "\(10 bytes\): corrupt deflate"

mk corrupt.qcow2 && wr8 corrupt.qcow2 79 2
bad "corrupt bit" corrupt.qcow2 "corrupt"
mk bit5.qcow2 && wr8 bit5.qcow2 79 32
bad "unknown incompatible bit 5" bit5.qcow2 "incompatible feature bits: 5"
# The same, named by the image's feature name table (its first entry renamed).
mk bit5n.qcow2 && wr8 bit5n.qcow2 79 32 && wr8 bit5n.qcow2 121 5
printf 'frobnication\0\0\0' | dd of=bit5n.qcow2 bs=1 seek=122 conv=notrunc status=none
bad "unknown incompatible bit 5, named by the image" bit5n.qcow2 "5 \(frobnication\)"
mk bit63.qcow2 && wr8 bit63.qcow2 72 128
bad "unknown incompatible bit 63" bit63.qcow2 "incompatible feature bits: 63"
mk extl2small.qcow2 && wr8 extl2small.qcow2 79 16 && wr32 extl2small.qcow2 20 12
bad "extended L2 with 4k clusters" extl2small.qcow2 "extended L2|cluster"
mk ctype.qcow2 && wr8 ctype.qcow2 104 1
bad "compression_type without its feature bit" ctype.qcow2 "compression_type"
mk ctype7.qcow2 && wr8 ctype7.qcow2 104 7 && wr8 ctype7.qcow2 79 8
bad "unknown compression_type 7" ctype7.qcow2 "compression_type 7"
mk aes.qcow2 && wr32 aes.qcow2 32 1
bad "AES encryption" aes.qcow2 "encrypt.*AES"
qemu-img create -q -f qcow2 --object secret,id=s0,data=pw \
	-o encrypt.format=luks,encrypt.key-secret=s0 luks.qcow2 1M
bad "LUKS encryption" luks.qcow2 "encrypt.*LUKS"
qemu-img create -q -f qcow2 -o data_file=ext.raw datafile.qcow2 1M
bad "external data file" datafile.qcow2 "external data file"
mk hlen.qcow2 && wr32 hlen.qcow2 100 $((0x71))
bad "header_length not a multiple of 8" hlen.qcow2 "header_length"
mk hlen2.qcow2 && wr32 hlen2.qcow2 100 $((0xffff0000))
bad "header_length past the first cluster" hlen2.qcow2 "header_length"
mk rc7.qcow2 && wr32 rc7.qcow2 96 7
bad "refcount_order 7" rc7.qcow2 "refcount_order"
mk ext.qcow2 && wr32 ext.qcow2 116 $((0xfffffff0))
bad "header extension longer than the header cluster" ext.qcow2 "header extension"

cp top.qcow2 bflen.qcow2 && wr32 bflen.qcow2 16 5000
bad "backing file name 5000 bytes" bflen.qcow2 "backing file name length"
cp top.qcow2 bfoff.qcow2 && wr64 bfoff.qcow2 8 $(((2 << 20) - 4))
bad "backing file name outside the header cluster" bfoff.qcow2 "outside the header"
cp top.qcow2 bffmt.qcow2 && wr32 bffmt.qcow2 116 40
bad "backing format name 40 bytes" bffmt.qcow2 "backing format name"
qemu-img create -q -f qcow2 -b gone.qcow2 -F qcow2 -u orphan.qcow2 1M
bad "missing backing file" orphan.qcow2 "gone.qcow2"
qemu-img create -q -f qcow2 self.qcow2 1M
qemu-img rebase -u -b self.qcow2 -F qcow2 self.qcow2
bad "image backed by itself" self.qcow2 "chain|loop|depth"
qemu-img create -q -f qcow2 cyc-a.qcow2 1M
qemu-img create -q -f qcow2 -b cyc-a.qcow2 -F qcow2 cyc-b.qcow2
qemu-img rebase -u -b cyc-b.qcow2 -F qcow2 cyc-a.qcow2
bad "cyclic chain of two images" cyc-a.qcow2 "chain|loop|depth"

# Extended L2: a subcluster both allocated and zero, and allocation without a cluster.
cp xl2-plain.qcow2 xboth.qcow2
xe=$(l2ent xboth.qcow2 $((1 << 20)) 15 16)
wr64 xboth.qcow2 $((xe + 8)) $((0x0000000100000001))
bad_read "subcluster both allocated and zero" xboth.qcow2 "both allocated and zero"
cp xl2-plain.qcow2 xnohost.qcow2
xe=$(l2ent xnohost.qcow2 $((2 << 20)) 15 16)
wr64 xnohost.qcow2 "$xe" 0
wr64 xnohost.qcow2 $((xe + 8)) 1
bad_read "allocated subcluster without a host cluster" xnohost.qcow2 "no host offset"

tap_done
