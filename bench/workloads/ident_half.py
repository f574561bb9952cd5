"""ident_half: the half-empty mixed /24 of bench/topologies/half24.toml, every service emulated.

Cameras of every maker among printers and PCs, ~124 empty addresses: identification should
cost little more than the discovery window it waits for."""

from __future__ import annotations

from bench.capture import connection_target
from bench.identify import ratio_target, run_identification
from bench.runner import TOPOLOGIES, Options, Result, Target, Workload

RATIO = 0.022  # issue 27 (issue 15's was 0.03)


def run(opts: Options) -> Result:
    from camscan.lab import load_topology

    topo = load_topology(TOPOLOGIES / "half24.toml")
    return run_identification(
        "ident_half", topo, opts, f"{len(topo.devices)} mixed devices", count_connections=True
    )


def targets(result: Result, _results: dict[str, Result]) -> list[Target]:
    return [
        ratio_target(result, RATIO, "ident_half"),
        connection_target(result, "camscan (defaults)", "ident_half:connections"),
    ]


WORKLOAD = Workload(
    "ident_half", "full identification of the half-empty mixed /24 (half24)", 3, run, targets
)
