"""`camscan history`, `camscan diff`, `camscan sweep` and `camscan store`: runs remembered in a
store. The site, the store and the diff are camscan/service_store.py's; the sweep is planned by
camscan/service.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from camscan.cli import complete
from camscan.cli.app import app
from camscan.cli.errors import EXIT_FAILED, EXIT_FLAGGED, EXIT_OK, fail
from camscan.cli.options import config_option
from camscan.cli.stored import keep
from camscan.config import Config, ConfigError
from camscan.report.registry import DEFAULT, DIFF_FORMATS, HISTORY_FORMATS
from camscan.service_store import diff_runs, opened_store, ref, resolve_site

if TYPE_CHECKING:
    from camscan.cli.output import Output
    from camscan.history.diff import RunDiff
    from camscan.model import ScanResult
    from camscan.service import SweepPlan
    from camscan.stopping import StopSignal
    from camscan.store import RunStore, RunSummary

DB_HELP = (
    "Store of runs: a SQLite file, or PostgreSQL as postgresql://... or a libpq conninfo "
    "(default: [store] db in the config, else $XDG_DATA_HOME/camscan/runs.sqlite3)."
)
SITE_HELP = "Site name separating sensors that share a database (default: [store] site, else host)."
OUTPUT_HELP = (
    "Write to FILE, in the format its name ends with or FORMAT:FILE ('-': standard output); "
    "repeatable."
)


def db_option() -> str:
    return typer.Option(None, "--db", help=DB_HELP)  # type: ignore[no-any-return]


def listing_format_option(formats: tuple[str, ...], what: str = "") -> Any:
    """-f of the commands that read a store (history, diff, sweep, estate)."""
    return typer.Option(
        None,
        "--format",
        "-f",
        help=f"{what}{'|'.join(formats)} (default: from -o's name, else {DEFAULT}).",
    )


def listing_output_option(what: str = "") -> Any:
    return typer.Option([], "--output", "-o", metavar="FILE", help=what + OUTPUT_HELP)


def site_option() -> str:
    return typer.Option(  # type: ignore[no-any-return]
        None, "--site", help=SITE_HELP, autocompletion=complete.sites
    )


def load_cfg(path: Path | None) -> Config:
    try:
        from camscan.cli.configfile import load_cfg as discovered

        return discovered(path)
    except ConfigError as e:
        fail(str(e))


def write_changes(diff: RunDiff, outputs: list[Output]) -> None:
    from camscan.cli.output import write_text_outputs
    from camscan.history.render import write_diff

    write_text_outputs(outputs, lambda fmt, out: write_diff(diff, fmt, out))


def _plan(output: list[str], fmt: str | None, formats: tuple[str, ...]) -> list[Output]:
    """-o as often as wanted, each file in the format its name says (or -f, or FORMAT:FILE),
    as for scan; every file is checked writable before the store is touched."""
    from camscan.cli.output import check_outputs, plan_outputs

    outputs = plan_outputs(output, fmt, DEFAULT, formats)
    check_outputs(outputs)
    return outputs


# -- history --------------------------------------------------------------------------------
@app.command("history")
def history(
    db: str = db_option(),
    site: str = typer.Option(
        None,
        "--site",
        help="Only this site; 'all': every site (default: [store] site, else every site).",
        autocompletion=complete.sites,
    ),
    config: Path = config_option(),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many runs, newest first."),
    fmt: str = listing_format_option(HISTORY_FORMATS),
    output: list[str] = listing_output_option(),
) -> None:
    """List stored runs: site, time, targets, devices, flagged, partial."""
    outputs = _plan(output, fmt, HISTORY_FORMATS)
    cfg = load_cfg(config)
    from camscan.history.diff import sites_chosen

    chosen = sites_chosen(site, cfg.store.site)
    from camscan.store.registry import never_created, store_key

    runs: list[RunSummary] = []
    url = store_key(db or cfg.store.db)
    if not never_created(db or cfg.store.db):  # readers never create a store
        with opened_store(db, cfg, readonly=True) as store:
            runs, url = store.runs(chosen, limit=max(limit, 1)), store.url
    if not runs and [o.fmt for o in outputs] == [DEFAULT]:
        where = f" of site {chosen!r}" if chosen else ""
        typer.echo(f"camscan: no stored runs{where} in {url}", err=True)
        return
    from camscan.cli.output import write_text_outputs
    from camscan.history.render import write_runs

    write_text_outputs(outputs, lambda fmt, out: write_runs(runs, fmt, out))


# -- diff -----------------------------------------------------------------------------------
def _run_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        fail(f"{text!r} is not a run id (a number from `camscan history`)")
    return value


def _pick_runs(
    store: RunStore, ids: list[int], site: str | None, cfg: Config
) -> tuple[RunSummary, RunSummary]:
    if len(ids) == 2:
        return store.summary(ids[0]), store.summary(ids[1])
    if len(ids) == 1:
        after = store.summary(ids[0])
        before = store.baseline(after.site, before=after.id)
        if before is None:
            fail(f"run {after.id} has no earlier complete run of site {after.site!r}")
        return before, after
    chosen = resolve_site(site, cfg)
    last = store.baseline(chosen)
    previous = store.baseline(chosen, before=last.id) if last else None
    if last is None or previous is None:
        fail(
            f"site {chosen!r} has fewer than two complete runs in {store.url}; "
            "name the runs (`camscan history`) or the site (--site)"
        )
    return previous, last


@app.command("diff")
def diff(
    runs: list[str] = typer.Argument(
        None,
        autocompletion=complete.run_ids,
        help="RUN_A RUN_B (default: the last two complete runs of the site; one id: that run "
        "against the complete run before it).",
        show_default=False,
    ),
    db: str = db_option(),
    site: str = site_option(),
    config: Path = config_option(),
    fmt: str = listing_format_option(DIFF_FORMATS),
    output: list[str] = listing_output_option(),
    across: bool = typer.Option(
        False, "--across-sites", help="Compare two runs of different sites (refused otherwise)."
    ),
) -> None:
    """What changed between two runs: new, gone, moved, changed, newly flagged, resolved.

    Exit codes: 0 no finding newly flagged, 1 a finding is newly flagged, 2 usage, 3 store error.
    """
    from camscan.history.diff import across_sites
    from camscan.store import RunNotFound, StoreError

    outputs = _plan(output, fmt, DIFF_FORMATS)
    ids = [_run_id(r) for r in runs or []]
    if len(ids) > 2:
        fail("diff takes at most two run ids")
    cfg = load_cfg(config)
    with opened_store(db, cfg, readonly=True) as store:
        try:
            before, after = _pick_runs(store, ids, site, cfg)
            unlike = across_sites(ref(before), ref(after))
            if unlike and not across:
                fail(unlike)
            changes = diff_runs(store, before, after)
        except RunNotFound as e:
            fail(str(e))
        except StoreError as e:
            fail(str(e), EXIT_FAILED)
    write_changes(changes, outputs)
    raise typer.Exit(EXIT_FLAGGED if changes.newly_flagged else EXIT_OK)


# -- sweep ----------------------------------------------------------------------------------
@app.command("sweep")
def sweep(
    config: Path = config_option(),
    db: str = db_option(),
    site: str = site_option(),
    keep_runs: int = typer.Option(
        None, "--keep-runs", help="Keep only the newest N runs of the site (default: [store])."
    ),
    interface: list[str] = typer.Option(
        [], "--interface", "-i", help="Interface to use (repeatable)."
    ),
    fmt: str = listing_format_option(DIFF_FORMATS, "Changes as "),
    output: list[str] = listing_output_option("The changes. "),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print only changes, and nothing when there are none."
    ),
) -> None:
    """Scan every configured segment, store the run, and print what changed since the last one.

    Exit codes: 0 no finding newly flagged, 1 a finding is newly flagged (on the first run of a
    site: any flagged finding), 2 usage or config error, 3 the scan failed or ended partial, or
    another sweep of the site is running.
    """
    from camscan import service
    from camscan.cli.output import tell_gaps
    from camscan.status import sweep_exit_code
    from camscan.stopping import StopSignal

    service.lab_guard()
    outputs = _plan(output, fmt, DIFF_FORMATS)
    cfg = load_cfg(config)
    plan = service.plan_sweep(cfg, db=db, site=site, keep_runs=keep_runs, interfaces=interface)
    stop = StopSignal()
    stop.install()  # SIGINT/SIGTERM end the scan early; what it found is stored, marked partial
    try:
        swept = _scan_and_store(plan, stop)
    finally:
        stop.restore()
    result, changes, run_id = swept.result, swept.changes, swept.run_id
    if changes.changes or not quiet:
        write_changes(changes, outputs)
    if not quiet:
        for err in result.run.errors:
            typer.echo(f"camscan: probe {err.probe} failed: {err.error}", err=True)
        typer.echo(
            f"camscan: run {run_id} of site {plan.site!r} stored in {swept.url}"
            + (f"; {swept.pruned} old runs removed" if swept.pruned else ""),
            err=True,
        )
    _stopped(stop, result, f"stored as run {run_id}")
    tell_gaps(result.run)
    if result.run.partial:
        typer.echo(
            f"camscan: run {run_id} is partial: stored and marked, never used as a baseline",
            err=True,
        )
    raise typer.Exit(sweep_exit_code(bool(changes.newly_flagged), result.run))


@dataclasses.dataclass(frozen=True, slots=True)
class Swept:
    result: ScanResult
    run_id: int
    url: str
    changes: RunDiff  # on a site's first run: against nothing, every device new
    pruned: int


def _scan_and_store(plan: SweepPlan, stop: StopSignal) -> Swept:
    """Scan under the site's lock (one sweep of a site at a time), store the run (or keep it
    in the spool when the store fails: exit 3), diff it against the site's previous complete
    run, prune."""
    from camscan.cli.output import tell_gaps
    from camscan.service import run_scan
    from camscan.store import StoreError, open_store
    from camscan.store.spool import site_lock

    cfg = plan.scan.request.config
    url = plan.db or cfg.store.db
    store, problem = None, ""
    try:
        try:
            store = open_store(url, lock_wait=cfg.store.lock_wait)
        except StoreError as e:
            problem = str(e)  # the scan goes on: its run waits in the spool for the store
        try:
            with store.lock(plan.site) if store is not None else site_lock(url, plan.site):
                result = run_scan(plan.scan, stop=stop)
                kept = keep(store, url, result, plan.site, problem)
                if kept.run_id is None or store is None:
                    _stopped(stop, result, "kept in the spool")
                    tell_gaps(result.run)
                    raise typer.Exit(EXIT_FAILED)
                summary = store.summary(kept.run_id)
                base = store.baseline(plan.site, before=summary.id)
                changes = diff_runs(store, base, summary, result)
                pruned = store.prune(plan.site, plan.keep) if plan.keep else 0
        except StoreError as e:
            fail(str(e), EXIT_FAILED)
    finally:
        if store is not None:
            store.close()
    return Swept(result, summary.id, store.url, changes, pruned)


def _stopped(stop: StopSignal, result: ScanResult, where: str) -> None:
    if stop.stopped:
        typer.echo(
            f"camscan: sweep stopped by {stop.describe()}: what it found is {where}, "
            "marked partial",
            err=True,
        )


# -- store flush ----------------------------------------------------------------------------
store_app = typer.Typer(
    help="The store of runs: runs waiting in the local spool for a store that failed.",
    no_args_is_help=True,
)
app.add_typer(store_app, name="store")


@store_app.command("flush")
def store_flush(db: str = db_option(), config: Path = config_option()) -> None:
    """Store the runs waiting in the spool for this store, oldest first, each once.

    A run waits there when its store failed (down, full, read-only, damaged, locked); the next
    sweep or scan --db with the store does this too. Exit codes: 0 none left waiting, 3 the
    store still fails (the runs keep waiting).
    """
    from camscan.store.registry import store_key
    from camscan.store.spool import Flushed, flush, pending

    cfg = load_cfg(config)
    url = db or cfg.store.db
    if not pending(url):
        typer.echo(f"camscan: no run waits in the spool for {store_key(url)}", err=True)
        return
    done: list[Flushed] = []
    try:
        with opened_store(db, cfg) as store:
            flush(store, url, done)
    finally:
        for f in done:
            typer.echo(
                f"camscan: run {f.run_id} of site {f.site!r} stored from the spool "
                f"({f.path.name})" + (" (it was already there)" if f.duplicate else ""),
                err=True,
            )
    runs = f"{len(done)} run{'' if len(done) == 1 else 's'}"
    typer.echo(f"camscan: {runs} stored in {store.url}; none left waiting", err=True)
