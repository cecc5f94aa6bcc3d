#!/bin/sh
# SPDX-License-Identifier: MIT
# `info` over http: vdisk in its four modes (its http module, with libcurl)
# and qemu-img (qemu's curl block driver, Debian's qemu-block-extra) on one
# qcow2 image (1 GiB virtual, 8 MiB of data) served by an nginx this section
# starts on 127.0.0.1 (a free port, its own configuration and logs under
# bench/results/http/) and stops on exit.
#   http.csv      wall time, one process per run, interleaved (runcells -a)
#   http-ld.csv   objects the loader mapped, loader statistics (bench/py/lddebug.py)
# Skipped (no CSV) without nginx, qemu-img or qemu's curl driver.
set -eu
# shellcheck source=SCRIPTDIR/vdisk-builds.inc
. "$(dirname "$0")/vdisk-builds.inc"
R=$BENCH_RESULTS
QEMU_IMG=$(command -v qemu-img || true)
QEMU_IO=$(command -v qemu-io || true)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -z "$QEMU_IMG" ] || [ -z "$QEMU_IO" ] || [ ! -x "$NGINX" ]; then
	echo "bench: no qemu-img/qemu-io or nginx (bench/deps.sh installs them): section skipped" >&2
	exit 0
fi
vdisk_builds
D=$R/http
rm -rf "$D"
mkdir -p "$D/www" "$D/tmp"
IMG=$D/www/img.qcow2
"$QEMU_IMG" create -q -f qcow2 "$IMG" 1G
"$QEMU_IO" -f qcow2 -c 'write -P 0x5a 0 4M' -c 'write -P 0xa5 300M 2M' \
	-c 'write -P 0x11 700M 2M' "$IMG" >/dev/null

# The servers are on loopback: no proxy may stand in between.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
NGINX_PID=
cleanup() {
	if [ -n "$NGINX_PID" ]; then
		kill "$NGINX_PID" 2>/dev/null || true
		wait "$NGINX_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
wait_port() { # at most 10 s
	for _ in $(seq 100); do
		python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$1" 2>/dev/null &&
			return 0
		sleep 0.1
	done
	return 1
}
# Temporary directories of the modules this nginx has (their compiled-in
# defaults are not writable to every user).
temp_paths="client_body_temp_path $D/tmp/body; proxy_temp_path $D/tmp/proxy;"
for m in fastcgi uwsgi scgi; do
	"$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module" ||
		temp_paths="$temp_paths ${m}_temp_path $D/tmp/$m;"
done
start_nginx() {
	PORT=$(free_port)
	cat >"$D/nginx.conf" <<EOC
daemon off;
master_process off;
pid $D/nginx.pid;
error_log $D/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	$temp_paths
	default_type application/octet-stream;
	sendfile on;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$PORT;
		root $D/www;
	}
}
EOC
	# timeout: the server outlives no run, even one killed without its trap.
	timeout 900 "$NGINX" -p "$D" -c "$D/nginx.conf" -e "$D/error.log" >"$D/nginx.out" 2>&1 &
	NGINX_PID=$!
	wait_port "$PORT" && return 0
	kill "$NGINX_PID" 2>/dev/null || true
	wait "$NGINX_PID" 2>/dev/null || true
	NGINX_PID=
	return 1
}
started=
for _ in 1 2 3; do
	start_nginx && started=1 && break
done
if [ -z "$started" ]; then
	echo "bench: nginx did not start: $(tail -3 "$D/error.log" "$D/nginx.out" 2>/dev/null)" >&2
	exit 1
fi
URL=http://127.0.0.1:$PORT/img.qcow2
if ! "$QEMU_IMG" info "$URL" >"$D/qemu-check.txt" 2>&1; then
	echo "bench: qemu-img cannot read http ($(tail -1 "$D/qemu-check.txt")); its curl driver" \
		"is in qemu-block-extra (bench/deps.sh): section skipped" >&2
	exit 0
fi
for v in "$VDISK_lazy" "$VDISK_builtin" "$VDISK_eager" "$VDISK_dlopen_all"; do
	"$v" info "$URL" >/dev/null
done

spec=$R/http.spec
{
	printf 'http/qemu-img\t%s\tinfo\t%s\n' "$QEMU_IMG" "$URL"
	printf 'http/lazy\t%s\tinfo\t%s\n' "$VDISK_lazy" "$URL"
	printf 'http/eager\t%s\tinfo\t%s\n' "$VDISK_eager" "$URL"
	printf 'http/builtin\t%s\tinfo\t%s\n' "$VDISK_builtin" "$URL"
	printf 'http/dlopen-all\t%s\tinfo\t%s\n' "$VDISK_dlopen_all" "$URL"
} >"$spec"
"$BENCH_TOOLS/runcells" -a -o "$R/http.csv" -w "${HTTP_WARMUP:-5}" -r "${HTTP_RUNS:-40}" "$spec"
python3 "$ROOT/bench/py/lddebug.py" "$R/http-ld.csv" 3 "${HTTP_LD_RUNS:-30}" "$spec"
