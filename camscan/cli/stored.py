"""Storing a run from the CLI (`scan --db`, `import --db`, `sweep`): the run goes to the store,
after any runs waiting in the spool for it, or waits in the spool when the store fails; each of
those is said in one line on stderr. Site, store and diff: camscan/service_store.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from camscan.cli.errors import EXIT_FAILED, fail
from camscan.config import Config
from camscan.service_store import changes_since_baseline, resolve_site

if TYPE_CHECKING:
    from camscan.history.diff import RunDiff
    from camscan.model import ScanResult
    from camscan.store import RunStore
    from camscan.store.spool import Kept


def store_result(
    result: ScanResult, db: str | None, site: str | None, cfg: Config, quiet: bool
) -> tuple[RunDiff | None, bool]:
    """`scan --db`: store the run, after any runs waiting in the spool for that store; return
    the changes since the site's previous complete run, and whether the store took the run
    (if not, it is in the spool and a line says where: exit 3)."""
    from camscan.store import StoreError, open_store

    chosen = resolve_site(site, cfg)
    url = db or cfg.store.db
    store, problem = None, ""
    try:
        store = open_store(url, lock_wait=cfg.store.lock_wait)
    except StoreError as e:
        problem = str(e)
    try:
        kept = keep(store, url, result, chosen, problem)
        if kept.run_id is None or store is None:
            return None, False
        if not quiet:
            note = " (partial: never used as a baseline)" if result.run.partial else ""
            typer.echo(f"camscan: stored as run {kept.run_id} of site {chosen!r}{note}", err=True)
        try:
            return changes_since_baseline(store, store.summary(kept.run_id)), True
        except StoreError as e:  # stored, but the changes cannot be read back now
            typer.echo(f"camscan: error: {e}", err=True)
            return None, False
    finally:
        if store is not None:
            store.close()


def keep(
    store: RunStore | None, url: str | None, result: ScanResult, site: str, problem: str
) -> Kept:
    """The run stored (runs waiting in the spool first), or kept in the spool, saying so."""
    from camscan.store.spool import SpoolError, keep_run

    try:
        kept = keep_run(store, url, result, site, problem)
    except SpoolError as e:
        fail(f"{problem or 'the store failed'}; and {e}: this run is not stored", EXIT_FAILED)
    for f in kept.flushed:
        typer.echo(
            f"camscan: run {f.run_id} of site {f.site!r} stored from the spool ({f.path.name})"
            + (" (it was already there)" if f.duplicate else ""),
            err=True,
        )
    if kept.spooled is not None:
        typer.echo(f"camscan: error: {kept.problem}", err=True)
        typer.echo(
            f"camscan: the run is safe in {kept.spooled}; the next sweep or scan --db with this "
            "store, or `camscan store flush`, stores it",
            err=True,
        )
    return kept
