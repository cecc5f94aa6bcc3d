# SPDX-License-Identifier: MIT
"""Reading the benchmark's CSVs and the statistics every table uses.

A cell's figure is the median of its runs, with the 25th and 75th
percentiles as its spread; a comparison of two cells is the median of the
ratios of their runs taken pair by pair (the same round, run one after the
other), never a ratio of medians.
"""
import collections
import csv
import os


def read(results, name):
    """The rows of results/name as dicts, or None when the file is missing."""
    path = os.path.join(results, name)
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def quantile(xs, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class Summary:
    def __init__(self, xs):
        xs = list(xs)
        self.n = len(xs)
        self.median = quantile(xs, 0.5)
        self.p25 = quantile(xs, 0.25)
        self.p75 = quantile(xs, 0.75)
        self.min = min(xs) if xs else float("nan")
        self.max = max(xs) if xs else float("nan")


def kv(text):
    """'a=1 b=2' -> {'a': '1', 'b': '2'}"""
    out = {}
    for word in (text or "").split():
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = v
    return out


def pair_ratios(a, b):
    """Per-round ratios a[r] / b[r] for rounds both have (dicts round -> value)."""
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r]]


# ---- the sections' data ------------------------------------------------------

MODES = ["eager", "dlopen-all", "lazy", "builtin"]


def startup(results):
    """{(mode, n): {'exec_to_main': {round: ns}, ..., 'libs': int}}, driver floor kB."""
    rows = read(results, "startup.csv")
    if rows is None:
        return None, None
    cells = collections.defaultdict(lambda: collections.defaultdict(dict))
    floor = None
    for r in rows:
        if r["phase"] == "driver":
            floor = int(r["maxrss_kb"])
            continue
        _, mode, n = r["cell"].split("/")
        key = (mode, int(n))
        out = kv(r["out"])
        if r["phase"] == "warm":
            if "libs" in out:
                cells[key]["libs"] = int(out["libs"])
            continue
        if r["status"] != "0":
            continue
        rnd = int(r["round"])
        t0 = int(r["t0_ns"])
        main, ready = int(out["main"]), int(out["ready"])
        c = cells[key]
        c["exec_to_main"][rnd] = main - t0
        c["main_to_ready"][rnd] = ready - main
        c["exec_to_ready"][rnd] = ready - t0
        c["total"][rnd] = int(r["wall_ns"])
        c["maxrss_kb"][rnd] = int(r["maxrss_kb"])
    return cells, floor


def batches(results, name, clock="cpu"):
    """{(cell, n): {round: ns per op}} from an in-process CSV (lookup.csv):
    the thread's CPU time (clock "cpu") or the wall time ("wall")."""
    rows = read(results, name)
    if rows is None:
        return None
    col = "cpu_ns" if clock == "cpu" else "total_ns"
    out = collections.defaultdict(dict)
    for r in rows:
        if r["phase"] != "run":
            continue
        out[(r["cell"], int(r["n"]))][int(r["round"])] = int(r[col]) / int(r["ops"])
    return out


def checks(results, name):
    rows = read(results, name)
    if rows is None:
        return None
    return {(r["cell"], r["n"], r["key"]): r["value"] for r in rows}


def spawned(results, name, key="op"):
    """{cell: {round: value}} from a runcells CSV: the child's key=, or wall_ns
    when key is None; plus {cell: {round: cpu us}} and the warm-up outputs."""
    rows = read(results, name)
    if rows is None:
        return None, None, None
    vals = collections.defaultdict(dict)
    cpu = collections.defaultdict(dict)
    warm = collections.defaultdict(list)
    for r in rows:
        if r["phase"] == "warm":
            warm[r["cell"]].append(kv(r["out"]))
        if r["phase"] != "run" or r["status"] != "0":
            continue
        rnd = int(r["round"])
        vals[r["cell"]][rnd] = int(r["wall_ns"]) if key is None else int(kv(r["out"])[key])
        cpu[r["cell"]][rnd] = int(r["utime_us"]) + int(r["stime_us"])
    return vals, cpu, warm


def parts(results, clock="cpu"):
    """{part: {round: ns per item}} and {part: items per op}."""
    rows = read(results, "parts.csv")
    if rows is None:
        return None, None
    col = "cpu_ns" if clock == "cpu" else "total_ns"
    out = collections.defaultdict(dict)
    per = {}
    for r in rows:
        if r["phase"] != "run":
            continue
        n = int(r["ops"]) * int(r["per_op"])
        out[r["cell"]][int(r["round"])] = int(r[col]) / n
        per[r["cell"]] = int(r["per_op"])
    return out, per


def memory(results):
    """{mode: {round: [(pss_kb, rss_kb, process_pss_kb), ...]}}, index bytes, nproc,
    features listed by a mapping process."""
    rows = read(results, "memory.csv")
    if rows is None:
        return None, None, None, None
    out = collections.defaultdict(lambda: collections.defaultdict(list))
    size = nproc = None
    features = 0
    for r in rows:
        if r["phase"] != "run":
            continue
        out[r["mode"]][int(r["round"])].append(
            (int(r["pss_kb"]), int(r["rss_kb"]), int(r["process_pss_kb"])))
        size = int(r["index_bytes"])
        nproc = int(r["nproc"])
        features = max(features, int(r.get("features_listed") or 0))
    return out, size, nproc, features


def keyvals(results, name):
    rows = read(results, name)
    if rows is None:
        return None
    return {r[list(r)[0]]: r[list(r)[1]] for r in rows}
