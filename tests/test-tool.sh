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

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# check NAME COMMAND...: the command must succeed.
check() { local name=$1; shift; if "$@" >"$tmp/out" 2>"$tmp/err"; then ok "$name"; else not_ok "$name"; sed 's/^/# /' "$tmp/err"; fi; }
# status NAME EXPECTED COMMAND...: the command must exit with EXPECTED.
status() {
	local name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else not_ok "$name (exit $got, expected $want)"; sed 's/^/# /' "$tmp/err"; fi
}
json() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); sys.exit(0 if ($1) else 1)"; }

check "--help" "$lazymod" --help
grep -q "index" "$tmp/out" || not_ok "--help lists the commands"
check "--version" "$lazymod" --version
grep -qE '^lazymod [0-9]+\.[0-9]+' "$tmp/out" && ok "--version prints the version" || not_ok "--version prints the version"
status "no command is a usage error" 2 "$lazymod"
status "unknown command is a usage error" 2 "$lazymod" frobnicate
grep -q "not a command" "$tmp/err" && ok "unknown command is named" || not_ok "unknown command is named"
status "index without a directory is a usage error" 2 "$lazymod" index
check "index --help" "$lazymod" index --help

# The note, as readelf sees it.
if readelf -n "$fixtures/basic/alpha.so" | grep -q "^  lazymod"; then ok "readelf -n shows the lazymod note"; else not_ok "readelf -n shows the lazymod note"; fi

# info: decode a module.
check "info --json on a module" "$lazymod" info --json "$fixtures/basic/alpha.so"
json "d['modules'][0]['name']=='alpha' and d['modules'][0]['dependencies']==['beta'] and sorted(f['name'] for f in d['modules'][0]['features'])==['alpha','alpha2'] and d['modules'][0]['interface']=='1.0' and len(d['modules'][0]['build-id'])==40" \
	&& ok "info --json lists features, dependencies, interface, build-id" || not_ok "info --json lists features, dependencies, interface, build-id"
check "info --json on a module with rules" "$lazymod" info --json "$fixtures/probe/p_mask.so"
json "d['modules'][0]['features'][0]['rules']==[{'type':'magic','offset':4,'bytes':'MASK\\\\x00\\\\x02','mask':'\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff\\\\xfe','score':60}]" \
	&& ok "info --json shows probe rules with masks" || not_ok "info --json shows probe rules with masks"
check "info --json on an executable with a built-in module" "$lazymod" info --json "$build/tests/test-builtin"
json "d['modules'][0]['name']=='shared'" && ok "info decodes built-in modules" || not_ok "info decodes built-in modules"
check "info (text)" "$lazymod" info "$fixtures/basic/gamma.so"
grep -q "depends on alpha" "$tmp/out" && ok "info text shows dependencies" || not_ok "info text shows dependencies"
echo "text" > "$tmp/notelf.so"
status "info on a non-ELF file fails" 1 "$lazymod" info "$tmp/notelf.so"
grep -q "not an ELF file" "$tmp/err" && ok "info names what is wrong" || not_ok "info names what is wrong"
status "info on a library without a manifest fails" 1 "$lazymod" info "$fixtures/basic/libfixgone.so"
grep -q "no lazymod manifest" "$tmp/err" && ok "info says there is no manifest" || not_ok "info says there is no manifest"
status "info on a missing file fails" 1 "$lazymod" info "$tmp/missing.so"

# index, list, check on a copy of the fixtures.
cp -a "$fixtures/basic" "$tmp/basic"
rm -f "$tmp/basic/lazymod.index"
check "index a directory" "$lazymod" index "$tmp/basic"
[ -f "$tmp/basic/lazymod.index" ] && ok "index is written to DIR/lazymod.index" || not_ok "index is written to DIR/lazymod.index"
grep -q "dependency cycle: cyc_a -> cyc_b -> cyc_a" "$tmp/err" && ok "index reports the cycle" || not_ok "index reports the cycle"
grep -q "test/dup provided by both" "$tmp/err" && ok "index reports duplicate providers" || not_ok "index reports duplicate providers"
grep -q "depends on nosuchmodule" "$tmp/err" && ok "index reports missing dependencies" || not_ok "index reports missing dependencies"
status "index --strict fails on those reports" 1 "$lazymod" index --strict "$tmp/basic"
check "index -o FILE" "$lazymod" index -o "$tmp/other.index" "$tmp/basic" "$fixtures/probe"
check "list --json INDEX" "$lazymod" list --json "$tmp/other.index"
json "set(m['name'] for m in d['indexes'][0]['modules']) >= {'alpha','beta','p_magic','p_code'} and [m['path'] for m in d['indexes'][0]['modules'] if m['name']=='alpha']==['basic/alpha.so']" \
	&& ok "list --json lists modules of several directories, paths relative to the index" || not_ok "list --json lists modules of several directories, paths relative to the index"
check "list DIR (text)" "$lazymod" list "$tmp/basic"
grep -q "provides test/gamma" "$tmp/out" && ok "list text shows features" || not_ok "list text shows features"
check "list --json without arguments lists the built tree" "$lazymod" list --json
json "any(i['index'].endswith('lazymod-demo/lazymod.index') for i in d['indexes'])" \
	&& ok "the built tree's index is found beside the tool" || not_ok "the built tree's index is found beside the tool"
status "list of a missing index fails" 1 "$lazymod" list "$tmp/nothing.index"

check "check a fresh index" "$lazymod" check "$tmp/basic"
grep -q ": ok," "$tmp/out" && ok "check says ok" || not_ok "check says ok"
cp "$fixtures/rebuilt/alpha.so" "$tmp/basic/alpha.so"
status "check finds a rebuilt module" 1 "$lazymod" check "$tmp/basic"
grep -q "module alpha: .* changed since it was indexed" "$tmp/out" && ok "check names the stale module" || not_ok "check names the stale module"
"$lazymod" index "$tmp/basic" 2>/dev/null
cp "$fixtures/probe/p_any.so" "$tmp/basic/"
status "check finds a module missing from the index" 1 "$lazymod" check "$tmp/basic"
grep -q "p_any .* is not in the index" "$tmp/out" && ok "check names the new module" || not_ok "check names the new module"
"$lazymod" index "$tmp/basic" 2>/dev/null
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=4; open(p,'wb').write(b)" "$tmp/basic/lazymod.index"
status "check finds a flipped bit" 1 "$lazymod" check "$tmp/basic"
grep -q "damaged" "$tmp/out" && ok "check says damaged" || not_ok "check says damaged"
check "index --sha256" "$lazymod" index --sha256 "$tmp/basic"
check "list --json shows the digests" "$lazymod" list --json "$tmp/basic"
json "all(len(m.get('sha256',''))==64 for m in d['indexes'][0]['modules'])" \
	&& ok "every module has its SHA-256" || not_ok "every module has its SHA-256"
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); i=b.find(b'GCC: ('); b[i]=ord('g'); open(p,'wb').write(b)" "$tmp/basic/beta.so"
status "check finds a changed byte through the digest" 1 "$lazymod" check "$tmp/basic"
grep -q "beta.so has another SHA-256" "$tmp/out" && ok "check names the changed module" || not_ok "check names the changed module"
head -c 50 "$fixtures/basic/lazymod.index" > "$tmp/short.index"
status "list of a truncated index fails" 1 "$lazymod" list "$tmp/short.index"
grep -q "index is corrupt" "$tmp/err" && ok "truncated index is named corrupt" || not_ok "truncated index is named corrupt"

# The built tree works from anywhere: copy it and run the demo host.
cp -a "$build/bin" "$build/lib" "$tmp/"
mkdir -p "$tmp/moved" && mv "$tmp/bin" "$tmp/lib" "$tmp/moved/"
check "a copied tree runs" "$tmp/moved/bin/lazymod-demo" greet loud world
grep -q "HELLO, WORLD!" "$tmp/out" && ok "the copy finds its modules through its index" || not_ok "the copy finds its modules through its index"
check "a copied tree's index passes check" "$tmp/moved/bin/lazymod" check "$tmp/moved/lib/lazymod-demo"

# make install: the shared and static library, headers, lazymod.pc, the tool.
if meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/dest" >"$tmp/out" 2>&1; then
	ok "meson install into a staging directory"
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
		ok "a host builds with pkg-config against the installed shared library"
	else
		not_ok "a host builds with pkg-config against the installed shared library"
	fi
	if cc $san "$tmp/host.c" $cflags "$libdir/liblazymod.a" -ldl -lpthread -o "$tmp/host-static" &&
		"$tmp/host-static" | grep -q "^ready"; then
		ok "a host links the installed static library"
	else
		not_ok "a host links the installed static library"
	fi
	[ -x "$root/bin/lazymod" ] && [ -f "$root/include/lazymod/module.h" ] && ok "the tool and headers are installed" || not_ok "the tool and headers are installed"
else
	not_ok "meson install into a staging directory"
	sed 's/^/# /' "$tmp/out"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
