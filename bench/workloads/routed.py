"""routed: full identification of the mixed camera set one router hop away (the routed lab's
cctv segment), camscan (own L3 engine, and --engine nmap) against nmap -sV on the camera ports
over the same router."""

from __future__ import annotations

import dataclasses

from bench import tools
from bench.identify import ratio_target
from bench.runner import CAMSCAN, Options, Result, Target, Tool, Workload, alternate, available

CIDR = "198.18.61.0/24"  # routed.toml: cctv, behind 198.18.60.254


def run(opts: Options) -> Result:
    from camscan.lab import Lab, load_topology

    topo = load_topology("routed")
    truth = {d.ip: d.expected_maker for d in topo.devices if d.network == "cctv"}
    result = Result(
        "routed",
        f"full identification of {CIDR} through a router: the mixed set ({len(truth)} devices)",
        len(truth),
    )
    own = tools.camscan_scan(CIDR, truth)
    via_nmap = dataclasses.replace(
        own,
        name="camscan --engine nmap",
        argv=lambda s: [*CAMSCAN, "scan", CIDR, "-q", "--engine", "nmap", *tools.json_to(s)],
        needs="nmap",
    )
    chosen: list[Tool] = [own, via_nmap, tools.nmap_sv(CIDR, truth, opts.slow_runs)]
    with Lab(topo) as lab:
        result.extra["lab_ready_s"] = round(lab.ready_seconds, 2)
        alternate(lab, available(chosen, result), opts.runs, opts.workdir, result, label="routed")
    result.extra["nmap_sv_runs"] = min(opts.runs, opts.slow_runs)
    result.extra["attribution_note"] = tools.ATTRIBUTION_NOTE
    return result


def targets(result: Result, _results: dict[str, Result]) -> list[Target]:
    return [ratio_target(result, 0.1, "routed")]


WORKLOAD = Workload(
    "routed", "full identification through a router vs nmap -sV (routed.toml)", 3, run, targets
)
