"""A self-contained HTML report: inline CSS, an inline SVG chart drawn here, no script at all.

Jinja2 autoescapes everything (devices send hostile text); the page also carries a
Content-Security-Policy that forbids scripts, so even a templating mistake stays inert.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import jinja2
import markupsafe

from camscan.contract import UNASSIGNED, ip_sort_key, result_to_contract
from camscan.model import ScanResult, Severity
from camscan.policy.rules import (
    DEFAULT_ZONE_SEVERITY,
    ELSEWHERE,
    POLICY_SOURCE,
    ZONE_ACTIONS,
    PolicySettings,
    maker_display,
    severity_rank,
)
from camscan.report.finding_groups import group_findings
from camscan.report.interface import RenderOptions
from camscan.report.remediation import ACTIONABLE, finding_label
from camscan.report.text import exposure_rank, printable

TEMPLATES = Path(__file__).parent / "templates"
# The summary's part (at most two printed pages, issue 22) shows this many flagged devices and
# changes; all of them follow, in the findings and in the appendix.
FLAGGED_ON_SUMMARY = 10
CHANGES_ON_SUMMARY = 12
MAKER_COLOURS = ("#1f4e79", "#c55a11", "#6f42c1", "#2e7d32", "#8d6e63", "#00838f", "#ad1457")


@dataclasses.dataclass(slots=True)
class Bar:
    x: float
    width: float
    colour: str
    maker: str
    count: int


@dataclasses.dataclass(slots=True)
class ChartRow:
    label: str
    y: float
    total: int
    bars: list[Bar]


@dataclasses.dataclass(slots=True)
class Chart:
    """Geometry for a stacked horizontal bar chart: flagged devices per segment, by maker."""

    rows: list[ChartRow]
    legend: list[tuple[str, str]]  # (maker name, colour)
    width: int = 760
    height: int = 0
    label_width: int = 200
    bar_height: int = 24


def flagged_chart(devices: list[dict[str, Any]]) -> Chart:
    flagged = [
        (d["segment"] or UNASSIGNED, maker_display(d["maker"])) for d in devices if d["flagged"]
    ]
    counts = Counter(flagged)  # (segment, maker) -> devices
    per_segment = Counter(seg for seg, _ in flagged)
    makers = sorted({maker for _, maker in flagged})
    colour = {m: MAKER_COLOURS[i % len(MAKER_COLOURS)] for i, m in enumerate(makers)}
    chart = Chart(rows=[], legend=[(m, colour[m]) for m in makers])
    scale = (chart.width - chart.label_width - 60) / max(per_segment.values(), default=1)
    # Most flagged segment first; ties by name so the picture is stable.
    for i, (seg, total) in enumerate(sorted(per_segment.items(), key=lambda st: (-st[1], st[0]))):
        row = ChartRow(seg, 10 + i * (chart.bar_height + 12), total, [])
        x = float(chart.label_width)
        for maker in makers:
            if n := counts[(seg, maker)]:
                row.bars.append(Bar(x, n * scale, colour[maker], maker, n))
                x += n * scale
        chart.rows.append(row)
    chart.height = 20 + len(chart.rows) * (chart.bar_height + 12)
    return chart


def _device_order(device: dict[str, Any]) -> tuple[int, int, tuple[int, int, str]]:
    sev = device["severity"]
    rank = -(severity_rank(Severity(sev)) if sev else -1)
    return (rank, exposure_rank(device), ip_sort_key(device["ip"]))


def _segment_groups(contract: dict[str, Any]) -> list[dict[str, Any]]:
    groups = []
    for seg in contract["segments"]:
        members = [d for d in contract["devices"] if d["segment"] == seg["name"]]
        groups.append({**seg, "devices": sorted(members, key=_device_order)})
    stray = [d for d in contract["devices"] if not d["segment"]]
    if stray or not groups:
        groups.append(
            {
                "name": "Not in any segment",
                "cidrs": [],
                "zone": None,
                "devices": sorted(stray, key=_device_order),
            }
        )
    return groups


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _policy_rows(policy: PolicySettings) -> list[dict[str, str]]:
    zones = list(DEFAULT_ZONE_SEVERITY) + sorted(
        set(policy.zone_severity) - set(DEFAULT_ZONE_SEVERITY)
    )
    return [
        {
            "zone": zone,
            "severity": policy.severity_for(None if zone == ELSEWHERE else zone).value,
            "action": ZONE_ACTIONS.get(zone, ZONE_ACTIONS[ELSEWHERE]),
            "flagged": "yes" if zone in policy.flag_zones else "no",
        }
        for zone in zones
    ]


def _visible(value: Any) -> Any:
    """Every printed value: control characters shown as \\xNN; autoescape still applies after."""
    if not isinstance(value, str):
        return value
    cleaned = printable(value, keep="\t\n")
    if isinstance(value, markupsafe.Markup):
        # Already escaped (e.g. by `join`): keep it Markup or it is escaped twice. Cleaning only
        # adds backslashes and hex digits, so it cannot introduce markup.
        return markupsafe.Markup(cleaned)  # noqa: S704
    return cleaned


def _environment(sections: list[HtmlSection] | None = None) -> jinja2.Environment:
    inline = {s.template: s.source for s in sections or [] if s.source is not None}
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.DictLoader(inline), jinja2.FileSystemLoader(TEMPLATES)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible,
    )
    env.filters["maker"] = maker_display
    env.filters["finding_label"] = lambda d: finding_label(d) or "-"
    return env


@dataclasses.dataclass(slots=True)
class HtmlSection:
    """An extra section another part of camscan adds to the report (e.g. changes since the
    previous run): a template in report/templates and the values it reads as `section`."""

    template: str
    values: dict[str, Any]
    source: str | None = None  # template text, when it does not live in report/templates


def _nothing_known(device: dict[str, Any]) -> bool:
    return not device["maker"] and not device["evidence"] and not device["flagged"]


def _zone_rows(groups: list[dict[str, Any]], listed: frozenset[str]) -> list[dict[str, Any]]:
    """One row per segment, core first, then sensitive, then the rest by name."""
    order = {"core": 0, "sensitive": 1}
    rows = []
    for g in groups:
        devs = g["devices"]
        sev = Counter(d["severity"] for d in devs)
        rows.append(
            {
                "zone": g["zone"],
                "segment": g["name"],
                "cidrs": g["cidrs"],
                "devices": len(devs),
                "identified": sum(1 for d in devs if d["maker"]),
                "listed": sum(1 for d in devs if d["maker"] in listed),
                "flagged": sum(1 for d in devs if d["flagged"]),
                "critical": sev[Severity.CRITICAL.value],
                "high": sev[Severity.HIGH.value],
                "medium": sev[Severity.MEDIUM.value],
                "accepted": sev[Severity.ACCEPTED.value],
            }
        )
    return sorted(
        rows, key=lambda r: (order.get(r["zone"] or "", 2), r["zone"] is None, r["zone"] or "")
    )


def _scope(run: dict[str, Any]) -> str:
    """Targets for the printed page header: only characters that are inert inside CSS text."""
    text = ", ".join(run["targets"]) or "no targets"
    text = "".join(c for c in text if c.isalnum() or c in " ./:,_-")
    return text[:120]


def _other_run_facts(run: dict[str, Any]) -> list[tuple[str, str]]:
    """Run keys the context section does not show by name (newer fields show up here)."""
    shown = {
        "targets", "probes", "started", "ended", "started_at", "ended_at", "interfaces",
        "privileged", "partial", "errors", "stats", "camscan_version", "scanner_host",
        "data_versions", "site", "args",
    }  # fmt: skip
    return [
        (k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        for k, v in run.items()
        if k not in shown and v not in (None, "", [], {})
    ]


# The template's policy allows inline styles; the written page pins them instead: only the
# page's own <style> elements, by hash, may style it (no style attributes, no injected CSS).
_STYLE_POLICY = "style-src 'unsafe-inline'"
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def _style_pin(page: str) -> str:
    """The style-src naming the SHA-256 of each <style> element's text in `page`."""
    hashes = sorted(
        {base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode()
         for m in _STYLE.finditer(page)}
    )  # fmt: skip
    if not hashes:
        return "style-src 'none'"
    return "style-src " + " ".join(f"'sha256-{h}'" for h in hashes)


def pin_styles(page: str) -> str:
    """Replace the template's style-src with the SHA-256 of each <style> element's text."""
    return page.replace(_STYLE_POLICY, _style_pin(page), 1)


_SLICE = 1 << 20


def _joined(chunks: Iterator[str]) -> str:
    """ "".join(chunks), as Template.render does, joined 4,096 at a time: a 65,000-device page
    is ~10 million small chunks, ~900 MB as one list, against ~230 MB for the page."""
    pieces: list[str] = []
    batch: list[str] = []
    for chunk in chunks:
        batch.append(chunk)
        if len(batch) == 4096:
            pieces.append("".join(batch))
            batch.clear()
    pieces.append("".join(batch))
    return "".join(pieces)


def write_pinned(page: str, out: TextIO) -> None:
    """pin_styles(page) written in slices: a 65,000-device page is 230 MB, and the replaced
    copy and its whole UTF-8 encoding would each be one more."""
    at = page.find(_STYLE_POLICY)
    cut = len(page) if at < 0 else at
    for start in range(0, cut, _SLICE):
        out.write(page[start : min(start + _SLICE, cut)])
    if at >= 0:
        out.write(_style_pin(page))
        for start in range(at + len(_STYLE_POLICY), len(page), _SLICE):
            out.write(page[start : start + _SLICE])


def _first_changes(changes: dict[str, Any] | None) -> dict[str, Any] | None:
    """The changes as the summary shows them: the first CHANGES_ON_SUMMARY rows (newly flagged
    first), and how many more the appendix lists."""
    if changes is None:
        return None
    rows = changes["rows"]
    return {
        **changes,
        "rows": rows[:CHANGES_ON_SUMMARY],
        "more": max(0, len(rows) - len(rows[:CHANGES_ON_SUMMARY])),
    }


def write_html(
    result: ScanResult,
    out: TextIO,
    *,
    policy: PolicySettings | None = None,
    changes: dict[str, Any] | None = None,
    sections: list[HtmlSection] | None = None,
) -> None:
    """`changes`: camscan.history.render.changes_context of the diff since the previous run;
    `sections`: further sections to show after the summary."""
    policy = policy or PolicySettings()
    contract = result_to_contract(result, observations=False)
    devices = contract["devices"]
    run = result.run
    started_day = datetime.fromtimestamp(run.started, UTC).date()
    groups = _segment_groups(contract)
    for g in groups:
        g["unknown"] = [d for d in g["devices"] if _nothing_known(d)]
        g["known"] = [d for d in g["devices"] if not _nothing_known(d)]
    actionable = sorted(
        (d for d in devices if d["severity"] in ACTIONABLE and d["maker"]), key=_device_order
    )
    finding_groups = group_findings(
        actionable, policy.min_confidence, started_day + timedelta(days=90), policy.listed_makers
    )
    flagged = sorted((d for d in devices if d["flagged"]), key=_device_order)
    page = _joined(
        _environment(sections)
        .get_template("report.html.j2")
        .generate(
            contract=contract,
            summary=contract["summary"],
            run=contract["run"],
            started=_when(run.started),
            ended=_when(run.ended),
            duration=f"{run.ended - run.started:.1f} s" if run.ended is not None else "-",
            scope=_scope(contract["run"]),
            flagged=flagged[:FLAGGED_ON_SUMMARY],
            flagged_more=max(0, len(flagged) - FLAGGED_ON_SUMMARY),
            listed_found=sum(1 for d in devices if d["maker"] in policy.listed_makers),
            groups=groups,
            zone_rows=_zone_rows(groups, policy.listed_makers),
            finding_groups=finding_groups,
            chart=flagged_chart(devices),
            policy=policy,
            policy_source=POLICY_SOURCE,
            policy_rows=_policy_rows(policy),
            listed=sorted(maker_display(m) for m in policy.listed_makers),
            accepted=[d for d in devices if d["severity"] == Severity.ACCEPTED.value],
            other_run_facts=_other_run_facts(contract["run"]),
            sections=sections or [],
            generated=_when(datetime.now(UTC).timestamp()),
            changes=_first_changes(changes),
            all_changes=changes if changes and len(changes["rows"]) > CHANGES_ON_SUMMARY else None,
        )
    )
    write_pinned(page, out)


def write(result: ScanResult, out: TextIO, options: RenderOptions) -> None:
    """The report-format interface (camscan/report/interface.py)."""
    write_html(result, out, policy=options.policy, changes=options.changes)
