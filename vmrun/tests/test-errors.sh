#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-errors.sh - vmrun's clear errors: bad kernels and guests that fault,
# then accelerators that are missing, built for the other target only, or
# none of a list installed. Each ends the run with a message naming what
# was wrong and a non-zero status.
. "$(dirname "$0")/tap.sh"
if [ ! -e "$GUESTS/hello-riscv64.elf" ]; then
	echo "1..0 # SKIP no RISC-V binutils (scripts/deps.sh)"
	exit 0
fi
cd "$T" || exit 1
build=$(dirname "$(dirname "$VMRUN")")

echo "not a kernel" >text.bin
vm o -target riscv64 -accel interp -kernel text.bin
expect "not an ELF file" 1 "kernel text.bin: not an ELF file" o
head -c 40 "$GUESTS/hello-riscv64.elf" >short.elf
vm o -target riscv64 -accel interp -kernel short.elf
expect "truncated ELF header" 1 "truncated ELF header" o
vm o -target riscv32 -accel interp -kernel "$GUESTS/hello-riscv64.elf"
expect "64-bit kernel on riscv32" 1 "a 64-bit ELF file, but target riscv32 needs a 32-bit one" o
for target in riscv32 riscv64; do
	vm o -target $target -accel interp -kernel "$GUESTS/lowmem-$target.elf"
	expect "segment outside RAM ($target)" 1 "segment [0-9] at 0x70000000.* lies outside RAM" o
	for accel in interp fast; do
		vm o -target $target -accel $accel -kernel "$GUESTS/illegal-$target.elf"
		expect "illegal instruction ($target, $accel)" 1 \
			"guest stopped at pc 0x800.*illegal instruction 0x02b50533" o
		grep -q "about to multiply" o || fail "illegal: the output before it is lost"
		vm o -target $target -accel $accel -kernel "$GUESTS/fetch-$target.elf"
		expect "fetch outside RAM ($target, $accel)" 1 \
			"instruction fetch from 0x40000000, outside RAM" o
	done
	head -c 600000 /dev/zero >big.img
	vm o -target $target -accel interp -m 1M -kernel "$GUESTS/initrd-$target.elf" -initrd big.img
	expect "initrd outside RAM ($target)" 1 "initrd big.img: 600000 bytes do not fit in RAM" o
done
# Damaged ELF files, made from a good one: each field checked against the file.
python3 - "$GUESTS/hello-riscv64.elf" <<'PY'
import struct, sys
good = open(sys.argv[1], "rb").read()
phoff = struct.unpack_from("<Q", good, 32)[0]
while struct.unpack_from("<I", good, phoff)[0] != 1:     # the first PT_LOAD
    phoff += 56
def put(name, fmt, off, val):
    b = bytearray(good)
    struct.pack_into(fmt, b, off, val)
    open(name, "wb").write(b)
put("phoff.elf", "<Q", 32, len(good) - 8)             # e_phoff near the end
put("phnum.elf", "<H", 56, 0xffff)                     # e_phnum past the end
put("offset.elf", "<Q", phoff + 8, 1 << 62)            # p_offset far outside
put("filesz.elf", "<Q", phoff + 32, 1 << 40)           # p_filesz > p_memsz
put("memsz.elf", "<Q", phoff + 40, 1 << 63)            # p_memsz past RAM's end, wrapping
put("entry.elf", "<Q", 24, 0x1000)                     # entry point outside RAM
put("machine.elf", "<H", 18, 62)                       # x86-64
PY
for c in "phoff:program headers .* run past the end of the file" \
	"phnum:program headers .* run past the end of the file" \
	"offset:runs past the end of the file" "filesz:bytes in the file but" \
	"memsz:lies outside RAM" "entry:entry point 0x1000 lies outside RAM" \
	"machine:ELF machine 62, not RISC-V"; do
	vm o -target riscv64 -accel interp -kernel "${c%%:*}.elf"
	expect "damaged ELF: ${c%%:*}" 1 "${c#*:}" o
done
# Random damage to the headers: never a crash, whatever the loader makes of it.
python3 - "$GUESTS/hello-riscv64.elf" <<'PY'
import random, sys
good = open(sys.argv[1], "rb").read()
rng = random.Random(12)
for i in range(60):
    b = bytearray(good)
    for _ in range(rng.randint(1, 6)):
        b[rng.randrange(0, 0x100)] = rng.randrange(256)
    open(f"rand{i}.elf", "wb").write(b)
PY
crashed=""
for i in $(seq 0 59); do
	timeout 5 "$VMRUN" -target riscv64 -accel fast -m 16M -kernel rand$i.elf >/dev/null 2>r.err
	r=$?
	if [ $r -ge 128 ] || grep -q -e 'runtime error' -e 'Sanitizer' r.err; then
		crashed="$crashed rand$i:$r"
	fi
done
[ -z "$crashed" ] && pass "60 randomly damaged ELF headers: no crash" ||
	fail "randomly damaged ELF headers crash" "$crashed"

vm o -target riscv64 -accel interp -kernel nosuchfile
expect "missing kernel" 1 "kernel nosuchfile: No such file" o
vm o -target arm -accel interp -kernel text.bin
expect "unknown target" 2 "unknown target 'arm'" o
vm o -target riscv64 -accel interp -m 3X -kernel text.bin
expect "bad RAM size" 2 "bad RAM size '3X'" o
vm o -target riscv64 -kernel text.bin
expect "no accelerator given" 2 "required" o

# Accelerators.
elf=$GUESTS/hello-riscv64.elf
vm o -target riscv64 -accel kvm -kernel "$elf"
expect "missing accelerator" 1 "kvm: not installed (accelerator kvm ships in package vmrun-accel-kvm)" o
vm o -target riscv64 -accel kvm:fast -kernel "$elf"
[ "$rc" -eq 0 ] && grep -q hello o && pass "a list takes the first installed" ||
	fail "a list takes the first installed" "$(cat o.err)"

# A copy of the tree with only the riscv64 build of fast, indexed again.
mkdir -p tree/bin tree/lib/vmrun
cp "$VMRUN" tree/bin/
cp "$build/lib/vmrun/fast-riscv64.so" tree/lib/vmrun/
"$LAZYMOD" index tree/lib/vmrun >/dev/null 2>&1
VMRUN=$T/tree/bin/vmrun vm o -target riscv32 -accel fast -kernel "$GUESTS/hello-riscv32.elf"
expect "built for the other target only" 1 "fast: built for another target (.*target riscv32 (built for riscv64)" o
VMRUN=$T/tree/bin/vmrun vm o -target riscv32 -accel fast:interp -kernel "$GUESTS/hello-riscv32.elf"
expect "a list with none installed" 1 "no accelerator of 'fast:interp' can run riscv32" o
grep -q "interp: not installed" o.err && grep -q "fast: built for another target" o.err &&
	pass "a list says why each one cannot run" || fail "a list says why each one cannot run" "$(cat o.err)"
# The file gone but still indexed: its manifest names its package.
rm tree/lib/vmrun/fast-riscv64.so
VMRUN=$T/tree/bin/vmrun vm o -target riscv64 -accel fast -kernel "$elf"
expect "a removed accelerator names its package" 1 "shipped by package vmrun-accel-fast" o
finish
