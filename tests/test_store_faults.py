"""Store faults lose nothing (issue 25), offline: the spool keeps runs a store cannot take and
gives them back in order, once; readers write nothing; a damaged SQLite file is refused with
how to recover it; another writer is waited for, with progress, up to [store] lock_wait.
(End to end with real scans, mounts and a PostgreSQL server: tests/test_faults_lab.py.)
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from camscan.config import ConfigError, parse_config
from camscan.store import StoreError, open_store
from camscan.store.spool import keep_run, pending, spool_dir
from tests.test_store import AXIS_MAC, HIK_MAC, device, result


def test_spooled_runs_go_in_first_in_order_and_once(store_url: str) -> None:
    first = result([device("198.18.70.10", HIK_MAC + "10")], started=1000.0)
    second = result([device("198.18.70.11", HIK_MAC + "11")], started=2000.0, partial=True)
    third = result([device("198.18.71.12", AXIS_MAC + "12")], started=3000.0)
    kept = [keep_run(None, store_url, r, "hq", "the store is down") for r in (first, second)]
    assert [k.run_id for k in kept] == [None, None]
    assert [k.spooled for k in kept] == pending(store_url)  # oldest first
    assert all(k.problem == "the store is down" for k in kept)
    store = open_store(store_url)
    try:
        # A flush that stored the first and died before deleting its entry: not stored twice.
        store.save(first, "hq")
        done = keep_run(store, store_url, third, "hq")
        assert [(f.run_id, f.duplicate) for f in done.flushed] == [(1, True), (2, False)]
        assert done.run_id == 3 and done.spooled is None
        runs = store.runs("hq")
        assert [(r.id, r.started, r.partial) for r in runs] == [
            (3, 3000.0, False),
            (2, 2000.0, True),
            (1, 1000.0, False),
        ]
        assert len(store.load(2).devices) == 1
    finally:
        store.close()
    assert pending(store_url) == []


def test_one_store_one_spool_however_it_is_spelled(tmp_path: Path) -> None:
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert spool_dir("runs.sqlite3") == spool_dir(str(tmp_path / "runs.sqlite3"))
    finally:
        os.chdir(here)
    with_password = "host=/run/pg dbname=camscan user=c password=secret"
    assert spool_dir(with_password) == spool_dir("host=/run/pg dbname=camscan user=c")
    assert spool_dir(with_password) != spool_dir(str(tmp_path / "runs.sqlite3"))


def test_readers_open_read_only_and_write_nothing(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite3"
    with pytest.raises(StoreError, match="no store there yet"):
        open_store(str(db), readonly=True)
    assert not db.exists()  # a reader creates nothing
    store = open_store(str(db))
    store.save(result([device("198.18.70.10", HIK_MAC + "10")]), "hq")
    store.close()
    reader = open_store(str(db), readonly=True)
    try:
        assert len(reader.runs()) == 1
        with pytest.raises(StoreError, match="read-only"):
            reader.save(result([]), "hq")
    finally:
        reader.close()


def test_a_damaged_sqlite_file_is_refused_and_says_how_to_recover(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite3"
    store = open_store(str(db))
    for n in range(20):
        store.save(result([device(f"198.18.70.{n}", HIK_MAC + f"{n:02x}")]), "hq")
    store.close()
    size = db.stat().st_size
    with db.open("r+b") as f:  # 8 KB of noise half-way through: the damaged file
        f.seek(size // 2 // 4096 * 4096)
        f.write(os.urandom(8192))
    with pytest.raises(StoreError) as raised:
        open_store(str(db))
    text = str(raised.value)
    assert "is damaged" in text and ".recover" in text and "\n" not in text


def test_another_writer_is_waited_for_with_progress_up_to_lock_wait(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite3"
    open_store(str(db)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, time\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        store = open_store(str(db), lock_wait=1.5)
        try:
            with pytest.raises(StoreError, match=r"lock_wait 1\.5 s"):
                store.save(result([]), "hq")
        finally:
            store.close()
    finally:
        holder.kill()
        holder.wait()
    assert "waiting for another writer" in capfd.readouterr().err
    store = open_store(str(db))
    try:
        assert store.save(result([]), "hq") == 1  # the lock gone, the write goes through
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)


def test_lock_wait_is_a_store_setting_with_bounds() -> None:
    assert parse_config({"store": {"lock_wait": 5}}).store.lock_wait == 5.0
    assert parse_config({}).store.lock_wait == 60.0
    for bad in (-1, 10**6, "soon"):
        with pytest.raises(ConfigError, match="lock_wait"):
            parse_config({"store": {"lock_wait": bad}})
