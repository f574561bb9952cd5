"""`camscan report`: re-render a saved JSON result in any format."""

from __future__ import annotations

from pathlib import Path

import typer

from camscan.cli.app import app
from camscan.cli.errors import fail
from camscan.report.registry import FORMATS


@app.command("report")
def report(
    result: str = typer.Argument(
        ...,
        help="A JSON result saved by `camscan scan -f json`, or a stored run id (see --db).",
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="|".join(FORMATS)),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file."),
    db: str = typer.Option(
        None, "--db", help="Store to read a run id from (default: the default SQLite file)."
    ),
) -> None:
    """Re-render a saved JSON result, or a stored run, in any format.

    A stored run rendered as HTML also shows the changes since the previous complete run of its
    site.
    """
    from camscan.cli.output import write_report
    from camscan.store.results import load_result

    if fmt not in FORMATS:
        fail(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if result.isdigit() and not Path(result).exists():
        _report_stored(int(result), db, fmt, output)
        return
    write_report(load_result(Path(result)), fmt, output, quiet=False)


def _report_stored(run_id: int, db: str | None, fmt: str, output: Path | None) -> None:
    from camscan.cli.history_cmd import changes_since_baseline, opened_store
    from camscan.cli.output import write_report
    from camscan.config import parse_config
    from camscan.history.render import changes_context

    with opened_store(db, parse_config({})) as store:
        res = store.load(run_id)
        diff = changes_since_baseline(store, store.summary(run_id)) if fmt == "html" else None
    write_report(res, fmt, output, quiet=False, changes=changes_context(diff) if diff else None)
