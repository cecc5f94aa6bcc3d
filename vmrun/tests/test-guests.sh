#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-guests.sh - every guest program on both targets with both
# accelerators gives the console output and exit status QEMU gives
# (qemu-system-riscv32/64 -M virt -bios none), and what the guest computed
# agrees with an independent computation where there is one (the initrd's
# checksum).
. "$(dirname "$0")/tap.sh"
if ! command -v qemu-system-riscv64 >/dev/null || [ ! -e "$GUESTS/hello-riscv64.elf" ]; then
	echo "1..0 # SKIP no qemu-system-misc or RISC-V binutils (scripts/deps.sh)"
	exit 0
fi
cd "$T" || exit 1

# The initrd: its length, then bytes every value appears in.
python3 -c '
import struct, sys
data = bytes((i * 37 + i // 256) & 255 for i in range(70001))
open("initrd.img", "wb").write(struct.pack("<I", len(data)) + data)
h = 0
for b in data:
    h = (h * 31 + b) & 0xffffffff
print(len(data), h)' >initrd.want
read -r ilen isum <initrd.want

for target in riscv32 riscv64; do
	for g in hello arith memory branches initrd exitcode loop; do
		elf=$GUESTS/$g-$target.elf
		extra=()
		[ "$g" = initrd ] && extra=(-initrd initrd.img)
		timeout 60 qemu-system-$target -M virt -bios none -nographic -monitor none \
			-kernel "$elf" "${extra[@]}" >qemu.out 2>qemu.err </dev/null
		qrc=$?
		if [ $qrc -eq 124 ]; then
			fail "$g on $target: QEMU timed out" "$(cat qemu.err)"
			continue
		fi
		for accel in interp fast; do
			vm vm.out -target $target -accel $accel -kernel "$elf" "${extra[@]}"
			if [ "$rc" -ne "$qrc" ]; then
				fail "$g on $target, $accel: exit status $rc, QEMU $qrc" "$(cat vm.out.err)"
			elif ! cmp -s vm.out qemu.out; then
				fail "$g on $target, $accel: console differs from QEMU's" \
					"$(diff qemu.out vm.out)"
			elif [ ! -s vm.out ]; then
				fail "$g on $target, $accel: no console output"
			else
				pass "$g on $target, $accel: as on QEMU (status $rc)"
			fi
		done
		case $g in
		exitcode)
			[ "$qrc" -eq 42 ] && pass "exitcode on $target: 42 through the finisher" ||
				fail "exitcode on $target: status $qrc, want 42"
			;;
		initrd)
			want=$(printf 'length 0x%0*x\nchecksum 0x%0*x\n' $((${target#riscv} / 4)) "$ilen" \
				$((${target#riscv} / 4)) "$isum")
			[ "$(cat qemu.out)" = "$want" ] && pass "initrd checksum on $target is right" ||
				fail "initrd checksum on $target" "got $(cat qemu.out), want $want"
			;;
		esac
	done
done
finish
