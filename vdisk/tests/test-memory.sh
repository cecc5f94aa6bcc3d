#!/bin/bash
# SPDX-License-Identifier: MIT
# test-memory.sh - vdisk's memory bound, measured: for each format an image
# at the largest table the format accepts (made by python3 as sparse files:
# qemu-img create would write every table out), opened by `vdisk info` and by
# `qemu-img info`, whose peak RSS (GNU time) must stay within 1.1x of
# qemu-img's; and backing chains 16 deep, which share one metadata budget
# (VDISK_META_BUDGET, 512 MiB): they must open quickly, stay under the
# budget, and fail with a message naming the image that would exceed it.
#
# Needs VDISK (the built vdisk), qemu-img, python3 and /usr/bin/time.
# VERBOSE=1 shows the figures as TAP comments (they are shown for the
# single images anyway). Prints TAP.
set -u
: "${VDISK:?VDISK must name the vdisk executable}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
BUDGET_MIB=512
. "$(dirname "$0")/../../tests/lib/tap.sh"

# Sanitizers multiply what a process maps: the figures mean nothing then.
sanitized=
ldd "$VDISK" 2>/dev/null | grep -q 'lib[at]san' && sanitized=1

# measure OUT ERR CMD...: runs CMD, its stdout to OUT and stderr to ERR;
# sets rc, kib (peak RSS) and secs (CPU time, user and system, in tenths:
# on a busy machine wall time says more about the neighbours).
measure() {
	local out=$1 err=$2
	shift 2
	/usr/bin/time -f '%M %U %S' -o rss.txt "$@" >"$out" 2>"$err"
	rc=$?
	read -r kib secs <<<"$(tail -n 1 rss.txt | awk '{ printf "%d %d", $1, ($2 + $3) * 10 }')"
}
mib() { echo $((($1 + 1023) / 1024)); }

# mk FORMAT OUT [key=value...]: a sparse image at a format's largest table.
# qcow2 l1=ENTRIES, vmdk gd=ENTRIES; with chain=N, instead of OUT a chain
# l0.FORMAT (the base) ... l(N-1).FORMAT, each backed by the one before.
mk() {
	python3 - "$@" <<'PY'
import struct, sys

fmt, out = sys.argv[1], sys.argv[2]
opt = dict(a.split("=", 1) for a in sys.argv[3:])
MiB = 1 << 20

def crc32c(b):
    tab = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        tab.append(c)
    c = 0xFFFFFFFF
    for x in b:
        c = tab[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

def vhd_sum(b, skip):
    return ~sum(b[:skip] + b[skip + 4:]) & 0xFFFFFFFF

def fill(f, byte, n):
    chunk = bytes([byte]) * (4 * MiB)
    while n:
        k = min(n, len(chunk))
        f.write(chunk[:k])
        n -= k

def qcow2(out, back):
    # 512-byte clusters: 64 L2 entries, so an L1 entry maps 32 KiB.
    l1 = int(opt["l1"])
    back = back.encode()
    h = bytearray(512)
    struct.pack_into(">4sIQIIQIIQQIIQQQQII", h, 0, b"QFI\xfb", 3, 112 if back else 0,
                     len(back), 9, l1 * 32768, 0, l1, 1024, 512, 1, 0, 0, 0, 0, 0, 4, 104)
    h[112:112 + len(back)] = back
    with open(out, "wb") as f:
        f.write(h)
        f.truncate(1024 + 8 * l1)

def vmdk(out, parent):
    # 64 KiB grains, 512 entries per grain table: 32 MiB per directory entry.
    gd = int(opt["gd"])
    cap = gd * 128 * 512
    desc = ("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=%s\n"
            'createType="monolithicSparse"\n%s\nRW %d SPARSE "%s"\n'
            % ("12345678" if parent else "ffffffff",
               'parentFileNameHint="%s"' % parent if parent else "", cap, out)).encode()
    gd_sector = 32
    over = gd_sector + (gd * 4 + 511) // 512
    over = (over + 127) // 128 * 128
    h = bytearray(512)
    struct.pack_into("<4sIIQQQQIQQQ", h, 0, b"KDMV", 1, 1, cap, 128, 1, 20, 512, 0,
                     gd_sector, over)
    h[73:77] = b"\n \r\n"
    with open(out, "wb") as f:
        f.write(h + desc.ljust(20 * 512, b"\0"))
        f.truncate(over * 512)

if fmt in ("qcow2", "vmdk"):
    make = qcow2 if fmt == "qcow2" else vmdk
    if "chain" not in opt:
        make(out, "")
    for i in range(int(opt.get("chain", 0))):
        make("l%d.%s" % (i, fmt), "l%d.%s" % (i - 1, fmt) if i else "")
elif fmt == "vdi":
    # 1 MiB blocks; a block map of 64 Mi entries (256 MiB), every block free.
    nb = 64 * MiB
    data = 512 + nb * 4
    h = bytearray(512)
    h[0:40] = b"<<< Oracle VM VirtualBox Disk Image >>>\n"
    struct.pack_into("<IIIII", h, 0x40, 0xBEDA107F, 0x00010001, 0x180, 1, 0)
    struct.pack_into("<II", h, 0x154, 512, data)
    struct.pack_into("<IIIIIQIIII", h, 0x15C, 0, 0, 0, 512, 0, nb * MiB, MiB, 0, nb, 0)
    h[0x188:0x198] = b"\x11" * 16
    with open(out, "wb") as f:
        f.write(h)
        fill(f, 0xFF, nb * 4)
elif fmt == "vpc":
    # A 1 TiB dynamic disk of 16 KiB blocks: a BAT of 64 Mi entries (256 MiB).
    bs, entries = 16384, 64 * MiB
    size = bs * entries
    foot = bytearray(512)
    struct.pack_into(">8sIIQI4sI4sQQHBBI", foot, 0, b"conectix", 2, 0x10000, 512, 0, b"qem2",
                     0x50003, b"Wi2k", size, size, 65535, 16, 255, 3)
    struct.pack_into(">I", foot, 64, vhd_sum(foot, 64))
    dyn = bytearray(1024)
    struct.pack_into(">8sQQIII", dyn, 0, b"cxsparse", 2**64 - 1, 1536, 0x10000, entries, bs)
    struct.pack_into(">I", dyn, 36, vhd_sum(dyn, 36))
    with open(out, "wb") as f:
        f.write(foot + dyn)
        fill(f, 0xFF, entries * 4)
        f.write(foot)
elif fmt == "vhdx":
    # qemu-img's empty image, its BAT moved to the end and grown to 256 MiB:
    # 1 MiB blocks, as many as 2^25 entries (sector bitmap ones included) hold.
    b = bytearray(open(opt["from"], "rb").read())
    end, batlen = len(b), 256 * MiB
    blocks = max(n for n in range(2**25 - 8192, 2**25 + 1) if n + (n - 1) // 4096 <= 2**25)
    for rt in (192 * 1024, 256 * 1024):
        for i in range(struct.unpack_from("<I", b, rt + 8)[0]):
            e = rt + 16 + 32 * i
            if b[e:e + 16] == bytes.fromhex("6677c22d23f600429d64115e9bfd4a08"):
                struct.pack_into("<QI", b, e + 16, end, batlen)
            elif b[e:e + 16] == bytes.fromhex("06a27c8b90479a4bb8fe575f050f886e"):
                meta = struct.unpack_from("<Q", b, e + 16)[0]
        struct.pack_into("<I", b, rt + 4, 0)
        struct.pack_into("<I", b, rt + 4, crc32c(b[rt:rt + 64 * 1024]))
    for i in range(struct.unpack_from("<H", b, meta + 10)[0]):
        m = meta + 32 + 32 * i
        if b[m:m + 16] == bytes.fromhex("2442a52f1bcd7648b2115dbed83bf4b8"):
            struct.pack_into("<Q", b, meta + struct.unpack_from("<I", b, m + 16)[0], blocks * MiB)
    with open(out, "wb") as f:
        f.write(b)
        f.truncate(end + batlen)
PY
}

# single FORMAT IMAGE: vdisk info and qemu-img info on IMAGE, compared.
single() {
	local fmt=$1 img=$2 qk
	measure out.txt err.txt "$VDISK" info -f "$fmt" "$img"
	local vrc=$rc vk=$kib
	measure qout.txt qerr.txt qemu-img info -f "$fmt" "$img"
	qk=$kib
	echo "# $fmt ($(du -k --apparent-size "$img" | cut -f1) KiB): peak RSS vdisk $(mib "$vk") MiB, qemu-img $(mib "$qk") MiB (qemu-img exit $rc)"
	if [ $vrc -ne 0 ]; then
		fail "$fmt at its largest table: vdisk info fails" err.txt
	elif [ -n "$sanitized" ]; then
		skip "$fmt at its largest table: RSS within 1.1x of qemu-img" "sanitizer build"
	elif [ $rc -ne 0 ]; then
		fail "$fmt at its largest table: qemu-img info refuses it" qerr.txt
	elif [ $((vk * 10)) -gt $((qk * 11)) ]; then
		fail "$fmt at its largest table: vdisk RSS $vk KiB, over 1.1x qemu-img's $qk KiB"
	elif [ "$vk" -gt $(((BUDGET_MIB + 32) * 1024)) ]; then
		fail "$fmt at its largest table: vdisk RSS $vk KiB, over the budget"
	else
		pass "$fmt at its largest table: RSS within 1.1x of qemu-img"
	fi
}

# chain FORMAT NAME MAX_MIB: vdisk cat of l15.FORMAT (a chain of l0..l15)
# gives its first MiB within 10 s of CPU time and MAX_MIB of peak RSS.
chain() {
	local fmt=$1 name=$2 max=$3
	measure /dev/null err.txt bash -c '"$1" cat "$2" | head -c 1048576 | cmp -s - <(head -c 1048576 /dev/zero)' \
		- "$VDISK" "l15.$fmt"
	echo "# $name: exit $rc, peak RSS $(mib "$kib") MiB, CPU $((secs / 10)).$((secs % 10)) s"
	if [ $rc -ne 0 ]; then
		fail "$name: vdisk cat does not give the first MiB of zeros" err.txt
	elif [ $secs -gt 100 ]; then
		fail "$name: took $((secs / 10)) s of CPU time"
	elif [ -z "$sanitized" ] && [ "$kib" -gt $((max * 1024)) ]; then
		fail "$name: peak RSS $(mib "$kib") MiB, more than $max MiB"
	else
		pass "$name"
	fi
}

# ---- each format at its largest table, against qemu-img -------------------

# qcow2: qemu's L1 limit, 32 MiB (4 Mi entries: 128 GiB in 512-byte clusters).
mk qcow2 big.qcow2 l1=$((4 << 20)) && single qcow2 big.qcow2
rm -f big.qcow2
# vmdk: qemu's limit of 32 Mi directory entries (a 1 PiB disk); vdisk loads
# the directory in pages, as they are looked up.
mk vmdk big.vmdk gd=$((32 << 20)) && single vmdk big.vmdk
# vmdk: vdisk's own limit, 64 Mi entries (256 MiB), which qemu refuses.
mk vmdk huge.vmdk gd=$((64 << 20))
measure out.txt err.txt "$VDISK" info huge.vmdk
echo "# vmdk with 64 Mi directory entries: peak RSS vdisk $(mib "$kib") MiB"
if [ $rc -ne 0 ]; then
	fail "vmdk directory of 256 MiB: vdisk info fails" err.txt
elif [ -z "$sanitized" ] && [ "$kib" -gt $((32 * 1024)) ]; then
	fail "vmdk directory of 256 MiB: vdisk info holds $(mib "$kib") MiB"
else
	pass "vmdk directory of 256 MiB: opened without reading it"
fi
rm -f big.vmdk huge.vmdk
mk vdi big.vdi && single vdi big.vdi
rm -f big.vdi
mk vpc big.vpc && single vpc big.vpc
rm -f big.vpc
qemu-img create -q -f vhdx -o block_size=1M small.vhdx 1G && mk vhdx big.vhdx from=small.vhdx &&
	single vhdx big.vhdx
rm -f small.vhdx big.vhdx

# ---- backing chains 16 deep, one budget --------------------------------------

# vmdk: 16 sparse files of 128 KiB on disk, each with a 256 MiB directory.
mk vmdk - gd=$((64 << 20)) chain=16
chain vmdk "vmdk chain of 16 directories of 256 MiB" 32
rm -f l*.vmdk

# qcow2: 16 L1 tables of 8 MiB (128 MiB together) fit in the budget ...
mk qcow2 - l1=$((1 << 20)) chain=16
chain qcow2 "qcow2 chain of 16 L1 tables of 8 MiB" $((BUDGET_MIB + 32))
rm -f l*.qcow2

# ... 16 of 32 MiB, with an L2 table each, do not: the deepest is refused.
mk qcow2 - l1=$((4 << 20)) chain=16
measure /dev/null err.txt "$VDISK" cat l15.qcow2
echo "# qcow2 chain over the budget: exit $rc, peak RSS $(mib "$kib") MiB, CPU $((secs / 10)).$((secs % 10)) s"
if [ $rc -ne 1 ]; then
	fail "qcow2 chain over the budget: exit $rc, not 1" err.txt
elif ! grep -q "l0.qcow2: .*budget of $BUDGET_MIB MiB for an image and its backing chain" err.txt; then
	fail "qcow2 chain over the budget: the message names no image or no budget" err.txt
elif [ -z "$sanitized" ] && [ "$kib" -gt $(((BUDGET_MIB + 32) * 1024)) ]; then
	fail "qcow2 chain over the budget: peak RSS $(mib "$kib") MiB"
elif [ $secs -gt 100 ]; then
	fail "qcow2 chain over the budget: took $((secs / 10)) s of CPU time"
else
	pass "qcow2 chain over the budget: refused, naming the image"
	[ -n "${VERBOSE:-}" ] && sed 's/^/#   /' err.txt
fi

tap_done
