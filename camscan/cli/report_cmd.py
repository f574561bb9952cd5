"""`camscan report`: re-render a saved JSON result (a file, standard input, or a stored run)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from camscan.cli import complete
from camscan.cli.app import app
from camscan.cli.options import (
    config_option,
    excel_option,
    fail_on_option,
    format_option,
    output_option,
    quiet_option,
)
from camscan.report import registry as formats

if TYPE_CHECKING:
    from camscan.model import ScanResult


@app.command("report")
def report(
    result: str = typer.Argument(
        ...,
        metavar="RESULT",
        autocompletion=complete.run_ids,
        help="A JSON result saved by `camscan scan -f json`, '-' to read one from standard "
        "input, or a stored run id (see --db).",
    ),
    fmt: str = format_option(),
    output: list[str] = output_option(),
    fail_on: str = fail_on_option(),
    excel: bool = excel_option(),
    db: str = typer.Option(
        None,
        "--db",
        metavar="DB",
        help="Store to read a run id from (default: [store] db in the config, else the "
        "default SQLite file).",
    ),
    quiet: bool = quiet_option(),
    config: Path = config_option(),
) -> None:
    """Re-render a saved JSON result, or a stored run, in any format.

    Exits like `camscan scan` did for that result: 1 when a finding reaches --fail-on, 3 when
    the run was partial, else 0. A stored run rendered as HTML also shows the changes since the
    previous complete run of its site.
    """
    from camscan.cli.output import plan_outputs, tell_written, write_outputs
    from camscan.status import exit_code
    from camscan.store.results import load_result, read_result_stream

    outputs = plan_outputs(output, fmt)
    changes: dict[str, Any] | None = None
    if result == "-":
        res = read_result_stream(sys.stdin.buffer)
    elif result.isdigit() and not Path(result).exists():
        shown = any(formats.get(o.fmt).shows_changes for o in outputs)
        res, changes = _stored(int(result), db, config, shown)
    else:
        res = load_result(Path(result))
    code = exit_code(res.findings, res.run, fail_on)  # checks --fail-on before writing anything
    write_outputs(res, outputs, changes=changes, excel=excel)
    tell_written(res, outputs, quiet)
    raise typer.Exit(code)


def _stored(
    run_id: int, db: str | None, config: Path | None, html: bool
) -> tuple[ScanResult, dict[str, Any] | None]:
    """The run from `--db`, else the config's [store] db, else the default file (as history
    and diff read it); a reader never creates a store."""
    from camscan.cli.history_cmd import load_cfg
    from camscan.history.render import changes_context
    from camscan.service_store import changes_since_baseline, opened_store

    with opened_store(db, load_cfg(config), readonly=True) as store:
        res = store.load(run_id)
        diff = changes_since_baseline(store, store.summary(run_id)) if html else None
    return res, changes_context(diff) if diff else None
