"""What SQLite and PostgreSQL share: the schema, writing a run whole, reading it back.

A run is kept as its JSON contract, split by table: queryable columns for what history and diff
ask about, and the contract record itself (`doc`) so a stored run re-renders exactly, including
keys a newer camscan added. Backends supply the connection, transactions and the site lock.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from camscan.contract import result_to_contract
from camscan.model import ScanResult
from camscan.store.interface import RunNotFound, RunSummary, StoreError
from camscan.store.migrations import LATEST, MIGRATIONS, Migration
from camscan.store.results import ResultFileError, result_from_contract

# Test hook: hold the write transaction open this many seconds, half-way through, after
# saying so on stderr; the kill -9 and overlapping-sweep tests need a write in flight.
HOLD_ENV = "CAMSCAN_STORE_HOLD"
_KNOWN_TOP = {"schema_version", "tool", "run", "segments", "summary", "devices", "findings"}
_KNOWN_TOP |= {"policy"}
_DEVICE_PARTS = ("evidence", "observations")

_CHUNK = 500  # run ids per IN (...) list: far under either backend's parameter limit
_RUN_COLUMNS = "id, site, started, ended, partial, targets, device_count, flagged_count"


def _col(value: Any) -> Any:
    """A queryable column value: PostgreSQL text cannot hold NUL (the `doc` keeps it, escaped)."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _cols(record: dict[str, Any], *keys: str) -> tuple[Any, ...]:
    """The queryable columns `keys` of a contract record, in that order (as the INSERT names
    them)."""
    return tuple(_col(record[key]) for key in keys)


def _doc(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _summary(row: Sequence[Any]) -> RunSummary:
    rid, site, started, ended, partial, targets, devices, flagged = row
    return RunSummary(
        id=int(rid),
        site=str(site),
        started=float(started),
        ended=None if ended is None else float(ended),
        targets=list(json.loads(targets)),
        devices=int(devices),
        flagged=int(flagged),
        partial=bool(partial),
    )


class SqlStore:
    """The shared implementation; subclasses set `dialect_types` and the hooks below."""

    url: str
    dialect_types: dict[str, str]
    lock_wait: float = 60.0  # seconds a write waits for another writer ([store] lock_wait)

    # -- hooks each backend provides --------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _schema_transaction(self) -> AbstractContextManager[None]:
        """A transaction that no other process can be migrating in at the same time."""
        raise NotImplementedError

    def _has_schema_table(self) -> bool:
        raise NotImplementedError

    def lock(self, site: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- schema -------------------------------------------------------------------------------
    def schema_version(self) -> int:
        if not self._has_schema_table():
            return 0
        rows = self._query("SELECT MAX(version) FROM camscan_schema")
        return int(rows[0][0] or 0)

    def migrate(self, target: int = LATEST) -> int:
        """Bring the schema up to `target` in place; refuse a newer one. Returns the version."""
        current = self.schema_version()
        if current >= min(target, LATEST) and current <= LATEST:
            # Up to date: a plain read, so opening never queues behind another writer (a
            # sweep in progress holds SQLite's write lock, and its site lock must be seen).
            return current
        with self._schema_transaction():
            current = self.schema_version()
            if current > LATEST:
                raise StoreError(
                    f"{self.url}: the database has schema version {current}, newer than this "
                    f"camscan knows ({LATEST}); upgrade camscan"
                )
            for migration in MIGRATIONS:
                if current < migration.version <= target:
                    self._apply(migration)
            return max(current, min(target, LATEST))

    def _apply(self, migration: Migration) -> None:
        for statement in migration.statements:
            self._query(statement.format(**self.dialect_types))
        if migration.backfill is not None:
            migration.backfill(self._query)
        self._query(
            "INSERT INTO camscan_schema (version, description, applied) VALUES (?, ?, ?)",
            (migration.version, migration.description, time.time()),
        )

    # -- writing ------------------------------------------------------------------------------
    def save(self, result: ScanResult, site: str) -> int:
        contract = result_to_contract(result)
        run = {**contract["run"], "site": site}  # the stored run names its site (1.10)
        extra = {k: v for k, v in contract.items() if k not in _KNOWN_TOP}
        with self._transaction():
            rows = self._query(
                "INSERT INTO runs (site, started, ended, partial, privileged, targets, "
                "device_count, flagged_count, schema_version, camscan_version, stored, run_doc, "
                "segments_doc, summary_doc, policy_doc, extra_doc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    site,
                    result.run.started,
                    result.run.ended,
                    int(result.run.partial),
                    int(result.run.privileged is not False),  # null (not recorded): the doc
                    _doc(run.get("targets", [])),
                    len(contract["devices"]),
                    contract["summary"]["flagged"],
                    contract["schema_version"],
                    _col(result.run.camscan_version),
                    time.time(),
                    _doc(run),
                    _doc(contract["segments"]),
                    _doc(contract["summary"]),
                    _doc(contract["policy"]),
                    _doc(extra),
                ),
            )
            run_id = int(rows[0][0])
            self._save_devices(run_id, contract["devices"])
            self._hold_if_asked()
            self._save_parts(run_id, contract["devices"])
            self._insert_many(
                "INSERT INTO findings (run_id, idx, device_ip, device_mac, maker, segment, zone, "
                "severity, flagged, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        i,
                        *_cols(f, "device_ip", "device_mac", "maker", "segment", "zone"),
                        f["severity"],
                        int(f["flagged"]),
                        _doc(f),
                    )
                    for i, f in enumerate(contract["findings"])
                ],
            )
        return run_id

    def _save_devices(self, run_id: int, devices: list[dict[str, Any]]) -> None:
        rows = []
        for i, d in enumerate(devices):
            doc = {k: v for k, v in d.items() if k not in _DEVICE_PARTS}
            rows.append(
                (
                    run_id,
                    i,
                    *_cols(d, "ip", "mac", "maker", "brand", "model", "firmware", "serial"),
                    *_cols(d, "segment", "zone"),
                    d["severity"],
                    int(d["flagged"]),
                    int(d["in_scope"]),
                    _col(d["device_id"]),
                    _doc(doc),
                )
            )
        self._insert_many(
            "INSERT INTO devices (run_id, idx, ip, mac, maker, brand, model, firmware, serial, "
            "segment, zone, severity, flagged, in_scope, device_key, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def _save_parts(self, run_id: int, devices: list[dict[str, Any]]) -> None:
        self._insert_many(
            "INSERT INTO observations (run_id, device_idx, idx, channel, probe, raw, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, i, j, *_cols(o, "channel", "probe", "raw"), _doc(o))
                for i, d in enumerate(devices)
                for j, o in enumerate(d["observations"])
            ],
        )
        self._insert_many(
            "INSERT INTO evidence (run_id, device_idx, idx, signature_id, channel, maker, "
            "strength, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    i,
                    j,
                    *_cols(e, "signature_id", "channel", "maker"),
                    e["strength"],
                    _doc(e),
                )
                for i, d in enumerate(devices)
                for j, e in enumerate(d["evidence"])
            ],
        )

    def _hold_if_asked(self) -> None:
        hold = os.environ.get(HOLD_ENV)
        if not hold:
            return
        sys.stderr.write(f"camscan: store: holding the write open for {hold} s ({HOLD_ENV})\n")
        sys.stderr.flush()
        time.sleep(float(hold))

    # -- reading ------------------------------------------------------------------------------
    def find_run(self, site: str, started: float) -> int | None:
        """The id of the run of `site` that started at `started`, if stored (a spooled run
        saved before a crash kept its spool entry: it must not be saved twice)."""
        rows = self._query(
            "SELECT id FROM runs WHERE site = ? AND started = ? ORDER BY id LIMIT 1",
            (site, started),
        )
        return int(rows[0][0]) if rows else None

    def summary(self, run_id: int) -> RunSummary:
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))  # noqa: S608
        if not rows:
            raise RunNotFound(f"{self.url}: no run {run_id}")
        return _summary(rows[0])

    def runs(self, site: str | None = None, limit: int | None = None) -> list[RunSummary]:
        params: list[Any] = [site] if site is not None else []
        where = "WHERE site = ?" if site is not None else ""
        tail = ""
        if limit is not None:
            tail, params = " LIMIT ?", [*params, limit]
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY started DESC, id DESC{tail}",  # noqa: S608
            params,
        )
        return [_summary(r) for r in rows]

    def baseline(self, site: str, before: int | None = None) -> RunSummary | None:
        params: list[Any] = [site]
        older = ""
        if before is not None:
            ref = self.summary(before)
            older = " AND (started < ? OR (started = ? AND id < ?))"
            params += [ref.started, ref.started, ref.id]
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE site = ? AND partial = 0 "  # noqa: S608
            f"AND ended IS NOT NULL{older} ORDER BY started DESC, id DESC LIMIT 1",
            params,
        )
        return _summary(rows[0]) if rows else None

    def load(self, run_id: int) -> ScanResult:
        rows = self._query(
            "SELECT schema_version, run_doc, segments_doc, summary_doc, policy_doc, extra_doc, "
            "site FROM runs WHERE id = ?",
            (run_id,),
        )
        if not rows:
            raise RunNotFound(f"{self.url}: no run {run_id}")
        version, run_doc, segments, summary, policy, extra, site = rows[0]
        devices = []
        for idx, key, doc in self._query(
            "SELECT idx, device_key, doc FROM devices WHERE run_id = ? ORDER BY idx", (run_id,)
        ):
            record = json.loads(doc)
            record["device_id"] = key
            record["evidence"], record["observations"] = [], []
            devices.append((idx, record))
        by_idx = dict(devices)
        for table, part in (("evidence", "evidence"), ("observations", "observations")):
            for device_idx, doc in self._query(
                f"SELECT device_idx, doc FROM {table} WHERE run_id = ? "  # noqa: S608 - fixed names
                "ORDER BY device_idx, idx",
                (run_id,),
            ):
                by_idx[device_idx][part].append(json.loads(doc))
        findings = [
            json.loads(doc)
            for (doc,) in self._query(
                "SELECT doc FROM findings WHERE run_id = ? ORDER BY idx", (run_id,)
            )
        ]
        contract = {
            **json.loads(extra),
            "schema_version": version,
            "run": {**json.loads(run_doc), "site": site},  # runs stored before 1.10 too
            "segments": json.loads(segments),
            "summary": json.loads(summary),
            "devices": [record for _, record in devices],
            "findings": findings,
            "policy": json.loads(policy),
        }
        try:
            return result_from_contract(contract)
        except ResultFileError as exc:
            raise StoreError(f"{self.url}: run {run_id}: {exc}") from None

    # -- reports over many runs (camscan estate) ---------------------------------------------
    def device_records(self, run_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """The device records of these runs (the contract's, without evidence and observations:
        all an estate needs, so it never loads a run whole), each run's in device order."""
        found: dict[int, list[dict[str, Any]]] = {rid: [] for rid in run_ids}
        ids = sorted(found)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for rid, key, doc in self._query(
                f"SELECT run_id, device_key, doc FROM devices WHERE run_id IN ({marks}) "  # noqa: S608
                "ORDER BY run_id, idx",
                chunk,
            ):
                record = json.loads(doc)
                record["device_id"] = key
                found[int(rid)].append(record)
        return found

    def counts_in(self, zones: Sequence[str], makers: Sequence[str]) -> dict[int, int]:
        """Per run id: its in-scope devices in one of `zones` made by one of `makers` (runs
        with none are left out); one aggregate query over every stored run."""
        if not zones or not makers:
            return {}
        rows = self._query(
            "SELECT run_id, COUNT(*) FROM devices WHERE in_scope = 1 "  # noqa: S608
            f"AND zone IN ({', '.join('?' * len(zones))}) "
            f"AND maker IN ({', '.join('?' * len(makers))}) GROUP BY run_id",
            [*zones, *makers],
        )
        return {int(rid): int(n) for rid, n in rows}

    # -- retention ----------------------------------------------------------------------------
    def prune(self, site: str, keep: int) -> int:
        if keep < 1:
            raise StoreError("--keep-runs must be at least 1")
        with self._transaction():
            doomed = [
                int(r[0])
                for r in self._query(
                    "SELECT id FROM runs WHERE site = ? ORDER BY started DESC, id DESC", (site,)
                )[keep:]
            ]
            for rid in doomed:
                # Children first: cascades are declared, but explicit deletes keep it fast.
                for table in ("observations", "evidence", "findings", "devices"):
                    self._query(f"DELETE FROM {table} WHERE run_id = ?", (rid,))  # noqa: S608
                self._query("DELETE FROM runs WHERE id = ?", (rid,))
        return len(doomed)
