#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-sftp.sh - vdisk's sftp protocol against a real OpenSSH sshd that the
# test runs itself on 127.0.0.1 (a free port, its own host key, user keys
# and configuration in a temporary directory, stopped on exit): every format
# over sftp:// and ssh:// reads the same bytes as the local file, host keys
# are checked, authentication failures and missing files are errors that
# say so, a backing file on another origin (another user, or http) is
# refused without connecting unless -o backing_origin=any and never gets
# the image's trust options, a server that stops answering mid-read or
# mid-login is given up on within -o timeout, and the dynamic loader maps
# libssh only for an sftp URI (LD_DEBUG=files).
#
#   VDISK=/path/to/vdisk [VDISK_MODE=lazy|builtin|eager|dlopen-all|bundle] test-sftp.sh
#
# Needs sshd (openssh-server), ssh-keygen and ssh-agent (openssh-client),
# qemu-img, qemu-io and python3 (scripts/deps.sh installs them). A server
# that cannot be started is a failure, not a skip: CI installs everything.
# As root (CI), sshd needs its privilege separation directory /run/sshd,
# which the test creates as Debian's service would. Prints TAP;
# SHOW_ERRORS=1 adds each error vdisk gives as a comment.

set -u
if [ -z "${VDISK:-}" ]; then
	echo "test-sftp.sh: set VDISK to the vdisk executable" >&2
	exit 2
fi
case $VDISK in /*) ;; *) VDISK=$PWD/$VDISK ;; esac
HERE=$(cd "$(dirname "$0")" && pwd) # listener.py's directory
MODE=${VDISK_MODE:-$("$VDISK" --version | sed -n 's/.*modules: \([a-z-]*\).*/\1/p')}
T=$(mktemp -d)
SSHD_PID=
AGENT_PID=
LISTEN_PID=
STALL_PIDS=()
cleanup() {
	[ -n "$LISTEN_PID" ] && kill "$LISTEN_PID" 2>/dev/null # not this shell's child
	for p in "${STALL_PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
# Neither the user's agent nor anything of the environment picks the key.
unset SSH_AUTH_SOCK SSH_AGENT_PID LAZYMOD_PATH

. "$(dirname "$0")/../../tests/lib/tap.sh"
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
wait_port() { # PORT: waits at most 10 s for it to accept connections
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# status NAME WANT PATTERN CMD...: vdisk exits WANT and, when PATTERN is not
# empty, says something matching it (extended regex) on stderr.
status() {
	local name=$1 want=$2 pattern=$3 rc
	shift 3
	timeout 60 "$VDISK" "$@" >out.txt 2>err.txt
	rc=$?
	[ -n "${SHOW_ERRORS:-}" ] && [ "$want" -ne 0 ] && sed 's/^/# /' err.txt
	if sanitized err.txt; then
		fail "$name" "sanitizer: $(cat err.txt)"
	elif [ $rc -ne "$want" ]; then
		fail "$name" "exit status $rc, want $want: $(cat err.txt)"
	elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" err.txt; then
		fail "$name" "message does not match /$pattern/: $(cat err.txt)"
	else
		pass "$name"
	fi
}

# same NAME URI LOCAL [OPTION...]: convert over sftp gives the bytes convert
# gives from the local file.
same() {
	local name=$1 uri=$2 local=$3
	shift 3
	rm -f remote.raw local.raw
	if ! timeout 120 "$VDISK" convert -O raw "$local" local.raw 2>err.txt; then
		fail "$name" "local convert failed: $(cat err.txt)"
	elif ! timeout 120 "$VDISK" convert "$@" -O raw "$uri" remote.raw 2>err.txt ||
		sanitized err.txt; then
		fail "$name" "remote convert failed: $(cat err.txt)"
	elif ! cmp -s local.raw remote.raw; then
		fail "$name" "remote bytes differ: $(cmp local.raw remote.raw 2>&1)"
	else
		pass "$name"
	fi
}

# ---- the images ---------------------------------------------------------------------

mkdir -p www/sub
(
	cd www || exit 1
	truncate -s 64M src.raw
	qemu-io -f raw -c 'write -P 0x5a 0 64k' -c 'write -P 0xa5 5M 1M' \
		-c 'write -P 0x11 33M 300k' -c 'write -P 0x22 64M-4k 4k' src.raw >/dev/null
	head -c 3M /dev/urandom | dd of=src.raw bs=4096 seek=3000 conv=notrunc status=none
	qemu-img convert -f raw -O qcow2 src.raw img.qcow2
	qemu-img convert -c -f raw -O qcow2 src.raw zlib.qcow2
	qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd src.raw zstd.qcow2
	qemu-img convert -f raw -O qcow2 src.raw base.qcow2
	qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 overlay.qcow2
	qemu-io -f qcow2 -c 'write -P 0x77 1M 2M' -c 'write -z 5M 64k' overlay.qcow2 >/dev/null
	qemu-img create -q -f qcow2 -b ../base.qcow2 -F qcow2 sub/up.qcow2
	qemu-io -f qcow2 -c 'write -P 0x78 40M 1M' sub/up.qcow2 >/dev/null
	qemu-img convert -f raw -O vmdk -o subformat=streamOptimized src.raw stream.vmdk
	for f in vdi vpc vhdx; do qemu-img convert -f raw -O $f src.raw img.$f; done
	cp src.raw plain.raw
	: >empty.raw
	head -c 1000 /dev/urandom >tiny.raw
	cp img.qcow2 'odd name%.qcow2'
	qemu-img create -q -f qcow2 -u -b gone.qcow2 -F qcow2 orphan.qcow2 1M
) || bail "making the test images"

# ---- keys and sshd ----------------------------------------------------------------------

SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || bail "sshd is installed" "not found: scripts/deps.sh installs openssh-server"
if ! {
	ssh-keygen -q -t ed25519 -N '' -C host -f host_key &&
		ssh-keygen -q -t ed25519 -N '' -C other-host -f other_host_key &&
		ssh-keygen -q -t ed25519 -N '' -C user -f id_user &&
		ssh-keygen -q -t ed25519 -N '' -C stranger -f id_stranger
} >keygen.log 2>&1; then
	bail "making keys with ssh-keygen" "$(tail -3 keygen.log)"
fi
cp id_user.pub authorized_keys
# sshd refuses to start as root without it; Debian's service makes it so.
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
	mkdir -p /run/sshd && chmod 0755 /run/sshd
fi

start_sshd() {
	PORT=$(free_port)
	cat >sshd_config <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
MaxStartups 100
LogLevel VERBOSE
EOF
	# sshd re-executes itself, which it does only from an absolute path;
	# timeout: a server outlives no test, even one killed without its trap.
	timeout 900 "$SSHD" -D -e -f "$T/sshd_config" >>sshd.log 2>&1 &
	SSHD_PID=$!
	wait_port "$PORT" && return 0
	kill "$SSHD_PID" 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	SSHD_PID=
	return 1
}
# A port picked free may be taken before sshd binds it: try again.
started=
for _ in 1 2 3; do
	start_sshd && started=1 && break
done
[ -n "$started" ] || bail "sshd starts on 127.0.0.1" "$(tail -3 sshd.log 2>/dev/null)"
pass "sshd serves sftp on port $PORT"

USER_NAME=$(id -un)
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 host_key.pub)" >known_hosts
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 other_host_key.pub)" >changed_known_hosts
: >empty_known_hosts
U=sftp://$USER_NAME@127.0.0.1:$PORT$T/www
OPTS=(-o "identity=$T/id_user" -o "known_hosts=$T/known_hosts")

# ---- remote reads equal local reads ------------------------------------------------------

for f in img.qcow2 zlib.qcow2 zstd.qcow2 overlay.qcow2 sub/up.qcow2 stream.vmdk img.vdi img.vpc \
	img.vhdx plain.raw empty.raw tiny.raw; do
	same "sftp: $f reads as the local file" "$U/$f" "www/$f" "${OPTS[@]}"
done
same "ssh:// is sftp:// too" "ssh://$USER_NAME@127.0.0.1:$PORT$T/www/img.qcow2" www/img.qcow2 \
	"${OPTS[@]}"
same "a percent-encoded path" "$U/odd%20name%25.qcow2" "www/odd name%.qcow2" "${OPTS[@]}"
same "without a user in the URI: the local user" "sftp://127.0.0.1:$PORT$T/www/img.qcow2" \
	www/img.qcow2 "${OPTS[@]}"
same "-o host_key_check=no with no known host" "$U/img.qcow2" www/img.qcow2 \
	-o "identity=$T/id_user" -o "known_hosts=$T/empty_known_hosts" -o host_key_check=no
same "-o timeout and -o connect_timeout" "$U/img.qcow2" www/img.qcow2 "${OPTS[@]}" \
	-o timeout=30 -o connect_timeout=10
if timeout 60 "$VDISK" cat "${OPTS[@]}" "$U/img.qcow2" | cmp -s - www/src.raw; then
	pass "cat over sftp gives the guest's bytes"
else
	fail "cat over sftp gives the guest's bytes"
fi
status "info of an overlay names its backing file on the server" 0 "" info "${OPTS[@]}" \
	"$U/sub/up.qcow2"
grep -qF "actual path: $U/base.qcow2" out.txt
check "... resolved against the image's URI" $? "$(cat out.txt)"

# Authentication by an agent, the default when no identity is given.
if eval "$(ssh-agent -s)" >/dev/null 2>&1 && AGENT_PID=$SSH_AGENT_PID &&
	ssh-add -q id_user 2>/dev/null; then
	same "authentication by the agent" "$U/zlib.qcow2" www/zlib.qcow2 \
		-o "known_hosts=$T/known_hosts"
else
	fail "an ssh-agent holding the user's key starts"
fi
kill "$AGENT_PID" 2>/dev/null
AGENT_PID=
unset SSH_AUTH_SOCK SSH_AGENT_PID

# ---- errors, each provoked for real -----------------------------------------------------

status "an unknown host key: its fingerprint, and how to accept it" 1 \
	"^vdisk: $U/img\\.qcow2: unknown host key .*SHA256:.*known_hosts=PATH.*host_key_check=no" \
	info -o "identity=$T/id_user" -o "known_hosts=$T/empty_known_hosts" "$U/img.qcow2"
fp=$(ssh-keygen -l -f host_key.pub | cut -d' ' -f2)
grep -qF -- "$fp" err.txt
check "... the fingerprint is the server's ($fp)" $? "$(cat err.txt)"
status "a changed host key" 1 "host key of 127\\.0\\.0\\.1 port $PORT CHANGED.*SHA256:" \
	info -o "identity=$T/id_user" -o "known_hosts=$T/changed_known_hosts" "$U/img.qcow2"
status "a key the server does not accept" 1 \
	"^vdisk: $U/img\\.qcow2: authentication failed for user $USER_NAME" \
	info -o "identity=$T/id_stranger" -o "known_hosts=$T/known_hosts" "$U/img.qcow2"
status "an identity file that does not exist" 1 "cannot load the key of -o identity=" \
	info -o "identity=$T/nonexistent" -o "known_hosts=$T/known_hosts" "$U/img.qcow2"
status "a missing file" 1 "^vdisk: $U/missing\\.qcow2: no such file on the server" \
	info "${OPTS[@]}" "$U/missing.qcow2"
status "a directory" 1 "Is a directory" info "${OPTS[@]}" "$U/sub"
status "a missing backing file names it" 1 "$U/gone\\.qcow2: no such file on the server" \
	convert "${OPTS[@]}" "$U/orphan.qcow2" out.raw
closed=$(free_port)
status "a refused connection" 1 "cannot connect to 127\\.0\\.0\\.1 port $closed" \
	info "${OPTS[@]}" "sftp://127.0.0.1:$closed/x.qcow2"
status "a password in the URI is refused" 1 "passwords in URIs are not supported" \
	info "${OPTS[@]}" "sftp://u:secret@127.0.0.1:$PORT/x.qcow2"
status "a URI with no path" 1 "names no file" info "${OPTS[@]}" "sftp://127.0.0.1:$PORT"
status "an http option given for sftp" 2 "sslverify does not apply to sftp://" \
	info -o sslverify=off "$U/img.qcow2"
status "a bad host_key_check value" 2 "host_key_check: bad value" \
	info -o host_key_check=maybe "$U/img.qcow2"

# ---- backing files stay on their image's origin ---------------------------------------------

# Every connection to this port is a line in listen.log: it stands for a
# web server, and shows whether vdisk connected at all.
LISTEN_PORT=$(free_port)
LISTEN_PID=$(python3 "$HERE/listener.py" "$LISTEN_PORT" "$T/listen.log" 2>listen.err) ||
	fail "a listener standing for a web server starts" "$(cat listen.err)"

mkdir -p www/cross
qemu-img create -q -f qcow2 -u -b "sftp://nobody@127.0.0.1:$PORT$T/www/base.qcow2" -F qcow2 \
	www/cross/to-user.qcow2 64M
qemu-img create -q -f qcow2 -u -b "http://127.0.0.1:$LISTEN_PORT/base.qcow2" -F qcow2 \
	www/cross/to-http.qcow2 64M
# sshd logs each connection it accepts (LogLevel VERBOSE).
connections() {
	grep -c "Connection from 127.0.0.1" sshd.log
}

before=$(connections)
status "sftp image, backing on the same server as another user: refused, naming both" 1 \
	"refused: it is on sftp://nobody@127\\.0\\.0\\.1:$PORT, not on its image's origin sftp://$USER_NAME@127\\.0\\.0\\.1:$PORT " \
	convert "${OPTS[@]}" "$U/cross/to-user.qcow2" out.raw
[ $(($(connections) - before)) -eq 1 ]
check "... with no second connection to sshd" $? "$(tail -5 sshd.log)"
status "-o host_key_check=no and known_hosts are not given to a backing on another origin" 1 \
	"nobody@127\\.0\\.0\\.1:$PORT$T/www/base\\.qcow2: unknown host key of 127\\.0\\.0\\.1 port $PORT" \
	convert "${OPTS[@]}" -o host_key_check=no -o backing_origin=any "$U/cross/to-user.qcow2" \
	out.raw
status "sftp image, http backing: refused" 1 \
	"refused: it is on http://127\\.0\\.0\\.1:$LISTEN_PORT, not on its image's origin sftp://" \
	convert "${OPTS[@]}" "$U/cross/to-http.qcow2" out.raw
[ ! -s listen.log ]
check "... without connecting to the web server" $? "$(cat listen.log)"
status "... with -o backing_origin=any it is tried" 1 "http://127\\.0\\.0\\.1:$LISTEN_PORT/base" \
	convert "${OPTS[@]}" -o backing_origin=any "$U/cross/to-http.qcow2" out.raw
[ -s listen.log ]
check "... and the listener sees that connection: its silence above means something" $?

# ---- a server that stops answering ---------------------------------------------------------

# A relay to sshd that passes the server's first LIMIT bytes, then nothing,
# keeping both connections open: a server that hangs mid-answer.
cat >stall.py <<'EOF'
import socket, sys, threading

port, target, limit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)


def pump(a, b, cap):
    sent = 0
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if cap is not None:
                d = d[: max(0, cap - sent)]
            sent += len(d)
            if d:
                b.sendall(d)
    except OSError:
        pass


while True:
    c, _ = s.accept()
    u = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pump, args=(c, u, None), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, limit), daemon=True).start()
EOF
stalled() { # NAME LIMIT PATTERN: info through a relay that stops after LIMIT bytes
	local p t0 t
	p=$(free_port)
	timeout 120 python3 stall.py "$p" "$PORT" "$2" 2>>stall.log &
	STALL_PIDS+=($!)
	if ! wait_port "$p"; then
		fail "$1" "the relay did not start: $(tail -3 stall.log)"
		return
	fi
	t0=$(date +%s)
	status "$1" 1 "$3" info -o "identity=$T/id_user" -o host_key_check=no -o timeout=3 \
		"sftp://$USER_NAME@127.0.0.1:$p$T/www/img.qcow2"
	t=$(($(date +%s) - t0))
	[ "$t" -le 12 ]
	check "... given up on within -o timeout=3 ($t s)" $?
}
# The first read asks for 256 KiB: the relay stops within it.
stalled "a server that stops mid-read" 65536 \
	"timed out: no complete answer to a read within 3 s \\(-o timeout=S\\)"
# The key exchange and the login take some 3-4 KiB.
stalled "a server that stops mid-login" 1500 \
	"timed out: logging in and opening the file took over 3 s \\(-o timeout=S\\)"

# ---- which libraries the loader maps -------------------------------------------------------

# Only modes lazy and bundle (whose protocols stay alone) map a protocol's
# library on demand.
case $MODE in
builtin | eager) NOT_LAZY="mode $MODE links libcurl and libssh into vdisk" ;;
*) NOT_LAZY="mode $MODE loads every module, with its library, at start" ;;
esac
libs() { # CMD...: the loader's trace in libs.txt
	LD_DEBUG=files timeout 60 "$VDISK" "$@" >/dev/null 2>libs.txt
}
mapped() { # LIB: whether the loader mapped it (libssh, not libssh2)
	grep -qE "file=$1\\.so[.0-9]* " libs.txt
}
if libs info www/img.qcow2; then
	case $MODE in
	lazy | bundle)
		! mapped libcurl && ! mapped libssh
		check "a local info maps neither libcurl nor libssh" $? \
			"$(grep -E 'file=lib(curl|ssh)' libs.txt | head -2)"
		;;
	*) skip "a local info maps neither libcurl nor libssh" "$NOT_LAZY" ;;
	esac
else
	fail "local info under LD_DEBUG" "$(tail -3 libs.txt)"
fi
if libs info "${OPTS[@]}" "$U/img.qcow2"; then
	mapped libssh
	check "an sftp info maps libssh" $?
	case $MODE in
	lazy | bundle)
		! mapped libcurl
		check "an sftp info does not map libcurl" $? \
			"$(grep 'file=libcurl' libs.txt | head -2)"
		;;
	*) skip "an sftp info does not map libcurl" "$NOT_LAZY" ;;
	esac
else
	fail "sftp info under LD_DEBUG" "$(tail -3 libs.txt)"
fi

tap_done
