# SPDX-License-Identifier: MIT
# tap.sh - sourced by vmrun's test scripts: TAP output and a scratch
# directory. Needs VMRUN (the executable) and GUESTS (the built guests).
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
failed=0
pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}
fail() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | head -8 | sed 's/^/#   /'
	return 0
}
finish() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit $?
}
# vm OUT ARGS...: runs vmrun with a timeout; stdout in OUT, stderr in OUT.err,
# the exit status in $rc.
vm() {
	local out=$1
	shift
	# Generous: the loop guest runs 10^8 instructions, slow under sanitizers.
	timeout 600 "$VMRUN" "$@" >"$out" 2>"$out.err"
	rc=$?
	if grep -q -e 'runtime error' -e 'AddressSanitizer' -e 'LeakSanitizer' "$out.err"; then
		rc=99
	fi
}
# expect NAME WANT-STATUS PATTERN OUT: the last vm run exited WANT-STATUS
# and said something matching PATTERN on stderr.
expect() {
	if [ "$rc" -ne "$2" ]; then
		fail "$1" "exit status $rc, want $2: $(cat "$4.err")"
	elif ! grep -q -e "$3" "$4.err"; then
		fail "$1" "stderr lacks '$3': $(cat "$4.err")"
	else
		pass "$1"
	fi
}
