"""The store backends, one entry each: which store URLs a backend takes, and how to open it.

`open_store` asks them in order and the first that accepts a URL opens it; SQLite, last, takes
everything else (a plain path, `sqlite:///path`, or nothing for the default file). Adding a
backend is one module implementing `RunStore` (interface.py) and one entry here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # backends import their drivers only when opened
    from camscan.store.sql import SqlStore

DEFAULT_FILE = "runs.sqlite3"


@dataclasses.dataclass(frozen=True, slots=True)
class Backend:
    name: str
    accepts: Callable[[str], bool]  # the URL, stripped; "" means none was given
    open: Callable[[str, bool], SqlStore]  # (url, read-only)
    forms: str  # the URL forms it takes, for help and docs


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


def _open_postgres(url: str, readonly: bool) -> SqlStore:
    from camscan.store.postgres import PostgresStore

    return PostgresStore(url, readonly=readonly)


def _open_sqlite(url: str, readonly: bool) -> SqlStore:
    from camscan.store.sqlite import SqliteStore

    path = default_db_path() if not url else Path(url.removeprefix("sqlite://"))
    return SqliteStore(path.expanduser(), readonly=readonly)


BACKENDS: tuple[Backend, ...] = (
    Backend(
        "postgresql",
        is_postgres,
        _open_postgres,
        "postgresql://..., postgres://... or a libpq conninfo (host=... dbname=...)",
    ),
    Backend(
        "sqlite",
        lambda _url: True,
        _open_sqlite,
        "a file path or sqlite:///path (default: $XDG_DATA_HOME/camscan/runs.sqlite3)",
    ),
)


def store_key(url: str | None) -> str:
    """Where the store `url` names lives, the same however it is spelled (a relative path, the
    default), without a password: the spool of runs waiting for it is named after this."""
    text = (url or "").strip()
    if is_postgres(text):
        from camscan.store.postgres import display_conninfo

        return display_conninfo(text)
    path = default_db_path() if not text else Path(text.removeprefix("sqlite://"))
    return str(Path(os.path.abspath(path.expanduser())))


def never_created(url: str | None) -> bool:
    """A SQLite store whose file does not exist yet: nothing was ever stored there (a reader
    says so rather than create it)."""
    return not is_postgres((url or "").strip()) and not Path(store_key(url)).exists()


def backend_for(url: str | None) -> Backend:
    text = (url or "").strip()
    return next(b for b in BACKENDS if b.accepts(text))
