"""Options every reporting command shares, declared once so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from camscan.cli import complete
from camscan.cli.choices import FAIL_ON
from camscan.report.registry import DEFAULT, FORMATS

CONFIG_HELP = (
    "camscan.toml with segments, zones, settings and exceptions. Without it camscan reads "
    "$CAMSCAN_CONFIG, else the first of ./camscan.toml, ~/.config/camscan/camscan.toml "
    "(or $XDG_CONFIG_HOME/camscan/camscan.toml) and /etc/camscan.toml that exists."
)


def config_option() -> Any:
    return typer.Option(None, "--config", "-c", metavar="FILE", help=CONFIG_HELP)


def output_option() -> Any:
    return typer.Option(
        [],
        "--output",
        "-o",
        metavar="FILE",
        help="Write the report to FILE, in the format its name ends with (.json, .jsonl, .csv, "
        ".html, .txt, .ecs.jsonl, .defectdojo.json) unless -f names one; FORMAT:FILE names it "
        "for one file; '-' is standard output. Repeat for several reports from one run.",
    )


def format_option(default_words: str = DEFAULT) -> Any:
    return typer.Option(
        None,
        "--format",
        "-f",
        metavar="FORMAT",
        help=f"Report format: {'|'.join(FORMATS)} (default: {default_words}).",
        autocompletion=complete.formats,
    )


def fail_on_option() -> Any:
    return typer.Option(
        "flagged",
        "--fail-on",
        metavar="SEVERITY",
        autocompletion=complete.fail_on,
        help=f"Exit 1 when a finding reaches this: {'|'.join(FAIL_ON)} (default: flagged, "
        "what the policy flags; 'overdue': a flagged device past its removal deadline; 'high' also "
        "fails on critical; accepted findings never fail).",
    )


def excel_option() -> Any:
    return typer.Option(
        False, "--excel", help="CSV: start with a byte order mark so Excel reads UTF-8 right."
    )


def quiet_option() -> Any:
    return typer.Option(
        False,
        "--quiet",
        "-q",
        help="No notes, progress or summaries on stderr (for cron); errors and the report "
        "still print, and the exit code tells the outcome.",
    )


def path_or_stdin(text: str) -> Path | None:
    """'-' means standard input (None); anything else is a path."""
    return None if text == "-" else Path(text)
