"""The machine a run was taken on, the results table, and the saved JSON."""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.runner import ROOT, Result, Target, summary


def first_line(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    osr = dict(
        ln.split("=", 1) for ln in Path("/etc/os-release").read_text().splitlines() if "=" in ln
    )
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "load_average_at_end": os.getloadavg(),  # other work on the machine makes runs noisy
        "os": osr.get("PRETTY_NAME", "").strip('"'),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nmap": first_line(["nmap", "--version"]),
        "arp-scan": first_line(["arp-scan", "--version"]),
        "camscan_commit": commit or "unknown",
    }


def table(results: dict[str, Result]) -> str:
    head = (
        "| workload | tool | runs | wall median (min-max) | peak RSS | found | makers right "
        "| camscan/tool wall | camscan/tool RSS |\n|---|---|---|---|---|---|---|---|---|"
    )
    rows = [head]
    for r in results.values():
        sums = {name: summary(runs) for name, runs in r.tools.items() if runs}
        ours = next((s for name, s in sums.items() if name.startswith("camscan")), None)
        for name, s in sums.items():
            n = r.expected_for(name)
            right = f"{s['correct_median']:g}/{n}" if "correct_median" in s else ""
            found = f"{s['found_min']}/{n}" if n else ""
            ratio_w = ratio_m = ""
            if ours is not None and s is not ours and not name.startswith("camscan"):
                ratio_w = f"{ours['wall_median'] / s['wall_median']:.2f}"
                ratio_m = f"{ours['rss_mb_max'] / s['rss_mb_max']:.2f}"
            fails = f" ({s['failed']} failed)" if s["failed"] else ""
            rows.append(
                f"| {r.workload} | {name} | {s['runs']}{fails} | {s['wall_median']:.2f} s "
                f"({s['wall_min']:.2f}-{s['wall_max']:.2f}) | {s['rss_mb_max']:.0f} MB | {found} "
                f"| {right} | {ratio_w} | {ratio_m} |"
            )
        for name, reason in r.skipped.items():
            rows.append(f"| {r.workload} | {name} | skipped: {reason} | | | | | | |")
    return "\n".join(rows)


def to_json(results: dict[str, Result], targets: list[Target], began: float) -> Any:
    return {
        "schema": 2,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(began)),
        "duration_s": round(time.time() - began, 1),
        "machine": machine(),
        "workloads": {
            name: {
                "description": r.description,
                "expected_devices": r.expected,
                "summary": {t: summary(runs) for t, runs in r.tools.items() if runs},
                "runs": {t: [dataclasses.asdict(x) for x in runs] for t, runs in r.tools.items()},
                "skipped": r.skipped,
                **r.extra,
            }
            for name, r in results.items()
        },
        "targets": [t.as_dict() for t in targets],
    }
