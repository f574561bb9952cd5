"""`camscan report`: re-render a saved JSON result in any format."""

from __future__ import annotations

from pathlib import Path

import typer

from camscan.cli.app import app
from camscan.cli.errors import fail
from camscan.report.registry import FORMATS


@app.command("report")
def report(
    result: Path = typer.Argument(..., help="A JSON result saved by `camscan scan -f json`."),
    fmt: str = typer.Option("table", "--format", "-f", help="|".join(FORMATS)),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file."),
) -> None:
    """Re-render a saved JSON result in any format."""
    from camscan.cli.output import write_report
    from camscan.store.results import load_result

    if fmt not in FORMATS:
        fail(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    write_report(load_result(result), fmt, output, quiet=False)
