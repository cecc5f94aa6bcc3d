#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the small tables the plots read (results/plot-*.dat), from the CSVs.

    summarize.py RESULTS

Each .dat file holds whitespace-separated columns with a '#' header line;
a section whose CSV is missing writes nothing (its plot is skipped).
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402


def write(path, header, rows):
    with open(path, "w") as f:
        f.write("# " + " ".join(header) + "\n")
        for r in rows:
            f.write(" ".join(str(x) for x in r) + "\n")


def main():
    res = sys.argv[1]
    cells, _ = stats.startup(res)
    if cells:
        ns = sorted({n for (_, n) in cells})
        for mode in stats.MODES:
            rows = []
            for pos, n in enumerate(ns):
                c = cells.get((mode, n))
                if not c:
                    continue
                t = stats.Summary(v / 1e6 for v in c["total"].values())
                e = stats.Summary(v / 1e6 for v in c["exec_to_ready"].values())
                m = stats.Summary(v / 1024 for v in c["maxrss_kb"].values())
                rows.append((pos, n, t.median, t.p25, t.p75, e.median, e.p25, e.p75,
                             m.median, m.p25, m.p75))
            write(os.path.join(res, f"plot-startup-{mode}.dat"),
                  ["xpos", "n", "total_ms", "p25", "p75", "ready_ms", "p25", "p75",
                   "rss_mib", "p25", "p75"], rows)

    lookup = stats.batches(res, "lookup.csv")
    if lookup:
        for cell, name in (("open", "open"), ("probe", "probe")):
            rows = []
            for (c, n), runs in sorted(lookup.items()):
                if c == cell:
                    s = stats.Summary(v / 1e3 for v in runs.values())
                    rows.append((n, s.median, s.p25, s.p75))
            write(os.path.join(res, f"plot-{name}.dat"), ["n", "us", "p25", "p75"], rows)
        cold, _, _ = stats.spawned(res, "open-cold.csv")
        if cold:
            rows = []
            for cell, runs in sorted(cold.items(), key=lambda kv: int(kv[0].split("/")[1])):
                s = stats.Summary(v / 1e3 for v in runs.values())
                rows.append((int(cell.split("/")[1]), s.median, s.p25, s.p75))
            write(os.path.join(res, "plot-open-cold.dat"), ["n", "us", "p25", "p75"], rows)

    mem, size, nproc, nfeat = stats.memory(res)
    if mem:
        rows = []
        for pos, mode in enumerate(["map", "read"]):
            per_round = [sum(p for p, _, _ in procs) / len(procs) for procs in mem[mode].values()]
            s = stats.Summary(per_round)
            label = "mapped (lazymod)" if mode == "map" else "read into malloc"
            rows.append((pos, '"%s"' % label, s.median, s.p25, s.p75))
        write(os.path.join(res, "plot-memory.dat"), ["xpos", "mode", "pss_kib", "p25", "p75"],
              rows)
        write(os.path.join(res, "plot-memory-ref.dat"),
              ["size_kib", "size_over_nproc_kib", "nproc", "modules"],
              [(size / 1024, size / 1024 / nproc, nproc, nfeat)])


if __name__ == "__main__":
    main()
