#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what building and testing lazymod and vdisk need, on Debian.
# As root it runs apt-get; otherwise it prints the command to run.
set -eu

# command, file or pkgconfig/MODULE : Debian package. nginx, sshd and openssl
# are for vdisk's protocol tests, which run their own servers on loopback;
# the RISC-V binutils build vmrun's guest programs, and QEMU runs them too,
# as the oracle vmrun is compared with; g++ and cmake for the consumer
# builds, abigail-tools for the ABI check, scdoc and mandoc for the man
# pages, debhelper, dpkg-dev and fakeroot for the Debian packages,
# bash-completion for the completion test.
needs="
meson:meson
ninja:ninja-build
cc:gcc
c++:g++
pkg-config:pkg-config
python3:python3
qemu-img:qemu-utils
/usr/bin/time:time
/usr/include/zlib.h:zlib1g-dev
/usr/include/zstd.h:libzstd-dev
pkgconfig/libcurl:libcurl4-openssl-dev
pkgconfig/libssh:libssh-dev
/usr/sbin/nginx:nginx-light
/usr/sbin/sshd:openssh-server
ssh-keygen:openssh-client
openssl:openssl
riscv64-unknown-elf-as:binutils-riscv64-unknown-elf
riscv64-unknown-elf-ld:binutils-riscv64-unknown-elf
qemu-system-riscv64:qemu-system-misc
qemu-system-riscv32:qemu-system-misc
cmake:cmake
abidw:abigail-tools
scdoc:scdoc
mandoc:mandoc
dh:debhelper
dpkg-buildpackage:dpkg-dev
fakeroot:fakeroot
/usr/share/bash-completion/bash_completion:bash-completion
"
case "${1:-}" in
--valgrind) needs="$needs
valgrind:valgrind
" ;;
esac

missing=""
for pair in $needs; do
	what=${pair%%:*}
	pkg=${pair#*:}
	case $what in
	pkgconfig/*) pkg-config --exists "${what#pkgconfig/}" 2>/dev/null && continue ;;
	/*) [ -e "$what" ] && continue ;;
	*) command -v "$what" >/dev/null 2>&1 && continue ;;
	esac
	case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "Installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# Debian 13 has no nginx-light: its nginx is the small one.
	case " $missing " in
	*" nginx-light "*)
		apt-cache show nginx-light >/dev/null 2>&1 ||
			missing=$(echo "$missing" | sed 's/ nginx-light/ nginx/')
		;;
	esac
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
else
	echo "Missing packages. Install them with:" >&2
	echo "  sudo apt-get install$missing" >&2
	exit 1
fi
