"""Offline inputs at scale: `camscan import` of a large nmap XML, `report` of the large result
it saved, `identify` of a large JSON-lines file; time and peak RSS per size. No lab and no
anchor tool: nothing is sent anywhere, and no other tool reads camscan's inputs.

The XML is bench/nmap_xml.py's: the nmap fixture's three cameras over N distinct lab
addresses, each host written twice (as merged nmap runs hold it): 65,000 devices is the 200 MB
file of issue 11.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from bench.measure import GNU_TIME
from bench.nmap_xml import expected_maker, write_nmap_xml, write_observations_jsonl
from bench.runner import CAMSCAN, ROOT, Options, Result, Run, Target, Workload

REPORT_FORMATS = ("json", "jsonl", "csv", "table", "html")
LINEAR = 1.5  # per-device time at the largest size at most this times that at the smallest
IMPORT_BOUND = (60.0, 1024.0)  # 65,000-device import: seconds, MB
_LAB_IP = re.compile(rb"198\.1[89]\.\d{1,3}\.\d{1,3}\b")


def _timed(argv: list[str], out: Path, rss_file: Path) -> tuple[float, float, int]:
    timed = [GNU_TIME, "-f", "%M", "-o", str(rss_file), "--"] if GNU_TIME else []
    began = time.perf_counter()
    proc = subprocess.run(
        [*timed, *argv, "-o", str(out)], capture_output=True, check=False, cwd=ROOT
    )
    wall = time.perf_counter() - began
    try:  # GNU time: camscan's own peak RSS, in KiB
        rss_mb = int(rss_file.read_text().split()[-1]) / 1024
    except (OSError, ValueError, IndexError):
        rss_mb = 0.0
    return wall, rss_mb, proc.returncode


def _judged(out: Path, makers: bool) -> tuple[int, int | None]:
    """Distinct lab addresses in the output; with `makers`, devices whose maker is right."""
    if not makers:
        return len(set(_LAB_IP.findall(out.read_bytes()))), None
    devices = json.loads(out.read_text(encoding="utf-8"))["devices"]
    first = 198 << 24 | 18 << 16
    right = 0
    for d in devices:
        a, b, c, e = (int(x) for x in d["ip"].split("."))
        right += d["maker"] == expected_maker((a << 24 | b << 16 | c << 8 | e) - first - 1)
    return len(devices), right


def _one_size(opts: Options, n: int, result: Result) -> None:
    work = opts.workdir / f"import{n}"
    work.mkdir(exist_ok=True)
    xml, jsonl, saved = work / "large.xml", work / "large.jsonl", work / "import.json"
    mb = write_nmap_xml(xml, n, repeats=2) / 1e6
    write_observations_jsonl(jsonl, n)
    print(f"  {n} devices: nmap XML {mb:.0f} MB", flush=True)
    commands: list[tuple[str, list[str], Path, bool]] = [
        (f"camscan import -f json, {n}", [*CAMSCAN, "import", "-f", "json", str(xml)], saved, True)
    ]
    commands += [
        (
            f"camscan report -f {fmt}, {n}",
            [*CAMSCAN, "report", "-f", fmt, str(saved)],
            work / f"report.{fmt}",
            False,
        )
        for fmt in REPORT_FORMATS
    ]
    commands.append(
        (
            f"camscan identify -f json, {n}",
            [*CAMSCAN, "identify", "-f", "json", str(jsonl)],
            work / "identify.json",
            False,
        )
    )
    for name, argv, out, makers in commands:
        runs = result.tools.setdefault(name, [])
        for _ in range(opts.runs):
            wall, rss_mb, rc = _timed(argv, out, work / "rss")
            found, correct = _judged(out, makers) if out.exists() else (0, None)
            runs.append(Run(wall, rss_mb, found, correct, rc in (0, 1)))
            print(f"  {name}: {wall:.1f} s, {rss_mb:.0f} MB, {found}/{n}", flush=True)
        result.extra.setdefault("expected_by_tool", {})[name] = n


def run(opts: Options) -> Result:
    sizes = sorted(opts.import_sizes)
    result = Result("import_large", "offline import, report, identify of large inputs", sizes[-1])
    result.extra["sizes"] = sizes
    for n in sizes:
        _one_size(opts, n, result)
    return result


def targets(result: Result, results: dict[str, Result]) -> list[Target]:
    del results
    sizes = result.extra["sizes"]
    small, large = sizes[0], sizes[-1]
    out = []
    imported = result.summary(f"camscan import -f json, {large}")
    if imported is not None:
        wall, rss = IMPORT_BOUND
        ok = imported["wall_median"] < wall and imported["rss_mb_max"] < rss
        out.append(
            Target(
                "import_large:import",
                f"import of {large} devices under {wall:g} s and {rss:g} MB",
                ok,
                f"{imported['wall_median']:.1f} s, {imported['rss_mb_max']:.0f} MB",
            )
        )
    if small == large:
        return out
    worst = []
    for name in result.tools:
        if not name.endswith(f", {small}"):
            continue
        a, b = result.summary(name), result.summary(name[: -len(str(small))] + str(large))
        if a and b:
            worst.append((b["wall_median"] / a["wall_median"] * small / large, name))
    if worst:
        growth, name = max(worst)
        out.append(
            Target(
                "import_large:linear",
                f"per-device time at {large} at most {LINEAR}x that at {small}, every command",
                growth <= LINEAR,
                f"worst {growth:.2f}x ({name.rsplit(',', 1)[0]})",
            )
        )
    return out


WORKLOAD = Workload(
    "import_large",
    "import/report/identify of 10,000 and 65,000 devices, no lab",
    runs=1,
    run=run,
    targets=targets,
    needs_lab=False,
    bare_runs=False,
)
