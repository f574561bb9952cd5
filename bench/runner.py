"""What every workload shares: tools, runs, results, and running tools in a lab by turns.

A workload module (bench/workloads/<name>.py) builds a lab, lists the `Tool`s to compare, calls
`alternate` and returns a `Result`; its `targets` function turns the result into `Target`s.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").is_dir() else sys.executable
CAMSCAN = [PYTHON, "-m", "camscan"]
MEASURE = str(ROOT / "bench" / "measure.py")
TOPOLOGIES = ROOT / "bench" / "topologies"
ANCHOR_PACKAGES = {"nmap": "nmap", "arp-scan": "arp-scan"}  # executable -> Debian package


@dataclasses.dataclass
class Run:
    """What one run of one tool gave."""

    wall: float
    rss_mb: float
    found: int  # lab devices reported
    correct: int | None = None  # lab devices whose maker matches the lab's ground truth
    ok: bool = True
    note: str = ""
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)  # camscan's own run.stats


@dataclasses.dataclass
class Tool:
    name: str
    argv: Callable[[Path], list[str]]  # given the run's output file stem
    judge: Callable[[Path, Path], tuple[int, int | None]]  # (output stem, stdout) -> found, correct
    needs: str | None = None  # anchor executable
    ok_codes: tuple[int, ...] = (0,)
    max_runs: int | None = None  # cap for anchors too slow to repeat (nmap -sV)
    stats: Callable[[Path], dict[str, Any]] | None = None  # extra numbers from the output


@dataclasses.dataclass
class Result:
    workload: str
    description: str
    expected: int
    tools: dict[str, list[Run]] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def summary(self, tool: str) -> dict[str, Any] | None:
        runs = self.tools.get(tool)
        return summary(runs) if runs else None

    def expected_for(self, tool: str) -> int:
        """Devices `tool` should find (workloads with several lab sizes set them per tool)."""
        return int(self.extra.get("expected_by_tool", {}).get(tool, self.expected))


@dataclasses.dataclass
class Options:
    """The command line, as every workload sees it."""

    runs: int
    slow_runs: int
    workdir: Path
    profile: bool = False
    ident_hosts: int = 40
    scale_sizes: tuple[int, ...] = (250, 500, 1000, 4000)
    import_sizes: tuple[int, ...] = (10_000, 65_000)
    pcap_mb: int = 1024  # passive_import's capture size
    capture: bool = True  # one extra run under a SYN capture (bench/capture.py) where wired in


@dataclasses.dataclass
class Target:
    name: str  # the workload's name, or workload:aspect
    text: str
    ok: bool | None  # None: not measurable here (anchor skipped)
    measured: str
    why: list[str] = dataclasses.field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "n/a" if self.ok is None else ("PASS" if self.ok else "MISS")

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.name,
            "text": self.text,
            "verdict": self.verdict,
            "measured": self.measured,
            "why": self.why if self.verdict == "MISS" else [],
        }


def summary(runs: list[Run]) -> dict[str, Any]:
    good = [r for r in runs if r.ok] or runs
    walls, rss = [r.wall for r in good], [r.rss_mb for r in good]
    out: dict[str, Any] = {
        "runs": len(runs),
        "failed": sum(not r.ok for r in runs),
        "wall_median": statistics.median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "rss_mb_median": statistics.median(rss),
        "rss_mb_max": max(rss),
        "found_min": min(r.found for r in good),
        "found_max": max(r.found for r in good),
    }
    if all(r.correct is not None for r in good):
        out["correct_min"] = min(r.correct or 0 for r in good)
        out["correct_median"] = statistics.median(r.correct or 0 for r in good)
    notes = sorted({r.note for r in runs if r.note})
    if notes:
        out["notes"] = notes
    return out


def run_in_lab(lab: Any, tool: Tool, stem: Path) -> Run:
    env = dict(lab.python_env(), CAMSCAN_LAB_GUARD="1")
    result, stdout = stem.with_suffix(".measure.json"), stem.with_suffix(".stdout")
    lab.run(["ip", "neigh", "flush", "all"], check=False)  # each run resolves its own neighbours
    wrapper = [PYTHON, MEASURE, str(result), str(stdout), "--"]
    proc = lab.run([*wrapper, *tool.argv(stem)], env=env, cwd=ROOT, capture_output=True, text=True)
    if not result.is_file():
        return Run(0.0, 0.0, 0, None, False, f"did not run: {proc.stderr.strip()[-200:]}")
    m = json.loads(result.read_text())
    run = Run(m["wall"], m["rss_kb"] / 1024, 0)
    if m["rc"] not in tool.ok_codes:
        run.ok, run.note = False, f"exit {m['rc']}: {proc.stderr.strip()[-200:]}"
    try:
        run.found, run.correct = tool.judge(stem, stdout)
        if tool.stats is not None:
            run.stats = tool.stats(stem)
    except (OSError, ValueError, KeyError) as exc:  # keep the exit code's note: it says why
        run.ok, run.note = False, "; ".join(filter(None, [run.note, f"unreadable output: {exc}"]))
    return run


def alternate(
    lab: Any,
    tools: list[Tool],
    runs: int,
    workdir: Path,
    result: Result,
    *,
    label: str,
    labs: dict[str, Any] | None = None,
) -> None:
    """`runs` rounds; each round runs every tool once, rotating who goes first. `labs` may give
    a tool (by name) a lab of its own, so runs on two networks still take turns."""
    for tool in tools:
        result.tools[tool.name] = []
    for i in range(runs):
        for k in range(len(tools)):
            tool = tools[(i + k) % len(tools)]
            if tool.max_runs is not None and i >= tool.max_runs:
                continue
            stem = workdir / f"{label}-{re.sub(r'[^a-z0-9]+', '_', tool.name)}-{i}"
            run = run_in_lab((labs or {}).get(tool.name, lab), tool, stem)
            result.tools[tool.name].append(run)
            mark = "" if run.ok else f"  FAILED: {run.note}"
            correct = "" if run.correct is None else f" correct {run.correct}"
            print(
                f"  [{label} {i + 1}/{runs}] {tool.name:<34} {run.wall:8.2f} s "
                f"{run.rss_mb:7.1f} MB  found {run.found}/{result.expected_for(tool.name)}"
                f"{correct}{mark}",
                flush=True,
            )


def available(tools: list[Tool], result: Result) -> list[Tool]:
    """The tools that can run here; the others are recorded in result.skipped with the reason."""
    usable = []
    for tool in tools:
        if tool.max_runs == 0:
            result.skipped[tool.name] = "slow anchor, skipped by --slow-runs 0"
            print(f"  skipped {tool.name}: {result.skipped[tool.name]}")
        elif tool.needs and shutil.which(tool.needs) is None:
            result.skipped[tool.name] = (
                f"needs `{tool.needs}` (Debian package {ANCHOR_PACKAGES[tool.needs]}); "
                "not installed, so this anchor is skipped"
            )
            print(f"  skipped {tool.name}: {result.skipped[tool.name]}")
        else:
            usable.append(tool)
    return usable


def compile_camscan() -> None:
    """Byte-compile the checkout's camscan as installing it does (pip writes the .pyc files),
    so each run times the scanner and not Python compiling its modules again: under
    PYTHONDONTWRITEBYTECODE, or from a checkout no run has written them to, every run would
    (~0.2 s of a default scan's imports on a busy 2-core machine)."""
    import compileall

    compileall.compile_dir(ROOT / "camscan", quiet=1)


def found_in(expected: set[str], reported: set[str] | dict[str, Any]) -> int:
    return len(expected & set(reported))


def profile_camscan(lab: Any, argv: list[str], stem: Path) -> str:
    """One extra camscan run under cProfile in the lab: the top functions by cumulative time."""
    import pstats

    prof = stem.with_suffix(".prof")
    env = dict(lab.python_env(), CAMSCAN_LAB_GUARD="1")
    lab.run(["ip", "neigh", "flush", "all"], check=False)
    lab.run(
        [PYTHON, "-m", "cProfile", "-o", str(prof), "-m", "camscan", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if not prof.is_file():
        return "profile failed"
    out = stem.with_suffix(".prof.txt")
    with out.open("w") as stream:
        stats = pstats.Stats(str(prof), stream=stream).sort_stats("cumulative")
        stats.print_stats(r"/camscan/|netaddr|scapy|jinja2|rich", 30)  # where camscan spends it
    return out.read_text()


def startup_seconds(results: dict[str, Result]) -> float:
    """Median `camscan --help` time: from the startup workload if it ran, else 3 quick runs."""
    if "startup" in results:
        return float(summary(results["startup"].tools["camscan --help"])["wall_median"])
    walls = []
    for _ in range(3):
        began = time.perf_counter()
        subprocess.run([*CAMSCAN, "--help"], capture_output=True, check=False, cwd=ROOT)
        walls.append(time.perf_counter() - began)
    return statistics.median(walls)


@dataclasses.dataclass(frozen=True)
class Workload:
    """One benchmark row group: registered by name in bench/workloads/__init__.py."""

    name: str
    help: str  # one line for --help and the README
    runs: int  # default number of runs
    run: Callable[[Options], Result]
    targets: Callable[[Result, dict[str, Result]], list[Target]]
    needs_lab: bool = True
    bare_runs: bool = True  # whether a bare `--runs N` sets this workload's runs
