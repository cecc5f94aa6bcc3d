#!/bin/sh
# SPDX-License-Identifier: MIT
# vmrun, the emulator whose accelerators are modules built per target
# (built in build-bench/ with its guests):
#   vmrun-ips.csv     guest instructions per second of each accelerator on
#                     each target, on the guest loop (vmrun -stats)
#   vmrun-start.csv   exec to exit of a run whose guest prints one line and
#                     ends (about 400 instructions): the bound on exec to the
#                     guest's first instruction; qemu-system-riscv64 beside it
#   vmrun-libs.csv    the libraries vmrun maps at start-up (LD_DEBUG=files)
#   vmrun-pick.csv    choosing the accelerator: the first lm_get and a later
#                     one, in the index of 2 accelerators x 2 targets and in
#                     one holding a single build (one process per run)
# Skipped (no CSV) without the RISC-V binutils to build the guests.
set -eu
R=$BENCH_RESULTS
B=$BENCH_BUILD
T=$BENCH_TOOLS
if ! command -v riscv64-unknown-elf-as >/dev/null; then
	echo "bench: no riscv64-unknown-elf-as (scripts/deps.sh): section skipped" >&2
	exit 0
fi
G=$B/vmrun/tests
ninja -C "$B" bin/vmrun lib/vmrun/lazymod.index "vmrun/tests/loop-riscv32.elf" \
	"vmrun/tests/loop-riscv64.elf" "vmrun/tests/hello-riscv32.elf" "vmrun/tests/hello-riscv64.elf" \
	>/dev/null
VMRUN=$B/bin/vmrun

echo "target,accel,run,instructions,seconds,mips" >"$R/vmrun-ips.csv"
for run in $(seq "${VMRUN_IPS_RUNS:-5}"); do
	for target in riscv32 riscv64; do
		for accel in interp fast; do
			"$VMRUN" -stats -target $target -accel $accel -kernel "$G/loop-$target.elf" \
				2>&1 >/dev/null | sed -n "s/^vmrun: \([0-9]*\) instructions in \([0-9.]*\) s: \([0-9.]*\) million.*/$target,$accel,$run,\1,\2,\3/p" \
				>>"$R/vmrun-ips.csv"
		done
	done
done

# The plot's data: per target, the median rate of interp and of fast.
python3 - "$R/vmrun-ips.csv" "$R/plot-vmrun.dat" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[2], "w") as out:
    for t in ("riscv32", "riscv64"):
        med = [statistics.median([float(r["mips"]) for r in rows
                                  if r["target"] == t and r["accel"] == a] or [0])
               for a in ("interp", "fast")]
        out.write(f"{t} {med[0]:.1f} {med[1]:.1f}\n")
PY

spec=$R/vmrun-start.spec
: >"$spec"
for target in riscv32 riscv64; do
	for accel in interp fast; do
		printf 'vmrun/%s/%s\t%s\t-target\t%s\t-accel\t%s\t-kernel\t%s\n' $target $accel "$VMRUN" \
			$target $accel "$G/hello-$target.elf" >>"$spec"
	done
done
if command -v qemu-system-riscv64 >/dev/null; then
	printf 'qemu/riscv64\t%s\t-M\tvirt\t-bios\tnone\t-nographic\t-monitor\tnone\t-kernel\t%s\n' \
		"$(command -v qemu-system-riscv64)" "$G/hello-riscv64.elf" >>"$spec"
fi
"$T/runcells" -a -o "$R/vmrun-start.csv" -w 3 -r "${VMRUN_START_RUNS:-30}" "$spec" </dev/null

echo "target,accel,library" >"$R/vmrun-libs.csv"
for target in riscv32 riscv64; do
	for accel in interp fast; do
		LD_DEBUG=files "$VMRUN" -target $target -accel $accel -kernel "$G/hello-$target.elf" \
			2>&1 >/dev/null | sed -n 's/.*file=\([^ ]*\) .*needed by.*/\1/p' | sort -u |
			sed "s/^/$target,$accel,/" >>"$R/vmrun-libs.csv"
	done
done

# One build alone in its directory: the same file, indexed by itself.
one=$B/vmrun-one
rm -rf "$one"
mkdir -p "$one"
cp "$B/lib/vmrun/fast-riscv64.so" "$one/"
"$B/bin/lazymod" index "$one" 2>/dev/null
spec=$R/vmrun-pick.spec
printf 'pick/2x2\t%s\t%s\triscv64\tfast\t%s\n' "$T/vmpick" "$B/lib/vmrun" 100000 >"$spec"
printf 'pick/1\t%s\t%s\triscv64\tfast\t%s\n' "$T/vmpick" "$one" 100000 >>"$spec"
"$T/runcells" -a -o "$R/vmrun-pick.csv" -w 5 -r "${VMRUN_PICK_RUNS:-50}" "$spec"
