# SPDX-License-Identifier: MIT
# tap.sh - sourced by vmrun's test scripts: the shared TAP helpers, a
# scratch directory and a runner. Needs VMRUN (the executable) and GUESTS (the built guests).
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# pass, fail, skip, check: the helpers every shell test shares.
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/lib/tap.sh"
finish() {
	tap_done
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
