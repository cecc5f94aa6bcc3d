#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-http.sh - vdisk's http and https protocols against a real nginx that
# the test runs itself on 127.0.0.1 (free ports, its own configuration in a
# temporary directory, stopped on exit): every format over http and https
# reads the same bytes as the local file, `info` on a 256 MiB qcow2 takes
# few requests (counted in nginx's access log), every error is provoked for
# real, a backing file on another origin (another port, scheme, host name or
# protocol) is refused unless -o backing_origin=any and never gets the
# options given for the image's server, a server that trickles bytes is
# given up on within the documented bounds, and the dynamic loader maps
# libcurl only for a URL (LD_DEBUG=files).
#
#   VDISK=/path/to/vdisk [VDISK_MODE=lazy|builtin|eager|dlopen-all|bundle] test-http.sh
#
# Needs nginx, openssl, qemu-img, qemu-io and python3 (scripts/deps.sh
# installs them). A server that cannot be started is a failure, not a skip:
# CI installs everything. Prints TAP; SHOW_ERRORS=1 adds each error vdisk
# gives as a comment.

set -u
if [ -z "${VDISK:-}" ]; then
	echo "test-http.sh: set VDISK to the vdisk executable" >&2
	exit 2
fi
case $VDISK in /*) ;; *) VDISK=$PWD/$VDISK ;; esac
HERE=$(cd "$(dirname "$0")" && pwd) # listener.py's directory
MODE=${VDISK_MODE:-$("$VDISK" --version | sed -n 's/.*modules: \([a-z-]*\).*/\1/p')}
T=$(mktemp -d)
NGINX_PID=
SLOW_PID=
HOSTILE_PID=
LISTEN_PID=
cleanup() {
	[ -n "$LISTEN_PID" ] && kill "$LISTEN_PID" 2>/dev/null # not this shell's child
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
	[ -n "$SLOW_PID" ] && kill "$SLOW_PID" 2>/dev/null && wait "$SLOW_PID" 2>/dev/null
	[ -n "$HOSTILE_PID" ] && kill "$HOSTILE_PID" 2>/dev/null && wait "$HOSTILE_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
# The servers are on loopback: no proxy may stand in between.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
unset LAZYMOD_PATH

. "$(dirname "$0")/../../tests/lib/tap.sh"
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
# Waits (at most 10 s) until something accepts connections on port $1.
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# Lines nginx's access log has: one per request.
requests() {
	wc -l <access.log
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

# same NAME URL LOCAL [OPTION...]: convert over the protocol gives the bytes
# convert gives from the local file.
same() {
	local name=$1 url=$2 local=$3
	shift 3
	rm -f remote.raw local.raw
	if ! timeout 120 "$VDISK" convert -O raw "$local" local.raw 2>err.txt; then
		fail "$name" "local convert failed: $(cat err.txt)"
	elif ! timeout 120 "$VDISK" convert "$@" -O raw "$url" remote.raw 2>err.txt ||
		sanitized err.txt; then
		fail "$name" "remote convert failed: $(cat err.txt)"
	elif ! cmp -s local.raw remote.raw; then
		fail "$name" "remote bytes differ: $(cmp local.raw remote.raw 2>&1)"
	else
		pass "$name"
	fi
}

# ---- the images ---------------------------------------------------------------------

mkdir -p www/sub www/norange tmp
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
	qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat src.raw flat.vmdk
	: >empty.raw
	head -c 1000 /dev/urandom >tiny.raw
	# Absolute names in a remote image are on the server too; a local file never is.
	qemu-img create -q -f qcow2 -u -b /base.qcow2 -F qcow2 sub/abs.qcow2 64M
	qemu-img create -q -f qcow2 -u -b file:///etc/hostname -F raw sub/local.qcow2 1M
	cp img.qcow2 norange/img.qcow2
	# 256 MiB, 1 MiB of data every 16 MiB: a real L1 table and 16 L2 tables.
	truncate -s 256M big.raw
	for i in $(seq 0 15); do
		head -c 1M /dev/urandom |
			dd of=big.raw bs=1M seek=$((i * 16)) conv=notrunc status=none
	done
	qemu-img convert -f raw -O qcow2 big.raw big.qcow2
	rm -f big.raw
	# A file that grows between two requests: see /grow.raw in nginx.conf.
	head -c 1M /dev/urandom >grow-a.raw
	cp grow-a.raw grow-b.raw
	head -c 1M /dev/urandom >>grow-b.raw
	# The same size, other bytes, another modification time: another ETag.
	head -c 2M /dev/urandom >retag-a.raw
	head -c 2M /dev/urandom >retag-b.raw
	touch -d '2020-01-01 00:00:00' retag-a.raw
	touch -d '2021-01-01 00:00:00' retag-b.raw
) || bail "making the test images"

# ---- TLS: a CA and a certificate for 127.0.0.1 and localhost ---------------------------

if ! {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=vdisk test CA" -keyout ca.key -out ca.pem &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=127.0.0.1" -keyout server.key -out server.csr &&
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' \
			>server.ext &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile server.ext -out server.pem
	# A second server whose certificate signs itself: no -o cacert trusts it.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
		-keyout self.key -out self.pem
} >openssl.log 2>&1; then
	bail "making a CA and a server certificate with openssl" "$(tail -3 openssl.log)"
fi

# ---- nginx ----------------------------------------------------------------------------

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || bail "nginx is installed" "not found: scripts/deps.sh installs nginx-light"

# Temporary directories of the modules this nginx has: their compiled-in
# defaults (/var/lib/nginx/...) are not writable to every user.
temp_paths="client_body_temp_path $T/tmp/body; proxy_temp_path $T/tmp/proxy;"
for m in fastcgi uwsgi scgi; do
	"$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module" ||
		temp_paths="$temp_paths ${m}_temp_path $T/tmp/$m;"
done

start_nginx() {
	HTTP_PORT=$(free_port)
	HTTPS_PORT=$(free_port)
	SELF_PORT=$(free_port)
	cat >nginx.conf <<EOF
# One process, in the foreground, as the user running the test.
daemon off;
master_process off;
pid $T/nginx.pid;
error_log $T/error.log info;
events { worker_connections 64; }
http {
	log_format counted '\$request_method \$uri \$status \$bytes_sent "\$http_range"';
	access_log $T/access.log counted;
	$temp_paths
	default_type application/octet-stream;
	sendfile on;
	keepalive_requests 10000;
	# The first request (the one from byte 0) gets grow-a.raw, every
	# later one grow-b.raw, 1 MiB longer: vdisk sees a file that grew
	# between two of its requests, deterministically, with no race.
	map \$http_range \$grow {
		"~^bytes=0-" /grow-a.raw;
		default /grow-b.raw;
	}
	map \$http_range \$retag {
		"~^bytes=0-" /retag-a.raw;
		default /retag-b.raw;
	}
	server {
		listen 127.0.0.1:$HTTP_PORT;
		root $T/www;
		location = /grow.raw { rewrite ^ \$grow break; }
		location = /retag.raw { rewrite ^ \$retag break; }
		# max_ranges 0: every range request gets 200 and the whole file.
		location /norange/ { max_ranges 0; }
		location = /moved.qcow2 { return 302 /img.qcow2; }
		location = /loop.qcow2 { return 302 /loop.qcow2; }
	}
	server {
		listen 127.0.0.1:$HTTPS_PORT ssl;
		ssl_certificate $T/server.pem;
		ssl_certificate_key $T/server.key;
		root $T/www;
	}
	server {
		listen 127.0.0.1:$SELF_PORT ssl;
		ssl_certificate $T/self.pem;
		ssl_certificate_key $T/self.key;
		root $T/www;
	}
}
EOF
	# timeout: a server outlives no test, even one killed without its trap.
	timeout 900 "$NGINX" -p "$T" -c "$T/nginx.conf" -e "$T/error.log" >nginx.out 2>&1 &
	NGINX_PID=$!
	if wait_port "$HTTP_PORT" && wait_port "$HTTPS_PORT" && wait_port "$SELF_PORT"; then
		return 0
	fi
	kill "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
	return 1
}
# A port picked free may be taken before nginx binds it: try again.
started=
for _ in 1 2 3; do
	start_nginx && started=1 && break
done
[ -n "$started" ] || bail "nginx starts on 127.0.0.1" "$(tail -3 error.log nginx.out 2>/dev/null)"
pass "nginx serves http on port $HTTP_PORT and https on ports $HTTPS_PORT and $SELF_PORT"
H=http://127.0.0.1:$HTTP_PORT
S=https://127.0.0.1:$HTTPS_PORT
CA=(-o "cacert=$T/ca.pem")

# ---- remote reads equal local reads ------------------------------------------------------

for f in img.qcow2 zlib.qcow2 zstd.qcow2 overlay.qcow2 sub/up.qcow2 stream.vmdk img.vdi img.vpc \
	img.vhdx plain.raw empty.raw tiny.raw; do
	same "http: $f reads as the local file" "$H/$f" "www/$f"
done
for f in img.qcow2 zstd.qcow2 overlay.qcow2 stream.vmdk plain.raw; do
	same "https: $f reads as the local file" "$S/$f" "www/$f" "${CA[@]}"
done
same "https through the name localhost" "https://localhost:$HTTPS_PORT/zlib.qcow2" \
	www/zlib.qcow2 "${CA[@]}"
same "https with -o sslverify=off" "$S/img.qcow2" www/img.qcow2 -o sslverify=off
same "a redirect is followed" "$H/moved.qcow2" www/img.qcow2
if timeout 60 "$VDISK" cat "$H/img.qcow2" | cmp -s - www/src.raw; then
	pass "cat over http gives the guest's bytes"
else
	fail "cat over http gives the guest's bytes"
fi

status "info of an overlay names its backing file on the server" 0 "" info "$H/sub/up.qcow2"
grep -qF "actual path: $H/base.qcow2" out.txt
check "... resolved against the image's URI" $? "$(cat out.txt)"
same "an absolute backing name in a remote image is on the server" "$H/sub/abs.qcow2" \
	www/base.qcow2
status "a remote image naming a local backing file is refused" 1 \
	"backing file file:///etc/hostname refused: it is a local file, not on its image's origin $H " \
	convert "$H/sub/local.qcow2" out.raw
status "a vmdk descriptor naming extent files is refused over http, saying why" 1 \
	"only supported for local images" convert "$H/flat.vmdk" out.raw
status "probe over http" 0 "" probe "$H/img.qcow2"
grep -q '^qcow2 ' out.txt
check "... finds qcow2" $? "$(cat out.txt)"

# ---- backing files stay on their image's origin ---------------------------------------------

# Requests nginx logged for PATH since line $1 of its access log.
asked_for() { # FROM PATH
	tail -n "+$(($1 + 1))" access.log | grep -c " $2 "
}
# Every connection to this port is a line in listen.log: it stands for an
# sshd, and shows whether vdisk tried to log in at all.
LISTEN_PORT=$(free_port)
LISTEN_PID=$(python3 "$HERE/listener.py" "$LISTEN_PORT" "$T/listen.log" 2>listen.err) ||
	fail "a listener standing for an sshd starts" "$(cat listen.err)"

mkdir -p www/cross
mk_overlay() { # NAME BACKING-URI
	qemu-img create -q -f qcow2 -u -b "$2" -F qcow2 "www/cross/$1" 64M
}
mk_overlay to-http.qcow2 "$H/base.qcow2"
mk_overlay to-self.qcow2 "https://127.0.0.1:$SELF_PORT/base.qcow2"
mk_overlay to-localhost.qcow2 "https://localhost:$HTTPS_PORT/base.qcow2"
mk_overlay to-sftp.qcow2 "sftp://root@127.0.0.1:$LISTEN_PORT/srv/base.qcow2"
mk_overlay to-port.qcow2 "http://127.0.0.1:$SELF_PORT/base.qcow2"
mk_overlay same-spelt.qcow2 "https://LOCALHOST:$HTTPS_PORT/base.qcow2"

from=$(requests)
status "https image, http backing on another port: refused, naming both origins" 1 \
	"backing file $H/base\\.qcow2 refused: it is on $H, not on its image's origin $S .*backing_origin=any" \
	convert "${CA[@]}" "$S/cross/to-http.qcow2" out.raw
[ "$(asked_for "$from" /base.qcow2)" -eq 0 ]
check "... and never asked for" $? "$(tail -n 3 access.log)"
from=$(requests)
same "... read with -o backing_origin=any" "$S/cross/to-http.qcow2" www/base.qcow2 "${CA[@]}" \
	-o backing_origin=any
[ "$(asked_for "$from" /base.qcow2)" -ge 1 ]
check "... from the other server" $?
status "http image, another port (https): refused" 1 \
	"refused: it is on http://127\\.0\\.0\\.1:$SELF_PORT, not on its image's origin $H " \
	convert "$H/cross/to-port.qcow2" out.raw
status "info names a refused backing file without opening it" 0 "" info "${CA[@]}" \
	"$S/cross/to-http.qcow2"
grep -qF "backing file: $H/base.qcow2" out.txt
check "... as recorded" $? "$(cat out.txt)"
same "a host name in capitals is the same origin, and gets -o cacert" \
	"https://localhost:$HTTPS_PORT/cross/same-spelt.qcow2" www/base.qcow2 "${CA[@]}"

status "http image, sftp backing: refused" 1 \
	"refused: it is on sftp://root@127\\.0\\.0\\.1:$LISTEN_PORT, not on its image's origin $H " \
	convert "$H/cross/to-sftp.qcow2" out.raw
[ ! -s listen.log ]
check "... without connecting to the ssh port" $? "$(cat listen.log)"
status "... with -o backing_origin=any it is tried" 1 "sftp://root@127" \
	convert -o backing_origin=any -o connect_timeout=5 "$H/cross/to-sftp.qcow2" out.raw
[ -s listen.log ]
check "... and the listener sees that connection: its silence above means something" $?

# Options that trust a server are the image's origin's alone.
same "the self-signed server with -o sslverify=off" "https://127.0.0.1:$SELF_PORT/base.qcow2" \
	www/base.qcow2 -o sslverify=off
status "-o sslverify=off is not given to a backing file on another port" 1 \
	"https://127\\.0\\.0\\.1:$SELF_PORT/base\\.qcow2: TLS certificate not trusted" \
	convert -o sslverify=off -o backing_origin=any "$S/cross/to-self.qcow2" out.raw
status "-o cacert is not given to a backing file on another host name" 1 \
	"https://localhost:$HTTPS_PORT/base\\.qcow2: TLS certificate not trusted" \
	convert "${CA[@]}" -o backing_origin=any "$S/cross/to-localhost.qcow2" out.raw
status "a bad -o backing_origin" 2 "backing_origin: bad value" \
	info -o backing_origin=some "$H/img.qcow2"
status "-o backing_origin with a local image is no usage error" 0 "" \
	info -o backing_origin=same www/img.qcow2

# ---- few requests: the read cache and read-ahead ------------------------------------------

before=$(requests)
status "info of a 256 MiB qcow2 over http" 0 "" info "$H/big.qcow2"
count=$(($(requests) - before))
[ "$count" -le 16 ]
check "info of a 256 MiB qcow2 took $count requests (at most 16)" $? \
	"$(tail -n "$count" access.log)"

before=$(requests)
start=$(date +%s%N)
same "convert of a 256 MiB qcow2 (16 MiB of data) over http" "$H/big.qcow2" www/big.qcow2
end=$(date +%s%N)
count=$(($(requests) - before))
# The local convert ran too; only the remote one made requests.
[ "$count" -le 40 ]
check "convert of a 256 MiB qcow2 took $count requests (at most 40)" $? \
	"$(tail -n 5 access.log)"
echo "# convert of big.qcow2, local then over http: $(((end - start) / 1000000)) ms"

# ---- errors, each provoked for real -----------------------------------------------------

status "404: exit 1, naming the URI and the status" 1 \
	"^vdisk: $H/missing\\.qcow2: HTTP error 404" info "$H/missing.qcow2"
status "a server that ignores ranges is refused" 1 \
	"^vdisk: $H/norange/img\\.qcow2: .*does not support range requests" \
	info "$H/norange/img.qcow2"
status "a file that grows during the run is refused" 1 \
	"changed on the server during the run: it was 1048576 bytes, it is now 2097152" \
	convert -f raw "$H/grow.raw" out.raw
status "a file replaced during the run (same size, new ETag) is refused" 1 \
	"changed on the server during the run \\(ETag" convert -f raw "$H/retag.raw" out.raw
closed=$(free_port)
status "a refused connection" 1 \
	"^vdisk: http://127\\.0\\.0\\.1:$closed/x\\.qcow2: cannot connect: Connection refused" \
	info "http://127.0.0.1:$closed/x.qcow2"
status "an untrusted certificate says how to trust it" 1 \
	"^vdisk: $S/img\\.qcow2: TLS certificate not trusted.*-o cacert=PATH.*-o sslverify=off" \
	info "$S/img.qcow2"
status "a redirect loop" 1 "more than [0-9]+ redirects" info "$H/loop.qcow2"
status "a CA file that does not exist" 1 "cacert" info -o cacert=/nonexistent/ca.pem "$S/img.qcow2"

# A server that accepts the connection and never answers.
SLOW_PORT=$(free_port)
timeout 60 python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
' "$SLOW_PORT" &
SLOW_PID=$!
if wait_port "$SLOW_PORT"; then
	t0=$(date +%s)
	status "-o timeout=1 against a server that never answers" 1 "timed out" \
		info -o timeout=1 "http://127.0.0.1:$SLOW_PORT/x.qcow2"
	[ $(($(date +%s) - t0)) -le 10 ]
	check "... gives up within seconds" $?
else
	fail "a silent server for the timeout test starts"
fi

# A hostile server: answers that lie about their ranges, sizes and bodies.
HOSTILE_PORT=$(free_port)
cat >hostile.py <<'EOF'
import http.server, re, sys, time

TOTAL = 1 << 20

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        m = re.match(r"bytes=(\d+)-(\d+)$", self.headers.get("Range", ""))
        a, b = (int(m.group(1)), int(m.group(2))) if m else (0, TOTAL - 1)
        b = min(b, TOTAL - 1)
        body = bytes(b - a + 1)
        cr = "bytes %d-%d/%d" % (a, b, TOTAL)
        headers = {}
        case = self.path.strip("/").split(".")[0]
        if case == "long":
            body += bytes(100)
        elif case == "shifted":
            cr = "bytes %d-%d/%d" % (a + 512, b + 512, TOTAL)
        elif case == "nocr":
            cr = None
        elif case == "star":
            cr = "bytes %d-%d/*" % (a, b)
        elif case == "gzip":
            headers["Content-Encoding"] = "gzip"
        elif case == "short":
            body = body[:1000]
        elif case == "huge":
            cr = "bytes %d-%d/99999999999999999999" % (a, b)
        elif case == "junk":
            cr = "bytes %d-%d/%dx" % (a, b, TOTAL)
        elif case == "trickle":
            # The headers at once, then the body at 2 bytes a second.
            self.send_response(206)
            self.send_header("Content-Range", cr)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            try:
                for i in range(0, len(body), 2):
                    self.wfile.write(body[i:i + 2])
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            return
        self.send_response(206)
        if cr:
            self.send_header("Content-Range", cr)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
EOF
timeout 120 python3 hostile.py "$HOSTILE_PORT" 2>hostile.log &
HOSTILE_PID=$!
if wait_port "$HOSTILE_PORT"; then
	X=http://127.0.0.1:$HOSTILE_PORT
	status "hostile: a body longer than the range" 1 "more than the [0-9]+ bytes asked for" \
		info -f raw "$X/long.raw"
	status "hostile: another range than asked" 1 "answered bytes 512-" \
		info -f raw "$X/shifted.raw"
	status "hostile: a 206 without Content-Range" 1 "no Content-Range" info -f raw "$X/nocr.raw"
	status "hostile: an unknown total" 1 "does not say how large" info -f raw "$X/star.raw"
	status "hostile: a Content-Encoding" 1 "Content-Encoding" info -f raw "$X/gzip.raw"
	status "hostile: a body shorter than the range" 1 "sent 1000 bytes for a range of" \
		info -f raw "$X/short.raw"
	status "hostile: a total of 20 digits" 1 "malformed Content-Range" info -f raw "$X/huge.raw"
	status "hostile: junk after the total" 1 "malformed Content-Range" info -f raw "$X/junk.raw"
	# The first request, of 256 KiB, would take 36 hours at this pace.
	t0=$(date +%s)
	status "a server trickling 2 bytes a second, -o timeout=3: given up on" 1 \
		"timed out: a request takes at most 3 s \\(-o timeout=S\\)" \
		info -o timeout=3 "$X/trickle.qcow2"
	t=$(($(date +%s) - t0))
	[ "$t" -le 10 ]
	check "... within seconds ($t s)" $?
	t0=$(date +%s)
	status "... without -o timeout: a stall, after the default 20 s" 1 \
		"the server stalled: under 1024 bytes/s for 20 s" info "$X/trickle.qcow2"
	t=$(($(date +%s) - t0))
	[ "$t" -ge 19 ] && [ "$t" -le 35 ]
	check "... about 20 s ($t s)" $?
else
	fail "a hostile server for the checks of answers starts" "$(cat hostile.log)"
fi
kill "$HOSTILE_PID" 2>/dev/null
wait "$HOSTILE_PID" 2>/dev/null
HOSTILE_PID=

# ---- options ------------------------------------------------------------------------------

status "an unknown option is a usage error naming it" 2 "unknown option frob" \
	info -o frob=1 "$H/img.qcow2"
status "an option without a value" 2 "KEY=VALUE" info -o sslverify "$H/img.qcow2"
status "a bad value" 2 "sslverify: bad value" info -o sslverify=maybe "$H/img.qcow2"
status "a bad timeout" 2 "timeout: bad value" info -o timeout=0 "$H/img.qcow2"
status "an sftp option given for http" 2 "identity does not apply to http://" \
	info -o identity=/x "$H/img.qcow2"
status "a protocol option given for a local file" 2 "does not apply to local files" \
	info -o timeout=5 www/img.qcow2
status "--option=KEY=VALUE, the long form" 0 "" info --option=timeout=30 "$H/img.qcow2"
status "--help documents -o and its keys" 0 "" --help
missing=
for w in -o sslverify cacert timeout connect_timeout identity known_hosts host_key_check \
	backing_origin; do
	grep -qw -- "$w" out.txt || missing+=" $w"
done
[ -z "$missing" ]
check "... every key is there" $? "missing:$missing"

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
mapped() { # LIB: whether the trace shows the loader mapping it (libssh, not libssh2)
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
if libs info "$H/img.qcow2"; then
	mapped libcurl
	check "an http info maps libcurl" $?
	case $MODE in
	lazy | bundle)
		! mapped libssh
		check "an http info does not map libssh" $? \
			"$(grep 'file=libssh' libs.txt | head -2)"
		;;
	*) skip "an http info does not map libssh" "$NOT_LAZY" ;;
	esac
else
	fail "http info under LD_DEBUG" "$(tail -3 libs.txt)"
fi

if grep -qE '\[(emerg|alert|crit)\]' error.log; then
	fail "nginx logged no serious error" \
		"$(grep -E '\[(emerg|alert|crit)\]' error.log | head -3)"
else
	pass "nginx logged no serious error"
fi

tap_done
