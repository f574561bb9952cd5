"""SQLite: the zero-set-up default, one file (WAL mode, so readers never block the writer).

Several processes may write one file (they queue on SQLite's write lock, up to a timeout). The
per-site sweep lock is an flock(2) on a small file beside the database: the kernel drops it when
the process dies, even by kill -9, so a crashed sweep never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from camscan.store.interface import StoreError, StoreLocked
from camscan.store.sql import SqlStore

BUSY_TIMEOUT_S = 60.0  # a concurrent writer of another site waits this long for its turn
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _lock_name(site: str) -> str:
    if _PLAIN_NAME.fullmatch(site) and not site.startswith("."):
        return site
    return "site-" + hashlib.sha256(site.encode()).hexdigest()[:24]


class SqliteStore(SqlStore):
    dialect_types = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "float": "REAL"}

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}") from None
        self._in_tx = False

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.conn.execute(sql, tuple(params)).fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"{self.url}: {exc}") from None

    def _insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.url}: {exc}") from None

    @contextlib.contextmanager
    def _begin(self, mode: str) -> Iterator[None]:
        self._query(f"BEGIN {mode}")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        self._query("COMMIT")

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return self._begin("IMMEDIATE")  # take the write lock now: no upgrade deadlocks

    def _schema_transaction(self) -> contextlib.AbstractContextManager[None]:
        return self._begin("EXCLUSIVE")

    def _has_schema_table(self) -> bool:
        rows = self._query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'camscan_schema'"
        )
        return bool(rows)

    @contextlib.contextmanager
    def lock(self, site: str) -> Iterator[None]:
        lock_dir = self.path.parent / f"{self.path.name}.locks"
        lock_path = lock_dir / f"{_lock_name(site)}.lock"
        try:
            lock_dir.mkdir(exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"{lock_path}: cannot open the sweep lock: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                raise StoreLocked(
                    f"another sweep of site {site!r} is running (pid {holder}, lock "
                    f"{lock_path}); not starting a second one"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing drops the flock

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
