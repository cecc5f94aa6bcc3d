#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vdisk-reader.sh - the READER of the format tests (test-*.sh), run through
# vdisk instead of fmtread:
#
#   VDISK=/path/to/vdisk vdisk-reader.sh FORMAT IMAGE OUTPUT
#
# is `vdisk convert -f FORMAT -O raw IMAGE OUTPUT`. vdisk's exit status and
# messages pass through unchanged: the tests check both.

set -u
if [ $# -ne 3 ]; then
	echo "usage: VDISK=/path/to/vdisk vdisk-reader.sh FORMAT IMAGE OUTPUT" >&2
	exit 2
fi
if [ -z "${VDISK:-}" ]; then
	echo "vdisk-reader.sh: set VDISK to the vdisk executable" >&2
	exit 2
fi
exec "$VDISK" convert -f "$1" -O raw "$2" "$3"
