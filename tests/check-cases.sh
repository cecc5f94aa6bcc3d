#!/bin/bash
# SPDX-License-Identifier: MIT
# check-cases.sh EXE CASE...: the cases Meson runs are exactly the cases
# EXE defines (those whose names start with child_ run only as children).
set -eu
exe=$1
shift
defined=$("$exe" --list | grep -v '^child_' | sort)
listed=$(printf '%s\n' "$@" | sort)
if [ "$defined" != "$listed" ]; then
	echo "cases defined by $exe and listed in tests/meson.build differ:" >&2
	diff <(echo "$defined") <(echo "$listed") >&2 || true
	exit 1
fi
