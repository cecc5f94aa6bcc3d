#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds one guest program: build-guest.sh AS LD XLEN TEXT OUT SOURCE LIB
# assembles SOURCE and LIB (the shared start-up) for rv32i or rv64i and
# links them with .text at TEXT (0x80000000 for RAM's start).
set -eu
as=$1 ld=$2 xlen=$3 text=$4 out=$5 src=$6 lib=$7
if [ "$xlen" = 32 ]; then abi=ilp32 emul=elf32lriscv; else abi=lp64 emul=elf64lriscv; fi
dir=$(dirname "$src")
"$as" -march=rv${xlen}i -mabi=$abi --defsym XLEN=$xlen -I "$dir" -o "$out.o" "$src"
"$as" -march=rv${xlen}i -mabi=$abi --defsym XLEN=$xlen -I "$dir" -o "$out.lib.o" "$lib"
"$ld" -m $emul -N --no-warn-rwx-segments -e _start -Ttext="$text" -o "$out" "$out.lib.o" "$out.o"
rm -f "$out.o" "$out.lib.o"
