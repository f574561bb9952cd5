"""Where results go: saved JSON files (results.py) and the store of runs (history, diffs).

`open_store(url)` picks the backend from the URL (registry.py: the first backend that accepts
it) and brings the schema up to date: `postgresql://...`, `postgres://...` or a libpq conninfo
(`host=... dbname=...`) is PostgreSQL; `sqlite:///path`, a plain path, or nothing (the default
file in the user's data directory) is SQLite.
"""

from __future__ import annotations

from camscan.store.interface import RunNotFound, RunStore, RunSummary, StoreError, StoreLocked
from camscan.store.migrations import LATEST
from camscan.store.registry import BACKENDS, backend_for, default_db_path, is_postgres


def open_store(
    url: str | None = None,
    *,
    migrate: bool = True,
    readonly: bool = False,
    lock_wait: float | None = None,
) -> RunStore:
    """Open (creating and migrating as needed) the store at `url`; StoreError on failure.

    `readonly`: for readers (history, diff, report RUN): nothing is created, migrated or
    written, so a store on a read-only mount can be read; one in an older schema is migrated
    by a writable open first. `lock_wait`: seconds a write waits for another writer."""
    backend = backend_for(url)
    text = (url or "").strip()
    store = backend.open(text, readonly)
    if lock_wait is not None:
        store.lock_wait = lock_wait
    if readonly:
        try:
            if store.schema_version() >= LATEST:
                return store
        except BaseException:
            store.close()
            raise
        store.close()
        open_store(url, lock_wait=lock_wait).close()  # an older schema: bring it up first
        return open_store(url, readonly=True, lock_wait=lock_wait)
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


__all__ = [
    "BACKENDS",
    "RunNotFound",
    "RunStore",
    "RunSummary",
    "StoreError",
    "StoreLocked",
    "backend_for",
    "default_db_path",
    "is_postgres",
    "open_store",
]
