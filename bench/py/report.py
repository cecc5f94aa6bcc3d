#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generates docs/PERFORMANCE.md from the benchmark's CSVs.

    report.py RESULTS OUT.md

Every figure in the report is computed here from the CSVs in RESULTS; the
only numbers written in this file are the goals (from the issue) and the
reference figures of /work/shared/DESIGN.md they are compared with. A
section whose CSV is missing says "not measured" instead of a figure.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402
from stats import Summary  # noqa: E402

# ---- goals (from the issue) and reference figures (DESIGN.md) ----------------
GOAL_LAZY_READY_RATIO = 1.10     # lazy ready at N=1000 / N=0
GOAL_EAGER_SEVERAL = 3.0         # "several times slower": at least this ratio
REF_PER_LIBRARY_US = 30.0        # DESIGN.md: about 30 us per DT_NEEDED library
GOAL_OPEN_US = 20.0              # opening a context over 10000 modules
GOAL_GET_LOADED_NS = 50.0        # getting a loaded feature
GOAL_GETLOAD_RATIO = 1.10        # getting a feature that must be loaded / dlopen+dlsym
GOAL_PROBE_US = 20.0             # probing 1000 declarative rules
GOAL_INDEX_MS = 100.0            # indexing 1000 modules
GOAL_PSS_RATIO = 1.2             # PSS per process / (index size / 16)
REF_SEEDS = ("libraries at start-up 142 → 128, loader time 65 → 20 ms, total 85 → 40 ms")
                                 # DESIGN.md: QEMU 2015 (seed 000), eager → modular
GOAL_VDISK_QEMU_RATIO = 0.5      # vdisk info (lazy) / qemu-img info, local qcow2, wall
GOAL_GST_RATIO = 0.2             # lazymod context + one loaded feature / gst_init + one element
GOAL_VMRUN_PICK_RATIO = 1.10    # lm_get of an accelerator: 2 accels x 2 targets / 1 build
BUDGET_S = 15 * 60               # make bench, whole
GOAL_BUNDLE50_RATIO = 0.3        # 50 features from a bundle of 50 / from 50 separate modules
GOAL_BUNDLE1_RATIO = 1.5         # one feature from a bundle of 50 / from the module alone

G_LAZY = (f"lazy: ready time (exec→ready) at N=1000 within {GOAL_LAZY_READY_RATIO:.2f}× of "
          "N=0")
G_EAGER = (f"eager link at N=100 several times (≥ {GOAL_EAGER_SEVERAL:.0f}×) slower than lazy "
           f"(about {REF_PER_LIBRARY_US:.0f} us a library)")
G_OPEN = f"opening a context over 10000 modules at most {GOAL_OPEN_US:.0f} us"
G_GET = f"getting a loaded feature at most {GOAL_GET_LOADED_NS:.0f} ns"
G_PROBE = f"probing 1000 declarative rules at most {GOAL_PROBE_US:.0f} us, loading nothing"
G_GETLOAD = (f"getting a feature that must be loaded at most {GOAL_GETLOAD_RATIO:.2f}× a bare "
             "dlopen + dlsym of the same file")
G_INDEX = f"indexing 1000 modules at most {GOAL_INDEX_MS:.0f} ms"
G_PSS = (f"PSS of the index per process at 16 processes within {GOAL_PSS_RATIO:.1f}× of its "
         "size / 16")

G_VDISK = (f"vdisk info on a local qcow2, lazy mode, at most {GOAL_VDISK_QEMU_RATIO}× the wall "
           "time of qemu-img info on the same image, with fewer libraries loaded")
G_BUNDLE50 = (f"one feature from each of 50 members of a bundle at most {GOAL_BUNDLE50_RATIO}× "
              "the same from 50 separate modules")
G_BUNDLE1 = (f"one feature from a bundle of 50 at most {GOAL_BUNDLE1_RATIO}× the same module "
             "alone")
G_GST = (f"lazymod context plus one loaded feature at most {GOAL_GST_RATIO}× GStreamer's gst_init "
         "plus one element (warm cache, an index as large as the registry)")

G_VMRUN_LIBS = "vmrun's libraries at start-up: the C library and liblazymod only"
G_VMRUN_PICK = (f"vmrun: choosing among 2 accelerators × 2 targets at most "
                f"{GOAL_VMRUN_PICK_RATIO:.2f}× a lookup among 1 build (first and later lookups)")

MODE_NAMES = {"eager": "eager link", "dlopen-all": "dlopen-all", "lazy": "lazy",
              "builtin": "built-in"}


# ---- formatting ----------------------------------------------------------------

def num(x, digits=3):
    """x with `digits` significant digits, without exponent."""
    if x != x:
        return "n/a"
    if x == 0:
        return "0"
    a = abs(x)
    for lim, dec in ((100, digits - 3), (10, digits - 2), (1, digits - 1)):
        if a >= lim:
            return f"{x:.{max(dec, 0)}f}"
    return f"{x:.{digits}f}" if a >= 0.01 else f"{x:.2g}"


def dur(ns):
    """A duration in ns, in the unit that suits it."""
    if ns != ns:
        return "n/a"
    if abs(ns) < 1e3:
        return f"{num(ns)} ns"
    if abs(ns) < 1e6:
        return f"{num(ns / 1e3)} us"
    if abs(ns) < 1e9:
        return f"{num(ns / 1e6)} ms"
    return f"{num(ns / 1e9)} s"


def spread(s, f=dur):
    """'median (p25-p75)'"""
    return f"{f(s.median)} ({f(s.p25)} – {f(s.p75)})"


def ratio(s):
    return f"{num(s.median)}× ({num(s.p25)} – {num(s.p75)})"


def kib(x):
    return f"{num(x)} KiB"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


class Report:
    def __init__(self, res):
        self.res = res
        self.goals = []   # (goal, measured, verdict, why-or-None)
        self.body = []

    def goal(self, text, measured, met, why=None, s=None, limit=None):
        """met: True, False or None (not measured). With the cell's Summary s and the
        goal's limit (in its unit), a limit inside p25-p75 is said: the verdict could
        go either way on another run."""
        verdict = "not measured" if met is None else ("**met**" if met else "**missed**")
        if met is not None and s is not None and limit is not None and s.p25 <= limit <= s.p75:
            verdict += " (the goal lies inside p25 – p75)"
        self.goals.append((text, measured, verdict, None if met in (None, True) else why))

    def add(self, *lines):
        self.body.extend(lines)


# ---- 1. start-up ------------------------------------------------------------------

def section_startup(rp):
    rp.add("## 1. Start-up of synthetic hosts", "")
    cells, floor = stats.startup(rp.res)
    if not cells:
        rp.add("Not measured (no `startup.csv`).", "")
        rp.goal(G_LAZY, "—", None)
        rp.goal(G_EAGER, "—", None)
        return
    ns = sorted({n for (_, n) in cells})
    runs = min(len(c["total"]) for c in cells.values())
    rp.add(
        f"A generated host with N available modules (N = {', '.join(map(str, ns))}), each "
        "module linked against a shared library of its own, built four ways from one source "
        "(`bench/src/synth-host.c`, modules from `bench/py/synth.py`):",
        "",
        "- **eager link**: every module's code linked into the executable and every library "
        "a `DT_NEEDED` of it; `main` initialises every module. Ready: all initialised.",
        "- **dlopen-all**: `main` dlopens every module of its directory (`RTLD_NOW`) and "
        "initialises it. Ready: all loaded.",
        "- **lazy**: `main` creates a lazymod context over the modules' directory (its index), "
        "with liblazymod linked statically. Ready: the context exists; nothing is loaded.",
        "- **built-in**: every module compiled into the executable (so its library is a "
        "`DT_NEEDED` too), found from the executable's own notes. Ready: the context exists; "
        "nothing is initialised.",
        "",
        f"Each cell ran {runs} times after warm-up, the {len(cells)} cells interleaved round "
        "by round, "
        "the order reversed every other round (A B C … C B A), with the cells the goals "
        "compare next to each other (lazy at 0 and at 1000 modules; lazy and eager at 100). "
        "*exec→main* is from the driver's clock reading just before `posix_spawn` to the "
        "host's first statement; *main→ready* is the host's own start-up work; *spawn→exit* "
        "is until `wait4` returned. *Objects mapped* counts the loader and every shared "
        "object (not the executable or the vDSO) when the host is ready "
        "(`dl_iterate_phdr`).",
        "")
    rows = []
    for n in ns:
        for mode in stats.MODES:
            c = cells.get((mode, n))
            if not c:
                continue
            rows.append([n, MODE_NAMES[mode], c.get("libs", "?"),
                         spread(Summary(c["exec_to_main"].values())),
                         spread(Summary(c["main_to_ready"].values())),
                         spread(Summary(c["exec_to_ready"].values())),
                         spread(Summary(c["total"].values())),
                         spread(Summary(v / 1024 for v in c["maxrss_kb"].values()),
                                lambda x: f"{num(x)} MiB")])
    rp.add("Median (p25 – p75) of each cell:", "")
    rp.add(*table(["N", "mode", "objects mapped", "exec→main", "main→ready", "exec→ready",
                   "spawn→exit", "peak RSS"], rows))

    # Ratios against lazy at the same N, pair by pair.
    rows = []
    for n in ns:
        lz = cells.get(("lazy", n))
        for mode in ("eager", "dlopen-all", "builtin"):
            c = cells.get((mode, n))
            if not c or not lz:
                continue
            rows.append([n, MODE_NAMES[mode],
                         ratio(Summary(stats.pair_ratios(c["exec_to_ready"], lz["exec_to_ready"]))),
                         ratio(Summary(stats.pair_ratios(c["total"], lz["total"])))])
    rp.add("Each mode against lazy at the same N (median of the per-round ratios, p25 – p75):",
           "")
    rp.add(*table(["N", "mode", "exec→ready ÷ lazy", "spawn→exit ÷ lazy"], rows))

    # Cost per library: (mode at N - mode at 0) / N, pair by pair.
    rows = []
    per_lib = {}
    for mode in ("eager", "builtin", "dlopen-all"):
        base = cells.get((mode, 0))
        for n in ns:
            c = cells.get((mode, n))
            if not n or not c or not base:
                continue
            d = [(c["exec_to_ready"][r] - base["exec_to_ready"][r]) / n
                 for r in c["exec_to_ready"] if r in base["exec_to_ready"]]
            per_lib[(mode, n)] = Summary(d)
            rows.append([MODE_NAMES[mode], n, spread(per_lib[(mode, n)])])
    rp.add("What each module adds to exec→ready, per module ((N − 0) ÷ N, pair by pair; "
           f"for eager and built-in that is one `DT_NEEDED` library each; the design measured "
           f"about {num(REF_PER_LIBRARY_US)} us a library for an empty `main`):", "")
    rp.add(*table(["mode", "N", "per module"], rows))
    if floor is not None:
        rp.add(f"Peak RSS is wait4's `ru_maxrss`. Linux folds the spawning process's own peak "
               f"into it (at exec), so the driver is linked statically and kept small: its peak "
               f"was {num(floor / 1024)} MiB, the floor of every figure in the column.", "")
    rp.add("![Start-up: spawn to exit against N](perf/startup-total.png)", "",
           "![Start-up: peak RSS against N](perf/startup-rss.png)", "")

    # Goal: lazy ready at 1000 within 1.10x of 0.
    lz0, lz1k = cells.get(("lazy", 0)), cells.get(("lazy", max(ns)))
    if lz0 and lz1k and max(ns) == 1000:
        r = Summary(stats.pair_ratios(lz1k["exec_to_ready"], lz0["exec_to_ready"]))
        mr = Summary(stats.pair_ratios(lz1k["main_to_ready"], lz0["main_to_ready"]))
        em = Summary(stats.pair_ratios(lz1k["exec_to_main"], lz0["exec_to_main"]))
        m0, m1 = Summary(lz0["main_to_ready"].values()), Summary(lz1k["main_to_ready"].values())
        why = (f"Ready time is exec→ready. Split: exec→main is {num(em.median)}× N=0's and "
               f"main→ready (creating the context) {num(mr.median)}× "
               f"({dur(m1.median)} against {dur(m0.median)}). "
               + ("If the growth is in main→ready, it is what context creation does per "
                  "indexed module: it allocates state for every module and feature of the "
                  "index up front (see §2.1); allocating that state on first load would make "
                  "it independent of N. "
                  if mr.median > em.median else
                  "If the growth is in exec→main, nothing the lazy host does before `main` "
                  "depends on N (its executable and libraries are the same for every N), so it "
                  "would be the machine's noise: more rounds, or a quieter machine, would "
                  "settle it. "))
        rp.goal(G_LAZY, f"{ratio(r)} ({dur(Summary(lz1k['exec_to_ready'].values()).median)} "
                f"against {dur(Summary(lz0['exec_to_ready'].values()).median)})",
                r.median <= GOAL_LAZY_READY_RATIO, why, r, GOAL_LAZY_READY_RATIO)
    # Goal: eager several times slower at 100.
    e100, l100 = cells.get(("eager", 100)), cells.get(("lazy", 100))
    if e100 and l100:
        r = Summary(stats.pair_ratios(e100["exec_to_ready"], l100["exec_to_ready"]))
        pl = per_lib.get(("eager", 100))
        why = (f"Here a library costs {dur(pl.median)} of exec→ready against the design's "
               f"{num(REF_PER_LIBRARY_US)} us. The eager link's cost is N times that, so if a "
               "library costs less on this machine (warm page cache, tiny libraries with few "
               "relocations), the ratio falls with it; it would reach several times where "
               "libraries cost what the design measured, or at larger N."
               if pl else "")
        rp.goal(G_EAGER, f"{ratio(r)} exec→ready; {dur(pl.median) if pl else '?'} a library",
                r.median >= GOAL_EAGER_SEVERAL, why, r, GOAL_EAGER_SEVERAL)


# ---- 2. lookups ------------------------------------------------------------------

def section_lookup(rp):
    rp.add("## 2. Lookups, loads, probes and indexing", "")
    lookup = stats.batches(rp.res, "lookup.csv")
    wall = stats.batches(rp.res, "lookup.csv", "wall") or {}
    chk = stats.checks(rp.res, "lookup-checks.csv") or {}
    parts, per = stats.parts(rp.res)
    parts_wall, _ = stats.parts(rp.res, "wall")
    P = {k: Summary(v.values()) for k, v in (parts or {}).items()}

    def wall_of(cell, n):
        w = wall.get((cell, n))
        return spread(Summary(w.values())) if w else "—"

    def part(name):
        return P.get(name, Summary([]))

    if not lookup:
        rp.add("Not measured (no `lookup.csv`).", "")
        for g in (G_OPEN, G_GET, G_PROBE):
            rp.goal(g, "—", None)
    else:
        runs = min(len(v) for v in lookup.values())
        rp.add("In one process (`bench/src/micro.c`, linked against `liblazymod.so` as a host "
               f"is), every cell once a round (the order reversed every other round), {runs} "
               "rounds after warm-up; a run is a batch of operations and its figure the batch's "
               "time divided by their number. The figure is the measuring thread's CPU time "
               "(`CLOCK_THREAD_CPUTIME_ID`: user and system time, page faults included), which "
               "leaves out the time other processes held the CPU: on this shared machine that "
               "time, not the library, dominates the wall time, shown beside it. Goals are "
               "judged on the CPU time.", "")

        # 2.1 open
        rp.add("### 2.1 Opening a context", "")
        cold, _, _ = stats.spawned(rp.res, "open-cold.csv")
        coldf, _, _ = stats.spawned(rp.res, "open-cold.csv", key="faults")
        rows = []
        for (c, n), v in sorted(lookup.items()):
            if c != "open":
                continue
            cc = (cold or {}).get(f"open-cold/{n}")
            cf = (coldf or {}).get(f"open-cold/{n}")
            rows.append([n, spread(Summary(v.values())), wall_of("open", n),
                         spread(Summary(cc.values())) if cc else "not measured",
                         num(Summary(cf.values()).median) if cf else "—"])
        sizes = sorted(n for (c, n) in lookup if c == "open")
        rp.add("`lm_context_new` over one directory whose index holds N modules. The indexes of "
               f"{' and '.join(map(str, sizes[:-1]))} modules are the start-up benchmark's "
               f"(`lazymod index` over real modules); the one of {sizes[-1]} is built by "
               f"`lm__index_build` from {sizes[-1]} synthetic manifests of the same shape "
               "(`bench/src/internal.c mkindex-mods`), with no module files behind it: opening "
               "reads the index alone. *In a running process* pins glibc's mmap threshold to its "
               "default, as in a host's first context (glibc raises it after the first free of "
               "a mapped block, and later big `calloc`s then clear heap memory instead); *first "
               "of a new process* is one call in a fresh process each run (with its page faults; "
               "wall time, from the process's own clock readings around the call).", "")
        rp.add(*table(["modules", "in a running process (CPU)", "(wall)",
                       "first of a new process (wall)", "its page faults"], rows))
        o10, o10k = lookup.get(("open", 10)), lookup.get(("open", 10000))
        if o10 and o10k:
            r = Summary(stats.pair_ratios(o10k, o10))
            s = Summary(o10k.values())
            rp.add(f"10000 modules against 10: {ratio(r)}.", "")
            why = ("Context creation allocates nothing in proportion to the index: each "
                   "module's state and each feature's object slot is made when first used "
                   "(lib/sparse.c; `test-index context_open_allocates_nothing_per_module`). "
                   f"What remains is fixed work (`realpath` {dur(part('realpath').median)}, "
                   f"open+fstat+close {dur(part('open-fstat-close').median)}, mmap+munmap "
                   f"{dur(part('open-mmap-munmap').median)}, the header check "
                   f"{dur(part('header-check').median)}) and the kernel's mapping of a larger "
                   "file: its first touches fault in the index's header and hash table, which "
                   "grow with it; a smaller header page set, or reading the header with pread "
                   "before mapping, would be the next step.")
            c10k = (cold or {}).get("open-cold/10000")
            first = f"{dur(Summary(c10k.values()).median)} wall" if c10k else "not measured"
            rp.goal(G_OPEN,
                    f"{spread(s)} CPU (wall {wall_of('open', 10000)}; first of a new process: "
                    f"{first})",
                    s.median <= GOAL_OPEN_US * 1e3, why, s, GOAL_OPEN_US * 1e3)

        # 2.2 get loaded
        rp.add("### 2.2 Getting a feature already loaded", "")
        rows = []
        for (c, n), v in sorted(lookup.items()):
            if c == "get-loaded":
                rows.append([n, spread(Summary(v.values())), wall_of(c, n)])
        gs = sorted(n for (c, n) in lookup if c == "get-loaded")
        rp.add("`lm_get` of a feature whose module is loaded, over the start-up benchmark's "
               f"indexes of {' and '.join(map(str, gs))} modules:", "")
        rp.add(*table(["modules in the index", "per lm_get (CPU)", "(wall)"], rows))
        g = lookup.get(("get-loaded", 1000))
        if g:
            s = Summary(g.values())
            crc_byte = part("crc32c-64-bytes").median / 64
            sse = P.get("crc32c-64-bytes-sse42")
            why = (f"Each call checks both names ({dur(part('check-names').median)}), hashes "
                   f"them ({dur(part('hash').median)}), walks the hash table "
                   f"(`lm__index_find_feature`, {dur(part('find-feature').median)}: each slot "
                   "and the feature record it leads to are verified with CRC-32C, the record "
                   "with its kind and name strings), then fetches and verifies the same feature "
                   f"record again (`lm__index_feat`, {dur(part('feature-record').median)}). The "
                   f"CRC-32C is table-driven, a byte at a time: {num(crc_byte)} ns a byte here"
                   + (f", against {num(sse.median / 64)} ns with the SSE4.2 `crc32` instruction "
                      "(§2.6)" if sse else "")
                   + ". Checking a record once per context (when a lookup first reaches it, or "
                   "when its module is loaded) and then keeping the feature's object in the "
                   "context's own table, not fetching the record twice, and checking names only "
                   "when a lookup misses would leave a hash and a few compares, which should "
                   "come under the goal"
                   + ("; the SSE4.2 CRC-32C alone would make each check about "
                      f"{num(part('crc32c-64-bytes').median / sse.median)} times cheaper, "
                      "keeping every check." if sse else "."))
            rp.goal(G_GET,
                    f"{spread(s)} CPU (wall {wall_of('get-loaded', 1000)}), 1000-module index",
                    s.median <= GOAL_GET_LOADED_NS, why, s, GOAL_GET_LOADED_NS)

        rp.add("### 2.3 Probing", "")
        rows = []
        for (c, n), v in sorted(lookup.items()):
            if c != "probe":
                continue
            s = Summary(v.values())
            loaded = chk.get(("probe", str(n), "objects_loaded_by_probe"), "?")
            winner = chk.get(("probe", str(n), "winner"), "?")
            rows.append([n, spread(s), wall_of(c, n), dur(s.median / n), f"`{winner}` "
                         f"(score {chk.get(('probe', str(n), 'score'), '?')})", loaded])
        hb = int(chk.get(("probe", "all", "input_head_bytes"), 0)) // 1024
        tb = int(chk.get(("probe", "all", "input_tail_bytes"), 0)) // 1024
        rp.add(f"`lm_probe` of a {hb} KiB head and a {tb} KiB tail against N declarative rules of "
               "one kind (`bench/src/internal.c mkindex-rules`: N synthetic manifests of one "
               "feature and one rule each, magic bytes at an offset from the start or from the "
               "end, each equal to the input but for its last byte, so that none matches and "
               "each compares all its bytes; the last rule matches). No module file exists "
               "behind these indexes, and the probe loads nothing: the objects mapped by the "
               "process were counted before and after.", "")
        rp.add(*table(["rules", "per probe (CPU)", "(wall)", "per rule (CPU)", "winner",
                       "objects loaded"], rows))
        total_loaded = chk.get(("probe", "all", "objects_loaded_during_runs"))
        if total_loaded is not None:
            rp.add(f"Objects loaded during all the probe runs: {total_loaded}.", "")
        p = lookup.get(("probe", 1000))
        if p:
            s = Summary(p.values())
            loaded = chk.get(("probe", "1000", "objects_loaded_by_probe"), "?")
            rec, match = part("rule-record").median, part("rule-match").median
            est = s.median - 1000 * rec
            why = (f"Per rule, fetching the record costs {dur(rec)} (`lm__index_rule` computes "
                   "the CRC-32C of the 32-byte record and of the rule's bytes, table-driven) "
                   f"and matching it {dur(match)} (§2.6). If a kind's rules were verified once "
                   "per context (at its first probe, or with the body checksum) rather than at "
                   f"every probe, a probe of 1000 rules would take about {dur(est)}, which "
                   + ("would meet" if est <= GOAL_PROBE_US * 1e3 else "would still miss")
                   + " the goal"
                   + (f"; the SSE4.2 CRC-32C (§2.6) would make each check about "
                      f"{num(part('crc32c-64-bytes').median / P['crc32c-64-bytes-sse42'].median)} "
                      "times cheaper without changing what is verified."
                      if "crc32c-64-bytes-sse42" in P else "."))
            rp.goal(G_PROBE, f"{spread(s)} CPU (wall {wall_of('probe', 1000)}); objects "
                    f"loaded: {loaded}",
                    s.median <= GOAL_PROBE_US * 1e3 and loaded == "0", why, s, GOAL_PROBE_US * 1e3)

    # 2.4 get that must load
    rp.add("### 2.4 Getting a feature whose module must be loaded", "")
    gl, _, warm = stats.spawned(rp.res, "getload.csv")
    glf, _, _ = stats.spawned(rp.res, "getload.csv", key="faults")
    if not gl:
        rp.add("Not measured (no `getload.csv`).", "")
        rp.goal(G_GETLOAD, "—", None)
    else:
        names = {"getload/lazymod": "`lm_get` (module and its library loaded)",
                 "getload/strict": "`lm_get` in strict mode (SHA-256 checked first)",
                 "getload/dlopen": "`dlopen` + `dlsym` of the same file",
                 "getload/dlopen-fd": "`open`, `dlopen(\"/proc/self/fd/N\")` + `dlsym`"}
        rows = []
        for cell in ("getload/lazymod", "getload/strict", "getload/dlopen", "getload/dlopen-fd"):
            if cell in gl:
                loaded = sorted({w.get("loaded", "?") for w in warm.get(cell, [])})
                rows.append([names[cell], spread(Summary(gl[cell].values())),
                             num(Summary(glf[cell].values()).median) if glf else "—",
                             ", ".join(loaded)])
        rp.add(f"Each run is a fresh process of the same program (`micro`), so the loader's "
               "cache never helps; the cells alternate run by run and load the same module "
               "file (a module of the start-up benchmark's largest directory, with its "
               "library), so all sides find the same page cache. The lazymod side creates its context before the "
               f"clock starts. {min(len(v) for v in gl.values())} runs each after warm-up.", "")
        rp.add(*table(["operation", "time", "page faults", "objects it mapped"], rows))
        rows = []
        pairs = [("getload/lazymod", "getload/dlopen"), ("getload/dlopen-fd", "getload/dlopen"),
                 ("getload/lazymod", "getload/dlopen-fd"), ("getload/strict", "getload/lazymod")]
        R = {}
        for a, b in pairs:
            if a in gl and b in gl:
                R[(a, b)] = Summary(stats.pair_ratios(gl[a], gl[b]))
                rows.append([f"{a.split('/')[1]} ÷ {b.split('/')[1]}", ratio(R[(a, b)])])
        rp.add(*table(["pair by pair", "ratio"], rows))
        main = R.get(("getload/lazymod", "getload/dlopen"))
        if main:
            fd = R.get(("getload/dlopen-fd", "getload/dlopen"))
            why = ("Before `dlopen`, `lm_get` opens the module, `fstat`s it, checks its owner "
                   "and directory and reads its build-id (open+fstat+close "
                   f"{dur(part('module-open-fstat-close').median)}, the build-id "
                   f"{dur(part('module-build-id').median)}, §2.6); after it, it confirms that "
                   "the object the loader returned is the file it checked (a walk of the loaded "
                   "objects before the call, a `stat` of the path after). It loads the path, not "
                   "`/proc/self/fd/N`: "
                   + (f"that route alone costs {ratio(fd)} a plain `dlopen` in a fresh process "
                      "(the first look-up under `/proc/self` in a process is the expensive "
                      "part), and glibc matches an object by its name. " if fd else "")
                   )
            rp.goal(G_GETLOAD,
                    f"{ratio(main)} ({dur(Summary(gl['getload/lazymod'].values()).median)} "
                    f"against {dur(Summary(gl['getload/dlopen'].values()).median)})",
                    main.median <= GOAL_GETLOAD_RATIO, why, main, GOAL_GETLOAD_RATIO)

    # 2.5 index build
    rp.add("### 2.5 Building the index", "")
    ix, cpu, _ = stats.spawned(rp.res, "index.csv", key=None)
    if not ix:
        rp.add("Not measured (no `index.csv`).", "")
        rp.goal(G_INDEX, "—", None)
    else:
        rows = []
        for cell in sorted(ix, key=lambda c: int(c.split("/")[1])):
            rows.append([cell.split("/")[1], spread(Summary(ix[cell].values())),
                         spread(Summary(v * 1e3 for v in cpu[cell].values()))])
        rp.add("`lazymod index -o COPY DIR` over the start-up benchmark's directories of real "
               "modules: a process per run (spawn to exit), reading every module's notes, "
               "building, writing the index atomically with `fsync`; 100 and 1000 alternate, "
               f"{min(len(v) for v in ix.values())} runs each after warm-up. CPU is user + "
               "system time; the rest of the wall time is spent waiting (for the `fsync`s of "
               "the atomic write, among others) and starting the process.", "")
        rp.add(*table(["modules", "wall", "CPU"], rows))
        if "index/1000" in ix:
            s = Summary(ix["index/1000"].values())
            c = Summary(v * 1e3 for v in cpu["index/1000"].values())
            why = (f"Of the wall time, {dur(c.median)} is CPU. If the CPU share dominates, the "
                   "builder's quadratic steps are where it goes (each module's name is looked up "
                   "by a linear scan of the set, and each feature's rules by a scan of every "
                   "rule); a hash of names would make them linear. If the wait dominates, it is "
                   "the two `fsync`s, which the atomic write needs.")
            rp.goal(G_INDEX, spread(s),
                    s.median <= GOAL_INDEX_MS * 1e6, why, s, GOAL_INDEX_MS * 1e6)

    # 2.6 parts
    rp.add("### 2.6 Where the time goes", "")
    if not parts:
        rp.add("Not measured (no `parts.csv`).", "")
    else:
        desc = {
            "crc32c-64-bytes": "`lm__crc32c` of 64 bytes (table-driven)",
            "crc32c-64-bytes-sse42": "CRC-32C of 64 bytes with SSE4.2 `crc32` (not in the library)",
            "check-names": "`lm__check_name` of a kind and a name",
            "hash": "`lm__hash` of a kind and a name",
            "find-feature": "`lm__index_find_feature` (1000-module index)",
            "feature-record": "`lm__index_feat`: fetch and verify a feature record",
            "get-loaded": "`lm_get` of a loaded feature (this binary)",
            "rule-record": "`lm__index_rule`: fetch and verify a rule record",
            "rule-match": "`lm__rule_match`",
            "probe": "`lm_probe` (this binary)",
            "realpath": "`realpath` of a module directory",
            "open-fstat-close": "open + fstat + close of an index",
            "open-mmap-munmap": "open + mmap + close + munmap of the 10000-module index",
            "header-check": "`lm__index_open`: the header check",
            "state-calloc": "calloc + free of the per-module and per-feature state, 10000 modules",
            "context-new": "`lm_context_new`, 10000 modules (this binary)",
            "context-unref": "`lm_context_unref`, 10000 modules",
            "module-open-fstat-close": "open + fstat + close of a module file",
            "module-build-id": "`lm__elf_build_id` of a module file",
            "access-proc-fd": "`access(\"/proc/self/fd/N\")`, after the first",
        }
        PW = {k: Summary(v.values()) for k, v in (parts_wall or {}).items()}
        order = [k for k in desc if k in parts] + sorted(k for k in parts if k not in desc)
        rows = [[desc.get(k, k) + (f", per rule ({per[k]} rules a call)" if per.get(k, 1) > 1
                                   else ""),
                 spread(P[k]), spread(PW[k]) if k in PW else "—"] for k in order]
        rp.add("The pieces the calls above are made of, timed alone in one process linked "
               "against the library's internal static archive (`bench/src/internal.c parts`), "
               "interleaved round by round, CPU time as above. They come from another binary "
               "than §2.1–2.3, so sums need not match those figures exactly.", "")
        rp.add(*table(["piece", "CPU", "(wall)"], rows))
    if lookup:
        rp.add("![Lookups: opening and probing against size](perf/lookup.png)", "")


# ---- 3. memory -----------------------------------------------------------------

def section_memory(rp):
    mem, size, nproc, nfeat = stats.memory(rp.res)
    rp.add(f"## 3. Memory: one index, {nproc or 'several'} processes", "")
    if not mem:
        rp.add("Not measured (no `memory.csv`).", "")
        rp.goal(G_PSS, "—", None)
        return
    rounds = min(len(v) for v in mem.values())
    rp.add(f"{nproc} processes of one host at once, each holding the same index, of "
           f"{nfeat} modules with a feature each ({num(size / 1024)} KiB; the largest index of "
           "§2.1): *mapped* creates a lazymod context and then lists every "
           "feature and looks each up by name (records, strings and hash slots: most of the "
           "index's pages), loading nothing; *read* reads the whole file into `malloc`ed "
           "memory. Once all are ready the driver reads each one's `/proc/PID/smaps`: Rss and "
           "Pss of the mapping holding the index (the file's mapping, or the anonymous one "
           "holding the buffer), and the process's whole Pss (`smaps_rollup`). "
           f"{rounds} rounds of each, alternating.", "")
    rows = []
    S = {}
    for mode, label in (("map", "mapped by lazymod"), ("read", "read into private memory")):
        rr = mem[mode]
        per = Summary(sum(p for p, _, _ in procs) / len(procs) for procs in rr.values())
        tot = Summary(sum(p for p, _, _ in procs) for procs in rr.values())
        rss = Summary(sum(r for _, r, _ in procs) / len(procs) for procs in rr.values())
        whole = Summary(sum(w for _, _, w in procs) / len(procs) for procs in rr.values())
        S[mode] = (per, rr)
        rows.append([label, spread(per, kib), spread(tot, kib), spread(rss, kib),
                     spread(whole, kib)])
    rp.add(*table(["index held", "its PSS per process", f"its PSS, all {nproc}",
                   "its RSS per process", "whole process PSS"], rows))
    ref = size / 1024 / nproc
    per, rr = S["map"]
    r = Summary((sum(p for p, _, _ in procs) / len(procs)) / ref for procs in rr.values())
    rp.add(f"Index size ÷ {nproc}: {kib(ref)}. `smaps` counts in whole KiB.", "")
    rp.add("![Memory: PSS of the index per process](perf/memory.png)", "")
    why = ("A PSS above size ÷ 16 means pages that are not shared: if the mapping were private "
           "and written to, or if the index were copied, each process would pay for its own "
           "pages, as the *read* row shows.")
    rp.goal(G_PSS if nproc == 16 else G_PSS.replace("16", str(nproc)),
            f"{spread(per, kib)} = {ratio(r)} of {kib(ref)}", r.median <= GOAL_PSS_RATIO, why, r,
            GOAL_PSS_RATIO)


# ---- 4-6. vdisk, http, GStreamer ------------------------------------------------------

VDISK_CELLS = ["qemu-img", "lazy", "eager", "builtin", "dlopen-all"]
VDISK_NAMES = {"qemu-img": "`qemu-img info`", "lazy": "vdisk, lazy", "eager": "vdisk, eager link",
               "builtin": "vdisk, built-in", "dlopen-all": "vdisk, dlopen-all"}


def loader(res, name):
    """From an lddebug.py CSV: {cell: {'objects': n, 'objects_startup': n,
    'time': {round: ns}, 'relocs': Summary, 'relative': Summary, 'final': Summary}},
    and the TSC rate used (cycles per ns) or None."""
    rows = stats.read(res, name)
    if rows is None:
        return None, None
    mach = stats.keyvals(res, "vdisk-machine.csv") or {}
    tsc = float(mach["tsc_per_ns"]) if mach.get("tsc_per_ns") else None
    per_unit = {"cycles": (1 / tsc) if tsc else float("nan"), "ns": 1.0, "us": 1e3,
                "ms": 1e6, "s": 1e9}
    out = {}
    vals = {}
    for r in rows:
        c = out.setdefault(r["cell"], {"time": {}})
        v = vals.setdefault(r["cell"], {"relocs": [], "relative": [], "final": []})
        if r["status"] != "0":
            continue
        if r["phase"] == "warm":
            c["objects"] = int(r["objects"])
            c["objects_startup"] = int(r["objects_startup"])
            continue
        if r["loader_time"]:
            c["time"][int(r["round"])] = float(r["loader_time"]) * per_unit.get(
                r["loader_unit"], float("nan"))
            c["unit"] = r["loader_unit"]
        for k, col in (("relocs", "relocs"), ("relative", "relative_relocs"),
                       ("final", "final_relocs")):
            if r[col]:
                v[k].append(int(r[col]))
    for cell, v in vals.items():
        for k, xs in v.items():
            out[cell][k] = Summary(xs)
    return out, tsc


def count(s):
    """A count's median (its spread when it varies)."""
    if s is None or s.n == 0:
        return "—"
    if s.p25 == s.p75:
        return f"{s.median:.0f}"
    return f"{s.median:.0f} ({s.p25:.0f} – {s.p75:.0f})"


def vdisk_table(rp, wall, ld, prefix):
    rows = []
    for c in VDISK_CELLS:
        w = wall.get(f"{prefix}/{c}")
        l = (ld or {}).get(f"{prefix}/{c}", {})
        if not w:
            continue
        rows.append([VDISK_NAMES[c], spread(Summary(w.values())),
                     l.get("objects", "?"), l.get("objects_startup", "?"),
                     count(l.get("final")), count(l.get("relative")),
                     spread(Summary(l["time"].values())) if l.get("time") else "—"])
    rp.add(*table(["command", "spawn→exit", "objects mapped", "of them at start-up",
                   "symbol relocations", "relative relocations (start-up)",
                   "loader start-up time"], rows))


def vdisk_ratios(rp, wall, ld, prefix):
    q = wall.get(f"{prefix}/qemu-img")
    rows = []
    R = {}
    for c in VDISK_CELLS[1:]:
        w = wall.get(f"{prefix}/{c}")
        if not w or not q:
            continue
        R[c] = Summary(stats.pair_ratios(w, q))
        rows.append([VDISK_NAMES[c], ratio(R[c])])
    rp.add("Each vdisk mode against `qemu-img info` (median of the per-round ratios of "
           "spawn→exit, p25 – p75):", "")
    rp.add(*table(["command", "÷ qemu-img"], rows))
    return R


def vdisk_method(rp, wall, ld, tsc, what):
    runs = min(len(v) for v in wall.values())
    ldruns = min((len(c["time"]) for c in ld.values()), default=0) if ld else 0
    rp.add(f"`info` on {what}, vdisk in its four modes and `qemu-img` "
           f"({len(wall)} cells). vdisk is built optimised in bench's own directories "
           "(`build-bench-<mode>/`, `-Dbuildtype=release -Dmodules=<mode>`). *spawn→exit* is "
           f"the wall time of a process per run (`bench/src/runcells.c`), {runs} rounds after "
           "warm-up, every cell once a round, the order reversed every other round, lazy "
           "between qemu-img and eager. The loader's figures come from other runs, "
           f"interleaved the same way (`bench/py/lddebug.py`): *objects mapped* counts the "
           "objects the loader mapped under `LD_DEBUG=files` (its \"generating link map\" "
           "lines: every shared object and every dlopened module; not the executable, the "
           "loader or the vDSO), *of them at start-up* those before the first `dlopen`; "
           f"under `LD_DEBUG=statistics` ({ldruns} rounds), *symbol relocations* is glibc's "
           "final number of relocations (start-up's and every later `dlopen`'s, summed by "
           "glibc), *relative relocations* its start-up count, and *loader start-up time* its "
           "\"total startup time in dynamic loader\""
           + (f", counted in TSC cycles and turned into time at the TSC's measured "
              f"{num(tsc)} cycles a ns (`bench/src/tscfreq.c`)." if tsc else "."), "")


def section_vdisk(rp):
    rp.add("## 4. vdisk beside qemu-img: `info` on a local qcow2", "")
    wall, _, _ = stats.spawned(rp.res, "vdisk.csv", key=None)
    if not wall:
        rp.add("Not measured (no `vdisk.csv`).", "")
        rp.goal(G_VDISK, "—", None)
        return
    ld, tsc = loader(rp.res, "vdisk-ld.csv")
    vdisk_method(rp, wall, ld or {}, tsc, "one local qcow2 image (1 GiB virtual, 8 MiB of data, "
                 "made with `qemu-img` in `bench/results/vdisk/`)")
    vdisk_table(rp, wall, ld, "vdisk")
    R = vdisk_ratios(rp, wall, ld, "vdisk")

    # The seeds' table, on vdisk: eager -> lazy.
    e, l = (ld or {}).get("vdisk/eager"), (ld or {}).get("vdisk/lazy")
    we, wl = wall.get("vdisk/eager"), wall.get("vdisk/lazy")
    if e and l and we and wl:
        lt = Summary(stats.pair_ratios(l["time"], e["time"]))
        tt = Summary(stats.pair_ratios(wl, we))
        rp.add(f"The seeds' table (QEMU 2015: {REF_SEEDS}, in /work/shared/DESIGN.md), "
               "reproduced on vdisk, "
               "eager link → lazy; the last column is lazy ÷ eager, pair by pair:", "")
        rp.add(*table(["", "eager link", "lazy", "lazy ÷ eager"], [
            ["libraries at start-up", e["objects_startup"], l["objects_startup"],
             num(l["objects_startup"] / e["objects_startup"])],
            ["loader time", dur(Summary(e["time"].values()).median),
             dur(Summary(l["time"].values()).median), ratio(lt)],
            ["total time (spawn→exit)", dur(Summary(we.values()).median),
             dur(Summary(wl.values()).median), ratio(tt)]]))

    lz = R.get("lazy")
    q, l = (ld or {}).get("vdisk/qemu-img", {}), (ld or {}).get("vdisk/lazy", {})
    if lz:
        fewer = "objects" in q and "objects" in l and l["objects"] < q["objects"]
        why = ("qemu-img links its libraries (glib, gnutls, zstd, ...) at start-up; vdisk in "
               "lazy mode maps liblazymod, the C library and the one format module it needs. "
               "If the ratio misses, the difference left is process creation and exit, which "
               "both pay alike: a quieter machine, where both shrink to their CPU cost, would "
               "show the ratio of the work itself.")
        rp.goal(G_VDISK,
                f"{ratio(lz)} ({dur(Summary(wall['vdisk/lazy'].values()).median)} against "
                f"{dur(Summary(wall['vdisk/qemu-img'].values()).median)}); objects mapped "
                f"{l.get('objects', '?')} against {q.get('objects', '?')}",
                lz.median <= GOAL_VDISK_QEMU_RATIO and fewer, why, lz, GOAL_VDISK_QEMU_RATIO)
    else:
        rp.goal(G_VDISK, "—", None)


def section_http(rp):
    rp.add("## 5. vdisk beside qemu-img: `info` over http", "")
    wall, _, _ = stats.spawned(rp.res, "http.csv", key=None)
    if not wall:
        rp.add("Not measured (no `http.csv`).", "")
        return
    ld, tsc = loader(rp.res, "http-ld.csv")
    vdisk_method(rp, wall, ld or {}, tsc,
                 "a qcow2 image (1 GiB virtual, 8 MiB of data) served by nginx on 127.0.0.1 "
                 "(started by the section on a free port with a generated configuration, "
                 "stopped at its end); qemu-img reads it through its curl block driver "
                 "(Debian's qemu-block-extra, loaded as a module), vdisk through its http "
                 "module (libcurl)")
    vdisk_table(rp, wall, ld, "http")
    vdisk_ratios(rp, wall, ld, "http")


def section_gstreamer(rp):
    rp.add("## 6. A peer: GStreamer's registry against a lazymod index", "")
    info = stats.keyvals(rp.res, "gstreamer-info.csv") or {}
    vals, _, warm = stats.spawned(rp.res, "gstreamer.csv")
    wall, _, _ = stats.spawned(rp.res, "gstreamer.csv", key=None)
    if not vals:
        rp.add("Not measured (no `gstreamer.csv`).", "")
        rp.goal(G_GST, "—", None)
        return
    runs = min(len(v) for v in vals.values())

    def objs(cell):
        o = [w.get("objs") for w in warm.get(cell, []) if w.get("objs")]
        return o[-1] if o else "?"

    rp.add(f"GStreamer {info.get('gst_version', '?')} with its base and good plugins: its "
           f"registry holds {info.get('plugins', '?')} plugins and {info.get('features', '?')} "
           "features (counted through the registry API by `bench/src/gstpeer.c`). "
           f"`bench/py/gstsynth.py` generates as many lazymod modules "
           f"({info.get('lm_modules', '?')}, each linked against a library of its own) with as "
           f"many features ({info.get('lm_features', '?')}), and `lazymod index` indexes them. "
           f"Warm cache on both sides: the registry file exists "
           f"({num(int(info.get('registry_bytes', 0)) / 1024)} KiB, in an `XDG_CACHE_HOME` of "
           f"the bench's own), as does the index ({num(int(info.get('index_bytes', 0)) / 1024)} "
           "KiB). *GStreamer*: `gst_init` then `gst_element_factory_make` of "
           f"`{info.get('element', '?')}` (plugins-good, in `{info.get('element_plugin', '?')}`, "
           "which must load). *lazymod*: `lm_context_new` over the index, then `lm_get` of "
           f"`{info.get('lm_feature', '?')}`, whose module (and its library) must load. Each "
           "side is its own executable linked against its library only; a process per run, "
           f"the two alternating, {runs} runs each after warm-up. *in-process* is from just "
           "before the first call to the element or feature in hand; *spawn→exit* the whole "
           "process; *objects mapped* from `dl_iterate_phdr` when done.", "")
    rows = []
    for cell, label in (("gst/element", "GStreamer: gst_init + one element"),
                        ("gst/lazymod", "lazymod: context + one loaded feature")):
        if cell in vals:
            rows.append([label, spread(Summary(vals[cell].values())),
                         spread(Summary(wall[cell].values())), objs(cell)])
    rp.add(*table(["", "in-process", "spawn→exit", "objects mapped"], rows))
    if "gst/element" in vals and "gst/lazymod" in vals:
        r = Summary(stats.pair_ratios(vals["gst/lazymod"], vals["gst/element"]))
        rw = Summary(stats.pair_ratios(wall["gst/lazymod"], wall["gst/element"]))
        rp.add(f"lazymod ÷ GStreamer, pair by pair: in-process {ratio(r)}, spawn→exit "
               f"{ratio(rw)}.", "")
        why = ("`gst_init` reads the whole registry (every plugin's and feature's record) "
               "into objects and stats every plugin file to check it; lazymod maps the index "
               "and reads only what a lookup touches. What is left on the lazymod side is the "
               "module's load (`dlopen` of it and its library; see §2.4).")
        rp.goal(G_GST, f"{ratio(r)} in-process "
                f"({dur(Summary(vals['gst/lazymod'].values()).median)} against "
                f"{dur(Summary(vals['gst/element'].values()).median)})",
                r.median <= GOAL_GST_RATIO, why, r, GOAL_GST_RATIO)

    rb, cpu, _ = stats.spawned(rp.res, "gstreamer-rebuild.csv", key=None)
    rp.add("### 6.1 Rebuilding the registry and the index", "")
    if not rb:
        rp.add("Not measured (no `gstreamer-rebuild.csv`).", "")
        return
    op = {}
    for r in stats.read(rp.res, "gstreamer-rebuild.csv"):
        o = stats.kv(r["out"]).get("op")
        if r["phase"] == "run" and r["status"] == "0" and o:
            op.setdefault(r["cell"], {})[int(r["round"])] = int(o)
    rows = []
    for cell, label, what in (
            ("rebuild/gst", "GStreamer: registry file deleted, then `gst_init`",
             (op or {}).get("rebuild/gst")),
            ("rebuild/lazymod", f"`lazymod index -o COPY` over the {info.get('lm_modules', '?')} "
             "modules", None)):
        if cell in rb:
            rows.append([label, spread(Summary(rb[cell].values())),
                         spread(Summary(v * 1e3 for v in cpu[cell].values())),
                         spread(Summary(what.values())) if what else "—"])
    rp.add("A process per run, alternating, "
           f"{min(len(v) for v in rb.values())} runs each after warm-up. GStreamer rebuilds "
           "by loading every plugin (in its `gst-plugin-scanner` helper when it can); CPU is "
           "`wait4`'s user + system time, which includes the children the process waited "
           "for; `lazymod index` reads "
           "every module's notes without loading any and writes the index atomically with "
           "`fsync`.", "")
    rp.add(*table(["", "spawn→exit", "CPU", "`gst_init` alone"], rows))
    if "rebuild/gst" in rb and "rebuild/lazymod" in rb:
        r = Summary(stats.pair_ratios(rb["rebuild/lazymod"], rb["rebuild/gst"]))
        rp.add(f"lazymod ÷ GStreamer, spawn→exit pair by pair: {ratio(r)}.", "")


# ---- 7. bundles ------------------------------------------------------------------------

def section_bundle(rp):
    rp.add("## 7. Bundles: several modules in one shared object", "")
    get, _, warm = stats.spawned(rp.res, "bundle-get.csv")
    if not get:
        rp.add("Not measured (no `bundle-get.csv`).", "")
        rp.goal(G_BUNDLE50, "—", None)
        rp.goal(G_BUNDLE1, "—", None)
        return
    rp.add("A fresh process per run (`bench/src/runcells.c`, cells interleaved): a context over "
           "the directory (not timed), then `lm_get` of one feature from each of 50 modules "
           "(`micro getmany`), or of one feature (`micro getload-lm`). *separate*: 50 module "
           "files; *bundle*: the same 50 objects linked into one bundle; *lone*: the first "
           "module alone. The modules of `get50` have no library of their own; those of "
           "`get50lib` each link one (`bench/py/synth.py`). See docs/BUNDLES.md.", "")

    def objs(cell):
        w = [int(o["loaded"]) for o in warm.get(cell, []) if "loaded" in o]
        return str(max(w)) if w else "?"
    rows = [[c, spread(Summary(get[c].values())), objs(c)] for c in sorted(get)]
    rp.add(*table(["cell", "time", "objects loaded"], rows))
    r50 = Summary(stats.pair_ratios(get["get50/bundle"], get["get50/separate"]))
    r50lib = Summary(stats.pair_ratios(get["get50lib/bundle"], get["get50lib/separate"]))
    r1 = Summary(stats.pair_ratios(get["get1/bundle"], get["get1/lone"]))
    rp.add(f"50 features, bundle ÷ separate: {ratio(r50)}; with a library per module: "
           f"{ratio(r50lib)}. One feature, bundle of 50 ÷ lone module: {ratio(r1)}.", "")
    rp.goal(G_BUNDLE50, ratio(r50), r50.median <= GOAL_BUNDLE50_RATIO,
            "Each module's own work (its init, its features' lookups) stays.", r50,
            GOAL_BUNDLE50_RATIO)
    rp.goal(G_BUNDLE1, ratio(r1), r1.median <= GOAL_BUNDLE1_RATIO,
            "The bundle is 50 modules' worth of file to map and relocate.", r1,
            GOAL_BUNDLE1_RATIO)
    wall, _, _ = stats.spawned(rp.res, "bundle-vdisk.csv", key=None)
    if wall and "convert/lazy" in wall and "convert/bundle" in wall:
        rv = Summary(stats.pair_ratios(wall["convert/bundle"], wall["convert/lazy"]))
        rp.add("`vdisk convert -O raw` of a zstd qcow2 (64 MiB virtual, 16 MiB of data), "
               "needing qcow2 and zstd: lazy "
               f"{spread(Summary(wall['convert/lazy'].values()))}, bundle "
               f"{spread(Summary(wall['convert/bundle'].values()))}: bundle ÷ lazy {ratio(rv)}.",
               "")
    pss = stats.read(rp.res, "bundle-pss.csv")
    if pss:
        by = {}
        for r in pss:
            by.setdefault(r["cell"], {}).setdefault(int(r["round"]), []).append(int(r["pss_kb"]))
        rows = [[c, spread(Summary(sum(v) / len(v) for v in by[c].values()), kib)]
                for c in sorted(by)]
        rp.add("16 processes each holding the 50 features at once (`micro hold`, "
               "`bench/py/pss.py`), each process's whole PSS (`smaps_rollup`):", "")
        rp.add(*table(["modules", "PSS per process"], rows))


# ---- 8. vmrun ---------------------------------------------------------------------------

def section_vmrun(rp):
    rp.add("## 8. vmrun: accelerators as modules built per target", "")
    ips = stats.read(rp.res, "vmrun-ips.csv")
    if not ips:
        rp.add("Not measured (no `vmrun-ips.csv`).", "")
        rp.goal(G_VMRUN_LIBS, "—", None)
        rp.goal(G_VMRUN_PICK, "—", None)
        return
    rp.add("Guest instructions per second on the guest loop (`vmrun/tests/guests/loop.S`, "
           "2^24 rounds of 8 instructions), `vmrun -stats`, median of the runs "
           "(min – max):", "")
    rows = []
    for target in ("riscv32", "riscv64"):
        for accel in ("interp", "fast"):
            xs = [float(r["mips"]) for r in ips if r["target"] == target and r["accel"] == accel]
            if xs:
                m = Summary(xs)
                rows.append([target, accel, f"{num(m.median)} M/s ({num(m.min)} – {num(m.max)})"])
    rp.add(*table(["target", "accelerator", "guest instructions per second"], rows))
    rp.add("![vmrun: guest instructions per second](perf/vmrun.png)", "")

    wall, _, _ = stats.spawned(rp.res, "vmrun-start.csv", key=None)
    if wall:
        rp.add("Exec to exit of a run whose guest prints one line and ends through the "
               "finisher (about 400 guest instructions): a bound on exec to the guest's first "
               "instruction. One process per run, cells interleaved:", "")
        rp.add(*table(["cell", "wall, median (p25 – p75)"],
                      [[c, spread(Summary(v.values()))] for c, v in sorted(wall.items())]))

    libs = stats.read(rp.res, "vmrun-libs.csv") or []
    names = sorted({r["library"] for r in libs})
    only = bool(names) and all(n.startswith(("libc.so", "liblazymod.so")) for n in names)
    rp.add(f"Libraries vmrun maps at start-up (`LD_DEBUG=files`, every target and "
           f"accelerator): {', '.join(names) or '—'}; the accelerator's build is then the one "
           "object loaded at run time.", "")
    rp.goal(G_VMRUN_LIBS, ", ".join(names) or "—", only if names else None,
            "vmrun links nothing else; a library here would come from a dependency added "
            "to the executable.")

    first, _, _ = stats.spawned(rp.res, "vmrun-pick.csv", key="first")
    op, _, _ = stats.spawned(rp.res, "vmrun-pick.csv", key="op")
    if not first or "pick/2x2" not in first or "pick/1" not in first:
        rp.goal(G_VMRUN_PICK, "—", None)
        return
    rf = Summary(stats.pair_ratios(first["pick/2x2"], first["pick/1"]))
    ro = Summary(stats.pair_ratios(op["pick/2x2"], op["pick/1"]))
    rp.add("Choosing the accelerator (`bench/src/vmpick.c`, target riscv64, `fast`, whose "
           "riscv32 build comes first in the index): the first `lm_get` finds the build and "
           "loads it; a later one finds the loaded feature. In the directory of 2 accelerators "
           "× 2 targets and in one holding that build alone:", "")
    rp.add(*table(["", "2 × 2 builds", "1 build", "ratio, per round"], [
        ["first lm_get", spread(Summary(first["pick/2x2"].values())),
         spread(Summary(first["pick/1"].values())), ratio(rf)],
        ["later lm_get", spread(Summary(op["pick/2x2"].values())),
         spread(Summary(op["pick/1"].values())), ratio(ro)]]))
    worst = rf if rf.median >= ro.median else ro
    rp.goal(G_VMRUN_PICK, f"first {ratio(rf)}, later {ratio(ro)}",
            rf.median <= GOAL_VMRUN_PICK_RATIO and ro.median <= GOAL_VMRUN_PICK_RATIO,
            "the lookup walks from the first build of the feature to the one for the "
            "context's target; the walk checks one more record's checksum the first time.",
            worst, GOAL_VMRUN_PICK_RATIO)


SECTIONS = [section_startup, section_lookup, section_memory, section_vdisk, section_http,
            section_gstreamer, section_bundle, section_vmrun]


# ---- the document --------------------------------------------------------------

def main():
    res, out = sys.argv[1], sys.argv[2]
    rp = Report(res)
    for s in SECTIONS:
        s(rp)
    mach = stats.keyvals(res, "machine.csv") or {}
    timing = stats.read(res, "timing.csv") or []
    doc = ["# lazymod: performance", "",
           "<!-- Generated by `make bench` (bench/py/report.py) from bench/results/*.csv. "
           "Do not edit: every figure here comes from those files. -->", "",
           f"Generated by `make bench` on {mach.get('date', '?')} (commit "
           f"`{mach.get('commit', '?')}`, build type {mach.get('buildtype', '?')}); every "
           "figure comes from the CSVs in `bench/results/`.", "",
           "## Goals", "",
           *table(["goal", "measured (median, p25 – p75)", "verdict"],
                  [(g, m, v) for g, m, v, _ in rp.goals])]
    missed = [(g, w) for g, _, v, w in rp.goals if w]
    if missed:
        doc += ["### Why the missed goals are missed, and what would reach them", ""]
        for g, w in missed:
            doc += [f"- *{g}*: {w}", ""]
    doc += ["## Machine", ""]
    labels = [("cpu_model", "CPU"), ("logical_cpus", "logical CPUs"), ("cpu_mhz", "MHz"),
              ("cpu_flags_of_note", "CPU flags of note"), ("memory_mib", "memory (MiB)"),
              ("kernel", "kernel"), ("glibc", "C library"), ("os", "system"),
              ("compiler", "compiler"), ("loadavg_at_start", "load average (1 min) at the start"),
              ("loadavg_at_end", "load average (1 min) after the last section")]
    doc += table(["", ""], [(lab, mach.get(k, "?")) for k, lab in labels])
    doc += ["## Method", "",
            "- `make bench` builds the library and tool in release mode in `build-bench/` "
            "(never the test build), the benchmark's programs against it "
            "(`bench/tools.mk`), and the synthetic hosts and modules with a generated "
            "Makefile (`bench/py/synth.py`, `make -j`) in `build-bench/synth/`.",
            "- Every comparison is interleaved: each round runs every cell of a section once, "
            "the order reversed every other round (A B C C B A A B C ...), after warm-up rounds "
            "that are not kept. A process-per-run cell is spawned by `bench/src/runcells.c`; "
            "in-process cells run as batches.",
            "- A cell's figure is the median of its runs, with the 25th and 75th percentiles "
            "as its spread (shown as median (p25 – p75)). A comparison is the median of the "
            "per-round ratios of its two cells, never a ratio of medians.",
            "- Times are `CLOCK_MONOTONIC`, read by the driver and by the children alike, so "
            "that a child's own readings (its `main`, its readiness) subtract from the "
            "driver's spawn time.",
            "- Goals are the issue's; \"several times\" is taken as at least "
            f"{num(GOAL_EAGER_SEVERAL)}×. A verdict compares the median with the goal, and "
            "says so when the goal lies between the 25th and 75th percentiles (another run "
            "could turn it).",
            f"- The machine ({mach.get('logical_cpus', '?')} logical CPUs) may be shared with "
            "other work while the suite runs: the load averages above and the spreads say how "
            "much; rerun `make bench` to see the medians move.", ""]
    doc += rp.body
    doc += ["## Run time", ""]
    rows = [(t["step"], f"{num(float(t['seconds']))} s") for t in timing]
    doc += table(["step", "time"], rows)
    total = next((float(t["seconds"]) for t in timing if t["step"] == "total"), None)
    if total is not None:
        doc += [f"`make bench` took {num(total)} s up to this report (budget "
                f"{num(BUDGET_S / 60)} min: " + ("within" if total <= BUDGET_S else "over")
                + ").", ""]
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(doc).rstrip() + "\n")
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
