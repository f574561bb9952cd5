"""arp_half: a /24 with about half its addresses empty (bench/topologies/half24.toml).

The cost of an ARP sweep here is in waiting for addresses that never answer: the tools stop
when every answer that can come has come, not after a fixed window."""

from __future__ import annotations

from bench.runner import TOPOLOGIES, Options, Result, Workload
from bench.sweeps import run_sweep, sweep_targets


def run(opts: Options) -> Result:
    from camscan.lab import load_topology

    topo = load_topology(TOPOLOGIES / "half24.toml")
    empty = 253 - len(topo.devices)
    return run_sweep("arp_half", topo, opts, f"{len(topo.devices)} live, {empty} empty")


WORKLOAD = Workload(
    "arp_half", "ARP sweep of a half-empty /24 (half24)", runs=3, run=run, targets=sweep_targets
)
