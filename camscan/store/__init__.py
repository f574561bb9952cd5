"""Where results go: saved JSON files (results.py) and the store of runs (history, diffs).

`open_store(url)` picks the backend from the URL (registry.py: the first backend that accepts
it) and brings the schema up to date: `postgresql://...`, `postgres://...` or a libpq conninfo
(`host=... dbname=...`) is PostgreSQL; `sqlite:///path`, a plain path, or nothing (the default
file in the user's data directory) is SQLite.
"""

from __future__ import annotations

from camscan.store.interface import RunNotFound, RunStore, RunSummary, StoreError, StoreLocked
from camscan.store.registry import BACKENDS, backend_for, default_db_path, is_postgres


def open_store(url: str | None = None, *, migrate: bool = True) -> RunStore:
    """Open (creating and migrating as needed) the store at `url`; StoreError on failure."""
    store = backend_for(url).open((url or "").strip())
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
