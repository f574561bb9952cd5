"""Reporting a result read from a file (`identify`, `import` of nmap XML, captures and Zeek logs):
camscan/service_offline.py classifies it; this writes the reports, stores it when asked, and
sets the exit code."""

from __future__ import annotations

import typing
from pathlib import Path

import typer

from camscan.cli.errors import EXIT_FAILED

if typing.TYPE_CHECKING:
    from camscan.service_offline import OfflineInput, Prepare


def report_offline(
    given: OfflineInput,
    probe: str,
    fmt: str | None,
    output: list[str],
    config: Path | None,
    fail_on: str,
    excel: bool,
    *,
    quiet: bool = False,
    prepare: Prepare | None = None,
    store: bool = False,
    db: str | None = None,
    site: str | None = None,
) -> typing.NoReturn:
    """`store`: save the result in `db` (default: the config's [store] db), as scan --db does;
    a source with a `prepare` (passive) also says what it did not cover, on stderr."""
    from camscan.cli.configfile import load_cfg
    from camscan.cli.output import plan_outputs, tell_written, write_outputs
    from camscan.service_offline import classify
    from camscan.status import exit_code

    outputs = plan_outputs(output, fmt)
    cfg = load_cfg(config)
    result = classify(given, probe, cfg, prepare)
    code = exit_code(result.findings, result.run, fail_on)
    changes = None
    if store and (db := db or cfg.store.db):
        from camscan.cli.stored import store_result
        from camscan.history.render import changes_context

        diff, stored = store_result(result, db, site, cfg, quiet=quiet)
        changes = changes_context(diff) if diff else None
        code = code if stored else EXIT_FAILED  # not stored: kept in the spool
    write_outputs(result, outputs, cfg, excel=excel, changes=changes)
    tell_written(result, outputs, quiet)
    if prepare is not None:
        from camscan.cli.output import tell_gaps

        tell_gaps(result.run)
    raise typer.Exit(code)
