"""The estate document (history/estate.py) as a table for people, JSON for tools, CSV for
spreadsheets, or an HTML page whose first printed page is the one-page summary.

All four render the same document, so they agree; device and site text is escaped the way each
format escapes it (control characters shown, formula cells quoted, HTML autoescaped).
"""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from camscan.history.estate import SEVERITIES
from camscan.report.csv_out import safe_cell
from camscan.report.registry import estate_format
from camscan.report.table import printable

CSV_COLUMNS = (
    "site", "status", "gap", "latest_run", "latest_started_at", "age_days", "last_run", "runs",
    "spooled", "devices", "flagged", "overdue", *SEVERITIES, "since_run", "new", "gone",
    "resolved", "newly_flagged",
)  # fmt: skip
GAPS_ON_PAGE_ONE = 8  # more are named in the site table
SHOWN_SEVERITIES = SEVERITIES[:3] + SEVERITIES[4:5]  # the page's columns: critical to accepted


def write_estate(doc: dict[str, Any], fmt: str, out: TextIO) -> None:
    """`doc` in a registered estate format (camscan/report/registry.py ESTATE_REGISTRY)."""
    estate_format(fmt).writer()(doc, out)


def site_row(site: dict[str, Any]) -> list[Any]:
    """A site's CSV row: the same values as the JSON's `sites[]`, by column."""
    flat = {**site, **site["by_severity"]}
    return [flat[c] for c in CSV_COLUMNS]


def write_estate_json(doc: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def write_estate_csv(doc: dict[str, Any], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for site in doc["sites"]:
        writer.writerow([safe_cell(v) for v in site_row(site)])


def _age(days: float | None) -> str:
    return "never" if days is None else f"{days:.1f} d"


def write_estate_table(doc: dict[str, Any], out: TextIO) -> None:
    out.write(f"estate of {printable(doc['store'])}: {printable(doc['verdict']['text'])}\n")
    head = ["site", "status", "latest run", "age", "devices", "flagged", "overdue", "new",
            "gone", "resolved"]  # fmt: skip
    counted = ("devices", "flagged", "overdue", "new", "gone", "resolved")
    rows = [head]
    for s in doc["sites"]:
        run = str(s["latest_run"]) if s["latest_run"] is not None else "-"
        rows.append([printable(s["site"]), s["status"], run, _age(s["age_days"])])
        rows[-1] += [str(s[k]) for k in counted]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    for s in doc["sites"]:
        if s["gap"]:
            out.write(f"  GAP  {printable(s['site'])}: {printable(s['gap'])}\n")
    for d in doc["overdue"]:
        out.write(
            f"  OVERDUE  {printable(d['site'])} {printable(d['ip'])} {printable(d['maker'])}: "
            f"deadline {d['deadline']} ({d['days_overdue']} days ago)\n"
        )


def write_estate_html(doc: dict[str, Any], out: TextIO) -> None:
    from camscan.history.estate_charts import burndown_chart, flagged_chart
    from camscan.report.html import _environment, pin_styles

    order = [s["site"] for s in doc["sites"]]
    gaps = [s for s in doc["sites"] if s["status"] == "gap"]
    env = _environment()
    env.filters["when"] = lambda text: (text or "-").replace("T", " ").replace("+00:00", " UTC")
    page = env.get_template("estate.html.j2").render(
        doc=doc,
        verdict=doc["verdict"],
        totals=doc["totals"],
        gaps=gaps[:GAPS_ON_PAGE_ONE],
        more_gaps=len(gaps) - GAPS_ON_PAGE_ONE,
        burndown=burndown_chart(doc["trends"]["burndown"]),
        flagged=flagged_chart(doc["trends"]["flagged"], order),
        shown_severities=SHOWN_SEVERITIES,
    )
    out.write(pin_styles(page))
