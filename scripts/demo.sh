#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: the example host at work, with lazymod's load trace on.
set -eu
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

printf '\211PNG\r\n\032\n....' > "$tmp/picture"
printf 'GIF89a......' > "$tmp/anim"
printf '#!/bin/sh\necho hello\n' > "$tmp/script"
printf 'plain words\n' > "$tmp/notes.png"

say "What the modules declare (ELF notes, read without loading them)"
run readelf -n "$build/lib/lazymod-demo/loud.so" | sed -n '/lazymod/,$p' | head -8
run "$build/bin/lazymod" list "$build/lib/lazymod-demo"

say "The host lists features from the index: no module is loaded"
run "$build/bin/lazymod-demo" list -- maps

say "Asking for a feature loads its module and its dependencies, once (trace on)"
LAZYMOD_DEBUG=1 run "$build/bin/lazymod-demo" greet loud world -- greet loud again -- maps

say "Probing: declarative rules load nothing; a code probe loads only its module"
LAZYMOD_DEBUG=1 run "$build/bin/lazymod-demo" probe "$tmp/picture" "$tmp/anim" -- maps -- probe "$tmp/script" "$tmp/notes.png" -- maps

say "Errors are clear and the host goes on"
run "$build/bin/lazymod-demo" greet klingon you -- greet en you || true
