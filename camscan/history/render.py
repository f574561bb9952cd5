"""A run diff as a table for people, JSON for tools, CSV for spreadsheets, or an HTML page.

Device text is escaped the way each report format escapes it (control characters shown, CSV
cells that could start a formula quoted, HTML autoescaped), because devices send hostile text.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from camscan.history.diff import KIND_TITLES, KINDS, DeviceChange, RunDiff, RunRef
from camscan.report.csv_out import safe_cell
from camscan.report.registry import diff_format
from camscan.report.table import printable

if TYPE_CHECKING:
    from camscan.store.interface import RunSummary

CSV_COLUMNS = (
    "change",
    "device_id",
    "ip",
    "mac",
    "maker",
    "brand",
    "model",
    "segment",
    "zone",
    "severity",
    "field",
    "before",
    "after",
)


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def run_label(ref: RunRef | None) -> str:
    if ref is None:
        return "nothing (no earlier complete run)"
    name = f"run {ref.id}" if ref.id is not None else "the result"
    partial = ", partial" if ref.partial else ""
    return f"{name} ({when(ref.started)}{partial})"


def headline(diff: RunDiff) -> str:
    site = f" of site {printable(diff.after.site)!r}" if diff.after.site else ""
    counts = diff.counts()
    parts = ", ".join(f"{counts[k]} {KIND_TITLES[k]}" for k in KINDS)
    return f"changes{site} from {run_label(diff.before)} to {run_label(diff.after)}: {parts}"


def _fields(change: DeviceChange) -> str:
    return "; ".join(
        f"{f.field} {printable(f.before)} -> {printable(f.after)}" for f in change.fields
    )


def _who(change: DeviceChange) -> str:
    maker = printable(change.maker) if change.maker else "unknown maker"
    if change.brand:
        maker += f" ({printable(change.brand)})"
    where = f"{printable(change.segment)}/{printable(change.zone)}" if change.segment else "-"
    return f"{maker}, {printable(change.model)}, {where}, {printable(change.severity)}"


def write_diff_table(diff: RunDiff, out: TextIO) -> None:
    out.write(headline(diff) + "\n")
    width = max((len(KIND_TITLES[c.kind]) for c in diff.changes), default=0)
    for c in diff.changes:
        detail = _fields(c)
        out.write(
            f"  {KIND_TITLES[c.kind].upper():<{width}}  {printable(c.ip):<15}  "
            f"{printable(c.device_id)}  {_who(c)}{'  ' + detail if detail else ''}\n"
        )


def write_diff_csv(diff: RunDiff, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for c in diff.changes:
        base = [c.kind, c.device_id, c.ip, c.mac, c.maker, c.brand, c.model, c.segment, c.zone]
        base.append(c.severity)
        for f in c.fields or [None]:
            tail = [f.field, f.before, f.after] if f else [None, None, None]
            writer.writerow([safe_cell(v) for v in [*base, *tail]])


def write_diff_html(diff: RunDiff, out: TextIO) -> None:
    from camscan.report.html import _environment

    page = (
        _environment()
        .get_template("diff.html.j2")
        .render(changes=changes_context(diff), title=headline(diff))
    )
    out.write(page)


def changes_context(diff: RunDiff) -> dict[str, object]:
    """What the HTML partial (report/templates/changes.html.j2) needs."""
    return {
        "before": run_label(diff.before),
        "after": run_label(diff.after),
        "counts": [(KIND_TITLES[k], n) for k, n in diff.counts().items()],
        "rows": [
            {
                "kind": KIND_TITLES[c.kind],
                "css": c.kind,
                "ip": c.ip,
                "device_id": c.device_id,
                "who": _who(c),
                "fields": _fields(c),
            }
            for c in diff.changes
        ],
    }


def write_diff(diff: RunDiff, fmt: str, out: TextIO) -> None:
    """`diff` in a registered diff format (camscan/report/registry.py DIFF_REGISTRY)."""
    diff_format(fmt).diff_writer()(diff, out)


def write_diff_json(diff: RunDiff, out: TextIO) -> None:
    out.write(json.dumps(diff.to_dict(), indent=2, ensure_ascii=False) + "\n")


# -- the list of stored runs (camscan history) -------------------------------------------------
HISTORY_COLUMNS = ("run", "site", "started", "targets", "devices", "flagged", "partial")


def write_runs(runs: list[RunSummary], fmt: str, out: TextIO) -> None:
    """`camscan history`'s run list in a registered format that offers one."""
    diff_format(fmt).runs_writer()(runs, out)


def _history_rows(runs: list[RunSummary]) -> list[list[str]]:
    return [
        [
            str(r.id),
            r.site,
            when(r.started),
            " ".join(r.targets),
            str(r.devices),
            str(r.flagged),
            "yes" if r.partial or r.ended is None else "no",
        ]
        for r in runs
    ]


def write_runs_json(runs: list[RunSummary], out: TextIO) -> None:
    doc = [
        {
            "run": r.id,
            "site": r.site,
            "started": r.started,
            "ended": r.ended,
            "targets": r.targets,
            "devices": r.devices,
            "flagged": r.flagged,
            "partial": r.partial or r.ended is None,
        }
        for r in runs
    ]
    out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def write_runs_csv(runs: list[RunSummary], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HISTORY_COLUMNS)
    writer.writerows([[safe_cell(v) for v in row] for row in _history_rows(runs)])


def write_runs_table(runs: list[RunSummary], out: TextIO) -> None:
    rows = _history_rows(runs)
    table = [list(HISTORY_COLUMNS), *[[printable(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(HISTORY_COLUMNS))]
    for row in table:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
