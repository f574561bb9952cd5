"""The store's schema, as numbered migrations applied in order, in place, in one transaction.

Both backends run the same statements; `{id}` and `{float}` become each dialect's types. A
database remembers every migration it ran in `camscan_schema`. Never edit a landed migration:
add the next one (a user's database was made by the old text).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from camscan.identity import device_key


class Executor(Protocol):
    """What a migration may do: run one statement and read its rows."""

    def __call__(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    backfill: Callable[[Executor], None] | None = None


_V1 = (
    """CREATE TABLE camscan_schema (
        version INTEGER NOT NULL PRIMARY KEY,
        description TEXT NOT NULL,
        applied {float} NOT NULL
    )""",
    """CREATE TABLE runs (
        id {id},
        site TEXT NOT NULL,
        started {float} NOT NULL,
        ended {float},
        partial INTEGER NOT NULL,
        privileged INTEGER NOT NULL,
        targets TEXT NOT NULL,
        device_count INTEGER NOT NULL,
        flagged_count INTEGER NOT NULL,
        schema_version TEXT NOT NULL,
        camscan_version TEXT NOT NULL,
        stored {float} NOT NULL,
        run_doc TEXT NOT NULL,
        segments_doc TEXT NOT NULL,
        summary_doc TEXT NOT NULL,
        policy_doc TEXT NOT NULL,
        extra_doc TEXT NOT NULL
    )""",
    "CREATE INDEX runs_site_started ON runs (site, started)",
    """CREATE TABLE devices (
        run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        ip TEXT NOT NULL,
        mac TEXT,
        maker TEXT,
        brand TEXT,
        model TEXT,
        firmware TEXT,
        serial TEXT,
        segment TEXT,
        zone TEXT,
        severity TEXT,
        flagged INTEGER NOT NULL,
        in_scope INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)
    )""",
    """CREATE TABLE observations (
        run_id BIGINT NOT NULL,
        device_idx INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        channel TEXT NOT NULL,
        probe TEXT NOT NULL,
        raw TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (run_id, device_idx, idx),
        FOREIGN KEY (run_id, device_idx) REFERENCES devices (run_id, idx) ON DELETE CASCADE
    )""",
    """CREATE TABLE evidence (
        run_id BIGINT NOT NULL,
        device_idx INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        signature_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        maker TEXT,
        strength TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (run_id, device_idx, idx),
        FOREIGN KEY (run_id, device_idx) REFERENCES devices (run_id, idx) ON DELETE CASCADE
    )""",
    """CREATE TABLE findings (
        run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        device_ip TEXT NOT NULL,
        device_mac TEXT,
        maker TEXT,
        segment TEXT,
        zone TEXT,
        severity TEXT NOT NULL,
        flagged INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)
    )""",
)


def _backfill_device_keys(execute: Executor) -> None:
    rows = execute("SELECT run_id, idx, ip, mac, serial, maker FROM devices")
    for run_id, idx, ip, mac, serial, maker in rows:
        execute(
            "UPDATE devices SET device_key = ? WHERE run_id = ? AND idx = ?",
            (device_key(ip, mac, serial, maker), run_id, idx),
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, devices, observations, evidence, findings", _V1),
    Migration(
        2,
        "device identity across runs (devices.device_key)",
        (
            "ALTER TABLE devices ADD COLUMN device_key TEXT",
            "CREATE INDEX devices_key ON devices (device_key)",
        ),
        _backfill_device_keys,
    ),
)
LATEST = MIGRATIONS[-1].version
