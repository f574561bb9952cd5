"""arp253: the flat253 lab, every address of a /24 live: the cost of a full sweep."""

from __future__ import annotations

from bench.runner import Options, Result, Workload
from bench.sweeps import run_sweep, sweep_targets


def run(opts: Options) -> Result:
    from camscan.lab import load_topology

    return run_sweep("arp253", load_topology("flat253"), opts, "253 devices, every address live")


WORKLOAD = Workload(
    "arp253", "ARP sweep of a full /24 (flat253)", runs=3, run=run, targets=sweep_targets
)
