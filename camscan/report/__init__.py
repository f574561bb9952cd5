"""Reports: one ScanResult in, many formats out (table, json, jsonl, csv, html)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from camscan.model import ScanResult
    from camscan.policy.rules import PolicySettings

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
    # Each writer is imported only when used: rich and jinja2 are not free to import.
    if fmt == "table":
        from camscan.report.table import write_table

        write_table(result, out, color=color)
    elif fmt == "json":
        from camscan.report.json_contract import dumps_contract

        out.write(dumps_contract(result))
    elif fmt == "jsonl":
        from camscan.report.jsonl import write_jsonl

        write_jsonl(result, out)
    elif fmt == "csv":
        from camscan.report.csv_out import write_csv

        write_csv(result, out)
    elif fmt == "html":
        from camscan.report.html import write_html

        write_html(result, out, policy=policy)
    else:
        raise ReportFormatError(
            f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}"
        )


__all__ = ["FORMATS", "ReportFormatError", "render"]
