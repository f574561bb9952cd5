"""The wrapper every benchmarked tool runs under, inside a lab namespace.

    python bench/measure.py RESULT.json STDOUT -- TOOL ARGS...

Refuses to start outside a lab namespace, then records wall time, exit code and the tool's own
peak RSS (GNU `time -f %M`: the tool and the children it waited for), so `ip netns exec`
costs are not counted.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None  # Debian package time
TOOL_TIMEOUT = 1800.0  # seconds: a hung tool ends its run instead of the benchmark


def measure(result_path: str, stdout_path: str, argv: list[str]) -> int:
    """Run argv, write {wall, rss_kb, rc} to result_path; refuse outside a lab namespace."""
    sys.path.insert(0, str(ROOT))
    from camscan.labguard import lab_namespace_problem

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


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[3] != "--":
        print("usage: python bench/measure.py RESULT.json STDOUT -- TOOL ARGS...", file=sys.stderr)
        sys.exit(2)
    sys.exit(measure(sys.argv[1], sys.argv[2], sys.argv[4:]))
