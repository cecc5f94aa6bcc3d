# SPDX-License-Identifier: MIT
#
# tap.sh - the TAP helpers every shell test sources (lazymod's test-tool.sh
# and vdisk's tests), so that each test reports the same way:
#
#   . "$(dirname "$0")/lib/tap.sh"      (or the path to this file)
#   pass NAME | fail NAME [DETAIL] | check NAME STATUS [DETAIL] | skip NAME WHY
#   tap_done                            (the plan; its status is the test's)
#
# DETAIL is a file (its first lines are shown) or text. bail fails and stops
# at once (a server that cannot start). sanitized FILE is true when FILE holds
# a sanitizer's report; clean FILE is its negation.

n=0
failed=0
pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}
fail() { # NAME [DETAIL]
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	if [ -n "${2:-}" ]; then
		if [ -f "$2" ]; then head -5 -- "$2"; else printf '%s\n' "$2" | head -5; fi |
			sed 's/^/#   /'
	fi
	return 0
}
check() { # NAME CONDITION-STATUS [DETAIL]
	if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "${3:-}"; fi
}
skip() { # NAME WHY
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
bail() { # NAME [DETAIL]: fail, print the plan and stop
	fail "$1" "${2:-}"
	echo "1..$n"
	exit 1
}
sanitized() {
	grep -q -e 'runtime error' -e 'AddressSanitizer' -e 'LeakSanitizer' "$1"
}
clean() {
	! sanitized "$1"
}
# The plan, last; returns 0 when every test passed.
tap_done() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
