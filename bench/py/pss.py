#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""PSS of NPROC processes of one command held at once, cells alternating.

    pss.py OUT.csv ROUNDS NPROC LABEL=CMD... [LABEL=CMD...]

Each round runs every cell once (in the reverse order every other round):
NPROC copies of its command (which print "ready" once loaded and exit when
their standard input closes), then, once all are ready, each one's whole
Pss and Rss from /proc/PID/smaps_rollup. Writes round,cell,proc,pss_kb,rss_kb.
"""
import subprocess
import sys


def rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Pss:", "Rss:"):
                out[parts[0][:-1]] = int(parts[1])
    return out


def main():
    out, rounds, nproc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cells = [a.split("=", 1) for a in sys.argv[4:]]
    rows = ["round,cell,proc,pss_kb,rss_kb"]
    for rnd in range(rounds):
        order = cells if rnd % 2 == 0 else list(reversed(cells))
        for label, cmd in order:
            procs = [subprocess.Popen(cmd.split(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True) for _ in range(nproc)]
            for p in procs:
                if p.stdout.readline().strip() != "ready":
                    sys.exit(f"pss.py: {label}: a process did not get ready")
            for i, p in enumerate(procs):
                m = rollup(p.pid)
                rows.append(f"{rnd},{label},{i},{m['Pss']},{m['Rss']}")
            for p in procs:
                p.stdin.close()
                p.wait()
    with open(out, "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
