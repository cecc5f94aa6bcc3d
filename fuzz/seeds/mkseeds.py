#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
mkseeds.py - remakes the seed corpora of fuzz/corpus/ (committed; this is
how they were made).

    python3 fuzz/seeds/mkseeds.py BUILD [OUT]

BUILD is a Meson build of the tree (`make` makes build/): its module files
(the vdisk drivers, the test fixtures, the demo's modules) give the notes,
ELF and index seeds, and its `lazymod` tool writes the indexes. Disk images
are made with qemu-img (package qemu-utils); those that qemu-img cannot make
small (tiny blocks, grains, sector bitmaps) are written here, field by field,
and images with structures megabytes apart are stored in the sparse form
that fuzz-format.c reads ("FZSPARSE"). OUT defaults to fuzz/corpus.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

PT_NOTE = 4


def note_segments(path):
    """The PT_NOTE segments of a 64-bit little-endian ELF file."""
    d = open(path, "rb").read()
    assert d[:4] == b"\x7fELF" and d[4] == 2 and d[5] == 1, path
    phoff, = struct.unpack_from("<Q", d, 32)
    phentsize, phnum = struct.unpack_from("<HH", d, 54)
    segs = []
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", d, phoff + i * phentsize)
        if p_type == PT_NOTE:
            segs.append(d[p_offset:p_offset + p_filesz])
    return segs


def lazymod_segment(path):
    for s in note_segments(path):
        if b"lazymod\0" in s:
            return s
    raise SystemExit(f"{path}: no lazymod notes")


def write(out, target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


def sparse(data, size=None, unit=512):
    """The FZSPARSE form of an image: its non-zero runs."""
    size = len(data) if size is None else size
    out = bytearray(b"FZSPARSE" + struct.pack("<Q", size))
    i = 0
    while i < len(data):
        if not any(data[i:i + unit]):
            i += unit
            continue
        j = i
        while j < len(data) and any(data[j:j + unit]) and j - i < 65535 - unit:
            j += unit
        chunk = data[i:j].rstrip(b"\0")
        out += struct.pack("<IH", i, len(chunk)) + chunk
        i = j
    return bytes(out)


def qemu_img(*args):
    subprocess.run(["qemu-img", *args], check=True, stdout=subprocess.DEVNULL)


def guest(size=32768):
    """A guest with some data, some zeros and a pattern that shows offsets."""
    b = bytearray(size)
    for i in range(4096):
        b[i] = (i * 7 + 3) & 0xff
    b[12288:14336] = b"\xa5" * 2048
    b[20000:20010] = b"0123456789"
    return bytes(b)


# ---- the library: notes, ELF files, indexes, probe inputs -------------------

def lib_seeds(build, out, tmp):
    vd = os.path.join(build, "lib", "vdisk")
    fx = os.path.join(build, "tests", "fixtures")
    demo = os.path.join(build, "lib", "lazymod-demo")
    notes = {
        "qcow2": os.path.join(vd, "qcow2.so"),      # magic with mask, extension
        "vmdk": os.path.join(vd, "vmdk.so"),        # code probe
        "vpc": os.path.join(vd, "vpc.so"),          # magic from the end
        "alpha": os.path.join(fx, "basic", "alpha.so"),    # dependency
        "target": os.path.join(fx, "basic", "target.so"),  # target
        "loud": os.path.join(demo, "loud.so"),
        "p_names": os.path.join(fx, "probe", "p_names.so"),  # schemes
    }
    for name, path in notes.items():
        write(out, "notes", name, lazymod_segment(path))

    # Module files, stripped (the notes and build-id stay: they are segments).
    for name, path in [("raw.so", os.path.join(vd, "raw.so")),
                       ("alpha.so", os.path.join(fx, "basic", "alpha.so"))]:
        dst = os.path.join(tmp, name)
        shutil.copy(path, dst)
        subprocess.run(["strip", "--strip-all", dst], check=True)
        write(out, "elf", name, open(dst, "rb").read())
    # A minimal module: ELF header, one PT_NOTE program header, the notes.
    seg = b"".join(note_segments(os.path.join(vd, "zlib.so")))
    eh = bytearray(64)
    eh[:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    struct.pack_into("<HHIQQQIHHHHHH", eh, 16, 3, 62, 1, 0, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", PT_NOTE, 4, 120, 0, 0, len(seg), len(seg), 4)
    write(out, "elf", "minimal.so", bytes(eh) + ph + seg)

    lazymod = os.path.join(build, "bin", "lazymod")
    sets = {
        "vdisk-small": [os.path.join(vd, m) for m in ("raw.so", "qcow2.so", "vmdk.so", "zlib.so")],
        "probe": [os.path.join(fx, "probe", m) for m in ("p_magic.so", "p_mask.so", "p_end.so",
                                                         "p_names.so", "p_any.so", "p_code.so")],
        "deps": [os.path.join(fx, "basic", m) for m in ("alpha.so", "beta.so", "gamma.so",
                                                        "target.so", "cyc_a.so", "cyc_b.so")],
    }
    for name, mods in sets.items():
        d = os.path.join(tmp, "idx-" + name)
        os.makedirs(d)
        for m in mods:
            shutil.copy(m, d)
        idx = os.path.join(tmp, name + ".index")
        subprocess.run([lazymod, "index", "-o", idx, d], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        write(out, "index", name, open(idx, "rb").read())

    def probe_input(flags, head, tail, middle, name):
        return (bytes([flags]) + struct.pack("<H", len(head)) + head +
                struct.pack("<H", len(tail)) + tail + struct.pack("<I", middle) + name)
    tail = bytearray(1024)
    tail[512:520] = b"conectix"
    write(out, "probe", "qfi", probe_input(0, b"QFI\xfb\0\0\0\3", b"", 100, b"disk.qcow2"))
    write(out, "probe", "footer", probe_input(0, b"", bytes(tail), 1 << 20, b"x.vhd"))
    write(out, "probe", "mask", probe_input(2, b"GIF8\x37a..MASK\0\x03", b"..END!", 0, b""))
    write(out, "probe", "uri", probe_input(0, b"..ABC", b"MIDxEND!", 5, b"https://h/a.b/c.tar.gz?q#f"))
    write(out, "probe", "scheme", probe_input(4, b"\x7f\x10\xda\xbe" * 17, b"", 0, b"S3+x.y-z://b/k.cod"))


# ---- disk images ------------------------------------------------------------

def qcow2_extended(g):
    """qcow2 v3 with extended L2 entries (16 KiB clusters: the smallest
    allowed), its header cluster cut short: L1 at 16K, L2 at 32K, one data
    cluster at 48K of which the file holds 4 KiB (the rest reads as zeros)."""
    cs = 16384
    h = bytearray(112)
    struct.pack_into(">4sIQIIQIIQQIIQQQQII", h, 0, b"QFI\xfb", 3, 0, 0, 14, 4 * cs, 0,
                     1, cs, 0, 0, 0, 0, 1 << 4, 0, 0, 4, 112)
    h[104] = 0  # compression type zlib
    img = bytearray(3 * cs + 4096)
    img[:len(h)] = h
    struct.pack_into(">Q", img, cs, 2 * cs | 1 << 63)
    # L2 entry 0: cluster at 48K, subclusters 0-3 allocated, 8-11 zero.
    struct.pack_into(">QQ", img, 2 * cs, 3 * cs | 1 << 63, 0x00000f00_0000000f)
    # L2 entry 2: all 32 subclusters zero.
    struct.pack_into(">QQ", img, 2 * cs + 32, 0, 0xffffffff_00000000)
    img[3 * cs:] = g[:4096]
    return bytes(img)


def vmdk_sparse(g, compressed=False):
    """A hosted sparse extent (monolithicSparse), 64 sectors in grains of 8
    sectors, with its descriptor; compressed: streamOptimized, with markers
    and the grain directory at the end (footer, end-of-stream marker)."""
    cap, grain, ngte = 64, 8, 16
    desc = (b'# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n'
            b'createType="%s"\nRW 64 SPARSE "x.vmdk"\nddb.adapterType = "ide"\n'
            % (b"streamOptimized" if compressed else b"monolithicSparse"))
    desc = desc.ljust(512, b"\0")

    def header(gd):
        h = bytearray(512)
        flags = 1 | (3 << 16 if compressed else 0)
        struct.pack_into("<4sIIQQQQIQQQB4sH", h, 0, b"KDMV", 3 if compressed else 1, flags,
                         cap, grain, 1, 1, ngte, 0, gd, 3, 0, b"\n \r\n", 1 if compressed else 0)
        return h
    if not compressed:
        img = bytearray(512 * 4)
        img[:512] = header(2)
        img[512:1024] = desc
        struct.pack_into("<I", img, 1024, 3)             # directory: table at sector 3
        grains = {0: g[0:4096], 3: g[12288:16384], 5: g[20480 - 512:24576 - 512]}
        gt = [0] * ngte
        gt[2] = 1                                        # reads as zeros
        for gi, data in grains.items():
            gt[gi] = len(img) // 512
            img += data
        struct.pack_into("<16I", img, 1536, *gt)
        return bytes(img)
    img = bytearray(512 * 2)
    img[:512] = header(0xffffffffffffffff)
    img[512:1024] = desc
    gt = [0] * ngte
    for gi in (0, 1, 3):
        data = g[gi * 4096:(gi + 1) * 4096]
        z = zlib.compress(data)
        gt[gi] = len(img) // 512
        m = struct.pack("<QI", gi * grain, len(z)) + z
        img += m.ljust((len(m) + 511) // 512 * 512, b"\0")
    gt_sector = len(img) // 512 + 1
    img += struct.pack("<QII", 1, 0, 1).ljust(512, b"\0")      # grain table marker
    img += struct.pack("<16I", *gt).ljust(512, b"\0")
    gd_sector = len(img) // 512 + 1
    img += struct.pack("<QII", 1, 0, 2).ljust(512, b"\0")      # grain directory marker
    img += struct.pack("<I", gt_sector).ljust(512, b"\0")
    img += struct.pack("<QII", 1, 0, 3).ljust(512, b"\0")      # footer marker
    img += header(gd_sector)
    img += struct.pack("<QII", 0, 0, 0).ljust(512, b"\0")      # end of stream
    return bytes(img)


def vdi_small(g, static=False):
    """A VDI with 4 KiB blocks: block map at 512, data from 1024."""
    nblocks, block = 8, 4096
    h = bytearray(512)
    h[:40] = b"<<< Oracle VM VirtualBox Disk Image >>>\n"
    struct.pack_into("<IIII", h, 0x40, 0xbeda107f, 0x00010001, 0x190, 2 if static else 1)
    struct.pack_into("<II", h, 0x154, 512, 1024)
    struct.pack_into("<I", h, 0x168, 512)
    struct.pack_into("<QII", h, 0x170, nblocks * block, block, 0)
    struct.pack_into("<II", h, 0x180, nblocks, 0)
    h[0x188:0x198] = bytes(range(1, 17))
    amap = list(range(nblocks)) if static else [0, 0xffffffff, 0xfffffffe, 1, 0xffffffff, 2, 0xffffffff, 0xffffffff]
    used = nblocks if static else 3
    struct.pack_into("<I", h, 0x184, used)
    img = bytearray(h) + struct.pack("<8I", *amap).ljust(512, b"\0")
    for i in range(nblocks):
        if static or amap[i] < 0xfffffffe:
            img += g[i * block:(i + 1) * block]
    return bytes(img)


def vhd_checksum(b, skip):
    s = sum(b[i] for i in range(len(b)) if not skip <= i < skip + 4)
    return ~s & 0xffffffff


def vpc_dynamic_small(g):
    """A dynamic VHD with 4 KiB blocks (a one-sector bitmap before each)."""
    size, block = 32768, 4096
    f = bytearray(512)
    f[:8] = b"conectix"
    struct.pack_into(">IIQI4sI4sQQHBBI", f, 8, 2, 0x10000, 512, 0, b"qem2", 0x50000, b"Wi2k",
                     size, size, 64, 4, 17, 3)
    struct.pack_into(">I", f, 64, vhd_checksum(f, 64))
    d = bytearray(1024)
    d[:8] = b"cxsparse"
    struct.pack_into(">QQIII", d, 8, 0xffffffffffffffff, 1536, 0x10000, 8, block)
    struct.pack_into(">I", d, 36, vhd_checksum(d, 36))
    img = bytearray(f + d)
    bat = [0xffffffff] * 8
    img += bytes(512)                                   # BAT, filled below
    for b, bitmap in ((0, b"\xff"), (3, b"\x0f"), (5, b"\x00")):
        bat[b] = len(img) // 512
        img += bitmap.ljust(512, b"\0") + g[b * block:(b + 1) * block]
    struct.pack_into(">8I", img, 1536, *bat)
    return bytes(img + f)


def image_seeds(out, tmp):
    g = guest()
    src = os.path.join(tmp, "src.raw")
    open(src, "wb").write(g)

    def conv(fmt, name, *opts):
        path = os.path.join(tmp, name)
        qemu_img("convert", "-f", "raw", "-O", fmt, *opts, src, path)
        return open(path, "rb").read()

    def create(fmt, name, size, *opts):
        path = os.path.join(tmp, name)
        qemu_img("create", "-q", "-f", fmt, *opts, path, size)
        return open(path, "rb").read()

    write(out, "raw", "pattern", g[:8192])
    write(out, "raw", "qcow2-magic", b"QFI\xfb\0\0\0\3".ljust(1024, b"\0"))
    write(out, "raw", "odd-size", g[:1001])

    write(out, "qcow2", "v3-512", conv("qcow2", "v3.qcow2", "-o", "cluster_size=512"))
    write(out, "qcow2", "v2-512", conv("qcow2", "v2.qcow2", "-o", "compat=0.10,cluster_size=512"))
    write(out, "qcow2", "zlib", conv("qcow2", "z.qcow2", "-c", "-o", "cluster_size=512"))
    write(out, "qcow2", "zstd", conv("qcow2", "zs.qcow2", "-c", "-o",
                                     "cluster_size=512,compression_type=zstd"))
    write(out, "qcow2", "backing", create("qcow2", "b.qcow2", "32K", "-o", "cluster_size=512",
                                          "-b", "base.raw", "-F", "raw", "-u"))
    write(out, "qcow2", "extended-l2", qcow2_extended(g))

    write(out, "vmdk", "sparse", vmdk_sparse(g))
    write(out, "vmdk", "stream", vmdk_sparse(g, compressed=True))
    write(out, "vmdk", "qemu-stream.sparse",
          sparse(conv("vmdk", "s.vmdk", "-o", "subformat=streamOptimized")))
    write(out, "vmdk", "descriptor",
          b'# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
          b'createType="twoGbMaxExtentFlat"\n\n# Extent description\n'
          b'RW 16 FLAT "flat.img" 0\nRW 8 ZERO\nRDONLY 8 FLAT "flat.img" 16\n'
          b'RW 64 SPARSE "sparse.vmdk"\n\n# The Disk Data Base\n#DDB\n'
          b'ddb.virtualHWVersion = "4"\n')
    write(out, "vmdk", "descriptor-parent",
          b'version=2\nCID=1\nparentCID=2\ncreateType="monolithicFlat"\n'
          b'parentFileNameHint="base.vmdk"\nRW 32 FLAT "flat.img"\n')

    write(out, "vdi", "dynamic-4k", vdi_small(g))
    write(out, "vdi", "static-4k", vdi_small(g, static=True))
    write(out, "vdi", "qemu-1m.sparse", sparse(conv("vdi", "d.vdi")))

    write(out, "vpc", "fixed", conv("vpc", "f.vhd", "-o", "subformat=fixed"))
    write(out, "vpc", "dynamic-4k", vpc_dynamic_small(g))
    write(out, "vpc", "qemu-empty", create("vpc", "e.vhd", "64M"))
    write(out, "vpc", "qemu-2m.sparse", sparse(conv("vpc", "d.vhd")))

    write(out, "vhdx", "qemu-data.sparse", sparse(conv("vhdx", "d.vhdx", "-o", "block_size=1M")))
    write(out, "vhdx", "qemu-empty.sparse", sparse(create("vhdx", "e.vhdx", "64M",
                                                           "-o", "block_size=8M")))
    write(out, "vhdx", "qemu-4k.sparse", sparse(create("vhdx", "k.vhdx", "16M", "-o",
                                                        "block_size=1M,log_size=1M")))


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    build = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.join(here, "..", "corpus")
    with tempfile.TemporaryDirectory() as tmp:
        lib_seeds(build, out, tmp)
        image_seeds(out, tmp)


if __name__ == "__main__":
    main()
