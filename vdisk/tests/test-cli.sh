#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test-cli.sh - checks vdisk's command line: exit statuses and messages,
# then every command against qemu-img on a qcow2, vmdk, vdi, vpc, vhdx and
# raw image made from the same guest data.
#
#   VDISK=/path/to/vdisk test-cli.sh
#
# Needs qemu-img, qemu-io and python3 (to read JSON). Prints TAP.

set -u
if [ -z "${VDISK:-}" ]; then
	echo "test-cli.sh: set VDISK to the vdisk executable" >&2
	exit 2
fi
case $VDISK in /*) ;; *) VDISK=$PWD/$VDISK ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

. "$(dirname "$0")/../../tests/lib/tap.sh"
# The value of KEY (a path of keys separated by dots) in the JSON file FILE.
jget() { # FILE KEY
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$1" "$2"
}

# status NAME WANT PATTERN CMD...: vdisk exits WANT and, when PATTERN is not
# empty, says something matching it on stderr.
status() {
	local name=$1 want=$2 pattern=$3 rc
	shift 3
	timeout 20 "$VDISK" "$@" >out.txt 2>err.txt
	rc=$?
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

# ---- help, version, usage errors ------------------------------------------------

status "--help exits 0" 0 "" --help
missing=
for w in info probe cat convert formats -f -O -p -h -V --json --format --output-format \
	--progress --help --version; do
	grep -qw -- "$w" out.txt || missing+=" $w"
done
[ -z "$missing" ]
check "--help documents every command and option" $? "missing:$missing"
status "--version exits 0" 0 "" --version
grep -qE '^vdisk [0-9]' out.txt
check "--version names vdisk's version" $? "$(cat out.txt)"
status "COMMAND --help exits 0" 0 "" convert --help

status "no command: usage error" 2 "no command"
status "unknown command: usage error" 2 "unknown command frobnicate" frobnicate
status "unknown option: usage error" 2 "unknown option" info --frob x.img
status "info without IMAGE: usage error" 2 "missing IMAGE" info
status "convert without OUTPUT: usage error" 2 "missing OUTPUT" convert -O raw x.img
status "-f without its argument: usage error" 2 "needs an argument" info x.img -f
status "too many arguments: usage error" 2 "unexpected argument" probe a b
status "convert -O qcow2: usage error naming qcow2" 2 "qcow2" convert -O qcow2 x.img y.qcow2

status "missing file: error naming it" 1 "^vdisk: missing\.qcow2: .*No such file" info missing.qcow2
head -c 100000 /dev/urandom >garbage.bin
status "garbage given -f qcow2: error naming the file" 1 "^vdisk: garbage\.bin: .*magic" \
	info -f qcow2 garbage.bin
status "garbage given -f qcow2: cat fails too" 1 "^vdisk: garbage\.bin: " cat -f qcow2 garbage.bin
status "unknown format given -f: error" 1 "^vdisk: garbage\.bin: unknown format nosuch" \
	info -f nosuch garbage.bin
mkdir adir
status "a directory: error naming it" 1 "^vdisk: adir: " info adir

# ---- the same guest data in every format ---------------------------------------------

truncate -s 64M src.raw
qemu-io -f raw -c 'write -P 0x5a 0 64k' -c 'write -P 0xa5 5M 1M' -c 'write -P 0x11 33M 300k' \
	-c 'write -P 0x22 64M-4k 4k' src.raw >/dev/null
head -c 200000 /dev/urandom | dd of=src.raw bs=4096 seek=3000 conv=notrunc status=none
for f in qcow2 vmdk vdi vpc vhdx; do
	qemu-img convert -f raw -O $f src.raw img.$f
done
cp src.raw img.raw
qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd src.raw zstd.qcow2

for f in qcow2 vmdk vdi vpc vhdx raw; do
	img=img.$f
	qemu-img info -f $f --output=json $img >q.json
	"$VDISK" info --json $img >v.json 2>err.txt
	rc=$?
	if [ $rc -ne 0 ] ||
		! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' v.json 2>/dev/null; then
		fail "$f: info --json is valid JSON" "status $rc: $(cat err.txt v.json)"
		continue
	fi
	want="$(jget q.json format) $(jget q.json virtual-size)"
	got="$(jget v.json format) $(jget v.json virtual-size)"
	[ "$got" = "$want" ]
	check "$f: info --json format and virtual-size are qemu-img's ($want)" $? "got $got"

	want=$(qemu-img info -f $f $img | grep '^virtual size:')
	got=$("$VDISK" info $img | grep '^virtual size:')
	[ "$got" = "$want" ]
	check "$f: info says '$want' as qemu-img does" $? "got '$got'"

	got=$("$VDISK" probe $img 2>&1)
	[ "${got%% *}" = "$f" ]
	check "$f: probe names $f" $? "$got"

	qemu-img convert -f $f -O raw $img ref.raw
	"$VDISK" cat $img >cat.raw 2>err.txt
	cmp -s cat.raw ref.raw
	check "$f: cat writes qemu-img's guest bytes" $? "$(cat err.txt; cmp cat.raw ref.raw 2>&1)"

	rm -f conv.raw
	"$VDISK" convert -O raw $img conv.raw 2>err.txt
	cmp -s conv.raw ref.raw && [ "$(stat -c %s conv.raw)" = "$(stat -c %s ref.raw)" ]
	check "$f: convert -O raw writes qemu-img's bytes" $? \
		"$(cat err.txt; cmp conv.raw ref.raw 2>&1)"
done

got=$("$VDISK" probe garbage.bin 2>&1)
[ "${got%% *}" = raw ]
check "probe of random bytes: raw" $? "$got"
got=$("$VDISK" probe zstd.qcow2 2>&1)
case $got in "qcow2 (score 100, magic "*) true ;; *) false ;; esac
check "probe tells its score and rule" $? "$got"

qemu-img convert -O raw zstd.qcow2 ref.raw
"$VDISK" cat zstd.qcow2 2>err.txt | cmp -s - ref.raw
check "cat of a zstd-compressed qcow2" $? "$(cat err.txt)"
"$VDISK" info --json zstd.qcow2 >v.json
[ "$(jget v.json format-specific.data.compression-type)" = zstd ] &&
	[ "$(jget v.json compression)" = zstd ]
check "info --json: format-specific data, compression" $? "$(cat v.json)"

# ---- convert: sparse output, and what it refuses ----------------------------------------

qemu-img create -q -f qcow2 big.qcow2 1G
qemu-io -f qcow2 -c 'write -P 0x77 100M 64k' -c 'write -z 200M 1M' -c 'write -P 0 300M 1M' \
	-c 'write -P 0x78 1000M 64k' big.qcow2 >/dev/null
qemu-img convert -O raw big.qcow2 ref.raw
rm -f conv.raw
"$VDISK" convert -O raw big.qcow2 conv.raw 2>err.txt
cmp -s conv.raw ref.raw
check "convert of a 1 GiB sparse qcow2: qemu-img's bytes" $? "$(cat err.txt)"
used=$(du -k conv.raw | cut -f1)
[ "$used" -lt 4096 ] && [ "$(stat -c %s conv.raw)" = $((1 << 30)) ]
check "convert leaves holes, zero-filled data included (${used} KiB used of 1 GiB)" $?

rm -f conv.raw
"$VDISK" convert -p -O raw img.qcow2 conv.raw 2>err.txt
[ ! -s err.txt ] && cmp -s conv.raw src.raw
check "convert -p draws nothing when stderr is not a terminal" $? "$(cat err.txt)"

cp img.raw keep.raw
status "convert onto its own input: refused" 1 "keep\.raw" convert -f raw keep.raw keep.raw
cmp -s keep.raw src.raw
check "convert onto its own input: the input is intact" $?
status "convert to an unwritable place: error naming it" 1 "^vdisk: nodir/out\.raw: " \
	convert img.qcow2 nodir/out.raw
qemu-img create -q -f qcow2 -b gone.qcow2 -F qcow2 -u orphan.qcow2 8M
status "convert of an image whose backing file is missing" 1 "orphan\.qcow2: .*gone\.qcow2" \
	convert orphan.qcow2 orphan.raw
[ ! -e orphan.raw ]
check "a failed convert leaves no output behind" $?
"$VDISK" info --json orphan.qcow2 >v.json 2>err.txt &&
	[ "$(jget v.json backing-filename)" = gone.qcow2 ] &&
	[ "$(jget v.json backing-filename-format)" = qcow2 ]
check "info names a backing file it does not open" $? "$(cat err.txt v.json)"

# ---- cat into a pipe that closes ------------------------------------------------------------

"$VDISK" cat img.raw 2>err.txt | head -c 10 >/dev/null
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] && [ ! -s err.txt ]
check "cat stops quietly when its reader goes away" $? "status $rc: $(cat err.txt)"

# ---- formats ------------------------------------------------------------------------------------

if "$VDISK" formats --json >f.json 2>err.txt; then
	missing=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
have = {f["name"] for f in d["formats"]}
print(" ".join(f for f in "raw qcow2 vmdk vdi vpc vhdx".split() if f not in have))
if not any(p["name"] == "file" for p in d["protocols"]): print("protocol-file")
if not {"zlib", "zstd", "deflate"} <= {c["name"] for c in d["codecs"]}: print("codecs")
' f.json 2>&1)
	[ -z "$missing" ]
	check "formats --json lists raw, qcow2, vmdk, vdi, vpc, vhdx, file and the codecs" $? \
		"missing: $missing"
else
	fail "formats --json" "$(cat err.txt)"
fi
"$VDISK" formats >f.txt 2>err.txt && grep -q '^Formats:' f.txt && grep -q '^  qcow2 ' f.txt
check "formats, for people" $? "$(cat err.txt f.txt)"

tap_done
