#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes what the machine and the build are, as key,value rows.

    machine.py OUT.csv BUILD_DIR
"""
import csv
import json
import datetime
import os
import platform
import re
import subprocess
import sys


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def main():
    out, build = sys.argv[1], sys.argv[2]
    rows = []
    cpuinfo = open("/proc/cpuinfo").read()
    models = re.findall(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.M)
    mhz = re.findall(r"^cpu MHz\s*:\s*(.*)$", cpuinfo, re.M)
    rows.append(("cpu_model", models[0] if models else platform.processor()))
    rows.append(("logical_cpus", str(os.cpu_count())))
    rows.append(("cpu_mhz", mhz[0] if mhz else ""))
    fl = set(flags.group(1).split()) if flags else set()
    rows.append(("cpu_flags_of_note", " ".join(f for f in ("sse4_2", "pclmulqdq", "avx2", "avx512f",
                                                           "hypervisor") if f in fl)))
    mem = re.search(r"^MemTotal:\s*(\d+) kB", open("/proc/meminfo").read(), re.M)
    rows.append(("memory_mib", str(int(mem.group(1)) // 1024) if mem else ""))
    rows.append(("kernel", platform.release()))
    rows.append(("glibc", os.confstr("CS_GNU_LIBC_VERSION") or ""))
    rows.append(("compiler", run("cc", "--version").splitlines()[0] if run("cc", "--version") else ""))
    rows.append(("os", (re.search(r'^PRETTY_NAME="?(.*?)"?$', open("/etc/os-release").read(), re.M)
                        or [None, ""])[1] if os.path.exists("/etc/os-release") else ""))
    buildtype = ""
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            buildtype = next((o["value"] for o in json.load(f) if o["name"] == "buildtype"), "")
    except (OSError, ValueError):
        pass
    rows.append(("buildtype", buildtype))
    rows.append(("commit", run("git", "-C", os.path.dirname(os.path.abspath(build)), "rev-parse",
                               "--short", "HEAD")))
    rows.append(("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    rows.append(("loadavg_at_start", open("/proc/loadavg").read().split()[0]))
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["key", "value"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
