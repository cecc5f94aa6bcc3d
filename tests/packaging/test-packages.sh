#!/bin/bash
# SPDX-License-Identifier: MIT
# test-packages.sh - the Debian packages of debian/, for real, on this
# machine: built with dpkg-buildpackage from a copy of the source, installed
# with dpkg -i; vdisk lists its formats and reads an image; vdisk-protocols
# and then a third package (vdisk-toy, made here with one more module) appear
# in `vdisk formats` through vdisk's dpkg trigger, with no command run by
# hand, and disappear when removed; a vdisk reading an image from a slow
# local nginx keeps running, and reads the right bytes, through an upgrade
# of the vdisk package; vmrun runs a guest with its interp accelerator, and
# vmrun-accel-fast's accelerator appears through vmrun's trigger and
# disappears when removed. Every package is purged at the end.
#
# Needs root (dpkg -i); skipped otherwise. Slow: it builds the whole tree.
set -u
source=${LAZYMOD_SOURCE:?run through meson test}
tmp=$(mktemp -d)
. "$source/tests/packaging/tap.sh"
[ "$(id -u)" -eq 0 ] || skip_all "installing packages needs root"
[ "${SANITIZE:-none}" != none ] && skip_all "packages are built and tested by the plain build only"
command -v dpkg-buildpackage >/dev/null || skip_all "dpkg-buildpackage missing (scripts/deps.sh installs dpkg-dev)"
pkgs="vmrun-accel-fast vmrun vdisk-toy vdisk-protocols vdisk lazymod liblazymod-dev liblazymod0"
NGINX_PID=
VDISK_PID=
cleanup() {
	[ -n "$VDISK_PID" ] && kill "$VDISK_PID" 2>/dev/null
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
	# shellcheck disable=SC2086
	dpkg -P $pkgs >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck disable=SC2086
dpkg -P $pkgs >/dev/null 2>&1 # what an interrupted run may have left

# 1. Build, from a copy of the tracked sources (no build directory).
mkdir "$tmp/src"
if [ -d "$source/.git" ] || [ -f "$source/.git" ]; then
	git -C "$source" ls-files -z --cached --others --exclude-standard | (cd "$source" && xargs -0 tar -c) | tar -x -C "$tmp/src"
else
	(cd "$source" && tar -c --exclude='./build*' .) | tar -x -C "$tmp/src"
fi
check "dpkg-buildpackage builds the packages" sh -c \
	"cd '$tmp/src' && DEB_BUILD_OPTIONS='nocheck parallel=2' dpkg-buildpackage -b -uc -us"
deb() { ls "$tmp"/"$1"_*.deb 2>/dev/null | head -1; }
for p in liblazymod0 liblazymod-dev lazymod vdisk vdisk-protocols vmrun vmrun-accel-fast; do
	expect "package $p is built" test -n "$(deb $p)"
done
[ "$failed" -eq 0 ] || { done_tap; exit 1; }

# 2. Install; vdisk works from its packaged module directory.
check "dpkg -i the library, the tool and vdisk" dpkg -i "$(deb liblazymod0)" "$(deb liblazymod-dev)" \
	"$(deb lazymod)" "$(deb vdisk)"
expect "the trigger wrote /usr/lib/vdisk/lazymod.index" test -f /usr/lib/vdisk/lazymod.index
check "vdisk formats" /usr/bin/vdisk formats
grep -q '^  qcow2 ' "$tmp/out" && ok "vdisk formats lists qcow2" || not_ok "vdisk formats lists qcow2"
grep -q '^  http ' "$tmp/out" && not_ok "http is not listed before vdisk-protocols" ||
	ok "http is not listed before vdisk-protocols"
qemu-img create -q -f qcow2 "$tmp/img.qcow2" 64M
qemu-io -f qcow2 -c 'write -P 0x5a 0 24M' "$tmp/img.qcow2" >/dev/null
check "vdisk info" /usr/bin/vdisk info "$tmp/img.qcow2"
grep -q 'qcow2' "$tmp/out" && ok "vdisk info names the format" || not_ok "vdisk info names the format"
check "lazymod check: the index matches the installed modules" lazymod check /usr/lib/vdisk
expect "man finds vdisk(1)" sh -c 'man -w vdisk >/dev/null'
expect "bash completion for vdisk is installed" test -f /usr/share/bash-completion/completions/vdisk

# 3. Packages that add modules are indexed by vdisk's trigger.
listed() { /usr/bin/vdisk formats | grep -q "^  $1 "; }
check "dpkg -i vdisk-protocols" dpkg -i "$(deb vdisk-protocols)"
expect "vdisk formats lists http after vdisk-protocols" listed http
mkdir -p "$tmp/toy/DEBIAN" "$tmp/toy/usr/lib/vdisk"
check "the third package's module builds against liblazymod-dev" cc -shared -fPIC -fvisibility=hidden \
	$(pkg-config --cflags lazymod) "$source/tests/packaging/extra/toy.c" -o "$tmp/toy/usr/lib/vdisk/toy.so"
cat >"$tmp/toy/DEBIAN/control" <<CONTROL
Package: vdisk-toy
Version: 1.0
Architecture: $(dpkg --print-architecture)
Maintainer: lazymod developers <lazymod@localhost>
Depends: vdisk
Description: one more vdisk module, shipped on its own
CONTROL
check "dpkg-deb builds vdisk-toy" dpkg-deb --root-owner-group --build "$tmp/toy" "$tmp/vdisk-toy_1.0.deb"
check "dpkg -i vdisk-toy" dpkg -i "$tmp/vdisk-toy_1.0.deb"
expect "vdisk formats lists the toy codec, with no command run" listed toy
check "dpkg -r vdisk-toy" dpkg -r vdisk-toy
if listed toy; then not_ok "the toy codec is gone after its removal"; else ok "the toy codec is gone after its removal"; fi
check "lazymod check after the removal" lazymod check /usr/lib/vdisk

# 4. An upgrade of vdisk under a running vdisk reading a slow http image.
# The new version is the same build repacked with a higher version: dpkg
# replaces every file, as any upgrade does.
mkdir "$tmp/up"
dpkg-deb -R "$(deb vdisk)" "$tmp/up/vdisk"
sed -i 's/^Version: .*/&+up1/' "$tmp/up/vdisk/DEBIAN/control"
check "the upgrade package builds" dpkg-deb --root-owner-group --build "$tmp/up/vdisk" "$tmp/up/vdisk_up.deb"
mkdir -p "$tmp/www" "$tmp/nginx"
cp "$tmp/img.qcow2" "$tmp/www/"
qemu-img convert -O raw "$tmp/img.qcow2" "$tmp/expected.raw"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 16; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	server {
		listen 127.0.0.1:$port;
		root $tmp/www;
		# About 48 s for the image's 24 MiB of data: longer than the upgrade.
		limit_rate 512k;
	}
}
CONF
for m in fastcgi uwsgi scgi; do
	nginx -V 2>&1 | grep -q -- "--without-http_${m}_module" ||
		sed -i "s|^http {|&\n\t${m}_temp_path $tmp/nginx/$m;|" "$tmp/nginx/nginx.conf"
done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
timeout 300 nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" >/dev/null 2>&1 &
NGINX_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
/usr/bin/vdisk convert -O raw "http://127.0.0.1:$port/img.qcow2" "$tmp/got.raw" 2>"$tmp/vdisk.err" &
VDISK_PID=$!
sleep 2
expect "vdisk is still reading when the upgrade starts" kill -0 "$VDISK_PID"
check "dpkg -i the new vdisk while it runs" dpkg -i "$tmp/up/vdisk_up.deb"
expect "the upgrade is installed" sh -c "dpkg-query -W -f='\${Version}' vdisk | grep -q 'up1'"
expect "vdisk was still reading after the upgrade" kill -0 "$VDISK_PID"
wait "$VDISK_PID"
rc=$?
VDISK_PID=
expect "the running vdisk finished its read (exit $rc)" test "$rc" = 0
sed 's/^/# /' "$tmp/vdisk.err" | head -5
expect "it read the image's bytes" cmp -s "$tmp/got.raw" "$tmp/expected.raw"
check "the new vdisk reads the image over http" /usr/bin/vdisk info "http://127.0.0.1:$port/img.qcow2"

# 5. vmrun: interp comes with it, fast is added and removed by its package.
check "dpkg -i vmrun" dpkg -i "$(deb vmrun)"
expect "the trigger wrote /usr/lib/vmrun/lazymod.index" test -f /usr/lib/vmrun/lazymod.index
check "lazymod check /usr/lib/vmrun" lazymod check /usr/lib/vmrun
expect "man finds vmrun(1)" sh -c 'man -w vmrun >/dev/null'
expect "bash completion for vmrun is installed" test -f /usr/share/bash-completion/completions/vmrun
accel_listed() { lazymod list /usr/lib/vmrun | grep -q "provides vmrun-accel/$1\$"; }
expect "interp is indexed" accel_listed interp
if accel_listed fast; then not_ok "fast is not indexed before its package"; else ok "fast is not indexed before its package"; fi
# A guest from vmrun's tests, when the RISC-V assembler is there.
guest=""
if command -v riscv64-unknown-elf-as >/dev/null && command -v riscv64-unknown-elf-ld >/dev/null &&
	sh "$source/vmrun/tests/build-guest.sh" riscv64-unknown-elf-as riscv64-unknown-elf-ld 64 0x80000000 \
		"$tmp/hello.elf" "$source/vmrun/tests/guests/hello.S" "$source/vmrun/tests/guests/lib.S"; then
	guest=$tmp/hello.elf
fi
if [ -n "$guest" ]; then
	check "vmrun runs a guest with interp" /usr/bin/vmrun -target riscv64 -accel interp -kernel "$guest"
	grep -q 'hello' "$tmp/out" && ok "the guest's console output" || not_ok "the guest's console output"
else
	ok "vmrun runs a guest # SKIP no riscv64-unknown-elf binutils"
	ok "the guest's console output # SKIP no riscv64-unknown-elf binutils"
fi
/usr/bin/vmrun -target riscv64 -accel fast -kernel /nonexistent >"$tmp/out" 2>&1
grep -q 'package vmrun-accel-fast' "$tmp/out" && ok "vmrun -accel fast names the package to install" ||
	not_ok "vmrun -accel fast names the package to install"
check "dpkg -i vmrun-accel-fast" dpkg -i "$(deb vmrun-accel-fast)"
expect "fast is indexed, with no command run" accel_listed fast
if [ -n "$guest" ]; then
	check "vmrun runs a guest with fast" /usr/bin/vmrun -target riscv64 -accel fast -kernel "$guest"
else
	ok "vmrun runs a guest with fast # SKIP no riscv64-unknown-elf binutils"
fi
check "dpkg -r vmrun-accel-fast" dpkg -r vmrun-accel-fast
if accel_listed fast; then not_ok "fast is gone after its removal"; else ok "fast is gone after its removal"; fi
check "lazymod check /usr/lib/vmrun after the removal" lazymod check /usr/lib/vmrun

# 6. Purge: the machine is left as it was.
# shellcheck disable=SC2086
check "dpkg -P every package" dpkg -P $pkgs
expect "nothing is left in /usr/lib/vdisk" test ! -e /usr/lib/vdisk
expect "nothing is left in /usr/lib/vmrun" test ! -e /usr/lib/vmrun
done_tap
