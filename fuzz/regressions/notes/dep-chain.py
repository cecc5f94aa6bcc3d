#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the reproducer of the stack overflow in find_cycles (lib/index.c):
# a PT_NOTE segment declaring 12000 modules, each depending on the next.
# Too large to keep (770 KB), so made on demand: `make -C fuzz regress` runs
# this with the path to write as its argument, then feeds fuzz-notes the file.
# A real module file holding this segment crashes `lazymod index`.
import struct
import sys

N = 12000


def note(kind, desc):
    return (struct.pack("<III", 8, len(desc), kind) + b"lazymod\0" + desc +
            b"\0" * (-len(desc) % 4))


seg = bytearray()
for i in range(N):
    seg += note(0x4C4D0001, b"\0\0\0\0m%d\0" % i + b"1\0\0")  # LM_MODULE
    if i + 1 < N:
        seg += note(0x4C4D0004, b"m%d\0m%d\0" % (i, i + 1))   # LM_DEPENDS
with open(sys.argv[1], "wb") as f:
    f.write(seg)
