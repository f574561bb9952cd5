"""SQLite: the zero-set-up default, one file (WAL mode, so readers never block the writer).

Several processes may write one file (they queue on SQLite's write lock, up to `lock_wait`
seconds, saying so every PROGRESS_EVERY seconds). The per-site sweep lock is an flock(2) on a
small file beside the database: the kernel drops it when the process dies, even by kill -9, so a
crashed sweep never blocks the next one.

Readers (history, diff, report RUN) open the file read-only and change nothing, so a store in a
read-only directory or on a read-only mount can be read. Writers run SQLite's quick_check first
and refuse a damaged file with a line saying how to recover it: a run added to a damaged file
would be lost with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import sqlite3
import sys
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from camscan.store.interface import StoreError, StoreLocked
from camscan.store.sql import SqlStore

PROGRESS_EVERY = 10.0  # seconds between "still waiting" lines during a long wait
_BUSY_STEP_MS = 1000  # SQLite retries within each step; camscan counts the steps
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _lock_name(site: str) -> str:
    if _PLAIN_NAME.fullmatch(site) and not site.startswith("."):
        return site
    return "site-" + hashlib.sha256(site.encode()).hexdigest()[:24]


class SqliteStore(SqlStore):
    dialect_types = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "float": "REAL"}

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.url = str(path)
        self.readonly = readonly
        try:
            if readonly:
                self.conn = self._open_readonly(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(
                    path, timeout=_BUSY_STEP_MS / 1000, isolation_level=None
                )
                self._check_integrity()
                self._waiting(lambda: self.conn.execute("PRAGMA journal_mode=WAL"))
                self.conn.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}") from None
        self._in_tx = False

    @staticmethod
    def _open_readonly(path: Path) -> sqlite3.Connection:
        if not path.is_file():
            raise StoreError(f"{path}: no store there yet (nothing has been stored in it)")
        uri = "file:" + urllib.parse.quote(str(path.absolute()))
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if os.access(path.parent, os.W_OK):
                raise
        # A WAL file in a directory nobody can write (a read-only mount, an archive): SQLite
        # cannot create the shared-memory file a read needs, and no writer can change the file
        # under us either, so it is read as immutable.
        conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        return conn

    def _check_integrity(self) -> None:
        """SQLite's quick_check (every page and index, not cross-checked): a damaged file is
        refused before a run is written into it."""
        try:
            rows = self.conn.execute("PRAGMA quick_check(3)").fetchall()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise
            rows = [(str(exc),)]
        problems = [str(r[0]) for r in rows if r[0] != "ok"]
        if problems:
            raise StoreError(
                f"{self.path} is damaged (SQLite quick_check: {'; '.join(problems)[:200]}); "
                f"nothing is written to it. Recover it (`sqlite3 {self.path} .recover | "
                f"sqlite3 {self.path}.recovered`, then move that file over it) or restore a "
                "backup; runs waiting in the spool go in with the next sweep"
            )

    def _waiting(self, step: Any) -> Any:
        """Run `step`, retrying while another writer holds the database, up to lock_wait
        seconds, with a line on stderr every PROGRESS_EVERY seconds of waiting."""
        start = time.monotonic()
        told: float | None = None  # the first wait is told at once, then every PROGRESS_EVERY
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                waited = time.monotonic() - start
                if waited >= self.lock_wait:
                    raise StoreError(
                        f"{self.url}: another process has held the database's write lock for "
                        f"{waited:.0f} s ([store] lock_wait {self.lock_wait:g} s); giving up"
                    ) from None
                if told is None or waited - told >= PROGRESS_EVERY:
                    told = waited
                    sys.stderr.write(
                        f"camscan: waiting for another writer of {self.url} ({waited:.0f} s of "
                        f"at most {self.lock_wait:g}, [store] lock_wait)\n"
                    )
                    sys.stderr.flush()
                remaining = self.lock_wait - waited
                if remaining < _BUSY_STEP_MS / 1000:  # SQLite's own retry would overshoot
                    time.sleep(max(remaining, 0.0))

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
        if self.readonly:
            raise StoreError(f"{self.url}: opened read-only; nothing can be written")
        try:
            self._waiting(lambda: self.conn.execute(f"BEGIN {mode}"))
        except sqlite3.Error as exc:
            raise StoreError(f"{self.url}: {exc}") from None
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
        made = not lock_dir.exists()
        try:
            lock_dir.mkdir(exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if made:  # no leftovers: a full disk may let the folder in and not the file
                with contextlib.suppress(OSError):
                    lock_dir.rmdir()
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
            with contextlib.suppress(OSError):  # the pid only informs; a full disk may refuse it
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing drops the flock

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
