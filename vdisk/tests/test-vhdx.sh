#!/bin/bash
# SPDX-License-Identifier: MIT
# test-vhdx.sh - tests of the vhdx format driver against qemu-img.
#
#   test-vhdx.sh READER [INFO]
#
# READER FORMAT IMAGE OUTPUT writes the guest bytes of IMAGE to OUTPUT (raw);
# INFO FORMAT IMAGE, when given, prints key=value lines (virtual-size=...).
# Images are made with qemu-img / qemu-io and patched with perl (which also
# recomputes the CRC-32C of patched headers and region tables); every
# readable variant must equal `qemu-img convert -O raw`, every hostile one
# must be refused (exit 1, a message, no sanitizer report, no hang).
# Prints TAP.
set -u
if [ $# -lt 1 ]; then
	echo "usage: $0 READER [INFO]" >&2
	exit 2
fi
read -ra READ <<<"$1"
INFO=()
[ $# -ge 2 ] && read -ra INFO <<<"$2"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../../tests/lib/tap.sh"

# Byte surgery on images: peek/poke packed values, fix CRC-32C checksums
# (the checksum is the 4 bytes at offset 4 of the structure).
PL='
no warnings "portable";
my ($cmd, $f, $o, @a) = @ARGV;
open(my $fh, $cmd eq "peek" ? "<:raw" : "+<:raw", $f) or die "$f: $!";
$o = eval $o; die "bad offset" unless defined $o;
@a = map { /^0x/i ? hex($_) : $_ } @a;
sub rd { my ($p, $n) = @_; seek($fh, $p, 0); read($fh, my $b, $n) == $n or die "short read"; $b }
sub wr { my ($p, $b) = @_; seek($fh, $p, 0); print $fh $b or die "write: $!" }
if ($cmd eq "peek") { my ($fmt, $n) = @a; print join(" ", unpack($fmt, rd($o, $n))), "\n" }
elsif ($cmd eq "poke") { my ($fmt, @v) = @a; wr($o, pack($fmt, @v)) }
elsif ($cmd eq "crc") {
	my ($len) = @a; my $b = rd($o, $len); substr($b, 4, 4) = "\0" x 4;
	my @t;
	for my $i (0 .. 255) {
		my $c = $i; $c = $c & 1 ? ($c >> 1) ^ 0x82F63B78 : $c >> 1 for 1 .. 8; $t[$i] = $c;
	}
	my $c = 0xffffffff; $c = $t[($c ^ $_) & 0xff] ^ ($c >> 8) for unpack("C*", $b);
	wr($o + 4, pack("V", $c ^ 0xffffffff));
} else { die "unknown command $cmd" }
'
peek() { perl -e "$PL" peek "$@"; }
poke() { perl -e "$PL" poke "$@"; }
H1=$((64 << 10))
H2=$((128 << 10))
R1=$((192 << 10))
R2=$((256 << 10))
# hdr IMAGE WHICH OFFSET FORMAT VALUE: sets a field of header WHICH (H1/H2 offset), fixes its CRC.
hdr() {
	poke "$1" $(($2 + $3)) "$4" "$5"
	perl -e "$PL" crc "$1" "$2" 4096
}
# region IMAGE OFFSET FORMAT VALUE: sets a field of both region tables, fixes their CRCs.
region() {
	for r in $R1 $R2; do
		poke "$1" $((r + $2)) "$3" "$4"
		perl -e "$PL" crc "$1" $r 65536
	done
}

qsize() {
	qemu-img info -f vhdx --output=json "$1" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p'
}

# same NAME IMAGE [REF]: the reader's bytes and size equal qemu's (or REF's).
# Large sparse images are compared with qemu-img compare, which skips holes
# (cmp would read gigabytes of zeros).
same() {
	local name=$1 img=$2 ref=${3:-} want
	rm -f "$T/out" "$T/ref"
	: >"$T/err"
	if [ -z "$ref" ]; then
		ref=$T/ref
		if ! qemu-img convert -f vhdx -O raw "$img" "$ref" 2>"$T/err"; then
			fail "$name: qemu-img convert failed" "$T/err"
			return
		fi
		want=$(qsize "$img")
	else
		want=$(stat -c %s "$ref")
		local q
		q=$(qsize "$img" 2>/dev/null)
		if [ -n "$q" ] && [ "$q" != "$want" ]; then
			fail "$name: qemu says virtual size $q, expected $want" "$T/err"
			return
		fi
	fi
	local compare=(cmp -s "$T/out" "$ref")
	[ "$want" -gt $((512 << 20)) ] &&
		compare=(qemu-img compare -q -f raw -F raw "$T/out" "$ref")
	if ! timeout 20 "${READ[@]}" vhdx "$img" "$T/out" 2>"$T/err" || sanitized "$T/err"; then
		fail "$name: reader failed" "$T/err"
	elif [ "$(stat -c %s "$T/out")" != "$want" ]; then
		fail "$name: size $(stat -c %s "$T/out"), qemu says $want" "$T/err"
	elif ! "${compare[@]}"; then
		fail "$name: bytes differ from qemu-img convert" "$T/err"
	elif [ ${#INFO[@]} -gt 0 ] &&
		! timeout 20 "${INFO[@]}" vhdx "$img" 2>"$T/err" |
		grep -qx "virtual-size=$want"; then
		fail "$name: info does not say virtual-size=$want" "$T/err"
	else
		pass "$name"
	fi
}

# refused NAME IMAGE PATTERN: the reader exits 1 with a message matching PATTERN.
refused() {
	local name=$1 img=$2 pat=$3 rc
	timeout 20 "${READ[@]}" vhdx "$img" "$T/out" >/dev/null 2>"$T/err"
	rc=$?
	if [ $rc -ne 1 ] || sanitized "$T/err"; then
		fail "$name: exit $rc" "$T/err"
	elif ! grep -qiE -- "$pat" "$T/err"; then
		fail "$name: message does not match /$pat/" "$T/err"
	else
		pass "$name"
		sed 's/^/# /' "$T/err" | head -1
	fi
}

# mkimg IMAGE SIZE OPTIONS: data, zeros and holes at scattered offsets.
mkimg() {
	local img=$1 size=$2 opts=$3
	rm -f "$img"
	qemu-img create -q -f vhdx -o "$opts" "$img" "$size"
	local end=$(($(qsize "$img") - 4096))
	qemu-io -f vhdx -c 'write -P 0x5a 1M 64k' -c 'write -P 0xa5 3M 2M' -c 'write -z 3584k 8k' \
		-c 'write -P 0x11 4095k 2k' -c "write -P 0x77 $end 4k" "$img" >/dev/null
}

# --- images as qemu-img makes them ---
for opts in subformat=dynamic,block_size=1M subformat=fixed,block_size=1M \
	subformat=fixed,block_size=1M,block_state_zero=off subformat=dynamic \
	subformat=dynamic,block_size=1M,log_size=4M subformat=dynamic,block_size=8M; do
	for size in 10M 37M; do
		mkimg "$T/a.vhdx" $size $opts
		same "$opts $size" "$T/a.vhdx"
	done
done
# Past 4 GiB a sector bitmap entry sits between the payload entries of two chunks.
for bs in 1M 32M; do
	rm -f "$T/b.vhdx"
	qemu-img create -q -f vhdx -o block_size=$bs "$T/b.vhdx" 4200M
	qemu-io -f vhdx -c 'write -P 0x5a 4095M 2M' -c 'write -P 0x66 4100M 1M' \
		-c 'write -P 0x12 0 4k' -c 'write -P 0x34 4199M 1M' "$T/b.vhdx" >/dev/null
	same "dynamic 4200M block_size=$bs across a chunk boundary" "$T/b.vhdx"
done
# qemu-img reads every byte of a vhdx (it has no block status for it): for a
# 200G image the expected bytes are built by hand instead, from the patterns
# qemu-io wrote.
rm -f "$T/b.vhdx" "$T/want.raw"
qemu-img create -q -f vhdx "$T/b.vhdx" 200G
qemu-io -f vhdx -c 'write -P 0x5a 100G 1M' -c 'write -P 0x12 0 4k' "$T/b.vhdx" >/dev/null
truncate -s 200G "$T/want.raw"
head -c 1M /dev/zero | tr '\0' '\132' |
	dd of="$T/want.raw" bs=1M seek=102400 conv=notrunc status=none
head -c 4k /dev/zero | tr '\0' '\022' | dd of="$T/want.raw" conv=notrunc status=none
same "dynamic 200G, default block size (32M)" "$T/b.vhdx" "$T/want.raw"
if [ ${#INFO[@]} -gt 0 ]; then
	out=$("${INFO[@]}" vhdx "$T/b.vhdx" 2>&1)
	if grep -qx subformat=dynamic <<<"$out" && grep -qx cluster-size=33554432 <<<"$out" &&
		grep -qx logical-sector-size=512 <<<"$out"; then
		pass "info of a dynamic image"
	else
		fail "info of a dynamic image" "$T/err"
	fi
	mkimg "$T/a.vhdx" 10M subformat=fixed,block_size=1M
	out=$("${INFO[@]}" vhdx "$T/a.vhdx" 2>&1)
	if grep -qx subformat=fixed <<<"$out" && grep -qx cluster-size=1048576 <<<"$out"; then
		pass "info of a fixed image"
	else
		fail "info of a fixed image" "$T/err"
	fi
fi

# --- qemu-img convert -O vhdx from a patterned raw file ---
truncate -s 40M "$T/src.raw"
i=0
for off in 0 5 17 18 100 2047 2048 4000 9000 20479 40959 81919; do
	yes "vhdx-$off-$i " | head -c $((4096 + i * 1000)) |
		dd of="$T/src.raw" bs=512 seek=$off conv=notrunc status=none
	i=$((i + 1))
done
dd if=/dev/zero of="$T/src.raw" bs=512 seek=30000 count=4096 conv=notrunc status=none
for opts in subformat=dynamic subformat=fixed subformat=dynamic,block_size=1M; do
	rm -f "$T/c.vhdx"
	qemu-img convert -f raw -O vhdx -o $opts "$T/src.raw" "$T/c.vhdx"
	same "convert -O vhdx -o $opts" "$T/c.vhdx"
done

# --- payload block states, headers and region tables ---
mkimg "$T/d.vhdx" 10M subformat=dynamic,block_size=1M
qemu-img convert -f vhdx -O raw "$T/d.vhdx" "$T/good.raw"
BAT=$(peek "$T/d.vhdx" $((R1 + 32)) 'Q<' 8)
META=$(peek "$T/d.vhdx" $((R1 + 64)) 'Q<' 8)
# meta_item I: file offset of the value of metadata item I (qemu's order:
# file parameters, disk size, disk id, logical, physical sector size).
meta_item() { echo $((META + $(peek "$T/d.vhdx" $((META + 32 + 32 * $1 + 16)) V 4))); }
FP=$(meta_item 0)
DS=$(meta_item 1)
LS=$(meta_item 3)
cur=$H1 old=$H2
[ "$(peek "$T/d.vhdx" $((H2 + 8)) 'Q<' 8)" -gt "$(peek "$T/d.vhdx" $((H1 + 8)) 'Q<' 8)" ] &&
	cur=$H2 old=$H1

cp "$T/d.vhdx" "$T/a.vhdx"
cp "$T/good.raw" "$T/want.raw"
# blocks 1, 3, 4: UNDEFINED, UNMAPPED, NOT_PRESENT read as zeros (block 3 held data)
poke "$T/a.vhdx" $((BAT + 8)) 'Q<' 1
poke "$T/a.vhdx" $((BAT + 24)) 'Q<' 3
poke "$T/a.vhdx" $((BAT + 32)) 'Q<' 0
dd if=/dev/zero of="$T/want.raw" bs=1M seek=1 count=1 conv=notrunc status=none
dd if=/dev/zero of="$T/want.raw" bs=1M seek=3 count=2 conv=notrunc status=none
same "UNDEFINED, UNMAPPED and NOT_PRESENT blocks read as zeros" "$T/a.vhdx" "$T/want.raw"
cp "$T/d.vhdx" "$T/a.vhdx"
perl -e "$PL" poke "$T/a.vhdx" $H1 C 0xee
same "corrupt header 1: header 2 serves" "$T/a.vhdx" "$T/good.raw"
cp "$T/d.vhdx" "$T/a.vhdx"
poke "$T/a.vhdx" $((H2 + 200)) C 0xee
same "corrupt header 2: header 1 serves" "$T/a.vhdx" "$T/good.raw"
cp "$T/d.vhdx" "$T/a.vhdx"
poke "$T/a.vhdx" $((R1 + 100)) C 0xee
same "corrupt region table 1: table 2 serves" "$T/a.vhdx" "$T/good.raw"
cp "$T/d.vhdx" "$T/a.vhdx"
hdr "$T/a.vhdx" $old 48 a16 'stale-log-guid!!'
same "log GUID in the older header is ignored" "$T/a.vhdx" "$T/good.raw"

# --- hostile images ---
cp "$T/d.vhdx" "$T/h.vhdx"
hdr "$T/h.vhdx" $H1 48 a16 'not-replayed-log'
hdr "$T/h.vhdx" $H2 48 a16 'not-replayed-log'
refused "log GUID set: the log needs replaying" "$T/h.vhdx" "log needs replaying"
cp "$T/d.vhdx" "$T/h.vhdx"
hdr "$T/h.vhdx" $cur 48 a16 'not-replayed-log'
refused "log GUID set in the current header" "$T/h.vhdx" "log needs replaying"
head -c 200K "$T/d.vhdx" >"$T/h.vhdx"
refused "truncated to 200 KiB" "$T/h.vhdx" "too small"
head -c $((BAT + 4096)) "$T/d.vhdx" >"$T/h.vhdx"
refused "truncated inside the BAT region" "$T/h.vhdx" "beyond end of file"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" 0 a8 vhdxfilx
refused "bad file identifier" "$T/h.vhdx" vhdxfile
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((H1 + 300)) C 1
poke "$T/h.vhdx" $((H2 + 300)) C 1
refused "both header checksums bad" "$T/h.vhdx" "no valid header"
cp "$T/d.vhdx" "$T/h.vhdx"
hdr "$T/h.vhdx" $H1 66 v 2
hdr "$T/h.vhdx" $H2 66 v 2
refused "header version 2" "$T/h.vhdx" version
cp "$T/d.vhdx" "$T/h.vhdx"
hdr "$T/h.vhdx" $old 8 'Q<' "$(peek "$T/d.vhdx" $((cur + 8)) 'Q<' 8)"
refused "headers with equal sequence numbers" "$T/h.vhdx" "sequence number"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((R1 + 100)) C 1
poke "$T/h.vhdx" $((R2 + 100)) C 1
refused "both region table checksums bad" "$T/h.vhdx" "no valid region table"
cp "$T/d.vhdx" "$T/h.vhdx"
region "$T/h.vhdx" 8 V 100000
refused "region table entry count 100000" "$T/h.vhdx" "entries"
cp "$T/d.vhdx" "$T/h.vhdx"
region "$T/h.vhdx" 32 'Q<' 0x7ff0000000000000
refused "BAT region past the end" "$T/h.vhdx" "BAT region .* beyond end of file"
cp "$T/d.vhdx" "$T/h.vhdx"
region "$T/h.vhdx" 32 'Q<' 0x12345
refused "BAT region not aligned" "$T/h.vhdx" "aligned"
cp "$T/d.vhdx" "$T/h.vhdx"
region "$T/h.vhdx" 40 V 0xfff00000
refused "BAT region of 4 GiB" "$T/h.vhdx" "BAT region"
cp "$T/d.vhdx" "$T/h.vhdx"
region "$T/h.vhdx" 64 'Q<' "$BAT"
refused "metadata region on the BAT" "$T/h.vhdx" overlaps
cp "$T/d.vhdx" "$T/h.vhdx"
region "$T/h.vhdx" 16 a16 'unknown-region!!'
region "$T/h.vhdx" 44 V 1
refused "unknown required region" "$T/h.vhdx" "unknown required region"
cp "$T/d.vhdx" "$T/h.vhdx"
region "$T/h.vhdx" 48 a16 'unknown-region!!'
region "$T/h.vhdx" 76 V 0
refused "no metadata region" "$T/h.vhdx" "no metadata region"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" "$META" a8 metadatx
refused "bad metadata signature" "$T/h.vhdx" signature
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((META + 10)) v 65535
refused "metadata entry count 65535" "$T/h.vhdx" "entries"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((META + 32 + 16)) V 0xfffffff0
refused "metadata item past its region" "$T/h.vhdx" "outside its region"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((META + 32 + 32 + 20)) V 2
refused "metadata item too short" "$T/h.vhdx" "virtual disk size"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((META + 32 + 32)) a16 'unknown-item....'
poke "$T/h.vhdx" $((META + 32 + 32 + 24)) V 0
refused "missing virtual disk size (item unknown, not required)" "$T/h.vhdx" "missing"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((META + 32 + 64)) a16 'unknown-item....'
poke "$T/h.vhdx" $((META + 32 + 64 + 24)) V 4
refused "unknown required metadata item" "$T/h.vhdx" "unknown required metadata item"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((FP + 4)) V 2
refused "has-parent (differencing image)" "$T/h.vhdx" "differencing"
for bs in 3000000 0 0x20000000 4096; do
	cp "$T/d.vhdx" "$T/h.vhdx"
	poke "$T/h.vhdx" "$FP" V $bs
	refused "block size $bs" "$T/h.vhdx" "block size"
done
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" "$LS" V 1024
refused "logical sector size 1024" "$T/h.vhdx" "logical sector size"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" "$DS" 'Q<' 0x1000000000000000
refused "virtual disk size 2^60" "$T/h.vhdx" "virtual disk size"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" "$DS" 'Q<' 1000
refused "virtual disk size not a sector multiple" "$T/h.vhdx" "virtual disk size"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" "$DS" 'Q<' $((60 << 40))
refused "60 TiB disk with a 1 MiB BAT region" "$T/h.vhdx" "cannot hold"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((BAT + 24)) 'Q<' 0x7ffffff000000006
refused "present block past the end" "$T/h.vhdx" "BAT entry 3"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((BAT + 24)) 'Q<' 6
refused "present block at offset 0" "$T/h.vhdx" "BAT entry 3"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((BAT + 24)) 'Q<' 0x300007
refused "PARTIALLY_PRESENT block without a parent" "$T/h.vhdx" "PARTIALLY_PRESENT"
cp "$T/d.vhdx" "$T/h.vhdx"
poke "$T/h.vhdx" $((BAT + 24)) 'Q<' 4
refused "reserved block state 4" "$T/h.vhdx" "reserved block state"

tap_done
