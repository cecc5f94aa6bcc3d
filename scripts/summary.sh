#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints "N passed, N failed" from the test logs of one or more Meson build
# directories, and fails when any test failed or a log is missing.
set -eu
[ $# -gt 0 ] || set -- build
python3 - "$@" <<'PY'
import json, os, sys
counts, missing = {}, []
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        missing.append(d)
        continue
    for line in open(log):
        if line.strip():
            r = json.loads(line)["result"]
            counts[r] = counts.get(r, 0) + 1
passed = counts.get("OK", 0) + counts.get("EXPECTEDFAIL", 0)
skipped = counts.get("SKIP", 0)
failed = sum(counts.values()) - passed - skipped + len(missing)
for d in missing:
    print(f"no test log in {d}", file=sys.stderr)
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
