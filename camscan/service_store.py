"""The application service's side of stored runs: which store and site, and the changes since a
site's previous complete run (one diff, history/diff.py's, for every command).

The store is the `--db` given, else the config's `[store] db`, else a SQLite file in the user's
data directory. A site (`--site`, else `[store] site`, else the host name) separates sensors
that share one database.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from camscan.config import Config, site_problem
from camscan.errors import RunError, UsageError

if TYPE_CHECKING:
    from camscan.history.diff import RunDiff, RunRef
    from camscan.history.estate import EstateSettings
    from camscan.model import ScanResult
    from camscan.store import RunStore, RunSummary


def resolve_site(site: str | None, cfg: Config) -> str:
    chosen = site or cfg.store.site or socket.gethostname() or "default"
    problem = site_problem(chosen)
    if problem:
        raise UsageError(f"--site {chosen!r}: {problem}")
    return chosen


@contextlib.contextmanager
def opened_store(db: str | None, cfg: Config, *, readonly: bool = False) -> Iterator[RunStore]:
    """The store (read-only for readers: history, diff, report RUN), closed after use; its
    errors as one line: a wrong run id is a usage error (exit 2), anything else the store says
    a failed run (exit 3)."""
    from camscan.store import RunNotFound, StoreError, open_store

    try:
        store = open_store(db or cfg.store.db, readonly=readonly, lock_wait=cfg.store.lock_wait)
    except StoreError as e:
        raise RunError(str(e)) from None
    try:
        yield store
    except RunNotFound as e:
        raise UsageError(str(e)) from None
    except StoreError as e:
        raise RunError(str(e)) from None
    finally:
        store.close()


def ref(summary: RunSummary) -> RunRef:
    from camscan.history.diff import RunRef

    return RunRef(summary.id, summary.site, summary.started, summary.partial)


def diff_runs(
    store: RunStore,
    before: RunSummary | None,
    after: RunSummary,
    after_result: ScanResult | None = None,
) -> RunDiff:
    """What changed from `before` (None: nothing, everything is new) to `after`; `after_result`
    is `after`'s result when the caller holds it (no second read from the store)."""
    from camscan.history.diff import diff_results

    old = store.load(before.id) if before else None
    new = after_result if after_result is not None else store.load(after.id)
    return diff_results(old, new, ref(before) if before else None, ref(after))


def changes_since_baseline(store: RunStore, run: RunSummary) -> RunDiff | None:
    """The diff from the previous complete run of the same site, if there is one."""
    base = store.baseline(run.site, before=run.id)
    return diff_runs(store, base, run) if base else None


def estate(db: str | None, cfg: Config, settings: EstateSettings) -> dict[str, Any]:
    """`camscan estate`'s document (camscan/history/estate.py) of the store `db` names, with the
    runs waiting in this machine's spool for it; the store is only read, never created."""
    from camscan.history.estate import read_estate
    from camscan.store.registry import never_created, store_key
    from camscan.store.spool import waiting

    url = db or cfg.store.db
    spooled = waiting(url)
    if never_created(url):
        held = f"; {len(spooled)} runs wait in the spool for it" if spooled else ""
        raise UsageError(f"no store at {store_key(url)}: nothing was ever stored there{held}")
    with opened_store(db, cfg, readonly=True) as store:
        return read_estate(store, spooled, settings)
