#!/bin/sh
# SPDX-License-Identifier: MIT
# A peer: GStreamer's registry against a lazymod index of the same size.
# bench/src/gstpeer.c, built here twice (gstpeer-gst against gstreamer-1.0,
# gstpeer-lm against liblazymod), counts the registry's plugins and features
# through its API; bench/py/gstsynth.py then generates as many synthetic
# modules with as many features (build-bench/gstsynth/), indexed by
# `lazymod index`. The registry lives in a cache of its own (XDG_CACHE_HOME
# under bench/results/gstreamer/), never the user's.
#   gstreamer.csv          warm cache, one process per run, interleaved:
#                          gst_init + gst_element_factory_make of a plugins-good
#                          element (its plugin must load) against lm_context_new +
#                          lm_get of a feature whose module must load
#   gstreamer-rebuild.csv  the registry rebuilt (its file deleted, then gst_init)
#                          against `lazymod index` over the synthetic modules
#   gstreamer-info.csv     what was counted and which element and feature
# Skipped (no CSV) without GStreamer's development files or the element.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
R=$BENCH_RESULTS
T=$BENCH_TOOLS
ELEMENT=${GST_ELEMENT:-rtpL16depay}
if ! pkg-config --exists gstreamer-1.0; then
	echo "bench: no gstreamer-1.0 (bench/deps.sh installs libgstreamer1.0-dev and" \
		"the plugins): section skipped" >&2
	exit 0
fi
CFLAGS="-O2 -g -Wall -Wextra -std=gnu11 -I$ROOT/include -I$ROOT/bench/src"
LIBDIR=$BENCH_BUILD/lib
# shellcheck disable=SC2046,SC2086
gcc $CFLAGS -DPEER_GST -o "$T/gstpeer-gst" "$ROOT/bench/src/gstpeer.c" \
	$(pkg-config --cflags --libs gstreamer-1.0)
# shellcheck disable=SC2086
gcc $CFLAGS -o "$T/gstpeer-lm" "$ROOT/bench/src/gstpeer.c" -L"$LIBDIR" -llazymod \
	-Wl,-rpath,"$LIBDIR"

D=$R/gstreamer
rm -rf "$D"
mkdir -p "$D/cache-warm" "$D/cache-rebuild"
# Counting builds the warm cache's registry.
counts=$("$T/gstpeer-gst" count "$D/cache-warm")
plugins=$(echo "$counts" | sed -n 's/.*plugins=\([0-9]*\).*/\1/p')
features=$(echo "$counts" | sed -n 's/.*features=\([0-9]*\).*/\1/p')
if ! "$T/gstpeer-gst" element "$D/cache-warm" "$ELEMENT" >/dev/null; then
	echo "bench: GStreamer has no element $ELEMENT (gstreamer1.0-plugins-good):" \
		"section skipped" >&2
	exit 0
fi
S=$BENCH_BUILD/gstsynth
feature=$(python3 "$ROOT/bench/py/gstsynth.py" "$S" "$ROOT" "$BENCH_BUILD/bin/lazymod" \
	"$plugins" "$features")
make -s -C "$S" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
got=$("$BENCH_BUILD/bin/lazymod" list "$S/mods" | grep -c '^ *provides ')
{
	echo "key,value"
	echo "plugins,$plugins"
	echo "features,$features"
	echo "element,$ELEMENT"
	echo "element_plugin,$(gst-inspect-1.0 "$ELEMENT" 2>/dev/null |
		sed -n 's/^ *Filename *//p' | head -1 | xargs -r basename)"
	echo "lm_modules,$(find "$S/mods" -name '*.so' | wc -l)"
	echo "lm_features,$got"
	echo "lm_feature,bench/$feature"
	echo "gst_version,$(pkg-config --modversion gstreamer-1.0)"
	echo "registry_bytes,$(cat "$D"/cache-warm/gstreamer-1.0/registry.*.bin | wc -c)"
	echo "index_bytes,$(wc -c <"$S/mods/lazymod.index")"
} >"$R/gstreamer-info.csv"
"$T/gstpeer-lm" get "$S/mods" bench "$feature" >/dev/null

spec=$R/gstreamer.spec
{
	printf 'gst/element\t%s\telement\t%s\t%s\n' "$T/gstpeer-gst" "$D/cache-warm" "$ELEMENT"
	printf 'gst/lazymod\t%s\tget\t%s\tbench\t%s\n' "$T/gstpeer-lm" "$S/mods" "$feature"
} >"$spec"
"$T/runcells" -a -o "$R/gstreamer.csv" -w "${GST_WARMUP:-5}" -r "${GST_RUNS:-40}" -x count \
	"$spec"

spec=$R/gstreamer-rebuild.spec
{
	printf 'rebuild/gst\t%s\trebuild\t%s\n' "$T/gstpeer-gst" "$D/cache-rebuild"
	printf 'rebuild/lazymod\t%s\tindex\t-o\t%s\t%s\n' "$BENCH_BUILD/bin/lazymod" \
		"$S/mods/bench-copy.index" "$S/mods"
} >"$spec"
"$T/runcells" -a -o "$R/gstreamer-rebuild.csv" -w 3 -r "${GST_REBUILD_RUNS:-30}" "$spec"
rm -f "$S/mods/bench-copy.index"
