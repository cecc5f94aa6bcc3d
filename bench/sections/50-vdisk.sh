#!/bin/sh
# SPDX-License-Identifier: MIT
# vdisk beside qemu-img: `info` on the same local qcow2 image (1 GiB virtual,
# 8 MiB of data, made here with qemu-img), vdisk in its four modes (built
# optimised in build-bench-<mode>/, see vdisk-builds.inc) and `qemu-img info`.
#   vdisk.csv          wall time, one process per run, interleaved (runcells -a;
#                      lazy sits between qemu-img and eager, the cells the goals
#                      and the seeds' table compare)
#   vdisk-ld.csv       what the loader says, interleaved too (bench/py/lddebug.py):
#                      objects mapped (LD_DEBUG=files, warm-up rounds), its start-up
#                      time and relocations (LD_DEBUG=statistics, kept rounds)
#   vdisk-machine.csv  the TSC's rate, to turn the loader's cycles into time
# Skipped (no CSV: the report says "not measured") without qemu-img.
set -eu
# shellcheck source=SCRIPTDIR/vdisk-builds.inc
. "$(dirname "$0")/vdisk-builds.inc"
R=$BENCH_RESULTS
QEMU_IMG=$(command -v qemu-img || true)
QEMU_IO=$(command -v qemu-io || true)
if [ -z "$QEMU_IMG" ] || [ -z "$QEMU_IO" ]; then
	echo "bench: no qemu-img/qemu-io (bench/deps.sh installs qemu-utils): section skipped" >&2
	exit 0
fi
vdisk_builds
D=$R/vdisk
rm -rf "$D"
mkdir -p "$D"
IMG=$D/img.qcow2
"$QEMU_IMG" create -q -f qcow2 "$IMG" 1G
"$QEMU_IO" -f qcow2 -c 'write -P 0x5a 0 4M' -c 'write -P 0xa5 300M 2M' \
	-c 'write -P 0x11 700M 2M' "$IMG" >/dev/null
# Every side reads the same image the same way before the timing starts.
for v in "$QEMU_IMG" "$VDISK_lazy" "$VDISK_builtin" "$VDISK_eager" "$VDISK_dlopen_all"; do
	"$v" info "$IMG" >/dev/null
done

gcc -O2 -Wall -Wextra -I"$ROOT/bench/src" -o "$BENCH_TOOLS/tscfreq" "$ROOT/bench/src/tscfreq.c"
"$BENCH_TOOLS/tscfreq" | sed 's/=/,/' | { echo "key,value"; cat; } >"$R/vdisk-machine.csv"

spec=$R/vdisk.spec
{
	printf 'vdisk/qemu-img\t%s\tinfo\t%s\n' "$QEMU_IMG" "$IMG"
	printf 'vdisk/lazy\t%s\tinfo\t%s\n' "$VDISK_lazy" "$IMG"
	printf 'vdisk/eager\t%s\tinfo\t%s\n' "$VDISK_eager" "$IMG"
	printf 'vdisk/builtin\t%s\tinfo\t%s\n' "$VDISK_builtin" "$IMG"
	printf 'vdisk/dlopen-all\t%s\tinfo\t%s\n' "$VDISK_dlopen_all" "$IMG"
} >"$spec"
"$BENCH_TOOLS/runcells" -a -o "$R/vdisk.csv" -w "${VDISK_WARMUP:-5}" -r "${VDISK_RUNS:-40}" \
	"$spec" >/dev/null
python3 "$ROOT/bench/py/lddebug.py" "$R/vdisk-ld.csv" 3 "${VDISK_LD_RUNS:-30}" "$spec"
