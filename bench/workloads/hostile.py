"""hostile: every hostile lab device beside the normal camera set (topology "hostile", issue 11).

A full `camscan scan` at its defaults. Targets: every device's maker right (hostile devices:
no maker, normal ones: their persona's), the scan ends within WALL_BOUND, peak RSS and the JSON
report stay under the bounds the README documents.

Side by side (issue 27), the same scan of a calm twin: the same topology without its hostile
personas (`hostile-*`), a lab of its own built beside the hostile one, the two taking turns.
The hostile run's median should be within CALM_MARGIN of the calm one's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bench import tools
from bench.identify import stage_split
from bench.runner import Options, Result, Target, Tool, Workload, alternate, available


def _wall_bound() -> float:
    """The issue's bound: discovery window + a host's banner budget + a small margin.

    Every host's banner requests run side by side within its budget ([scan] timeout plus the
    wait for an unprompted banner), so a drip-fed, flooding, slow or silent device cannot add to
    it; the margin is interpreter start-up, identification and writing the report."""
    from camscan.discovery.banners.limits import Limits
    from camscan.settings import Timeouts

    wait = Timeouts()
    return wait.window + wait.probe + Limits().banner_wait + MARGIN


MARGIN = 1.5  # seconds: start-up (~0.4 s), identify and report (~0.3 s), 2 shared cores
WALL_BOUND = _wall_bound()
RSS_BOUND_MB = 400.0
REPORT_BOUND = 4 << 20
CALM_MARGIN = 1.0  # seconds: issue 27, hostile median at most this much above the calm one
HOSTILE = "camscan (defaults)"
CALM = "camscan (defaults), calm twin"


def _report_bytes(stem: Path) -> dict[str, Any]:
    path = stem.with_suffix(".json")
    return {"report_bytes": path.stat().st_size if path.exists() else -1}


def run(opts: Options) -> Result:
    from camscan.lab import Lab, load_topology

    topo = load_topology("hostile")
    calm = calm_twin(topo)
    cidr = str(topo.networks[0].cidr)
    truth = {d.ip: d.expected_maker for d in topo.devices}
    result = Result("hostile", f"full scan of {cidr}: hostile devices beside cameras", len(truth))
    result.extra["expected_by_tool"] = {CALM: len(calm.devices)}
    measured = [
        _measured(tools.camscan_scan(cidr, truth, HOSTILE)),
        _measured(tools.camscan_scan(cidr, {d.ip: d.expected_maker for d in calm.devices}, CALM)),
    ]
    with Lab(topo) as lab, Lab(calm) as calm_lab:
        result.extra["lab_ready_s"] = round(lab.ready_seconds, 2)
        alternate(
            lab,
            available(measured, result),
            opts.runs,
            opts.workdir,
            result,
            label="hostile",
            labs={CALM: calm_lab},
        )
    return result


def calm_twin(topo: Any) -> Any:
    """The topology with its hostile devices left out (the same addresses for the rest)."""
    kept = [d for d in topo.devices if not d.persona.startswith("hostile-")]
    personas = {n: p for n, p in topo.personas.items() if not n.startswith("hostile-")}
    return dataclasses.replace(topo, name=f"{topo.name}-calm", devices=kept, personas=personas)


def _measured(scan: Tool) -> Tool:
    return Tool(scan.name, scan.argv, scan.judge, ok_codes=(0, 1, 3), stats=_stats(scan))


def _stats(scan: Tool) -> Any:
    def stats(stem: Path) -> dict[str, Any]:
        base = scan.stats(stem) if scan.stats else {}
        return {**base, **_report_bytes(stem)}

    return stats


def targets(result: Result, _results: dict[str, Result]) -> list[Target]:
    cs = result.summary(HOSTILE)
    text = (
        f"all {result.expected} makers right, ends within {WALL_BOUND:g} s (window + host banner "
        f"budget + {MARGIN:g} s), peak RSS under "
        f"{RSS_BOUND_MB:g} MB, report under {REPORT_BOUND >> 20} MiB"
    )
    if not cs:
        return [Target("hostile", text, None, "camscan did not run")]
    runs = result.tools[HOSTILE]
    report = max(int(r.stats.get("report_bytes", -1)) for r in runs)
    ok = (
        cs["correct_min"] == result.expected
        and cs["wall_max"] <= WALL_BOUND
        and cs["rss_mb_max"] < RSS_BOUND_MB
        and 0 <= report < REPORT_BOUND
    )
    measured = (
        f"{cs['correct_min']:g}/{result.expected} right, wall max {cs['wall_max']:.1f} s, "
        f"RSS max {cs['rss_mb_max']:.0f} MB, report {report} bytes"
    )
    return [Target("hostile", text, ok, measured), calm_target(result)]


def calm_target(result: Result) -> Target:
    text = (
        f"the hostile run's median within {CALM_MARGIN:g} s of the same scan without the hostile "
        "devices (calm twin), makers right in both"
    )
    hostile, calm = result.summary(HOSTILE), result.summary(CALM)
    if not (hostile and calm):
        return Target("hostile:calm", text, None, "one of the two did not run")
    diff = hostile["wall_median"] - calm["wall_median"]
    n = result.expected_for(CALM)
    ok = diff <= CALM_MARGIN and calm.get("correct_min") == n
    measured = (
        f"hostile {hostile['wall_median']:.2f} s ({hostile['wall_min']:.2f}-"
        f"{hostile['wall_max']:.2f}), calm {calm['wall_median']:.2f} s ({calm['wall_min']:.2f}-"
        f"{calm['wall_max']:.2f}, {calm.get('correct_min')}/{n} right): {diff:+.2f} s"
    )
    why = [stage_split(result, HOSTILE), stage_split(result, CALM)]
    return Target("hostile:calm", text, ok, measured, why)


WORKLOAD = Workload("hostile", "hostile devices beside cameras (topology hostile)", 3, run, targets)
