"""Reporting a result read from a file (`identify`, `import` of nmap XML, captures and Zeek logs):
camscan/service_offline.py classifies it; this writes the reports, stores it when asked, and
sets the exit code."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path

import typer

from camscan.cli.errors import EXIT_FAILED

if typing.TYPE_CHECKING:
    from camscan.service_offline import OfflineInput, Prepare


@dataclass(frozen=True)
class ReportAsk:
    """What the user asked of a report: the options identify, import and listen share."""

    fmt: str | None
    output: tuple[str, ...]
    config: Path | None
    fail_on: str
    excel: bool
    quiet: bool = False
    store: bool = False  # save the result (identify never does; import and listen do)
    db: str | None = None
    site: str | None = None


def report_offline(
    given: OfflineInput, probe: str, ask: ReportAsk, prepare: Prepare | None = None
) -> typing.NoReturn:
    """`ask.store`: save the result in `ask.db` (default: the config's [store] db), as scan --db
    does; a source with a `prepare` (passive) also says what it did not cover, on stderr."""
    from camscan.cli.configfile import load_cfg
    from camscan.cli.output import plan_outputs, tell_written, write_outputs
    from camscan.service_offline import classify
    from camscan.status import exit_code

    outputs = plan_outputs(list(ask.output), ask.fmt)
    cfg = load_cfg(ask.config)
    result = classify(given, probe, cfg, prepare)
    code = exit_code(result.findings, result.run, ask.fail_on)
    changes = None
    if ask.store and (db := ask.db or cfg.store.db):
        from camscan.cli.stored import store_result
        from camscan.history.render import changes_context

        diff, stored = store_result(result, db, ask.site, cfg, quiet=ask.quiet)
        changes = changes_context(diff) if diff else None
        code = code if stored else EXIT_FAILED  # not stored: kept in the spool
    write_outputs(result, outputs, cfg, excel=ask.excel, changes=changes)
    tell_written(result, outputs, ask.quiet)
    if prepare is not None:
        from camscan.cli.output import tell_gaps

        tell_gaps(result.run)
    raise typer.Exit(code)
