"""ident: the first N of 200 cameras of bench/topologies/ident.toml, every service emulated."""

from __future__ import annotations

from bench.identify import cut, ratio_target, run_identification
from bench.runner import TOPOLOGIES, Options, Result, Target, Workload


def run(opts: Options) -> Result:
    from camscan.lab import load_topology

    topo = cut(load_topology(TOPOLOGIES / "ident.toml"), opts.ident_hosts)
    return run_identification(
        "ident", topo, opts, f"{len(topo.devices)} cameras (first {opts.ident_hosts} of ident.toml)"
    )


def targets(result: Result, _results: dict[str, Result]) -> list[Target]:
    return [ratio_target(result, 0.2, "ident")]


WORKLOAD = Workload("ident", "full identification of N cameras (ident.toml)", 3, run, targets)
