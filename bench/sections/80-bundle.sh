#!/bin/sh
# SPDX-License-Identifier: MIT
# Bundles (docs/BUNDLES.md), a fresh process per run, cells interleaved:
#   bundle-get.csv    one feature from each of 50 modules: 50 module files
#                     against one bundle of the 50 (modules with no library,
#                     and modules with a library each); one feature from the
#                     bundle of 50 against the same module alone
#   bundle-vdisk.csv  vdisk convert of a zstd qcow2, modes lazy and bundle
#   bundle-pss.csv    16 processes each holding the 50 features: PSS
set -eu
# shellcheck source=SCRIPTDIR/vdisk-builds.inc
. "$(dirname "$0")/vdisk-builds.inc"
S=$BENCH_SYNTH/bundle
T=$BENCH_TOOLS
R=$BENCH_RESULTS
spec=$R/bundle-get.spec
printf 'get50/separate\t%s\tgetmany\t%s\tp\t50\n' "$T/micro" "$S/sep" >"$spec"
printf 'get50/bundle\t%s\tgetmany\t%s\tp\t50\n' "$T/micro" "$S/one" >>"$spec"
printf 'get50lib/separate\t%s\tgetmany\t%s\tm\t50\n' "$T/micro" "$BENCH_SYNTH/n100/mods" >>"$spec"
printf 'get50lib/bundle\t%s\tgetmany\t%s\tm\t50\n' "$T/micro" "$S/deps" >>"$spec"
printf 'get1/lone\t%s\tgetload-lm\t%s\tp0\n' "$T/micro" "$S/lone" >>"$spec"
printf 'get1/bundle\t%s\tgetload-lm\t%s\tp0\n' "$T/micro" "$S/one" >>"$spec"
"$T/runcells" -a -o "$R/bundle-get.csv" -w 5 -r "${BUNDLE_RUNS:-60}" -x loaded "$spec"

python3 "$ROOT/bench/py/pss.py" "$R/bundle-pss.csv" "${BUNDLE_PSS_ROUNDS:-6}" 16 \
	"separate=$T/micro hold $S/sep p 50" "bundle=$T/micro hold $S/one p 50"

VDISK_MODES="lazy bundle"
vdisk_builds
VDISK_bundle=$ROOT/build-bench-bundle/bin/vdisk
img=$R/bundle/bundle-zstd.qcow2
mkdir -p "$R/bundle"
if [ ! -f "$img" ]; then
	truncate -s 64M "$R/bundle/bundle-src.raw"
	# Compressible data (zstd clusters) over a quarter of the disk.
	yes "lazymod bundle benchmark" | head -c 16M |
		dd of="$R/bundle/bundle-src.raw" bs=1M seek=8 conv=notrunc status=none
	qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd "$R/bundle/bundle-src.raw" "$img"
	rm -f "$R/bundle/bundle-src.raw"
fi
spec=$R/bundle-vdisk.spec
printf 'convert/lazy\t%s\tconvert\t-O\traw\t%s\t%s\n' "$VDISK_lazy" "$img" "$R/bundle/out-lazy.raw" >"$spec"
printf 'convert/bundle\t%s\tconvert\t-O\traw\t%s\t%s\n' "$VDISK_bundle" "$img" "$R/bundle/out-bundle.raw" >>"$spec"
"$T/runcells" -a -o "$R/bundle-vdisk.csv" -w 3 -r "${BUNDLE_VDISK_RUNS:-30}" "$spec"
rm -f "$R/bundle/out-lazy.raw" "$R/bundle/out-bundle.raw"
