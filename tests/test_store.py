"""The store of runs, on SQLite and on a real PostgreSQL server: whole runs in, whole runs out,
history, baselines, retention, the sweep lock, migrations and diffs.

Results are built from real observations (an ARP MAC in a maker's OUI block, the SADP reply from
signatures/hikvision.toml's example) run through camscan's own identify and policy stages.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from camscan import channels
from camscan.config import parse_config
from camscan.contract import result_to_contract
from camscan.history.diff import RunDiff, RunRef, diff_results
from camscan.model import Device, Observation, ScanResult, ScanRun
from camscan.pipeline import apply_policy, identify_devices
from camscan.store import RunStore, StoreError, StoreLocked, open_store
from camscan.store.migrations import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
CONFIG = {
    "segment": [
        {"name": "servers", "cidrs": ["198.18.70.0/24"], "zone": "core"},
        {"name": "office", "cidrs": ["198.18.71.0/24"], "zone": "general"},
    ]
}
HIK_MAC = "58:50:ed:00:00:"  # Hikvision OUI block (oui/assignments.csv)
AXIS_MAC = "00:40:8c:00:00:"  # Axis


def _sadp_example() -> str:
    sigs = tomllib.loads((ROOT / "signatures" / "hikvision.toml").read_text())
    sadp = next(s for s in sigs["signature"] if s["id"] == "hikvision.sadp.probematch")
    value: str = sadp["examples"][0]["value"]
    return value


SADP = _sadp_example()
SADP_FIRMWARE = "V5.6.2build 190701"


def device(ip: str, mac: str, firmware: str | None = None) -> Device:
    obs = [Observation(channels.ARP_MAC, mac, "arp", ip=ip, mac=mac)]
    if firmware is not None:
        reply = SADP.replace(SADP_FIRMWARE, firmware).replace("192.168.124.40", ip)
        obs.append(Observation(channels.SADP_REPLY, reply, "sadp", ip=ip, mac=mac))
    return Device(ip=ip, mac=mac, observations=obs)


def result(
    devices: list[Device], *, partial: bool = False, started: float | None = None
) -> ScanResult:
    cfg = parse_config(CONFIG)
    t = started if started is not None else time.time()
    run = ScanRun(
        targets=["198.18.70.0/24", "198.18.71.0/24"],
        probes=["arp", "sadp"],
        started=t,
        ended=None if partial else t + 5,
        partial=partial,
        camscan_version="test",
    )
    res = ScanResult(run=run, devices=devices, segments=list(cfg.segments))
    identify_devices(res.devices)
    apply_policy(res, cfg)
    return res


def baseline_devices() -> list[Device]:
    return [
        device("198.18.70.10", HIK_MAC + "10", firmware=SADP_FIRMWARE),  # core: flagged
        device("198.18.71.10", AXIS_MAC + "10"),  # general, not listed
        device("198.18.71.11", HIK_MAC + "11"),  # general: review, not flagged
        device("198.18.71.12", AXIS_MAC + "12"),
    ]


def later_devices() -> list[Device]:
    return [
        device("198.18.70.10", HIK_MAC + "10", firmware="V5.7.3build 220112"),  # changed
        # 198.18.71.10 gone
        device("198.18.70.11", HIK_MAC + "11"),  # moved general -> core: newly flagged
        device("198.18.71.12", AXIS_MAC + "12"),  # unchanged
        device("198.18.70.20", HIK_MAC + "20"),  # new in core: newly flagged
    ]


def contract(res: ScanResult) -> dict[str, Any]:
    doc = result_to_contract(res)
    doc.pop("tool")  # the version that wrote it, not part of the run
    return doc


def test_a_run_comes_back_whole(store_url: str) -> None:
    res = result(baseline_devices())
    res.run.errors.append(  # hostile text: NUL, escapes, quotes
        dataclasses.replace(_probe_error(), error="bad \x00 reply \x1b[31m'; DROP TABLE runs; --")
    )
    res.devices[1].observations.append(
        Observation("http.header.server", "evil\x00server<script>", "http:80", ip="198.18.71.10")
    )
    store = open_store(store_url)
    try:
        run_id = store.save(res, "hq")
        back = store.load(run_id)
    finally:
        store.close()
    assert back.run.site == "hq" and res.run.site is None  # a stored run names its site (1.10)
    back.run.site = None
    assert contract(back) == contract(res)
    assert back.devices[0].verdict.firmware == SADP_FIRMWARE
    assert back.policy == res.policy and back.policy["listed_makers"] == ["hikvision", "dahua"]


def _probe_error() -> Any:
    from camscan.model import ProbeError

    return ProbeError("sadp", None, "x")


def stored_diff(store: RunStore, a: int, b: int) -> RunDiff:
    """What changed from complete stored run `a` of site hq to run `b`, from the loaded runs."""
    ra, rb = store.summary(a), store.summary(b)
    return diff_results(
        store.load(a),
        store.load(b),
        RunRef(a, "hq", ra.started, False),
        RunRef(b, "hq", rb.started, False),
    )


def test_history_baseline_and_partial_runs(store_url: str) -> None:
    store = open_store(store_url)
    try:
        t = time.time() - 1000
        first = store.save(result(baseline_devices(), started=t), "hq")
        other = store.save(result(later_devices(), started=t + 10), "branch")
        partial = store.save(result(later_devices(), partial=True, started=t + 20), "hq")
        runs = store.runs("hq")
        assert [r.id for r in runs] == [partial, first]  # newest first, this site only
        assert runs[0].partial and not runs[0].complete
        assert runs[1].devices == 4 and runs[1].flagged == 1
        assert runs[1].targets == ["198.18.70.0/24", "198.18.71.0/24"]
        # A partial run is stored and listed, but never a baseline.
        assert store.baseline("hq").id == first  # type: ignore[union-attr]
        assert store.baseline("hq", before=first) is None
        assert store.baseline("branch").id == other  # type: ignore[union-attr]
        assert {r.id for r in store.runs()} == {first, other, partial}
    finally:
        store.close()


def test_diff_names_new_gone_moved_changed_flagged_resolved(store_url: str) -> None:
    store = open_store(store_url)
    try:
        a = store.save(result(baseline_devices(), started=time.time() - 100), "hq")
        b = store.save(result(later_devices()), "hq")
        diff = stored_diff(store, a, b)
    finally:
        store.close()
    named = {(c.kind, c.ip) for c in diff.changes}
    assert named == {
        ("new", "198.18.70.20"),
        ("newly_flagged", "198.18.70.20"),
        ("gone", "198.18.71.10"),
        ("moved", "198.18.70.11"),
        ("newly_flagged", "198.18.70.11"),
        ("changed", "198.18.70.10"),
    }
    moved = diff.of_kind("moved")[0]
    assert {(f.field, f.before, f.after) for f in moved.fields} == {
        ("ip", "198.18.71.11", "198.18.70.11"),
        ("segment", "office", "servers"),
        ("zone", "general", "core"),
    }
    assert moved.device_id == f"mac:{HIK_MAC}11"
    changed = diff.of_kind("changed")[0]
    assert [(f.field, f.before, f.after) for f in changed.fields] == [
        ("firmware", SADP_FIRMWARE, "V5.7.3build 220112")
    ]
    assert diff.newly_flagged == 2


def test_retention_keeps_the_newest_runs_of_one_site(store_url: str) -> None:
    store = open_store(store_url)
    try:
        t = time.time() - 1000
        ids = [store.save(result(baseline_devices(), started=t + i), "hq") for i in range(4)]
        other = store.save(result(baseline_devices(), started=t), "branch")
        assert store.prune("hq", 2) == 2
        assert [r.id for r in store.runs("hq")] == [ids[3], ids[2]]
        assert [r.id for r in store.runs("branch")] == [other]
        assert store.load(ids[2]).devices  # the kept runs are whole
        with pytest.raises(StoreError):
            store.load(ids[0])
        # Nothing of the pruned runs is left behind in any table.
        s = store  # the SQL store's own query hook
        for table in ("devices", "observations", "evidence", "findings"):
            rows = s._query(f"SELECT COUNT(*) FROM {table} WHERE run_id IN (?, ?)", ids[:2])  # type: ignore[attr-defined]
            assert rows[0][0] == 0, table
    finally:
        store.close()


def test_the_sweep_lock_refuses_a_second_holder(store_url: str) -> None:
    one, two = open_store(store_url), open_store(store_url)
    try:
        with one.lock("hq"):
            with (
                pytest.raises(StoreLocked, match="another sweep of site 'hq' is running"),
                two.lock("hq"),
            ):
                pass
            with two.lock("branch"):  # another site is not blocked
                pass
        with two.lock("hq"):  # released
            pass
    finally:
        one.close()
        two.close()


def test_schema_is_current_and_reopening_is_harmless(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    store = open_store(store_url)
    try:
        assert store.schema_version() == MIGRATIONS[-1].version
    finally:
        store.close()


# -- migrations: a database made by schema version 1 (before device ids) ----------------------
def _write_v1(store: Any, res: ScanResult, site: str) -> int:
    """The v1 writer, frozen: v1 rows have no device_key (added by migration 2)."""
    import json

    doc = result_to_contract(res)
    rows = store._query(
        "INSERT INTO runs (site, started, ended, partial, privileged, targets, device_count, "
        "flagged_count, schema_version, camscan_version, stored, run_doc, segments_doc, "
        "summary_doc, policy_doc, extra_doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?) RETURNING id",
        (
            site,
            res.run.started,
            res.run.ended,
            0,
            1,
            json.dumps(doc["run"]["targets"]),
            len(doc["devices"]),
            doc["summary"]["flagged"],
            "1.1",
            "0.1.0",
            time.time(),
            json.dumps(doc["run"]),
            json.dumps(doc["segments"]),
            json.dumps(doc["summary"]),
            json.dumps(doc["policy"]),
            "{}",
        ),
    )
    run_id = int(rows[0][0])
    for i, d in enumerate(doc["devices"]):
        plain = {k: v for k, v in d.items() if k not in ("evidence", "observations", "device_id")}
        store._query(
            "INSERT INTO devices (run_id, idx, ip, mac, maker, brand, model, firmware, serial, "
            "segment, zone, severity, flagged, in_scope, doc) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                i,
                d["ip"],
                d["mac"],
                d["maker"],
                d["brand"],
                d["model"],
                d["firmware"],
                d["serial"],
                d["segment"],
                d["zone"],
                d["severity"],
                int(d["flagged"]),
                int(d["in_scope"]),
                json.dumps(plain),
            ),
        )
        for j, e in enumerate(d["evidence"]):
            store._query(
                "INSERT INTO evidence (run_id, device_idx, idx, signature_id, channel, maker, "
                "strength, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    i,
                    j,
                    e["signature_id"],
                    e["channel"],
                    e["maker"],
                    e["strength"],
                    json.dumps(e),
                ),
            )
    for i, f in enumerate(doc["findings"]):
        store._query(
            "INSERT INTO findings (run_id, idx, device_ip, device_mac, maker, segment, zone, "
            "severity, flagged, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                i,
                f["device_ip"],
                f["device_mac"],
                f["maker"],
                f["segment"],
                f["zone"],
                f["severity"],
                int(f["flagged"]),
                json.dumps(f),
            ),
        )
    return run_id


def test_a_version_1_database_is_migrated_in_place_and_still_diffs(store_url: str) -> None:
    old = open_store(store_url, migrate=False)
    try:
        assert old.migrate(target=1) == 1  # type: ignore[attr-defined]
        a = _write_v1(old, result(baseline_devices(), started=time.time() - 100), "hq")
        b = _write_v1(old, result(later_devices()), "hq")
    finally:
        old.close()
    store = open_store(store_url)  # opening migrates
    try:
        assert store.schema_version() == 2
        keys = store._query("SELECT device_key FROM devices WHERE run_id = ?", (a,))  # type: ignore[attr-defined]
        assert {k for (k,) in keys} == {
            f"mac:{HIK_MAC}10",
            f"mac:{AXIS_MAC}10",
            f"mac:{HIK_MAC}11",
            f"mac:{AXIS_MAC}12",
        }
        diff = stored_diff(store, a, b)
        assert diff.counts() == {
            "newly_flagged": 2,
            "new": 1,
            "gone": 1,
            "moved": 1,
            "changed": 1,
            "resolved": 0,
        }
        # And new runs go on top of the migrated ones.
        c = store.save(result(later_devices()), "hq")
        assert store.baseline("hq", before=c).id == b  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    open_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO camscan_schema VALUES (99, 'from the future', 0)")
    with pytest.raises(StoreError, match="schema version 99, newer than this camscan"):
        open_store(str(path))


def test_not_a_database_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as err:
        open_store(str(path))
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match="cannot connect") as err:
        open_store(f"host={tmp_path} port=1 user=nobody password=secret dbname=x")
    assert "\n" not in str(err.value)
    assert "secret" not in str(err.value)
