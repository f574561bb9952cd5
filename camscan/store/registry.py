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
    open: Callable[[str], SqlStore]
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


def _open_postgres(url: str) -> SqlStore:
    from camscan.store.postgres import PostgresStore

    return PostgresStore(url)


def _open_sqlite(url: str) -> SqlStore:
    from camscan.store.sqlite import SqliteStore

    path = default_db_path() if not url else Path(url.removeprefix("sqlite://"))
    return SqliteStore(path.expanduser())


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


def backend_for(url: str | None) -> Backend:
    text = (url or "").strip()
    return next(b for b in BACKENDS if b.accepts(text))
