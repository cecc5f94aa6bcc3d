#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints "N passed, N failed" from the test logs of one or more Meson build
# directories (every run logged there), and fails when any test failed or a
# directory has no log. An argument NAME=pass or NAME=fail counts one more
# check run outside Meson (such as the fuzzers).
set -eu
[ $# -gt 0 ] || set -- build
python3 - "$@" <<'PY'
import glob, json, os, sys
counts, missing = {}, []
for d in sys.argv[1:]:
    if "=" in d:
        name, result = d.split("=", 1)
        r = "OK" if result == "pass" else "FAIL"
        counts[r] = counts.get(r, 0) + 1
        if r == "FAIL":
            print(f"{name} failed", file=sys.stderr)
        continue
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
