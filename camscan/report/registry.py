"""The registry of report formats: the CLI's choices, the config schema, the help texts and
`render` all read this one tuple. A new format is one module with `write()` plus one line here."""

from __future__ import annotations

from camscan.errors import UsageError
from camscan.report.interface import ReportFormat

REGISTRY: tuple[ReportFormat, ...] = (
    ReportFormat("table", "a table for the terminal", "camscan.report.table"),
    ReportFormat("json", "the versioned JSON contract", "camscan.report.json_contract"),
    ReportFormat("jsonl", "one JSON line per device, then one for the run", "camscan.report.jsonl"),
    ReportFormat("csv", "one row per device, for spreadsheets", "camscan.report.csv_out"),
    ReportFormat("html", "a self-contained report page to read or print", "camscan.report.html"),
    ReportFormat("ecs", "JSON lines with Elastic Common Schema fields", "camscan.report.ecs"),
    ReportFormat(
        "defectdojo", "DefectDojo's Generic Findings Import JSON", "camscan.report.defectdojo"
    ),
)
FORMATS: tuple[str, ...] = tuple(f.name for f in REGISTRY)


class ReportFormatError(UsageError, ValueError):
    """An unknown report format; the message is one line."""


def get(name: str) -> ReportFormat:
    for f in REGISTRY:
        if f.name == name:
            return f
    raise ReportFormatError(f"unknown report format {name!r}; choose one of {', '.join(FORMATS)}")
