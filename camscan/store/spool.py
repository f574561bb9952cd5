"""A local spool for runs a store could not take: the scan is never lost to a store fault.

When a store is down, full, read-only, damaged or locked too long, the run is written here (the
user data directory, one folder per store) as its JSON contract plus the site it belongs to;
the next `sweep` or `scan --db` with that store, or `camscan store flush`, saves the waiting
runs first, oldest first, each exactly once: an entry is deleted only after its run is stored,
and a run already in the store (same site and start time: a crash between the two) is not
saved twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from camscan.data import user_data_dir
from camscan.model import ScanResult
from camscan.store.interface import RunStore, StoreError, StoreLocked
from camscan.store.registry import store_key

_ENTRY = re.compile(r"(\d{8})\.json")


class SpoolError(StoreError):
    """The spool itself cannot be written (a full or read-only data directory)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Flushed:
    path: Path
    site: str
    run_id: int
    duplicate: bool  # already in the store: the entry was only removed


def spool_dir(db: str | None) -> Path:
    """The spool of the store `db` names (as --db takes it; None: the default file). Its name is
    a digest of where the store lives, without any password."""
    digest = hashlib.sha256(store_key(db).encode()).hexdigest()[:16]
    return user_data_dir() / "spool" / digest


def pending(db: str | None) -> list[Path]:
    """The waiting entries, oldest first."""
    folder = spool_dir(db)
    try:
        names = sorted(n for n in os.listdir(folder) if _ENTRY.fullmatch(n))
    except OSError:
        return []
    return [folder / n for n in names]


@dataclasses.dataclass(frozen=True, slots=True)
class Waiting:
    """A run in the spool, as a reader sees it (nothing is locked, moved or created)."""

    site: str
    started: float
    partial: bool


def waiting(db: str | None) -> list[Waiting]:
    """The runs waiting in this machine's spool for the store `db` names, oldest first; an
    entry that cannot be read (being written, damaged) is left out: `store flush` says why."""
    import json

    found = []
    for path in pending(db):
        try:
            site = path.with_suffix(".site").read_text(encoding="utf-8")
            with path.open(encoding="utf-8") as f:
                run = json.load(f)["run"]
            found.append(Waiting(site, float(run["started"]), bool(run.get("partial"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One writer or flusher of a spool at a time (flock: dropped when the process dies)."""
    try:
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise SpoolError(f"cannot lock the spool {folder}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def spool_run(result: ScanResult, site: str, db: str | None) -> Path:
    """Keep `result` for the store `db` names; SpoolError (one line) when even that fails,
    leaving no partial file behind."""
    from camscan.store.results import atomic_write_text, save_result

    folder = spool_dir(db)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "store.txt").exists():  # says whose spool it is, for a human
            atomic_write_text(folder / "store.txt", store_key(db) + "\n")
        with _locked(folder):
            last = pending(db)
            number = int(last[-1].name[:8]) + 1 if last else 1
            path = folder / f"{number:08d}.json"
            site_file = path.with_suffix(".site")
            atomic_write_text(site_file, site)
            try:
                save_result(result, path)
            except BaseException:
                site_file.unlink(missing_ok=True)
                raise
    except OSError as exc:
        raise SpoolError(
            f"cannot keep the run in the spool {folder}: {exc.strerror or exc}"
        ) from None
    return path


def flush(store: RunStore, db: str | None, done: list[Flushed] | None = None) -> list[Flushed]:
    """Save every run waiting for `store` (opened from `db`), oldest first; stops at the first
    that fails (StoreError), keeping it and the ones after it for the next try; `done`
    collects the ones stored, also when a later one fails."""
    from camscan.store.results import ResultFileError, load_result

    done = [] if done is None else done
    folder = spool_dir(db)
    if not pending(db):
        return done
    with _locked(folder):
        for path in pending(db):
            site_file = path.with_suffix(".site")
            try:
                site = site_file.read_text(encoding="utf-8")
                result = load_result(path, own=True)
            except (OSError, ResultFileError) as exc:
                raise SpoolError(f"spooled run {path} cannot be read: {exc}") from None
            existing = store.find_run(site, result.run.started)
            run_id = existing if existing is not None else store.save(result, site)
            path.unlink()
            site_file.unlink(missing_ok=True)
            done.append(Flushed(path, site, run_id, existing is not None))
    return done


@dataclasses.dataclass(frozen=True, slots=True)
class Kept:
    """Where a run went: the store (`run_id`), or the spool (`spooled`, and why: `problem`)."""

    run_id: int | None
    spooled: Path | None
    problem: str | None
    flushed: list[Flushed]


def keep_run(
    store: RunStore | None, db: str | None, result: ScanResult, site: str, problem: str = ""
) -> Kept:
    """Store `result` after the runs already waiting for that store; if the store cannot take
    them (`store` None: it did not open, `problem` says why), keep it in the spool instead,
    behind them, so the order holds. SpoolError when even the spool cannot take it."""
    flushed: list[Flushed] = []
    if store is not None:
        try:
            flush(store, db, flushed)
            return Kept(store.save(result, site), None, None, flushed)
        except StoreError as exc:
            problem = str(exc)
    return Kept(None, spool_run(result, site, db), problem or "the store failed", flushed)


@contextlib.contextmanager
def site_lock(db: str | None, site: str) -> Iterator[None]:
    """The sweep lock of `site` while its store cannot be reached: an flock in the spool, so
    two sweeps of one site still never overlap; StoreLocked at once when held."""
    folder = spool_dir(db)
    name = "site-" + hashlib.sha256(site.encode()).hexdigest()[:24] + ".lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise SpoolError(f"cannot open the sweep lock in {folder}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreLocked(
                f"another sweep of site {site!r} is running (lock {folder / name}); not starting "
                "a second one"
            ) from None
        yield
    finally:
        os.close(fd)
