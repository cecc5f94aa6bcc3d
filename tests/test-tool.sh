#!/bin/bash
# SPDX-License-Identifier: MIT
# The lazymod command-line tool, and the built tree as a whole: notes shown
# by readelf, index/list/info/check with their errors and exit codes, and a
# copy of the built tree that still finds its modules.
set -u
build=${LAZYMOD_BUILD:?run through meson test}
fixtures=${FIXTURES:?run through meson test}
lazymod=$build/bin/lazymod
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$(dirname "$0")/lib/tap.sh"
# check NAME COMMAND...: the command must succeed.
check() { local name=$1; shift; if "$@" >"$tmp/out" 2>"$tmp/err"; then pass "$name"; else fail "$name"; sed 's/^/# /' "$tmp/err"; fi; }
# status NAME EXPECTED COMMAND...: the command must exit with EXPECTED.
status() {
	local name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	if [ "$got" = "$want" ]; then pass "$name"; else fail "$name (exit $got, expected $want)"; sed 's/^/# /' "$tmp/err"; fi
}
json() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); sys.exit(0 if ($1) else 1)"; }

check "--help" "$lazymod" --help
grep -q "index" "$tmp/out" || fail "--help lists the commands"
check "--version" "$lazymod" --version
grep -qE '^lazymod [0-9]+\.[0-9]+' "$tmp/out" && pass "--version prints the version" || fail "--version prints the version"
status "no command is a usage error" 2 "$lazymod"
status "unknown command is a usage error" 2 "$lazymod" frobnicate
grep -q "not a command" "$tmp/err" && pass "unknown command is named" || fail "unknown command is named"
status "index without a directory is a usage error" 2 "$lazymod" index
check "index --help" "$lazymod" index --help

# The note, as readelf sees it.
if readelf -n "$fixtures/basic/alpha.so" | grep -q "^  lazymod"; then pass "readelf -n shows the lazymod note"; else fail "readelf -n shows the lazymod note"; fi

# info: decode a module.
check "info --json on a module" "$lazymod" info --json "$fixtures/basic/alpha.so"
json "d['modules'][0]['name']=='alpha' and d['modules'][0]['dependencies']==['beta'] and sorted(f['name'] for f in d['modules'][0]['features'])==['alpha','alpha2'] and d['modules'][0]['interface']=='1.0' and len(d['modules'][0]['build-id'])==40" \
	&& pass "info --json lists features, dependencies, interface, build-id" || fail "info --json lists features, dependencies, interface, build-id"
check "info --json on a module with rules" "$lazymod" info --json "$fixtures/probe/p_mask.so"
json "d['modules'][0]['features'][0]['rules']==[{'type':'magic','offset':4,'bytes':'MASK\\\\x00\\\\x02','mask':'\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff\\\\xfe','score':60}]" \
	&& pass "info --json shows probe rules with masks" || fail "info --json shows probe rules with masks"
check "info --json on an executable with a built-in module" "$lazymod" info --json "$build/tests/test-builtin"
json "d['modules'][0]['name']=='shared'" && pass "info decodes built-in modules" || fail "info decodes built-in modules"
check "info (text)" "$lazymod" info "$fixtures/basic/gamma.so"
grep -q "depends on alpha" "$tmp/out" && pass "info text shows dependencies" || fail "info text shows dependencies"
echo "text" > "$tmp/notelf.so"
status "info on a non-ELF file fails" 1 "$lazymod" info "$tmp/notelf.so"
grep -q "not an ELF file" "$tmp/err" && pass "info names what is wrong" || fail "info names what is wrong"
status "info on a library without a manifest fails" 1 "$lazymod" info "$fixtures/basic/libfixgone.so"
grep -q "no lazymod manifest" "$tmp/err" && pass "info says there is no manifest" || fail "info says there is no manifest"
status "info on a missing file fails" 1 "$lazymod" info "$tmp/missing.so"

# Bundles: info and list say which bundle each module lives in; a module
# both in a bundle and alone in one directory is an error naming both files.
check "info --json on a bundle" "$lazymod" info --json "$fixtures/bundle/bundle.so"
json "sorted(m['name'] for m in d['modules'])==['bfail','bneed','bone','bthree','btwo'] and all(m['bundle']=='bundle.so' for m in d['modules'])" \
	&& pass "info --json shows every member with its bundle" || fail "info --json shows every member with its bundle"
check "info --json on a lone module" "$lazymod" info --json "$fixtures/basic/gamma.so"
json "d['modules'][0]['bundle'] is None" && pass "info --json: a lone module has no bundle" || fail "info --json: a lone module has no bundle"
check "list a directory with bundles" "$lazymod" list "$fixtures/bundle"
grep -q "^btwo 1.0  bundle.so (bundle)" "$tmp/out" && grep -q "^q5 1.0  race.so (bundle)" "$tmp/out" \
	&& pass "list shows the bundle of each member" || fail "list shows the bundle of each member"
check "list --json a directory with bundles" "$lazymod" list --json "$fixtures/bundle"
grep -q '"name":"q5",.*"bundle":"race.so"' "$tmp/out" && pass "list --json shows the bundle" || fail "list --json shows the bundle"
mkdir "$tmp/placement"
cp "$fixtures/bundle/bundle.so" "$fixtures/bundle/libbundlelib.so" "$fixtures/bundle-alone/bthree.so" "$tmp/placement/"
status "index refuses a module both in a bundle and alone" 1 "$lazymod" index "$tmp/placement"
grep -q "error: module bthree is both in bundle $tmp/placement/bundle.so and alone in $tmp/placement/bthree.so" "$tmp/err" \
	&& pass "the error names both files" || fail "the error names both files"
[ ! -e "$tmp/placement/lazymod.index" ] && pass "no index is written then" || fail "no index is written then"
rm "$tmp/placement/bthree.so"
check "index of the bundle alone" "$lazymod" index --strict "$tmp/placement"

# The plain-Makefile way to build a bundle (examples/demo/Makefile.bundle).
if make -s -f "$LAZYMOD_SOURCE/examples/demo/Makefile.bundle" O="$tmp/demo-bundle" \
	LAZYMOD="$lazymod" >"$tmp/out" 2>"$tmp/err"; then
	pass "the demo's modules build into one bundle with make"
	"$lazymod" list "$tmp/demo-bundle" >"$tmp/out" 2>"$tmp/err"
	[ "$(grep -c '  demo.so (bundle)$' "$tmp/out")" = 5 ] && pass "each of the five modules is a member of demo.so" \
		|| fail "each of the five modules is a member of demo.so"
	check "check of the bundle's index" "$lazymod" check "$tmp/demo-bundle"
else
	fail "the demo's modules build into one bundle with make"
	sed 's/^/# /' "$tmp/err"
fi

# index, list, check on a copy of the fixtures.
cp -a "$fixtures/basic" "$tmp/basic"
rm -f "$tmp/basic/lazymod.index"
check "index a directory" "$lazymod" index "$tmp/basic"
[ -f "$tmp/basic/lazymod.index" ] && pass "index is written to DIR/lazymod.index" || fail "index is written to DIR/lazymod.index"
grep -q "dependency cycle: cyc_a -> cyc_b -> cyc_a" "$tmp/err" && pass "index reports the cycle" || fail "index reports the cycle"
grep -q "test/dup provided by both" "$tmp/err" && pass "index reports duplicate providers" || fail "index reports duplicate providers"
grep -q "depends on nosuchmodule" "$tmp/err" && pass "index reports missing dependencies" || fail "index reports missing dependencies"
status "index --strict fails on those reports" 1 "$lazymod" index --strict "$tmp/basic"
check "index -o FILE" "$lazymod" index -o "$tmp/other.index" "$tmp/basic" "$fixtures/probe"
check "list --json INDEX" "$lazymod" list --json "$tmp/other.index"
json "set(m['name'] for m in d['indexes'][0]['modules']) >= {'alpha','beta','p_magic','p_code'} and [m['path'] for m in d['indexes'][0]['modules'] if m['name']=='alpha']==['basic/alpha.so']" \
	&& pass "list --json lists modules of several directories, paths relative to the index" || fail "list --json lists modules of several directories, paths relative to the index"
check "list DIR (text)" "$lazymod" list "$tmp/basic"
grep -q "provides test/gamma" "$tmp/out" && pass "list text shows features" || fail "list text shows features"
check "list --json without arguments lists the built tree" "$lazymod" list --json
json "any(i['index'].endswith('lazymod-demo/lazymod.index') for i in d['indexes'])" \
	&& pass "the built tree's index is found beside the tool" || fail "the built tree's index is found beside the tool"
status "list of a missing index fails" 1 "$lazymod" list "$tmp/nothing.index"

check "check a fresh index" "$lazymod" check "$tmp/basic"
grep -q ": ok," "$tmp/out" && pass "check says ok" || fail "check says ok"
cp "$fixtures/rebuilt/alpha.so" "$tmp/basic/alpha.so"
status "check finds a rebuilt module" 1 "$lazymod" check "$tmp/basic"
grep -q "module alpha: .* changed since it was indexed" "$tmp/out" && pass "check names the stale module" || fail "check names the stale module"
"$lazymod" index "$tmp/basic" 2>/dev/null
cp "$fixtures/probe/p_any.so" "$tmp/basic/"
status "check finds a module missing from the index" 1 "$lazymod" check "$tmp/basic"
grep -q "p_any .* is not in the index" "$tmp/out" && pass "check names the new module" || fail "check names the new module"
"$lazymod" index "$tmp/basic" 2>/dev/null
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=4; open(p,'wb').write(b)" "$tmp/basic/lazymod.index"
status "check finds a flipped bit" 1 "$lazymod" check "$tmp/basic"
grep -q "damaged" "$tmp/out" && pass "check says damaged" || fail "check says damaged"
check "index --sha256" "$lazymod" index --sha256 "$tmp/basic"
check "list --json shows the digests" "$lazymod" list --json "$tmp/basic"
json "all(len(m.get('sha256',''))==64 for m in d['indexes'][0]['modules'])" \
	&& pass "every module has its SHA-256" || fail "every module has its SHA-256"
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); i=b.find(b'GCC: ('); b[i]=ord('g'); open(p,'wb').write(b)" "$tmp/basic/beta.so"
status "check finds a changed byte through the digest" 1 "$lazymod" check "$tmp/basic"
grep -q "beta.so has another SHA-256" "$tmp/out" && pass "check names the changed module" || fail "check names the changed module"
head -c 50 "$fixtures/basic/lazymod.index" > "$tmp/short.index"
status "list of a truncated index fails" 1 "$lazymod" list "$tmp/short.index"
grep -q "index is corrupt" "$tmp/err" && pass "truncated index is named corrupt" || fail "truncated index is named corrupt"

# Files that are not regular files where a module or an index is expected:
# every command refuses them at once, naming the file and what it is, and
# never blocks (each run under a timeout: a blocking open would hang).
# make_special KIND PATH: a FIFO, a socket, a character device (a symbolic
# link to /dev/null) or a directory.
make_special() {
	case $1 in
	fifo) mkfifo "$2" ;;
	socket) python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$2" ;;
	device) ln -s /dev/null "$2" ;;
	directory) mkdir "$2" ;;
	esac
}
declare -A what=([fifo]="a FIFO" [socket]="a socket" [device]="a character device" [directory]="a directory")
for kind in fifo socket device directory; do
	d="$tmp/special-$kind"
	cp -a "$fixtures/basic" "$d"
	make_special "$kind" "$d/evil.so"
	status "index: $kind named *.so does not block, is reported" 0 timeout 10 "$lazymod" index "$d"
	grep -q "evil.so: ${what[$kind]}, not a regular file: skipped" "$tmp/err" \
		&& pass "index names the $kind" || fail "index names the $kind"
	status "index --strict: $kind named *.so fails" 1 timeout 10 "$lazymod" index --strict "$d"
	status "check: $kind named *.so is a problem" 1 timeout 10 "$lazymod" check "$d"
	grep -q "evil.so: ${what[$kind]}, not a regular file" "$tmp/err" \
		&& pass "check names the $kind" || fail "check names the $kind"
	status "info on a $kind fails at once" 1 timeout 10 "$lazymod" info "$d/evil.so"
	grep -q "evil.so: ${what[$kind]}, not a regular file" "$tmp/err" \
		&& pass "info names the $kind" || fail "info names the $kind"
	rm -rf "$d/evil.so" "$d/lazymod.index"
	make_special "$kind" "$d/lazymod.index"
	for cmd in list check; do
		status "$cmd: an index that is a $kind fails at once" 1 timeout 10 "$lazymod" $cmd "$d"
		grep -q "lazymod.index: ${what[$kind]}, not a regular file" "$tmp/err" \
			&& pass "$cmd names the $kind" || fail "$cmd names the $kind"
	done
	status "list INDEX: a $kind fails at once" 1 timeout 10 "$lazymod" list "$d/lazymod.index"
done

# The shared library's versions: lm_probe_window new in LAZYMOD_0.2, lm_probe
# there with whole names, and the 0.1 lm_probe kept for programs built before.
syms=$(objdump -T "$build/lib/liblazymod.so")
if echo "$syms" | grep -qE " LAZYMOD_0\.2 +lm_probe_window$" &&
	echo "$syms" | grep -qE " LAZYMOD_0\.2 +lm_probe$" &&
	echo "$syms" | grep -qE " \(LAZYMOD_0\.1\) +lm_probe$"; then
	pass "liblazymod.so exports lm_probe_window and both versions of lm_probe"
else
	fail "liblazymod.so exports lm_probe_window and both versions of lm_probe"
fi

# The built tree works from anywhere: copy it and run the demo host.
cp -a "$build/bin" "$build/lib" "$tmp/"
mkdir -p "$tmp/moved" && mv "$tmp/bin" "$tmp/lib" "$tmp/moved/"
check "a copied tree runs" "$tmp/moved/bin/lazymod-demo" greet loud world
grep -q "HELLO, WORLD!" "$tmp/out" && pass "the copy finds its modules through its index" || fail "the copy finds its modules through its index"
check "a copied tree's index passes check" "$tmp/moved/bin/lazymod" check "$tmp/moved/lib/lazymod-demo"

# make install: the shared and static library, headers, lazymod.pc, the tool.
if meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/dest" >"$tmp/out" 2>&1; then
	pass "meson install into a staging directory"
	pc=$(find "$tmp/dest" -name lazymod.pc | head -1)
	# lazymod.pc is relocatable: its prefix is the staged one.
	root=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=prefix lazymod)
	cat > "$tmp/host.c" <<'C'
#include <lazymod.h>
#include <stdio.h>
int main(void)
{
	struct lm_context *ctx;
	struct lm_options o = {0};
	int r = lm_context_new(&o, &ctx);
	printf("%s %s\n", r == 0 ? "ready" : "failed", lm_version());
	lm_context_unref(ctx);
	return r != 0;
}
C
	libdir=$(dirname "$pc")/..
	# A sanitizer build's library needs the sanitizers' runtimes in the host.
	san=""
	nm -D "$libdir/liblazymod.so" | grep -q __asan_ && san="-fsanitize=address,undefined"
	cflags=$(PKG_CONFIG_SYSROOT_DIR="$tmp/dest" PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags lazymod)
	libs=$(PKG_CONFIG_SYSROOT_DIR="$tmp/dest" PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --libs lazymod)
	if cc $san "$tmp/host.c" $cflags $libs -Wl,-rpath,"$libdir" -o "$tmp/host" && "$tmp/host" | grep -q "^ready"; then
		pass "a host builds with pkg-config against the installed shared library"
	else
		fail "a host builds with pkg-config against the installed shared library"
	fi
	if cc $san "$tmp/host.c" $cflags "$libdir/liblazymod.a" -ldl -lpthread -o "$tmp/host-static" &&
		"$tmp/host-static" | grep -q "^ready"; then
		pass "a host links the installed static library"
	else
		fail "a host links the installed static library"
	fi
	[ -x "$root/bin/lazymod" ] && [ -f "$root/include/lazymod/module.h" ] && pass "the tool and headers are installed" || fail "the tool and headers are installed"
else
	fail "meson install into a staging directory"
	sed 's/^/# /' "$tmp/out"
fi

tap_done
