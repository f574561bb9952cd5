"""scale: 250, 500, 1,000 and 4,000 live devices of mixed personas
(bench/topologies/scale4000.toml, one /20), full identification: time should grow linearly, peak
RSS stay small.

Each size is its own lab (the first N devices by address) scanned as the smallest CIDR that holds
them (/24, /23, /22, /20), so every size is about as dense as a full network. After each size's
timed runs, one more run counts its connections on the wire (bench/capture.py)."""

from __future__ import annotations

import ipaddress
import itertools

from bench import tools
from bench.capture import connection_target, counted_run
from bench.identify import cut, stage_split
from bench.runner import TOPOLOGIES, Options, Result, Target, Workload, alternate, available

TOPOLOGY = "scale4000.toml"
# devices -> (seconds, MB): issue 27's bounds on a quiet machine (issue 15's were 15 s, 150 MB)
LIMITS = {1000: (8.0, 150.0), 4000: (35.0, 300.0)}


def tool_name(n: int) -> str:
    return f"camscan (defaults), {n} devices"


def cidr_for(scanner: ipaddress.IPv4Address, ips: list[str]) -> str:
    """The smallest network that holds the scanner and every device."""
    last = max(ipaddress.IPv4Address(ip) for ip in ips)
    for prefix in range(24, 15, -1):
        net = ipaddress.IPv4Network(f"{scanner}/{prefix}", strict=False)
        if last in net and last != net.broadcast_address:
            return str(net)
    raise ValueError("devices too far apart")


def run(opts: Options) -> Result:
    from camscan.lab import Lab, load_topology

    full = load_topology(TOPOLOGIES / TOPOLOGY)
    sizes = sorted(n for n in opts.scale_sizes if n <= len(full.devices))
    described = "/".join(f"{n:,}" for n in sizes)
    result = Result("scale", f"full identification of {described} mixed devices", max(sizes))
    result.extra["expected_by_tool"] = {}
    result.extra["cidr_by_tool"] = {}
    result.extra["lab_ready_s"] = {}
    for n in sizes:
        topo = cut(full, n)
        cidr = cidr_for(topo.networks[0].scanner, [d.ip for d in topo.devices])
        name = tool_name(n)
        result.extra["expected_by_tool"][name] = n
        result.extra["cidr_by_tool"][name] = cidr
        truth = {d.ip: d.expected_maker for d in topo.devices}
        sub = Result("scale", "", n)
        with Lab(topo) as lab:
            result.extra["lab_ready_s"][name] = round(lab.ready_seconds, 2)
            tool = tools.camscan_scan(cidr, truth, name)
            alternate(lab, available([tool], sub), opts.runs, opts.workdir, sub, label=f"scale{n}")
            if opts.capture:
                counted_run(lab, tool, opts.workdir, f"scale{n}", result, list(truth))
        result.tools.update(sub.tools)
    return result


def targets(result: Result, _results: dict[str, Result]) -> list[Target]:
    sums = {n: result.summary(name) for name, n in result.extra["expected_by_tool"].items()}
    got = {n: s for n, s in sums.items() if s}
    out: list[Target] = []
    for n, (limit_s, limit_mb) in LIMITS.items():
        if n not in got:
            continue
        s = got[n]
        ok = s["wall_median"] < limit_s and s["rss_mb_max"] < limit_mb and s.get("correct_min") == n
        out.append(
            Target(
                f"scale:{n}",
                f"{n:,} devices identified right in one run under {limit_s:g} s, RSS under "
                f"{limit_mb:g} MB",
                ok,
                f"{s['wall_median']:.2f} s, peak RSS {s['rss_mb_max']:.0f} MB, "
                f"{s.get('correct_min')}/{n} right (worst run)",
                [stage_split(result, tool_name(n))],
            )
        )
    for n in sorted(got):
        out.append(connection_target(result, tool_name(n), f"scale:{n}:connections"))
    ns = sorted(got)
    if len(ns) >= 2:
        steps = [
            (a, b, got[b]["wall_median"] / got[a]["wall_median"]) for a, b in itertools.pairwise(ns)
        ]
        # linear or better: each doubling at most ~2x the time (fixed costs make it less)
        ok = all(r <= 1.1 * b / a for a, b, r in steps)
        measured = (
            ", ".join(f"{n}: {got[n]['wall_median']:.2f} s" for n in ns)
            + " ("
            + ", ".join(f"{b}/{a} = {r:.2f}x" for a, b, r in steps)
            + ")"
        )
        out.append(
            Target(
                "scale:linear",
                "time grows at most linearly with the number of devices",
                ok,
                measured,
                [stage_split(result, tool_name(n)) for n in ns],
            )
        )
    return out


WORKLOAD = Workload(
    "scale",
    "full identification of 250/500/1,000/4,000 devices (scale4000)",
    runs=1,
    run=run,
    targets=targets,
    bare_runs=False,
)
