#!/bin/bash
# SPDX-License-Identifier: MIT
# test-consumers.sh - lazymod as other projects use it: the build installed
# with DESTDIR into a temporary directory (through scripts/install.sh, as
# `make install DESTDIR=...` does), then the same host and modules of
# tests/packaging/consumer/ built against that tree three ways (plain cc with
# pkg-config, CMake's find_package, Meson's dependency), each linked with the
# shared library and with the static archive, in C and in C++, installed
# with their module directory indexed at install time, and run.
set -u
build=${LAZYMOD_BUILD:?run through meson test}
source=${LAZYMOD_SOURCE:?run through meson test}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$source/tests/packaging/tap.sh"
src=$source/tests/packaging/consumer

if [ "${SANITIZE:-none}" != none ]; then
	skip_all "the library of this build is instrumented ($SANITIZE)"
fi

option() {
	meson introspect --buildoptions "$build" |
		python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}
prefix=$(option prefix)
libdir=$(option libdir)
config_before=$(cat "$build/meson-private/cmd_line.txt")

check "install with DESTDIR stages the tree" sh "$source/scripts/install.sh" "$build" "$prefix" "$tmp/stage"
expect "staging leaves the build's configuration alone" \
	test "$config_before" = "$(cat "$build/meson-private/cmd_line.txt")"
root=$tmp/stage$prefix
for f in include/lazymod.h include/lazymod/module.h include/lazymod/common.h \
	"$libdir/liblazymod.a" "$libdir/liblazymod.so.0" "$libdir/pkgconfig/lazymod.pc" \
	"$libdir/cmake/lazymod/lazymodConfig.cmake" "$libdir/cmake/lazymod/lazymodConfigVersion.cmake" \
	bin/lazymod; do
	expect "installs $f" test -e "$root/$f"
done

# The tree is used where it was staged: lazymod.pc and the CMake package
# find their prefix from their own place.
export PKG_CONFIG_PATH=$root/$libdir/pkgconfig
expect "lazymod.pc's includedir is the staged one" \
	test "$(realpath "$(pkg-config --variable=includedir lazymod)")" = "$(realpath "$root/include")"
tool=$(pkg-config --variable=lazymod lazymod)
expect "lazymod.pc names the staged tool" test "$(realpath "$tool")" = "$(realpath "$root/bin/lazymod")"
export LD_LIBRARY_PATH=$root/$libdir

# run NAME EXPECTED COMMAND...: the command's output must be EXPECTED.
run() {
	local name=$1 want=$2
	shift 2
	local got
	got=$("$@" 2>"$tmp/err")
	if [ "$got" = "$want" ]; then ok "$name"; else
		not_ok "$name"
		echo "# got: $got" | head -5
		sed 's/^/# /' "$tmp/err" | head -5
	fi
}
# linked NAME EXE shared|static: whether EXE needs liblazymod.so as it should.
linked() {
	local needs=no
	readelf -d "$2" | grep -q 'NEEDED.*liblazymod\.so' && needs=yes
	if { [ "$3" = shared ] && [ $needs = yes ]; } || { [ "$3" = static ] && [ $needs = no ]; }; then
		ok "$1 links liblazymod $3"
	else
		not_ok "$1 links liblazymod $3 (needs liblazymod.so: $needs)"
	fi
}
# runs WAY LINK BINDIR MODDIR: the installed hosts load both modules.
runs() {
	local env=(env)
	[ "$2" = static ] && env=(env -u LD_LIBRARY_PATH)
	linked "$1 $2 C host" "$3/host" "$2"
	linked "$1 $2 C++ host" "$3/host-cxx" "$2"
	run "$1 $2: the C host loads the C module and probes" "hello from C
hello 100" "${env[@]}" "$3/host" hello "$4" HELLO
	run "$1 $2: the C host probes with the C++ module's rules" "hello from C++
hello-cxx 100" "${env[@]}" "$3/host" hello-cxx "$4" HXX
	run "$1 $2: the C++ host loads the C++ module" "hello from C++" "${env[@]}" "$3/host-cxx" hello-cxx "$4"
	run "$1 $2: the C++ host finds its modules from \$ORIGIN" "hello from C" "${env[@]}" "$3/host-cxx" hello
}

# 1. Plain cc and c++ with pkg-config.
cflags=$(pkg-config --cflags lazymod)
for link in shared static; do
	d=$tmp/pc-$link
	mkdir -p "$d/bin" "$d/lib/consumer"
	if [ $link = shared ]; then
		libs=$(pkg-config --libs lazymod)
	else
		libs="-Wl,-Bstatic $(pkg-config --static --libs lazymod) -Wl,-Bdynamic"
	fi
	# shellcheck disable=SC2086
	check "pkg-config $link: C host" cc -std=c99 -pedantic -Wall -Wextra -Werror $cflags -I"$src" \
		"$src/host.c" -o "$d/bin/host" $libs
	# shellcheck disable=SC2086
	check "pkg-config $link: C++ host" c++ -std=c++11 -pedantic -Wall -Wextra -Werror $cflags \
		-I"$src" "$src/host.cc" -o "$d/bin/host-cxx" $libs
	# shellcheck disable=SC2086
	check "pkg-config $link: C module" cc -std=c99 -pedantic -Wall -Wextra -Werror -shared -fPIC \
		-fvisibility=hidden $cflags -I"$src" "$src/module.c" -o "$d/lib/consumer/hello.so"
	# shellcheck disable=SC2086
	check "pkg-config $link: C++ module" c++ -std=c++11 -pedantic -Wall -Wextra -Werror -shared \
		-fPIC -fvisibility=hidden $cflags -I"$src" "$src/module.cc" -o "$d/lib/consumer/hello_cxx.so"
	check "pkg-config $link: index" "$tool" index --strict "$d/lib/consumer"
	runs pkg-config $link "$d/bin" "$d/lib/consumer"
done

# 2. CMake: find_package(lazymod), lazymod_add_module, installed with DESTDIR.
for link in shared static; do
	on=OFF
	[ $link = static ] && on=ON
	b=$tmp/cmake-$link
	check "cmake $link: configure" cmake -S "$src" -B "$b" -DCMAKE_PREFIX_PATH="$root" \
		-DCMAKE_INSTALL_PREFIX=/opt/consumer -DLAZYMOD_STATIC=$on -DCMAKE_C_FLAGS="-Wall -Werror" \
		-DCMAKE_CXX_FLAGS="-Wall -Werror"
	check "cmake $link: build" cmake --build "$b"
	check "cmake $link: install (indexes the module directory)" env DESTDIR="$b/dest" cmake --install "$b"
	expect "cmake $link: the installed module directory has an index" \
		test -f "$b/dest/opt/consumer/lib/consumer/lazymod.index"
	runs cmake $link "$b/dest/opt/consumer/bin" "$b/dest/opt/consumer/lib/consumer"
done
mkdir -p "$tmp/v9"
printf 'cmake_minimum_required(VERSION 3.14)\nproject(v9 C)\nfind_package(lazymod 9 REQUIRED)\n' \
	>"$tmp/v9/CMakeLists.txt"
if cmake -S "$tmp/v9" -B "$tmp/v9/b" -DCMAKE_PREFIX_PATH="$root" >"$tmp/out" 2>&1; then
	not_ok "cmake: find_package(lazymod 9) is refused"
else
	grep -q 'not accepted' "$tmp/out" && ok "cmake: find_package(lazymod 9) is refused" ||
		not_ok "cmake: find_package(lazymod 9) is refused for its version"
fi

# 3. Meson: dependency('lazymod'), the documented install-time index.
for link in shared static; do
	b=$tmp/meson-$link
	s=false
	[ $link = static ] && s=true
	check "meson $link: configure" meson setup "$b" "$src" --prefix=/opt/consumer -Dstatic=$s \
		-Dwerror=true
	check "meson $link: build" ninja -C "$b"
	check "meson $link: install (indexes the module directory)" meson install -C "$b" --destdir "$b/dest"
	expect "meson $link: the installed module directory has an index" \
		test -f "$b/dest/opt/consumer/lib/consumer/lazymod.index"
	runs meson $link "$b/dest/opt/consumer/bin" "$b/dest/opt/consumer/lib/consumer"
done
done_tap
