#!/bin/bash
# SPDX-License-Identifier: MIT
# test-vpc.sh - tests of the vpc (VHD) format driver against qemu-img.
#
#   test-vpc.sh READER [INFO]
#
# READER FORMAT IMAGE OUTPUT writes the guest bytes of IMAGE to OUTPUT (raw);
# INFO FORMAT IMAGE, when given, prints key=value lines (virtual-size=...).
# Images are made with qemu-img / qemu-io and patched with perl; every
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

# Byte surgery on images: peek/poke packed values, fix VHD checksums.
# Offsets are perl expressions in which "end" is the offset of the footer.
PL='
no warnings "portable";
my ($cmd, $f, $o, @a) = @ARGV;
open(my $fh, $cmd eq "peek" ? "<:raw" : "+<:raw", $f) or die "$f: $!";
my $end = (-s $f) - 512;
$o =~ s/end/$end/g; $o = eval $o; die "bad offset" unless defined $o;
@a = map { /^0x/i ? hex($_) : $_ } @a;
sub rd { my ($p, $n) = @_; seek($fh, $p, 0); read($fh, my $b, $n) == $n or die "short read"; $b }
sub wr { my ($p, $b) = @_; seek($fh, $p, 0); print $fh $b or die "write: $!" }
if ($cmd eq "peek") { my ($fmt, $n) = @a; print join(" ", unpack($fmt, rd($o, $n))), "\n" }
elsif ($cmd eq "poke") { my ($fmt, @v) = @a; wr($o, pack($fmt, @v)) }
elsif ($cmd eq "vhdsum") {
	my ($len, $c) = @a; my $b = rd($o, $len); substr($b, $c, 4) = "\0" x 4;
	my $s = 0; $s += $_ for unpack("C*", $b); wr($o + $c, pack("N", ~$s & 0xffffffff));
} else { die "unknown command $cmd" }
'
peek() { perl -e "$PL" peek "$@"; }
poke() { perl -e "$PL" poke "$@"; }
# footer IMAGE WHERE [OFFSET FORMAT VALUE]...: sets fields of the footer at
# WHERE ("end", or 0 for the copy at the start) and fixes its checksum.
footer() {
	local img=$1 where=$2
	shift 2
	while [ $# -gt 0 ]; do
		if [ "$2" = nCC ]; then
			poke "$img" "$where+$1" nCC "$3" "$4" "$5"
			shift 5
		else
			poke "$img" "$where+$1" "$2" "$3"
			shift 3
		fi
	done
	perl -e "$PL" vhdsum "$img" "$where" 512 64
}

qsize() {
	qemu-img info -f vpc --output=json "$1" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p'
}

# same NAME IMAGE: the reader's bytes and size equal qemu's.
same() {
	local name=$1 img=$2 ref=${3:-}
	rm -f "$T/out" "$T/ref"
	: >"$T/err"
	if [ -z "$ref" ]; then
		ref=$T/ref
		if ! qemu-img convert -f vpc -O raw "$img" "$ref" 2>"$T/err"; then
			fail "$name: qemu-img convert failed" "$T/err"
			return
		fi
	fi
	local want
	want=$(stat -c %s "$ref")
	[ "$ref" = "$T/ref" ] && want=$(qsize "$img")
	if ! timeout 20 "${READ[@]}" vpc "$img" "$T/out" 2>"$T/err" || sanitized "$T/err"; then
		fail "$name: reader failed" "$T/err"
	elif [ "$(stat -c %s "$T/out")" != "$want" ]; then
		fail "$name: size $(stat -c %s "$T/out"), qemu says $want" "$T/err"
	elif ! cmp -s "$T/out" "$ref"; then
		fail "$name: bytes differ from qemu-img convert" "$T/err"
	elif [ ${#INFO[@]} -gt 0 ] &&
		! timeout 20 "${INFO[@]}" vpc "$img" 2>"$T/err" |
		grep -qx "virtual-size=$want"; then
		fail "$name: info does not say virtual-size=$want" "$T/err"
	else
		pass "$name"
	fi
}

# refused NAME IMAGE PATTERN: the reader exits 1 with a message matching PATTERN.
refused() {
	local name=$1 img=$2 pat=$3 rc
	timeout 20 "${READ[@]}" vpc "$img" "$T/out" >/dev/null 2>"$T/err"
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

# A dynamic or fixed image with data, zeros and holes at scattered offsets.
mkimg() {
	local img=$1 sub=$2 size=$3
	rm -f "$img"
	qemu-img create -q -f vpc -o subformat="$sub" "$img" "$size"
	local end=$(($(qsize "$img") - 4096))
	qemu-io -f vpc -c 'write -P 0x5a 1M 64k' -c 'write -P 0xa5 3M 2M' -c 'write -z 3584k 8k' \
		-c 'write -P 0x11 4095k 2k' -c "write -P 0x77 $end 4k" "$img" >/dev/null
}

# --- images as qemu-img makes them ---
for sub in fixed dynamic; do
	for size in 10M 33M 100M; do
		mkimg "$T/a.vhd" $sub $size
		same "qemu-img $sub $size" "$T/a.vhd"
	done
done
if [ ${#INFO[@]} -gt 0 ]; then
	mkimg "$T/a.vhd" dynamic 10M
	out=$("${INFO[@]}" vpc "$T/a.vhd" 2>&1)
	if grep -qx subformat=dynamic <<<"$out" && grep -qx cluster-size=2097152 <<<"$out" &&
		grep -qx creator-app=qemu <<<"$out"; then
		pass "info of a dynamic disk"
	else
		fail "info of a dynamic disk" "$T/err"
	fi
	mkimg "$T/a.vhd" fixed 10M
	out=$("${INFO[@]}" vpc "$T/a.vhd" 2>&1)
	if grep -qx subformat=fixed <<<"$out" && grep -qx cluster-size=0 <<<"$out"; then
		pass "info of a fixed disk"
	else
		fail "info of a fixed disk" "$T/err"
	fi
fi

# --- qemu-img convert -O vpc from a patterned raw file ---
truncate -s 0 "$T/src.raw"
truncate -s 40M "$T/src.raw"
i=0
for off in 0 5 17 18 100 2047 2048 4000 9000 20479 40959; do
	yes "vpc-$off-$i " | head -c $((4096 + i * 1000)) |
		dd of="$T/src.raw" bs=512 seek=$off conv=notrunc status=none
	i=$((i + 1))
done
dd if=/dev/zero of="$T/src.raw" bs=512 seek=30000 count=4096 conv=notrunc status=none
for opts in subformat=dynamic subformat=fixed subformat=dynamic,force_size=on \
	subformat=fixed,force_size=on; do
	rm -f "$T/c.vhd"
	qemu-img convert -f raw -O vpc -o $opts "$T/src.raw" "$T/c.vhd"
	same "convert -O vpc -o $opts" "$T/c.vhd"
done

# --- creator applications: which size rules (CHS geometry or current size) ---
for sub in fixed dynamic; do
	for app in 'qemu' 'qem2' 'win ' 'd2v ' 'vpc ' 'CTXS' 'tap' 'vbox' 'tap '; do
		mkimg "$T/a.vhd" $sub 10M
		# A current size below the geometry's, and not a sector multiple.
		footer "$T/a.vhd" end 28 a4 "$app" 48 'Q>' 10000000
		[ $sub = dynamic ] && footer "$T/a.vhd" 0 28 a4 "$app" 48 'Q>' 10000000
		same "$sub disk from creator '$app'" "$T/a.vhd"
	done
	# The largest geometry cannot describe the disk: the current size rules.
	mkimg "$T/a.vhd" $sub 10M
	footer "$T/a.vhd" end 48 'Q>' 9000000 56 nCC 65535 16 255
	[ $sub = dynamic ] && footer "$T/a.vhd" 0 48 'Q>' 9000000 56 nCC 65535 16 255
	same "$sub disk with the maximum CHS geometry" "$T/a.vhd"
done

# --- footer copies of a dynamic disk ---
mkimg "$T/a.vhd" dynamic 10M
cp "$T/a.vhd" "$T/ok.vhd"
qemu-img convert -f vpc -O raw "$T/ok.vhd" "$T/good.raw"
poke "$T/a.vhd" end a8 'garbage!'
same "dynamic disk whose end footer is gone reads the copy at 0" "$T/a.vhd" "$T/good.raw"
cp "$T/ok.vhd" "$T/a.vhd"
poke "$T/a.vhd" 0 a8 'garbage!'
same "dynamic disk whose copy at 0 is gone reads the end footer" "$T/a.vhd" "$T/good.raw"

# --- sector bitmaps: sectors whose bit is clear read as zeros ---
rm -f "$T/a.vhd"
qemu-img create -q -f vpc "$T/a.vhd" 10M
qemu-io -f vpc -c 'write -P 0x5a 0 4M' -c 'write -P 0x11 1M 1k' "$T/a.vhd" >/dev/null
bat=$(peek "$T/a.vhd" 528 'Q>' 8)
b0=$(($(peek "$T/a.vhd" "$bat" N 4) * 512))
b1=$(($(peek "$T/a.vhd" $((bat + 4)) N 4) * 512))
qemu-img convert -f vpc -O raw "$T/a.vhd" "$T/want.raw"
# block 0: sectors 0..1023; block 1: sectors 0..7 and 9
poke "$T/a.vhd" "$b0" a128 ''
poke "$T/a.vhd" "$b1" C2 0 0xbf
dd if=/dev/zero of="$T/want.raw" bs=512 count=1024 conv=notrunc status=none
dd if=/dev/zero of="$T/want.raw" bs=512 seek=4096 count=8 conv=notrunc status=none
dd if=/dev/zero of="$T/want.raw" bs=512 seek=4105 count=1 conv=notrunc status=none
same "sectors with a clear bitmap bit read as zeros" "$T/a.vhd" "$T/want.raw"

# --- hostile images ---
mkimg "$T/d.vhd" dynamic 10M
mkimg "$T/f.vhd" fixed 10M
bat=$(peek "$T/d.vhd" 528 'Q>' 8)
head -c 100 "$T/f.vhd" >"$T/h.vhd"
refused "file smaller than a footer" "$T/h.vhd" "too small"
head -c 1M /dev/zero >"$T/h.vhd"
refused "no cookie anywhere" "$T/h.vhd" conectix
cp "$T/f.vhd" "$T/h.vhd"
poke "$T/h.vhd" end+100 C 1
refused "fixed disk with a bad footer checksum" "$T/h.vhd" checksum
cp "$T/d.vhd" "$T/h.vhd"
poke "$T/h.vhd" end+100 C 1
poke "$T/h.vhd" 100 C 1
refused "dynamic disk with bad checksums in both footers" "$T/h.vhd" checksum
cp "$T/f.vhd" "$T/h.vhd"
head -c $(($(stat -c %s "$T/f.vhd") - 1536)) "$T/f.vhd" >"$T/h.vhd"
tail -c 512 "$T/f.vhd" >>"$T/h.vhd"
refused "truncated fixed disk" "$T/h.vhd" "does not fit"
cp "$T/f.vhd" "$T/h.vhd"
footer "$T/h.vhd" end 12 N 0x00020000
refused "footer version 2" "$T/h.vhd" version
for t in 4 7; do
	cp "$T/d.vhd" "$T/h.vhd"
	footer "$T/h.vhd" end 60 N $t
	footer "$T/h.vhd" 0 60 N $t
	if [ $t = 4 ]; then
		refused "differencing disk" "$T/h.vhd" "differencing"
	else
		refused "unknown disk type $t" "$T/h.vhd" "disk type"
	fi
done
cp "$T/f.vhd" "$T/h.vhd"
footer "$T/h.vhd" end 28 a4 'win ' 48 'Q>' $((2041 << 30))
refused "disk over 2040 GiB" "$T/h.vhd" "2040 GiB"
cp "$T/d.vhd" "$T/h.vhd"
footer "$T/h.vhd" end 16 'Q>' 0x7fffffffffff0000
footer "$T/h.vhd" 0 16 'Q>' 0x7fffffffffff0000
refused "dynamic header offset past the end" "$T/h.vhd" "dynamic header offset"
cp "$T/d.vhd" "$T/h.vhd"
poke "$T/h.vhd" 512 a8 cxspar5e
refused "dynamic header without its cookie" "$T/h.vhd" cxsparse
cp "$T/d.vhd" "$T/h.vhd"
poke "$T/h.vhd" 600 C 1
refused "dynamic header with a bad checksum" "$T/h.vhd" checksum
# dynamic header fields, checksum fixed: offset field value expected-pattern
hdr() {
	cp "$T/d.vhd" "$T/h.vhd"
	poke "$T/h.vhd" $((512 + $2)) "$3" "$4"
	perl -e "$PL" vhdsum "$T/h.vhd" 512 1024 36
	refused "$1" "$T/h.vhd" "$5"
}
hdr "BAT offset past the end" 16 'Q>' 0xffffffffffff0000 "BAT at"
hdr "BAT running past the end" 16 'Q>' $(($(stat -c %s "$T/d.vhd") - 8)) "BAT at"
hdr "huge BAT entry count" 28 N 0xffffffff "BAT at"
hdr "BAT too small for the disk" 28 N 2 "needs"
hdr "block size not a power of two" 32 N 3000000 "block size"
hdr "block size too large" 32 N 0x80000000 "block size"
hdr "block size zero" 32 N 0 "block size"
hdr "dynamic header version 2" 24 N 0x00020000 version
cp "$T/d.vhd" "$T/h.vhd"
poke "$T/h.vhd" "$bat" N 0x7ffffff0
refused "BAT entry past the end" "$T/h.vhd" "BAT entry 0"
cp "$T/d.vhd" "$T/h.vhd"
poke "$T/h.vhd" $((bat + 4)) N $(($(stat -c %s "$T/d.vhd") / 512 - 2))
refused "BAT entry whose block runs past the end" "$T/h.vhd" "BAT entry 1"

tap_done
