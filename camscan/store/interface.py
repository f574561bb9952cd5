"""The store of runs: one small interface, implemented by SQLite (default) and PostgreSQL.

A store keeps every run whole (run, coverage, devices, observations, evidence, findings, policy)
and answers history questions; diffs are computed from what it returns (camscan.history.diff).
Backends live in their own modules and are chosen by `camscan.store.open_store(url)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from camscan.errors import ExitCode, RunError
from camscan.model import ScanResult


class StoreError(RunError):
    """The store cannot be opened, read or written; the message is one line (exit 3)."""


class StoreLocked(StoreError):
    """Another sweep of the same site holds the site's lock."""


class RunNotFound(StoreError):
    """No stored run has that id: the user named a wrong one (exit 2)."""

    exit_code = ExitCode.USAGE


@dataclasses.dataclass(frozen=True, slots=True)
class RunSummary:
    """One stored run as `camscan history` lists it."""

    id: int
    site: str
    started: float
    ended: float | None
    targets: list[str]
    devices: int
    flagged: int
    partial: bool

    @property
    def complete(self) -> bool:
        """Only complete runs serve as a baseline: a partial one may be missing devices."""
        return not self.partial and self.ended is not None


class RunStore(Protocol):
    """What every backend offers. Every call either succeeds or raises StoreError (one line)."""

    url: str  # where it lives, for messages (no password)
    lock_wait: float  # seconds a write waits for another writer before it fails

    def save(self, result: ScanResult, site: str) -> int:
        """Store the run whole, in one transaction; return its id."""
        ...

    def load(self, run_id: int) -> ScanResult:
        """The stored run, as the ScanResult it was saved from (device ids filled in)."""
        ...

    def summary(self, run_id: int) -> RunSummary: ...

    def runs(self, site: str | None = None, limit: int | None = None) -> list[RunSummary]:
        """Newest first; all sites when `site` is None."""
        ...

    def find_run(self, site: str, started: float) -> int | None:
        """The id of the run of `site` that started at `started`, if stored."""
        ...

    def baseline(self, site: str, before: int | None = None) -> RunSummary | None:
        """The newest complete run of `site` (older than run `before` when given)."""
        ...

    def device_records(self, run_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Per run: its device records (contract form, no evidence or observations)."""
        ...

    def counts_in(self, zones: Sequence[str], makers: Sequence[str]) -> dict[int, int]:
        """Per run id: in-scope devices in one of `zones` made by one of `makers`."""
        ...

    def lock(self, site: str) -> AbstractContextManager[None]:
        """Hold the site's sweep lock, or raise StoreLocked at once (never waits)."""
        ...

    def prune(self, site: str, keep: int) -> int:
        """Delete all but the newest `keep` runs of `site`; return how many went."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...
