"""Full identification of a lab against nmap -sV: shared by ident, ident_half and scale."""

from __future__ import annotations

import dataclasses
from typing import Any

from bench import tools
from bench.capture import counted_run
from bench.runner import Options, Result, Target, alternate, available


def cut(topo: Any, hosts: int) -> Any:
    """The topology cut to its first `hosts` addresses."""
    kept = sorted(topo.devices, key=lambda d: tuple(int(x) for x in d.ip.split(".")))[:hosts]
    return dataclasses.replace(topo, devices=sorted(kept, key=lambda d: d.index))


def run_identification(
    name: str,
    topo: Any,
    opts: Options,
    describe: str,
    cidr: str | None = None,
    *,
    count_connections: bool = False,
) -> Result:
    """camscan's full scan against nmap -sV by turns; with `count_connections` (and
    opts.capture) one more camscan run, untimed, counts its connections on the wire."""
    from camscan.lab import Lab

    cidr = cidr or str(topo.networks[0].cidr)
    truth = {d.ip: d.expected_maker for d in topo.devices}
    result = Result(name, f"full identification of {cidr}: {describe}", len(truth))
    chosen = [tools.camscan_scan(cidr, truth), tools.nmap_sv(cidr, truth, opts.slow_runs)]
    with Lab(topo) as lab:
        result.extra["lab_ready_s"] = round(lab.ready_seconds, 2)
        alternate(lab, available(chosen, result), opts.runs, opts.workdir, result, label=name)
        if count_connections and opts.capture:
            counted_run(lab, chosen[0], opts.workdir, name, result, list(truth))
    result.extra["nmap_sv_runs"] = min(opts.runs, opts.slow_runs)
    result.extra["attribution_note"] = tools.ATTRIBUTION_NOTE
    return result


def stage_split(result: Result, tool: str = "camscan (defaults)") -> str:
    """camscan's own stage times (ms) of its median run, for the why of a miss."""
    runs = sorted((r for r in result.tools.get(tool, []) if r.ok), key=lambda r: r.wall)
    if not runs:
        return "no camscan run"
    stats = runs[len(runs) // 2].stats
    parts = [f"{k[3:]} {v / 1000:.2f} s" for k, v in stats.items() if k.startswith("ms.")]
    conns = stats.get("banners.connections")
    quiet = stats.get("banners.quiet")
    if conns is not None:
        parts.append(f"{conns} connections, {quiet or 0} quiet")
    return "camscan stages: " + ", ".join(parts)


def ratio_target(result: Result, limit: float, label: str) -> Target:
    """camscan at most `limit` x nmap -sV's wall time, makers at least as right."""
    cs, nm = result.summary("camscan (defaults)"), result.summary(tools.NMAP_SV)
    text = (
        f"full identification at most {limit:g}x {tools.NMAP_SV}'s time, makers at least as right"
    )
    if not (cs and nm):
        return Target(label, text, None, "nmap -sV skipped (--slow-runs 0) or not installed")
    ratio = cs["wall_median"] / nm["wall_median"]
    ok = ratio <= limit and cs["correct_median"] >= nm["correct_median"]
    measured = (
        f"camscan {cs['wall_median']:.2f} s, {cs['correct_median']:g}/{result.expected} right; "
        f"nmap -sV {nm['wall_median']:.1f} s, {nm['correct_median']:g}/{result.expected} right "
        f"({ratio:.3f}x)"
    )
    return Target(label, text, ok, measured, [stage_split(result)])
