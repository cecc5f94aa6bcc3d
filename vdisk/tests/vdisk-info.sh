#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vdisk-info.sh - the INFO command of the format tests (test-*.sh), run
# through vdisk:
#
#   VDISK=/path/to/vdisk vdisk-info.sh FORMAT IMAGE
#
# turns `vdisk info --json -f FORMAT IMAGE` into the key=value lines
# `fmtread -i` prints: virtual-size, cluster-size (0 when there is none),
# backing-filename, backing-format, compression, then every format-specific
# field, numbers and booleans as JSON spells them; then format=. Going
# through the JSON checks vdisk's JSON as well. Needs python3.

set -u
if [ $# -ne 2 ]; then
	echo "usage: VDISK=/path/to/vdisk vdisk-info.sh FORMAT IMAGE" >&2
	exit 2
fi
if [ -z "${VDISK:-}" ]; then
	echo "vdisk-info.sh: set VDISK to the vdisk executable" >&2
	exit 2
fi
json=$("$VDISK" info --json -f "$1" "$2") || exit
# parse_int/parse_float keep numbers as vdisk wrote them ("0.10" stays a string anyway).
python3 -c '
import json, sys

def text(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    return "" if v is None else str(v)

try:
    d = json.loads(sys.stdin.read(), parse_int=str, parse_float=str)
except ValueError as e:
    sys.exit("vdisk-info.sh: vdisk printed invalid JSON: %s" % e)
print("virtual-size=" + text(d.get("virtual-size")))
print("cluster-size=" + text(d.get("cluster-size", "0")))
print("backing-filename=" + text(d.get("backing-filename")))
print("backing-format=" + text(d.get("backing-filename-format")))
print("compression=" + text(d.get("compression")))
for k, v in d.get("format-specific", {}).get("data", {}).items():
    print(k + "=" + text(v))
print("format=" + text(d.get("format")))
' <<<"$json"
