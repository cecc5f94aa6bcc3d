#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What the dynamic loader reports for each cell of a spec, interleaved.

    lddebug.py OUT.csv WARMUP RUNS SPEC

SPEC is runcells' (a label, a tab, the command's argv separated by tabs).
Every round runs each cell once, the order reversed every other round.
Warm-up rounds run under LD_DEBUG=files and count the objects the loader
mapped (its "generating link map" lines: every shared object, the loader's
own name excepted, and every dlopened module, even one reopened under a
name used before, such as lazymod's /proc/self/fd/N), in all and before
the first dlopen (objects_startup); the kept rounds run
under LD_DEBUG=statistics and keep what it says: the loader's start-up time
(in its unit: "cycles" on x86, the TSC), the relocations at start-up, and
glibc's final count at exit (which adds every later dlopen's). The times
the loader reports are its own clock's; the wall time of a cell is
runcells' business (with no LD_DEBUG), not this script's.

OUT.csv: phase,round,cell,status,objects,objects_startup,loader_time,loader_unit,relocs,
relative_relocs,final_relocs
"""
import csv
import os
import re
import subprocess
import sys

RE_TIME = re.compile(r"total startup time in dynamic loader:\s*([0-9.]+)\s*(\S+)")
RE_REL = re.compile(r"^\s*\d+:\s+number of relocations:\s*(\d+)", re.M)
RE_RELATIVE = re.compile(r"number of relative relocations:\s*(\d+)")
RE_FINAL = re.compile(r"final number of relocations:\s*(\d+)")
RE_MAP = re.compile(r"file=(\S+) \[\d+\];\s+generating link map")


def load_spec(path):
    cells = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            cells.append((parts[0], parts[1:]))
    return cells


def run(argv, debug):
    env = dict(os.environ, LD_DEBUG=debug)
    env.pop("LD_DEBUG_OUTPUT", None)
    p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def main():
    out, warm, runs, spec = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    cells = load_spec(spec)
    failures = 0
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phase", "round", "cell", "status", "objects", "objects_startup", "loader_time", "loader_unit",
                    "relocs", "relative_relocs", "final_relocs"])
        for r in range(warm + runs):
            order = cells if r % 2 == 0 else cells[::-1]
            for label, argv in order:
                if r < warm:
                    code, err = run(argv, "files")
                    objs = len(RE_MAP.findall(err))
                    first = err.find("dynamically loaded by")
                    start = len(RE_MAP.findall(err if first < 0 else err[:first]))
                    w.writerow(["warm", r, label, code, objs, start, "", "", "", "", ""])
                else:
                    code, err = run(argv, "statistics")
                    t = RE_TIME.search(err)
                    rel = RE_REL.search(err)
                    relative = RE_RELATIVE.search(err)
                    final = RE_FINAL.search(err)
                    w.writerow(["run", r - warm, label, code, "", "",
                                t.group(1) if t else "", t.group(2) if t else "",
                                rel.group(1) if rel else "",
                                relative.group(1) if relative else "",
                                final.group(1) if final else ""])
                if code != 0:
                    failures += 1
                    sys.stderr.write(f"lddebug: {label} exited with status {code}: "
                                     f"{err.strip().splitlines()[-1:] if err else ''}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
