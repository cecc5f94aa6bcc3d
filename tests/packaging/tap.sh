# SPDX-License-Identifier: MIT
# tap.sh - TAP output for the packaging tests (sourced): ok/not_ok/skip,
# check (a command must succeed, its errors shown as comments) and done_tap
# (the plan, and the exit status). Each script sets $tmp first.
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
# check NAME COMMAND...: the command must succeed.
check() {
	local name=$1
	shift
	if "$@" >"$tmp/out" 2>"$tmp/err"; then
		ok "$name"
	else
		not_ok "$name"
		tail -n 30 "$tmp/err" "$tmp/out" | sed 's/^/# /'
	fi
}
# expect NAME COMMAND...: the same as check, for a condition (no output kept).
expect() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
done_tap() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
