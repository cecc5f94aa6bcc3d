#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: vdisk at work on sample images, with lazymod's load trace on;
# vmrun running a guest on both targets with the build of its accelerator for
# each; then the same `info` in vdisk's five build modes, side by side.
set -eu
build=${1:-build}
samples=vdisk/samples
vdisk=$build/bin/vdisk
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# A raw image too, made here: the text at 4 MiB of 64 MiB.
printf 'Hello from a raw image.\n' > "$tmp/msg"
dd if="$tmp/msg" of="$tmp/disk.raw" bs=1 seek=4194304 conv=notrunc 2>/dev/null
truncate -s 64M "$tmp/disk.raw"

say "What is available, from the index alone: nothing is loaded"
LAZYMOD_DEBUG=1 run "$vdisk" formats

say "Probing reads declarative rules from the index: no module is loaded to probe"
for f in $samples/disk.qcow2 $samples/packed.qcow2 $samples/disk.vmdk "$tmp/disk.raw"; do
	LAZYMOD_DEBUG=1 run "$vdisk" probe "$f"
done

say "info on a qcow2 loads the qcow2 module, and nothing else"
LAZYMOD_DEBUG=1 run "$vdisk" info "$samples/disk.qcow2"

say "cat of a zstd-compressed qcow2 loads qcow2, then the zstd codec (and libzstd) when needed"
LAZYMOD_DEBUG=1 run "$vdisk" cat "$samples/packed.qcow2" | strings

say "The other samples"
for f in $samples/disk.vmdk "$tmp/disk.raw"; do
	printf '$ vdisk cat %s | strings\n' "$f"
	"$vdisk" cat "$f" | strings
done

say "vmrun: one executable, each accelerator built once per target, one index"
run "$build/bin/lazymod" list "$build/lib/vmrun"
guests=$build/vmrun/tests
if [ -e "$guests/hello-riscv64.elf" ]; then
	for t in riscv32 riscv64; do
		say "vmrun on $t: the fast accelerator's $t build is the one module loaded"
		LAZYMOD_DEBUG=1 run "$build/bin/vmrun" -target $t -accel fast:interp \
			-kernel "$guests/branches-$t.elf"
	done
	say "An accelerator that is not installed, then the next of the list"
	run "$build/bin/vmrun" -target riscv64 -accel kvm:interp -stats -kernel "$guests/hello-riscv64.elf"
	run "$build/bin/vmrun" -target riscv64 -accel kvm -kernel "$guests/hello-riscv64.elf" || true
fi

say "The same info in the five build modes (building them if needed)"
for m in lazy builtin eager dlopen-all bundle; do
	if [ ! -f "build-$m/build.ninja" ]; then
		meson setup -Dmodules=$m "build-$m" >/dev/null
	fi
	ninja -C "build-$m" >/dev/null
done
python3 - "$samples/disk.qcow2" <<'PY'
import os, statistics, subprocess, sys, time
image = sys.argv[1]
modes = ["lazy", "builtin", "eager", "dlopen-all", "bundle"]
def libraries(mode):
    env = dict(os.environ, LD_DEBUG="files")
    p = subprocess.run([f"build-{mode}/bin/vdisk", "info", image], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return len({l.split("file=")[1].split()[0] for l in p.stderr.splitlines()
                if "file=" in l and ("needed by" in l or "dynamically loaded" in l)})
times = {m: [] for m in modes}
for _ in range(3):              # warm-up
    for m in modes:
        subprocess.run([f"build-{m}/bin/vdisk", "info", image], stdout=subprocess.DEVNULL)
for _ in range(31):             # interleaved: A B C D E A B C D E ...
    for m in modes:
        t0 = time.perf_counter()
        subprocess.run([f"build-{m}/bin/vdisk", "info", image], stdout=subprocess.DEVNULL)
        times[m].append((time.perf_counter() - t0) * 1000)
base = statistics.median(times["lazy"])
print(f"{'mode':<12} {'libraries':>9} {'median ms':>10} {'vs lazy':>8}")
for m in modes:
    med = statistics.median(times[m])
    print(f"{m:<12} {libraries(m):>9} {med:>10.2f} {med / base:>7.2f}x")
print("(31 interleaved runs each after 3 warm-up rounds; libraries = objects the loader"
      " mapped, from LD_DEBUG=files)")
PY
