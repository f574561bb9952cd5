"""Reports: one ScanResult in, many formats out (table, json, jsonl, csv, html)."""

from __future__ import annotations

from typing import TextIO

from camscan.model import ScanResult
from camscan.policy.rules import PolicySettings
from camscan.report.csv_out import write_csv
from camscan.report.html import write_html
from camscan.report.json_contract import dumps_contract
from camscan.report.jsonl import write_jsonl
from camscan.report.table import write_table

FORMATS = ("table", "json", "jsonl", "csv", "html")


class ReportFormatError(ValueError):
    """An unknown report format; the message is one line."""


def render(
    result: ScanResult,
    fmt: str,
    out: TextIO,
    *,
    color: bool | None = None,
    policy: PolicySettings | None = None,
) -> None:
    """Write `result` to `out` as `fmt`. `color` (table only): None means colour on a terminal.

    `policy` (html only) is the policy text shown in the report; defaults to the defaults.
    """
    if fmt == "table":
        write_table(result, out, color=color)
    elif fmt == "json":
        out.write(dumps_contract(result))
    elif fmt == "jsonl":
        write_jsonl(result, out)
    elif fmt == "csv":
        write_csv(result, out)
    elif fmt == "html":
        write_html(result, out, policy=policy)
    else:
        raise ReportFormatError(
            f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}"
        )


__all__ = ["FORMATS", "ReportFormatError", "render"]
