"""CSV: one row per device, safe to open in a spreadsheet.

Device-supplied text (banners, models, badges) could start a formula: per OWASP's CSV Injection
guidance, a cell starting with = + - @ tab or carriage return gets a leading single quote.
"""

from __future__ import annotations

import csv
from typing import Any, TextIO

from camscan.contract import Contract
from camscan.model import ScanResult
from camscan.report.interface import RenderOptions

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = (
    "record",  # "verdict", "not_covered", "hidden_cameras" rows first (text in summary), devices
    "ip",
    "mac",
    "vendor",
    "maker",
    "brand",
    "model",
    "firmware",
    "serial",
    "confidence",
    "confidence_label",
    "segment",
    "zone",
    "severity",
    "flagged",
    "in_scope",
    "interface",
    "oui_vendor",
    "evidence_count",
    "signatures",
    "summary",
    "rationale",
    "exception",
    "equipment_class",  # added in 1.6: camera, recorder, ..., other, unknown
    "surveillance",  # visual surveillance equipment: yes, no, unknown
    "recorder_channels",
    "finding_type",  # listed-maker, surveillance-on-core, or empty
    "deadline",
    "overdue",
    "exposure",  # added in contract 1.5: kev, affected, none, unknown (empty: not assessed)
    "exposure_summary",
    "cves",  # ";"-separated
    "kev_cves",  # the ones on CISA's KEV list
    "ipv6",  # ";"-separated: the device's IPv6 addresses seen answering (contract 1.9)
    "ipv6_reported",  # ";"-separated: those its SADP/DHIP/DVRIP reply stated (contract 1.12)
)


def safe_cell(value: Any) -> str:
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


BOM = "\ufeff"


def write_csv(result: ScanResult, out: TextIO, *, excel: bool = False) -> None:
    if excel:
        out.write(BOM)  # Excel on Windows reads a CSV without one in the local code page
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    streamed = Contract(result)  # rows are written as they are built
    verdict = streamed.head["verdict"]
    writer.writerow(
        [safe_cell(v) for v in _run_row("verdict", f"{verdict['status']}: {verdict['text']}")]
    )
    for gap in verdict["not_covered"]:
        writer.writerow([safe_cell(v) for v in _run_row("not_covered", gap)])
    hidden = streamed.head["summary"]["hidden_cameras"]["note"]
    if hidden:  # recorders' channels: a coverage note, never found devices
        writer.writerow([safe_cell(v) for v in _run_row("hidden_cameras", hidden)])
    for kind, devices in (
        ("device", streamed.devices(observations=False)),
        ("out_of_scope", streamed.out_of_scope(observations=False)),
    ):
        for device in devices:
            row = dict(device, record=kind)
            row["evidence_count"] = len(device["evidence"])
            row["signatures"] = ";".join(e["signature_id"] for e in device["evidence"])
            exp = device.get("exposure") or {}
            cves = exp.get("cves", [])
            row["exposure"] = exp.get("status")
            row["exposure_summary"] = exp.get("summary")
            row["cves"] = ";".join(dict.fromkeys(c["cve"] for c in cves))
            row["kev_cves"] = ";".join(dict.fromkeys(c["cve"] for c in cves if c["kev"]))
            row["ipv6"] = ";".join(device.get("ipv6") or ())
            row["ipv6_reported"] = ";".join(device.get("ipv6_reported") or ())
            writer.writerow([safe_cell(row.get(col)) for col in COLUMNS])


def _run_row(kind: str, text: str) -> list[str | None]:
    return [kind if col == "record" else text if col == "summary" else None for col in COLUMNS]


def write(result: ScanResult, out: TextIO, options: RenderOptions) -> None:
    """The report-format interface (camscan/report/interface.py)."""
    write_csv(result, out, excel=options.excel)
