"""Benchmarks: camscan against nmap and arp-scan on the same lab networks.

    python bench/run.py                                  # every workload, default runs
    python bench/run.py --runs 5 --runs sparse16=2 --workload arp253 --workload sparse16
    python bench/run.py --json bench/results/latest.json

Workloads (see bench/README.md): arp253, ident, sparse16, startup. Lab workloads need root;
nmap and arp-scan are anchors and are skipped, with a note, when not installed. Every tool runs
inside the lab's scanner namespace under a small wrapper (this file with --measure), which
refuses to start outside a lab namespace and records wall time and the peak RSS of the tool and
its children (getrusage(RUSAGE_CHILDREN)), so `ip netns exec` costs are not counted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").is_dir() else sys.executable
CAMSCAN = [PYTHON, "-m", "camscan"]
WORKLOADS = ("arp253", "ident", "sparse16", "startup")
DEFAULT_RUNS = {"arp253": 3, "ident": 3, "sparse16": 1, "startup": 10}
ANCHOR_PACKAGES = {"nmap": "nmap", "arp-scan": "arp-scan"}  # executable -> Debian package
IDENT_TOPOLOGY = Path(__file__).resolve().parent / "topologies" / "ident.toml"
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None  # Debian package time
TOOL_TIMEOUT = 1800.0  # seconds: a hung tool ends its run instead of the benchmark


# -- the wrapper, run inside the lab namespace -------------------------------------------------
def measure(result_path: str, stdout_path: str, argv: list[str]) -> int:
    """Run argv, write {wall, rss_kb, rc} to result_path; refuse outside a lab namespace."""
    sys.path.insert(0, str(ROOT))
    from camscan.lab.guard import lab_namespace_problem

    problem = lab_namespace_problem()
    if problem:
        print(
            f"bench: refusing to run {argv[0]} outside a lab namespace: {problem}", file=sys.stderr
        )
        return 2
    # GNU time reports the tool's own peak RSS; measuring from this Python process instead
    # would count the ~30 MB image the forked child holds until it execs the tool.
    timed = [GNU_TIME, "-f", "%M", "-o", f"{result_path}.rss", "--"] if GNU_TIME else []
    with open(stdout_path, "wb") as out:
        began = time.perf_counter()
        try:
            proc = subprocess.run([*timed, *argv], stdout=out, check=False, timeout=TOOL_TIMEOUT)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = -1
        wall = time.perf_counter() - began
    try:  # GNU time's last line is the RSS in KiB (earlier lines may note a signal)
        rss_kb = int(Path(f"{result_path}.rss").read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    Path(result_path).write_text(json.dumps({"wall": wall, "rss_kb": rss_kb, "rc": rc}))
    return 0


# -- what one run of one tool gave ---------------------------------------------------------------
@dataclasses.dataclass
class Run:
    wall: float
    rss_mb: float
    found: int  # lab devices reported
    correct: int | None = None  # lab devices whose maker matches the lab's ground truth
    ok: bool = True
    note: str = ""


@dataclasses.dataclass
class Tool:
    name: str
    argv: Callable[[Path], list[str]]  # given the run's output file stem
    judge: Callable[[Path, Path], tuple[int, int | None]]  # (output stem, stdout) -> found, correct
    needs: str | None = None  # anchor executable
    ok_codes: tuple[int, ...] = (0,)
    max_runs: int | None = None  # cap for anchors too slow to repeat (nmap -sV)


@dataclasses.dataclass
class Result:
    workload: str
    description: str
    expected: int
    tools: dict[str, list[Run]] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


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


# -- reading each tool's output ----------------------------------------------------------------
def camscan_makers(path: Path) -> dict[str, str | None]:
    doc = json.loads(path.read_text())
    return {d["ip"]: d.get("maker") for d in doc.get("devices", [])}


def nmap_up_hosts(path: Path) -> set[str]:
    from defusedxml import ElementTree

    up: set[str] = set()
    for host in ElementTree.parse(path).getroot().iter("host"):
        status = host.find("status")
        if status is not None and status.get("state") == "up":
            up.update(
                a.get("addr", "") for a in host.iter("address") if a.get("addrtype") == "ipv4"
            )
    return up


ARP_SCAN_LINE = re.compile(r"^(\d+\.\d+\.\d+\.\d+)\t[0-9a-fA-F:]{17}", re.MULTILINE)


def arp_scan_hosts(stdout: Path) -> set[str]:
    return set(ARP_SCAN_LINE.findall(stdout.read_text(errors="replace")))


def makers_correct(reported: dict[str, str | None], truth: dict[str, str | None]) -> int:
    return sum(1 for ip, maker in truth.items() if ip in reported and reported[ip] == maker)


def nmap_import_makers(xml: Path, stem: Path) -> dict[str, str | None]:
    """Attribute nmap's findings with camscan's own signatures (`camscan import`)."""
    out = stem.with_suffix(".import.json")
    subprocess.run(
        [*CAMSCAN, "import", str(xml), "-f", "json", "-o", str(out)],
        capture_output=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )
    return camscan_makers(out) if out.is_file() else {}


# -- running tools in a lab ----------------------------------------------------------------------
def run_in_lab(lab: Any, tool: Tool, stem: Path) -> Run:
    env = dict(lab.python_env(), CAMSCAN_LAB_GUARD="1")
    result, stdout = stem.with_suffix(".measure.json"), stem.with_suffix(".stdout")
    lab.run(["ip", "neigh", "flush", "all"], check=False)  # each run resolves its own neighbours
    wrapper = [PYTHON, str(Path(__file__).resolve()), "--measure", str(result), str(stdout), "--"]
    proc = lab.run([*wrapper, *tool.argv(stem)], env=env, cwd=ROOT, capture_output=True, text=True)
    if not result.is_file():
        return Run(0.0, 0.0, 0, None, False, f"did not run: {proc.stderr.strip()[-200:]}")
    m = json.loads(result.read_text())
    run = Run(m["wall"], m["rss_kb"] / 1024, 0)
    if m["rc"] not in tool.ok_codes:
        run.ok, run.note = False, f"exit {m['rc']}: {proc.stderr.strip()[-200:]}"
    try:
        run.found, run.correct = tool.judge(stem, stdout)
    except (OSError, ValueError, KeyError) as exc:
        run.ok, run.note = False, f"unreadable output: {exc}"
    return run


def alternate(
    lab: Any, tools: list[Tool], runs: int, workdir: Path, result: Result, *, label: str
) -> None:
    """runs rounds; each round runs every tool once, rotating who goes first."""
    for tool in tools:
        result.tools[tool.name] = []
    for i in range(runs):
        for k in range(len(tools)):
            tool = tools[(i + k) % len(tools)]
            if tool.max_runs is not None and i >= tool.max_runs:
                continue
            stem = workdir / f"{label}-{re.sub(r'[^a-z0-9]+', '_', tool.name)}-{i}"
            run = run_in_lab(lab, tool, stem)
            result.tools[tool.name].append(run)
            mark = "" if run.ok else f"  FAILED: {run.note}"
            correct = "" if run.correct is None else f" correct {run.correct}"
            print(
                f"  [{label} {i + 1}/{runs}] {tool.name:<34} {run.wall:8.2f} s "
                f"{run.rss_mb:7.1f} MB  found {run.found}/{result.expected}{correct}{mark}",
                flush=True,
            )


def available(tools: list[Tool], result: Result) -> list[Tool]:
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


def found_in(expected: set[str], reported: set[str] | dict[str, Any]) -> int:
    return len(expected & set(reported))


# -- workloads -----------------------------------------------------------------------------------
def arp_sweep_tools(
    cidr: str, expected: set[str], with_arp_scan: bool, nmap_runs: int | None = None
) -> list[Tool]:
    tools = [
        Tool(
            "camscan --probes arp",
            lambda s: [
                *CAMSCAN,
                "scan",
                cidr,
                "--probes",
                "arp",
                "-f",
                "json",
                "-o",
                str(s.with_suffix(".json")),
                "-q",
            ],
            lambda s, _o: (found_in(expected, camscan_makers(s.with_suffix(".json"))), None),
            ok_codes=(0, 1),
        ),
        Tool(
            "nmap -sn -PR -n",
            lambda s: ["nmap", "-sn", "-PR", "-n", cidr, "-oX", str(s.with_suffix(".xml"))],
            lambda s, _o: (found_in(expected, nmap_up_hosts(s.with_suffix(".xml"))), None),
            needs="nmap",
            max_runs=nmap_runs,
        ),
    ]
    if with_arp_scan:
        tools.append(
            Tool(
                "arp-scan (defaults)",
                lambda s: ["arp-scan", "-I", "eth0", cidr],
                lambda _s, o: (found_in(expected, arp_scan_hosts(o)), None),
                needs="arp-scan",
            )
        )
    return tools


def workload_arp253(runs: int, workdir: Path, profile: bool = False) -> Result:
    from camscan.lab import Lab, load_topology

    topo = load_topology("flat253")
    cidr = str(topo.networks[0].cidr)
    expected = {d.ip for d in topo.devices}
    result = Result("arp253", f"ARP sweep of {cidr}, {len(expected)} devices", len(expected))
    tools = available(arp_sweep_tools(cidr, expected, with_arp_scan=True), result)
    with Lab(topo, emulate=False) as lab:  # ARP needs addresses only, no services
        alternate(lab, tools, runs, workdir, result, label="arp253")
        if profile:
            argv = ["scan", cidr, "--probes", "arp", "-f", "json", "-o", "/dev/null", "-q"]
            result.extra["profile"] = profile_camscan(lab, argv, workdir / "arp253-profile")
    return result


def ident_topology(hosts: int) -> Any:
    """The ident topology cut to its first `hosts` addresses (the persona cycle stays whole)."""
    from camscan.lab import load_topology

    topo = load_topology(IDENT_TOPOLOGY)
    kept = sorted(topo.devices, key=lambda d: tuple(int(x) for x in d.ip.split(".")))[:hosts]
    return dataclasses.replace(topo, devices=sorted(kept, key=lambda d: d.index))


def workload_ident(runs: int, workdir: Path, hosts: int, slow_runs: int) -> Result:
    from camscan.lab import Lab

    topo = ident_topology(hosts)
    cidr = str(topo.networks[0].cidr)
    truth = {d.ip: d.expected_maker for d in topo.devices}
    expected = set(truth)
    result = Result(
        "ident",
        f"full identification of {cidr}, {len(truth)} cameras (first {hosts} of "
        f"{IDENT_TOPOLOGY.name})",
        len(truth),
    )

    def judge_camscan(stem: Path, _out: Path) -> tuple[int, int]:
        makers = camscan_makers(stem.with_suffix(".json"))
        return found_in(expected, makers), makers_correct(makers, truth)

    def judge_nmap(stem: Path, _out: Path) -> tuple[int, int]:
        xml = stem.with_suffix(".xml")
        makers = nmap_import_makers(xml, stem)
        return found_in(expected, nmap_up_hosts(xml)), makers_correct(makers, truth)

    tools = available(
        [
            Tool(
                "camscan (defaults)",
                lambda s: [
                    *CAMSCAN,
                    "scan",
                    cidr,
                    "-f",
                    "json",
                    "-o",
                    str(s.with_suffix(".json")),
                    "-q",
                ],
                judge_camscan,
                ok_codes=(0, 1),
            ),
            Tool(
                "nmap -sV -p 80,443,554,8000,37777 -n",
                lambda s: [
                    "nmap",
                    "-sV",
                    "-p",
                    "80,443,554,8000,37777",
                    "-n",
                    cidr,
                    "-oX",
                    str(s.with_suffix(".xml")),
                ],
                judge_nmap,
                needs="nmap",
                max_runs=slow_runs,
            ),
        ],
        result,
    )
    with Lab(topo) as lab:
        alternate(lab, tools, runs, workdir, result, label="ident")
    result.extra["nmap_sv_runs"] = min(runs, slow_runs)
    result.extra["attribution_note"] = (
        "nmap's attribution is camscan's own `camscan import` run on nmap's XML (MAC OUI and "
        "service fingerprints), which gives nmap the benefit of camscan's signatures"
    )
    return result


def workload_sparse16(runs: int, workdir: Path, slow_runs: int) -> Result:
    from camscan.config import ScanSettings
    from camscan.discovery.arp import REPLY_TIMEOUT
    from camscan.lab import Lab, load_topology

    topo = load_topology("sparse16")
    net = topo.networks[0]
    expected = {d.ip for d in topo.devices}
    rate = ScanSettings().rate
    swept = net.cidr.num_addresses - 3  # host addresses less the scanner's own
    ideal = swept / rate + REPLY_TIMEOUT
    result = Result(
        "sparse16",
        f"ARP sweep of {net.cidr} ({swept} addresses), {len(expected)} devices",
        len(expected),
    )
    result.extra.update(rate=rate, reply_timeout=REPLY_TIMEOUT, addresses=swept, ideal_s=ideal)
    print(
        f"  rate-bound ideal: {swept} addresses / {rate:g} per s "
        f"+ {REPLY_TIMEOUT} s = {ideal:.1f} s"
    )
    tools = available(
        arp_sweep_tools(str(net.cidr), expected, with_arp_scan=False, nmap_runs=slow_runs), result
    )
    with Lab(topo, emulate=False) as lab:
        alternate(lab, tools, runs, workdir, result, label="sparse16")
    return result


def workload_startup(runs: int, workdir: Path) -> Result:
    """`camscan --help` wall time; sends nothing, so it runs here, no lab needed."""
    result = Result("startup", "`camscan --help` wall time", 0)
    subprocess.run([*CAMSCAN, "--help"], capture_output=True, check=False, cwd=ROOT)  # warm
    result.tools["camscan --help"] = []
    rss_file = workdir / "startup.rss"
    timed = [GNU_TIME, "-f", "%M", "-o", str(rss_file), "--"] if GNU_TIME else []
    for _ in range(runs):
        began = time.perf_counter()
        proc = subprocess.run(
            [*timed, *CAMSCAN, "--help"], capture_output=True, check=False, cwd=ROOT
        )
        wall = time.perf_counter() - began
        try:  # GNU time: the peak RSS of camscan itself, in KiB
            rss_mb = int(rss_file.read_text().split()[-1]) / 1024
        except (OSError, ValueError, IndexError):
            rss_mb = 0.0
        result.tools["camscan --help"].append(Run(wall, rss_mb, 0, None, proc.returncode == 0))
    walls = [r.wall for r in result.tools["camscan --help"]]
    print(f"  camscan --help: median {statistics.median(walls):.3f} s over {runs} runs")
    return result


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


# -- targets and the why of a miss ---------------------------------------------------------------
def startup_seconds(results: dict[str, Result]) -> float:
    if "startup" in results:
        return float(summary(results["startup"].tools["camscan --help"])["wall_median"])
    walls = []
    for _ in range(3):
        began = time.perf_counter()
        subprocess.run([*CAMSCAN, "--help"], capture_output=True, check=False, cwd=ROOT)
        walls.append(time.perf_counter() - began)
    return statistics.median(walls)


def import_time_top(limit: int = 8) -> list[str]:
    """The slowest imports of `camscan --help` (python -X importtime), cumulative microseconds."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "camscan", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if len(name) - len(name.lstrip()) <= 1:  # top-level imports only
                rows.append((int(parts[1]), name.strip()))
    return [f"{us / 1e6:.3f} s {name}" for us, name in sorted(rows, reverse=True)[:limit]]


def judge(results: dict[str, Result]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []

    def add(number: int, text: str, ok: bool | None, measured: str, why: list[str]) -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        targets.append(
            {
                "target": number,
                "text": text,
                "verdict": verdict,
                "measured": measured,
                "why": why if verdict == "MISS" else [],
            }
        )

    def med(r: Result, tool: str) -> dict[str, Any] | None:
        runs = r.tools.get(tool)
        return summary(runs) if runs else None

    if "arp253" in results:
        r = results["arp253"]
        cs, nm = med(r, "camscan --probes arp"), med(r, "nmap -sn -PR -n")
        text = "ARP sweep of the /24 no slower than nmap -sn -PR -n, 253/253 found"
        if cs and nm:
            from camscan.config import ScanSettings
            from camscan.discovery.arp import REPLY_TIMEOUT

            rate = ScanSettings().rate
            floor = r.expected / rate + REPLY_TIMEOUT
            start = startup_seconds(results)
            ok = cs["wall_median"] <= nm["wall_median"] and cs["found_min"] == r.expected
            why = [
                f"camscan {cs['wall_median']:.2f} s = rate bound {floor:.2f} s ({r.expected} "
                f"frames at {rate:g}/s + {REPLY_TIMEOUT} s reply wait) + start-up ~{start:.2f} s "
                f"(camscan --help) + {cs['wall_median'] - floor - start:.2f} s other "
                "(imports for scanning, interface set-up, report)",
                f"nmap {nm['wall_median']:.2f} s sends at its own adaptive pace",
            ]
            if cs["found_min"] < r.expected:
                why.append(f"camscan found only {cs['found_min']}/{r.expected} in its worst run")
            if "profile" in r.extra:
                why.append("cProfile of one camscan run is in the JSON (arp253.extra.profile)")
            measured = (
                f"camscan {cs['wall_median']:.2f} s vs nmap {nm['wall_median']:.2f} s, "
                f"found {cs['found_min']}/{r.expected}"
            )
            add(1, text, ok, measured, why)
        else:
            add(1, text, None, "nmap skipped or not installed", [])
    if "ident" in results:
        r = results["ident"]
        cs, nm = med(r, "camscan (defaults)"), med(r, "nmap -sV -p 80,443,554,8000,37777 -n")
        text = (
            "full identification in at most 1/5 of nmap -sV's time, attribution at least as right"
        )
        if cs and nm:
            ok = (
                cs["wall_median"] * 5 <= nm["wall_median"]
                and cs["correct_median"] >= nm["correct_median"]
            )
            measured = (
                f"camscan {cs['wall_median']:.1f} s, {cs['correct_median']:g}/{r.expected} "
                f"right; nmap -sV {nm['wall_median']:.1f} s, {nm['correct_median']:g}/"
                f"{r.expected} right"
            )
            add(2, text, ok, measured, ["see the per-run lines above for the slow or wrong runs"])
        else:
            add(2, text, None, "nmap -sV skipped or not installed", [])
    if "sparse16" in results:
        r = results["sparse16"]
        cs = med(r, "camscan --probes arp")
        ideal = float(r.extra["ideal_s"])
        if cs:
            ok = cs["wall_median"] <= 1.1 * ideal and cs["rss_mb_max"] < 150
            why = []
            if cs["wall_median"] > 1.1 * ideal:
                why.append(
                    f"{cs['wall_median'] - ideal:.1f} s over the rate-bound ideal "
                    f"{ideal:.1f} s (start-up ~{startup_seconds(results):.2f} s of it)"
                )
            passes = cs["wall_median"] / ideal
            if 1.8 <= passes <= 2.2:
                why.append(
                    f"{passes:.2f}x the ideal is two full passes at the rate: an ARP retry pass "
                    "resends every address that stayed silent, which on a sparse network is "
                    "nearly all of them"
                )
            if cs["rss_mb_max"] >= 150:
                why.append(f"peak RSS {cs['rss_mb_max']:.0f} MB")
            measured = (
                f"camscan {cs['wall_median']:.1f} s vs ideal {ideal:.1f} s "
                f"({cs['wall_median'] / ideal:.3f}x), peak RSS {cs['rss_mb_max']:.0f} MB, "
                f"found {cs['found_min']}/{r.expected}"
            )
            add(
                3,
                "/16 sweep within 10% of the rate-bound ideal, peak RSS under 150 MB",
                ok,
                measured,
                why,
            )
    if "startup" in results:
        wall = startup_seconds(results)
        why = [] if wall < 0.3 else ["slowest imports: " + "; ".join(import_time_top())]
        add(4, "camscan --help under 0.3 s", wall < 0.3, f"median {wall:.3f} s", why)
    return targets


# -- machine, tables, JSON -----------------------------------------------------------------------
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
            right = f"{s['correct_median']:g}/{r.expected}" if "correct_median" in s else ""
            found = f"{s['found_min']}/{r.expected}" if r.expected else ""
            ratio_w = ratio_m = ""
            if ours is not None and s is not ours:
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


def to_json(results: dict[str, Result], targets: list[dict[str, Any]], began: float) -> Any:
    return {
        "schema": 1,
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
        "targets": targets,
    }


# -- command line --------------------------------------------------------------------------------
def parse_runs(values: list[str]) -> dict[str, int]:
    runs = dict(DEFAULT_RUNS)
    for value in values:
        name, _, count = value.rpartition("=")
        if not count.isdigit() or int(count) < 1 or (name and name not in WORKLOADS):
            raise SystemExit(
                f"bench: --runs takes N or WORKLOAD=N (workloads: {', '.join(WORKLOADS)})"
            )
        for w in [name] if name else [w for w in WORKLOADS if w not in ("sparse16", "startup")]:
            runs[w] = int(count)
    return runs


def main() -> int:
    if len(sys.argv) > 4 and sys.argv[1] == "--measure" and sys.argv[4] == "--":
        return measure(sys.argv[2], sys.argv[3], sys.argv[5:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--runs",
        action="append",
        default=[],
        metavar="N|WORKLOAD=N",
        help="runs per workload; a bare N sets arp253 and ident (defaults: "
        + ", ".join(f"{k}={v}" for k, v in DEFAULT_RUNS.items())
        + ")",
    )
    ap.add_argument(
        "--workload",
        action="append",
        choices=WORKLOADS,
        help="run only these (repeatable; default: all)",
    )
    ap.add_argument(
        "--ident-hosts",
        type=int,
        default=40,
        metavar="N",
        help="cameras in the ident workload, 1-200 (default 40: nmap -sV takes "
        "about 10 s per camera here, ~33 min for all 200)",
    )
    ap.add_argument(
        "--slow-runs",
        type=int,
        default=1,
        metavar="N",
        help="cap on runs of the slow anchors, nmap -sV (ident) and nmap on the /16 (sparse16): "
        "default 1, 0 skips them (a run of all workloads then takes ~6 min instead of ~31)",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="add one cProfile'd camscan run to arp253 (saved in the JSON)",
    )
    ap.add_argument(
        "--json",
        type=Path,
        default=ROOT / "bench" / "results" / "latest.json",
        help="where to save the results (default bench/results/latest.json)",
    )
    args = ap.parse_args()
    runs = parse_runs(args.runs)
    if not 1 <= args.ident_hosts <= 200:
        ap.error("--ident-hosts must be 1-200")
    chosen = args.workload or list(WORKLOADS)
    began = time.time()
    sys.path.insert(0, str(ROOT))
    from camscan.lab import lab_problem

    problem = lab_problem()
    for tool, package in ANCHOR_PACKAGES.items():
        if shutil.which(tool) is None:
            print(
                f"bench: anchor `{tool}` is not installed (apt-get install {package}); the "
                "comparisons that need it are skipped. Nothing is installed for you."
            )
    results: dict[str, Result] = {}
    workdir = Path(tempfile.mkdtemp(prefix="camscan-bench-"))
    for name in ("startup", *[w for w in WORKLOADS if w != "startup"]):  # startup: quiet machine
        if name not in chosen:
            continue
        print(f"== {name} ({runs[name]} runs)", flush=True)
        if name != "startup" and problem:
            print(f"  skipped: {problem}")
            continue
        if name == "startup":
            results[name] = workload_startup(runs[name], workdir)
        elif name == "ident":
            results[name] = workload_ident(runs[name], workdir, args.ident_hosts, args.slow_runs)
        elif name == "arp253":
            results[name] = workload_arp253(runs[name], workdir, args.profile)
        else:
            results[name] = workload_sparse16(runs[name], workdir, args.slow_runs)
    targets = judge(results)
    print("\n" + table(results) + "\n")
    for t in targets:
        print(f"{t['verdict']:<4}  target {t['target']}: {t['text']}: {t['measured']}")
        for reason in t["why"]:
            print(f"      why: {reason}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(to_json(results, targets, began), indent=2) + "\n")
    print(f"\nresults saved to {args.json} (raw tool output in {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
