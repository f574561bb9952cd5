"""The registry of report formats: the CLI's choices, the config schema, the help texts, the
file name endings `-o` understands and `render` all read this one tuple; nothing else spells a
format's name. A new format is one module with `write()` plus one line here. The formats of
run history (diffs, the run list) are the second, smaller registry below."""

from __future__ import annotations

from camscan.errors import UsageError
from camscan.report.interface import DiffFormat, EstateFormat, ReportFormat

REGISTRY: tuple[ReportFormat, ...] = (  # the first is the default
    ReportFormat("table", "a table for the terminal", "camscan.report.table", (".txt",)),
    ReportFormat("json", "the versioned JSON contract", "camscan.report.json_contract", (".json",)),
    ReportFormat(
        "jsonl",
        "one JSON line per device, then one for the run",
        "camscan.report.jsonl",
        (".jsonl", ".ndjson"),
    ),
    ReportFormat(
        "csv", "one row per device, for spreadsheets", "camscan.report.csv_out", (".csv",)
    ),
    ReportFormat(
        "html",
        "a self-contained report page to read or print",
        "camscan.report.html",
        (".html", ".htm"),
        shows_changes=True,
    ),
    ReportFormat(
        "ecs",
        "JSON lines with Elastic Common Schema fields",
        "camscan.report.ecs",
        (".ecs.jsonl", ".ecs.ndjson"),
    ),
    ReportFormat(
        "defectdojo",
        "DefectDojo's Generic Findings Import JSON",
        "camscan.report.defectdojo",
        (".defectdojo.json", ".dojo.json"),
    ),
)
FORMATS: tuple[str, ...] = tuple(f.name for f in REGISTRY)
DEFAULT: str = REGISTRY[0].name

# Run history: what `diff` and `sweep` write a RunDiff as, and `history` its list of runs in.
DIFF_REGISTRY: tuple[DiffFormat, ...] = (  # the first is the default
    DiffFormat("table", "write_diff_table", "write_runs_table"),
    DiffFormat("json", "write_diff_json", "write_runs_json"),
    DiffFormat("csv", "write_diff_csv", "write_runs_csv"),
    DiffFormat("html", "write_diff_html"),
)
DIFF_FORMATS: tuple[str, ...] = tuple(f.name for f in DIFF_REGISTRY)
HISTORY_FORMATS: tuple[str, ...] = tuple(f.name for f in DIFF_REGISTRY if f.runs)

# `camscan estate`: every site of a store at a glance (the first is the default).
ESTATE_REGISTRY: tuple[EstateFormat, ...] = (
    EstateFormat("table", "write_estate_table"),
    EstateFormat("json", "write_estate_json"),
    EstateFormat("csv", "write_estate_csv"),
    EstateFormat("html", "write_estate_html"),
)
ESTATE_FORMATS: tuple[str, ...] = tuple(f.name for f in ESTATE_REGISTRY)


class ReportFormatError(UsageError, ValueError):
    """An unknown report format; the message is one line."""


def get(name: str) -> ReportFormat:
    for f in REGISTRY:
        if f.name == name:
            return f
    raise ReportFormatError(f"unknown report format {name!r}; choose one of {', '.join(FORMATS)}")


def format_for_file(name: str) -> str | None:
    """The format a file name ends with (the longest ending wins: x.ecs.jsonl is ECS), if any."""
    lower = name.lower()
    endings = sorted(
        ((ext, f.name) for f in REGISTRY for ext in f.extensions), key=lambda e: -len(e[0])
    )
    return next((fmt for ext, fmt in endings if lower.endswith(ext)), None)


def diff_format(name: str) -> DiffFormat:
    for f in DIFF_REGISTRY:
        if f.name == name:
            return f
    raise ReportFormatError(f"--format {name!r} is not one of {', '.join(DIFF_FORMATS)} for a diff")


def estate_format(name: str) -> EstateFormat:
    for f in ESTATE_REGISTRY:
        if f.name == name:
            return f
    raise ReportFormatError(
        f"--format {name!r} is not one of {', '.join(ESTATE_FORMATS)} for an estate"
    )
