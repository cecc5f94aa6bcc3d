#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what building the fuzz targets needs, on Debian: clang, its
# libFuzzer and sanitizer runtimes (libclang-rt-N-dev, for clang N), and the
# zlib and zstd headers of the codec drivers. As root it runs apt-get;
# otherwise it prints the command to run.
set -eu

CC=${CC:-clang}

# Whether $CC links a libFuzzer target with ASan and UBSan.
fuzzer_ok() {
	command -v "$CC" >/dev/null 2>&1 || return 1
	d=$(mktemp -d)
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ return d && n > 1 && d[0] == 1; }\n' >"$d/t.c"
	"$CC" -fsanitize=fuzzer,address,undefined "$d/t.c" -o "$d/t" >/dev/null 2>&1
	r=$?
	rm -rf "$d"
	return $r
}

# The clang major version, installed or the one apt would install.
clang_major() {
	v=$("$CC" --version 2>/dev/null | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -1)
	[ -n "$v" ] || v=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -1)
	echo "${v:-14}"
}

missing() {
	m=""
	command -v "$CC" >/dev/null 2>&1 || m="$m clang"
	fuzzer_ok || m="$m libclang-rt-$(clang_major)-dev"
	[ -e /usr/include/zlib.h ] || m="$m zlib1g-dev"
	[ -e /usr/include/zstd.h ] || m="$m libzstd-dev"
	echo "$m"
}

need=$(missing)
[ -z "$need" ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "Installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need
	# The runtime's package is named after clang's version: now known.
	need=$(missing)
	if [ -n "$need" ]; then
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $need
	fi
	need=$(missing)
	if [ -n "$need" ]; then
		echo "fuzz: still missing after installing:$need" >&2
		exit 1
	fi
else
	echo "Missing packages for the fuzz targets. Install them with:" >&2
	echo "  sudo apt-get install$need" >&2
	exit 1
fi
