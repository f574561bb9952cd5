"""`camscan --help` wall time; sends nothing, so it runs here, no lab needed."""

from __future__ import annotations

import statistics
import subprocess
import time

from bench.measure import GNU_TIME
from bench.runner import (
    CAMSCAN,
    PYTHON,
    ROOT,
    Options,
    Result,
    Run,
    Target,
    Workload,
    startup_seconds,
)

LIMIT = 0.3  # seconds


def run(opts: Options) -> Result:
    result = Result("startup", "`camscan --help` wall time", 0)
    subprocess.run([*CAMSCAN, "--help"], capture_output=True, check=False, cwd=ROOT)  # warm
    result.tools["camscan --help"] = []
    rss_file = opts.workdir / "startup.rss"
    timed = [GNU_TIME, "-f", "%M", "-o", str(rss_file), "--"] if GNU_TIME else []
    for _ in range(opts.runs):
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
    print(f"  camscan --help: median {statistics.median(walls):.3f} s over {opts.runs} runs")
    return result


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


def targets(result: Result, results: dict[str, Result]) -> list[Target]:
    wall = startup_seconds(results)
    why = [] if wall < LIMIT else ["slowest imports: " + "; ".join(import_time_top())]
    return [
        Target(
            "startup", f"camscan --help under {LIMIT} s", wall < LIMIT, f"median {wall:.3f} s", why
        )
    ]


WORKLOAD = Workload(
    "startup",
    "`camscan --help`, no lab",
    runs=10,
    run=run,
    targets=targets,
    needs_lab=False,
    bare_runs=False,
)
