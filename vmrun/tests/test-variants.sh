#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-variants.sh - the accelerators' builds per target in one directory
# and one index: lazymod lists each with its target, a riscv32 run loads
# only the riscv32 build of the accelerator it chose (LD_DEBUG=files), and
# two builds for the same target are not both kept.
. "$(dirname "$0")/tap.sh"
if [ ! -e "$GUESTS/hello-riscv64.elf" ]; then
	echo "1..0 # SKIP no RISC-V binutils (scripts/deps.sh)"
	exit 0
fi
cd "$T" || exit 1
dir=$(dirname "$(dirname "$VMRUN")")/lib/vmrun

"$LAZYMOD" list "$dir" >list.txt 2>&1
for m in interp fast; do
	for t in riscv32 riscv64; do
		grep -A4 "^$m 1.0  $m-$t.so" list.txt | grep -q "target $t" &&
			pass "lazymod list shows $m for $t" || fail "lazymod list shows $m for $t" "$(cat list.txt)"
	done
done
"$LAZYMOD" check "$dir" >check.txt 2>&1 && pass "lazymod check: the index with variants is sound" ||
	fail "lazymod check" "$(cat check.txt)"

# lazymod loads the very file it checked by its path: the loader's trace
# shows the one object loaded at run time, and which file it is.
for accel in interp fast; do
	LD_DEBUG=files "$VMRUN" -target riscv32 -accel $accel \
		-kernel "$GUESTS/hello-riscv32.elf" >o 2>ld.txt
	dyn=$(grep -c 'dynamically loaded by' ld.txt)
	opened=$(grep 'dynamically loaded by' ld.txt | grep -o 'file=[^ ]*' | sed 's/^file=//' |
		xargs -r -n1 basename)
	[ "$dyn" -eq 1 ] && [ "$opened" = "$accel-riscv32.so" ] &&
		pass "a riscv32 run loads only $accel-riscv32.so" ||
		fail "a riscv32 run loads only $accel-riscv32.so" "$dyn loaded; opened: $opened"
	libs=$(grep 'needed by' ld.txt | grep -o 'file=[^ ]*' | sed 's/^file=//' | sort -u | tr '\n' ' ')
	case $libs in
	*libasan* | *libubsan* | *libtsan*)
		pass "$accel: start-up libraries # SKIP built with a sanitizer runtime" ;;
	*)
		[ "$libs" = "libc.so.6 liblazymod.so.0 " ] && pass "$accel: start-up libraries: $libs" ||
			fail "$accel: start-up libraries are libc and liblazymod only" "$libs" ;;
	esac
done

# Two builds for one target: the second is reported and left out.
mkdir twice
cp "$dir/interp-riscv64.so" twice/a.so
cp "$dir/interp-riscv64.so" twice/b.so
cp "$dir/interp-riscv32.so" twice/c.so
"$LAZYMOD" index twice >idx.txt 2>&1
grep -q "module interp in .*b.so ignored" idx.txt && pass "a second build for the same target is refused" ||
	fail "a second build for the same target is refused" "$(cat idx.txt)"
"$LAZYMOD" list twice >list2.txt 2>&1
[ "$(grep -c '^interp ' list2.txt)" -eq 2 ] && grep -q "c.so" list2.txt &&
	pass "the build for another target is kept beside it" || fail "builds kept" "$(cat list2.txt)"
finish
