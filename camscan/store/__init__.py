"""Where results go: saved JSON files (results.py) and the store of runs (history, diffs).

`open_store(url)` picks the backend from the URL and brings the schema up to date:
`postgresql://...`, `postgres://...` or a libpq conninfo (`host=... dbname=...`) is PostgreSQL;
`sqlite:///path`, a plain path, or nothing (the default file in the user's data directory) is
SQLite.
"""

from __future__ import annotations

import os
from pathlib import Path

from camscan.store.interface import RunNotFound, RunStore, RunSummary, StoreError, StoreLocked

DEFAULT_FILE = "runs.sqlite3"


def default_db_path() -> Path:
    """$XDG_DATA_HOME/camscan/runs.sqlite3, else ~/.local/share/camscan/runs.sqlite3."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "camscan" / DEFAULT_FILE


def is_postgres(url: str) -> bool:
    text = url.strip()
    if text.startswith(("postgresql://", "postgres://")):
        return True
    # A libpq keyword/value string: "host=/run/pg dbname=camscan".
    return "=" in text and not text.startswith(("sqlite:", "/", ".", "~"))


def open_store(url: str | None = None, *, migrate: bool = True) -> RunStore:
    """Open (creating and migrating as needed) the store at `url`; StoreError on failure."""
    from camscan.store.sql import SqlStore

    store: SqlStore
    if url and is_postgres(url):
        from camscan.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        from camscan.store.sqlite import SqliteStore

        path = default_db_path() if not url else Path(url.removeprefix("sqlite://"))
        store = SqliteStore(path.expanduser())
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


__all__ = [
    "RunNotFound",
    "RunStore",
    "RunSummary",
    "StoreError",
    "StoreLocked",
    "default_db_path",
    "is_postgres",
    "open_store",
]
