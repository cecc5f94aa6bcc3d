#!/bin/sh
# SPDX-License-Identifier: MIT
# abi-dump.sh LIB [OUT] - libabigail's description of LIB's public ABI (the
# types reachable from include/), as committed in abi/ and compared by
# tests/packaging/test-abi.sh. Paths of the build machine are left out so
# that the same library gives the same file on any machine.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
command -v abidw >/dev/null || { echo "abi-dump.sh: abidw missing (apt-get install abigail-tools)" >&2; exit 1; }
if [ $# -gt 1 ]; then exec >"$2"; fi
abidw --no-corpus-path --no-comp-dir-path --drop-private-types --headers-dir "$src/include" "$1"
