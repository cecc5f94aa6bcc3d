#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints "N passed, N failed" from the test logs of one or more Meson build
# directories (every run logged there), and fails when any test failed or a
# directory has no log.
set -eu
[ $# -gt 0 ] || set -- build
python3 - "$@" <<'PY'
import glob, json, os, sys
counts, missing = {}, []
for d in sys.argv[1:]:
    # testlog.json, and testlog-<base>.json of runs with --logbase.
    logs = glob.glob(os.path.join(d, "meson-logs", "testlog*.json"))
    if not logs:
        missing.append(d)
    for log in logs:
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
