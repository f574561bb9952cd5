"""Benchmarks: camscan against nmap and arp-scan on the same lab networks.

    python bench/run.py                                  # every workload, default runs
    python bench/run.py --runs 5 --runs sparse16=2 --workload arp253 --workload sparse16
    python bench/run.py --slow-runs 0 --json /tmp/quick.json

Each workload is one module in bench/workloads/ (registered in bench/workloads/__init__.py);
see bench/README.md. Lab workloads need root; nmap and arp-scan are anchors and are skipped,
with a note, when not installed. Every tool runs inside the lab's scanner namespace under
bench/measure.py, which refuses to start outside a lab namespace and records wall time and the
tool's own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import workloads
from bench.report import table, to_json
from bench.runner import (
    ANCHOR_PACKAGES,
    ROOT,
    Options,
    Result,
    Target,
    Workload,
    compile_camscan,
)


def parse_runs(values: list[str], known: dict[str, Workload]) -> dict[str, int]:
    runs = {name: w.runs for name, w in known.items()}
    for value in values:
        name, _, count = value.rpartition("=")
        if not count.isdigit() or int(count) < 1 or (name and name not in known):
            raise SystemExit(f"bench: --runs takes N or WORKLOAD=N (workloads: {', '.join(known)})")
        for w in [name] if name else [w for w in known.values() if w.bare_runs]:
            runs[w if isinstance(w, str) else w.name] = int(count)
    return runs


def parse_args(known: dict[str, Workload]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="workloads: " + "; ".join(f"{w.name}: {w.help}" for w in known.values()),
    )
    bare = ", ".join(w.name for w in known.values() if w.bare_runs)
    ap.add_argument(
        "--runs",
        action="append",
        default=[],
        metavar="N|WORKLOAD=N",
        help=f"runs per workload; a bare N sets {bare} (defaults: "
        + ", ".join(f"{w.name}={w.runs}" for w in known.values())
        + ")",
    )
    ap.add_argument(
        "--workload", action="append", choices=list(known), help="run only these (repeatable)"
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
        "--scale-sizes",
        default="250,500,1000,4000",
        metavar="N,N,...",
        help="lab sizes of the scale workload (default 250,500,1000,4000; at most 4000)",
    )
    ap.add_argument(
        "--no-capture",
        action="store_true",
        help="skip the extra run of ident_half and scale that counts connections on the wire",
    )
    ap.add_argument(
        "--import-sizes",
        default="10000,65000",
        metavar="N,N,...",
        help="devices in the import_large inputs (default 10000,65000; at most 131070)",
    )
    ap.add_argument(
        "--pcap-mb",
        type=int,
        default=1024,
        metavar="MB",
        help="size of the passive_import capture (default 1024; 100 for a quick run)",
    )
    ap.add_argument(
        "--slow-runs",
        type=int,
        default=1,
        metavar="N",
        help="cap on runs of the slow anchors, nmap -sV (ident, ident_half) and nmap on the /16 "
        "(sparse16): default 1, 0 skips them",
    )
    ap.add_argument(
        "--profile", action="store_true", help="add one cProfile'd camscan run to the ARP sweeps"
    )
    ap.add_argument(
        "--json",
        type=Path,
        default=ROOT / "bench" / "results" / "latest.json",
        help="where to save the results (default bench/results/latest.json)",
    )
    args = ap.parse_args()
    if not 1 <= args.ident_hosts <= 200:
        ap.error("--ident-hosts must be 1-200")
    try:
        args.scale_sizes = tuple(int(n) for n in args.scale_sizes.split(","))
    except ValueError:
        ap.error("--scale-sizes takes numbers separated by commas")
    if not all(1 <= n <= 4000 for n in args.scale_sizes):
        ap.error("--scale-sizes must be 1-4000 each")
    try:
        args.import_sizes = tuple(int(n) for n in args.import_sizes.split(","))
    except ValueError:
        ap.error("--import-sizes takes numbers separated by commas")
    if not all(1 <= n <= 131070 for n in args.import_sizes):
        ap.error("--import-sizes must be 1-131070 each")
    if not 1 <= args.pcap_mb <= 16384:
        ap.error("--pcap-mb must be 1-16384")
    return args


def main() -> int:
    known = workloads.load()
    args = parse_args(known)
    runs = parse_runs(args.runs, known)
    chosen = args.workload or list(known)
    began = time.time()
    from camscan.lab import lab_problem

    problem = lab_problem()
    for tool, package in ANCHOR_PACKAGES.items():
        if shutil.which(tool) is None:
            print(
                f"bench: anchor `{tool}` is not installed (apt-get install {package}); the "
                "comparisons that need it are skipped. Nothing is installed for you."
            )
    compile_camscan()  # as installed: the runs time camscan, not compiling it
    results: dict[str, Result] = {}
    workdir = Path(tempfile.mkdtemp(prefix="camscan-bench-"))
    for name, workload in known.items():
        if name not in chosen:
            continue
        print(f"== {name} ({runs[name]} runs)", flush=True)
        if workload.needs_lab and problem:
            print(f"  skipped: {problem}")
            continue
        opts = Options(
            runs=runs[name],
            slow_runs=args.slow_runs,
            workdir=workdir,
            profile=args.profile,
            ident_hosts=args.ident_hosts,
            scale_sizes=args.scale_sizes,
            import_sizes=args.import_sizes,
            pcap_mb=args.pcap_mb,
            capture=not args.no_capture,
        )
        results[name] = workload.run(opts)
    targets: list[Target] = []
    for name, result in results.items():
        targets += known[name].targets(result, results)
    print("\n" + table(results) + "\n")
    for t in targets:
        print(f"{t.verdict:<4}  {t.name}: {t.text}: {t.measured}")
        for reason in t.why if t.verdict == "MISS" else []:
            print(f"      why: {reason}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(to_json(results, targets, began), indent=2) + "\n")
    print(f"\nresults saved to {args.json} (raw tool output in {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
