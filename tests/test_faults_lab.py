"""Faults lose nothing (issue 25), end to end in the lab: a store that fails while a scan is
stored, and a sweep stopped by a signal.

In each store fault (PostgreSQL stopped before and during the save, SQLite on a full disk,
read-only, damaged, or locked by another writer) `scan --db -o FILE` writes its report, exits 3
saying where the run is kept, and the next sweep stores the spooled run, which history then
shows with its own start time. Disks are small tmpfs mounts inside a private mount namespace
(`unshare -m`): the machine's own mounts are never touched.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab
from tests.labtools import guarded_env, run_camscan, start_camscan

pytestmark = pytest.mark.lab

CONFIG = """
[[segment]]
name = "mixed"
cidrs = ["198.18.40.0/24"]
zone = "general"

[scan]
probes = ["arp", "sadp", "dhip", "wsd"]
discovery_window = {window}

[store]
site = "faults"
lock_wait = 2
"""

# Runs inside `unshare -m` in the scanner namespace: each step is a shell line ("sh", text) or
# camscan's arguments; prints every step's exit code, stdout and stderr as JSON.
DRIVER = r"""
import json, subprocess, sys
out = []
for step in json.loads(sys.argv[1]):
    argv = ["sh", "-ec", step[1]] if step[0] == "sh" else [sys.executable, "-m", "camscan", *step]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    out.append({"rc": done.returncode, "out": done.stdout, "err": done.stderr})
print(json.dumps(out))
"""


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    cfg = tmp_path / "camscan.toml"
    cfg.write_text(CONFIG.format(window=0.5))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    return {"tmp": tmp_path, "cfg": str(cfg), "mnt": mnt, "data": str(tmp_path / "data")}


def steps(lab: Lab, site: dict[str, Any], *todo: list[str]) -> list[dict[str, Any]]:
    """Run `todo` in one private mount namespace (so a tmpfs mounted there stays there)."""
    done = lab.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            sys.executable,
            "-c",
            DRIVER,
            json.dumps(todo),
        ],
        capture_output=True,
        text=True,
        env=guarded_env(lab, CAMSCAN_DATA_DIR=site["data"]),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def scan_argv(site: dict[str, Any], db: str) -> list[str]:
    report = str(site["tmp"] / "report.json")
    return ["scan", "-c", site["cfg"], "--all-segments", "--db", db, "-o", report, "-q"]


def sweep_argv(site: dict[str, Any], db: str) -> list[str]:
    return ["sweep", "-c", site["cfg"], "--db", db, "-f", "json"]


def history_argv(db: str) -> list[str]:
    return ["history", "--db", db, "-f", "json"]


def assert_kept_then_stored(
    site: dict[str, Any], failed: dict[str, Any], swept: dict[str, Any], history: dict[str, Any]
) -> None:
    """The failed scan: exit 3, report written, the run kept in the spool (said on stderr);
    the sweep after it: the spooled run stored first; history: it is there, at its own time."""
    assert failed["rc"] == 3, failed["err"]
    assert "Traceback" not in failed["err"]
    assert "the run is safe in " + site["data"] in failed["err"], failed["err"]
    report = json.loads((site["tmp"] / "report.json").read_text())
    started = report["run"]["started"]
    assert report["devices"], "the report holds the scan"
    assert swept["rc"] in (0, 1), swept["err"]
    assert "stored from the spool" in swept["err"], swept["err"]
    assert history["rc"] == 0, history["err"]
    runs = json.loads(history["out"])
    spooled = [r for r in runs if r["started"] == started]
    assert len(spooled) == 1, runs  # stored once, with the time it was scanned
    assert spooled[0]["devices"] == len(report["devices"])
    assert spooled[0]["run"] < max(r["run"] for r in runs)  # before the sweep's own run
    assert not list(Path(site["data"]).glob("spool/*/*.json")), "nothing left waiting"


def test_sqlite_on_a_full_disk_keeps_the_run_and_the_next_sweep_stores_it(
    lab: Lab, site: dict[str, Any]
) -> None:
    """Also a sweep whose lock file and store are on the full disk, and a report that cannot be
    written there: one line each, exit 3, no temporary file left, the run kept."""
    mnt, db = site["mnt"], str(site["mnt"] / "runs.sqlite3")
    elsewhere = str(site["tmp"] / "elsewhere.sqlite3")
    full_report = [*scan_argv(site, elsewhere)[:-3], "-o", f"{mnt}/report.json", "-q"]
    _mount, first, _fill, failed, full_sweep, no_report, listing, _free, swept, history = steps(
        lab,
        site,
        ["sh", f"mount -t tmpfs -o size=2m tmpfs {mnt}"],
        sweep_argv(site, db),
        ["sh", f"dd if=/dev/zero of={mnt}/fill bs=4k 2>/dev/null || true"],
        scan_argv(site, db),
        sweep_argv(site, db),
        full_report,
        ["sh", f"ls -A {mnt} {mnt}/runs.sqlite3.locks"],
        ["sh", f"rm {mnt}/fill"],
        sweep_argv(site, db),
        history_argv(db),
    )
    assert first["rc"] in (0, 1), first["err"]
    assert "full" in failed["err"] or "disk I/O error" in failed["err"], failed["err"]
    assert full_sweep["rc"] == 3 and "internal error" not in full_sweep["err"], full_sweep["err"]
    assert "the run is safe in" in full_sweep["err"]
    assert no_report["rc"] == 3, no_report["err"]
    assert no_report["err"].count("error:") == 1 and "cannot write" in no_report["err"]
    assert ".tmp" not in listing["out"] and "report.json" not in listing["out"], listing["out"]
    assert_kept_then_stored(site, failed, swept, history)
    assert swept["err"].count("stored from the spool") == 2  # the full sweep's run too
    assert json.loads(history["out"])[-1]["run"] == 1


def test_a_read_only_store_is_read_and_keeps_the_run_for_later(
    lab: Lab, site: dict[str, Any]
) -> None:
    mnt, db = site["mnt"], str(site["mnt"] / "runs.sqlite3")
    _mount, first, _ro, read, failed, _rw, swept, history = steps(
        lab,
        site,
        ["sh", f"mount -t tmpfs -o size=8m tmpfs {mnt}"],
        sweep_argv(site, db),
        ["sh", f"mount -o remount,ro {mnt}"],
        history_argv(db),
        scan_argv(site, db),
        ["sh", f"mount -o remount,rw {mnt}"],
        sweep_argv(site, db),
        history_argv(db),
    )
    assert first["rc"] in (0, 1), first["err"]
    assert read["rc"] == 0, read["err"]  # readers open it read-only
    assert len(json.loads(read["out"])) == 1
    assert_kept_then_stored(site, failed, swept, history)


def test_a_damaged_store_is_refused_with_how_to_recover_and_the_run_kept(
    lab: Lab, site: dict[str, Any]
) -> None:
    db = site["tmp"] / "runs.sqlite3"
    backup = site["tmp"] / "backup.sqlite3"
    (first,) = steps(lab, site, sweep_argv(site, str(db)))
    assert first["rc"] in (0, 1), first["err"]
    shutil.copy(db, backup)
    size = db.stat().st_size
    assert size > 24 * 1024, size
    with db.open("r+b") as f:  # 8 KB of noise half-way through the file
        f.seek(size // 2 // 4096 * 4096)
        f.write(os.urandom(8192))
    failed, swept_damaged = steps(lab, site, scan_argv(site, str(db)), sweep_argv(site, str(db)))
    assert "is damaged" in failed["err"] and ".recover" in failed["err"], failed["err"]
    assert swept_damaged["rc"] == 3 and "is damaged" in swept_damaged["err"]
    shutil.copy(backup, db)  # the admin restores the backup
    swept, history = steps(lab, site, sweep_argv(site, str(db)), history_argv(str(db)))
    assert_kept_then_stored(site, failed, swept, history)
    assert swept["err"].count("stored from the spool") == 2  # the damaged sweep's run too


def test_a_held_write_lock_is_waited_for_then_the_run_is_kept(
    lab: Lab, site: dict[str, Any]
) -> None:
    db = str(site["tmp"] / "runs.sqlite3")
    (first,) = steps(lab, site, sweep_argv(site, db))
    assert first["rc"] in (0, 1), first["err"]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({db!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        (failed,) = steps(lab, site, scan_argv(site, db))
    finally:
        holder.kill()
        holder.wait()
    assert "waiting for another writer" in failed["err"], failed["err"]
    assert "lock_wait" in failed["err"]
    swept, history = steps(lab, site, sweep_argv(site, db), history_argv(db))
    assert_kept_then_stored(site, failed, swept, history)


# -- PostgreSQL: a server of the test's own, stopped and started -----------------------------
class Server:
    def __init__(self, base: Path, bindir: Path, as_user: list[str]) -> None:
        self.base, self.port = base, "55432"
        self.ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(base / "data")]
        self.url = f"host={base} port={self.port} user=camscan dbname=postgres"

    def start(self) -> None:
        subprocess.run(
            [
                *self.ctl,
                "-o",
                f"-k {self.base} -p {self.port} -c listen_addresses=''",
                "-l",
                str(self.base / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run([*self.ctl, "-m", mode, "-w", "stop"], check=False, capture_output=True)


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Server]:
    from tests.conftest import PG_PREFIX, _pg_bindir, _pg_missing

    bindir = _pg_bindir()
    if bindir is None:
        _pg_missing("Debian's postgresql is not installed (apt-get install postgresql)")
    assert bindir is not None
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix=PG_PREFIX))
    (base / "owner.pid").write_text(f"{os.getpid()}\n")
    if as_user:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(base / "data"),
            "-A",
            "trust",
            "-U",
            "camscan",
        ],
        check=True,
        capture_output=True,
    )
    server = Server(base, bindir, as_user)
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def test_postgresql_stopped_before_the_save_keeps_the_run(
    lab: Lab, site: dict[str, Any], pg: Server
) -> None:
    (first,) = steps(lab, site, sweep_argv(site, pg.url))
    assert first["rc"] in (0, 1), first["err"]
    pg.stop()
    (failed,) = steps(lab, site, scan_argv(site, pg.url))
    assert "cannot connect" in failed["err"], failed["err"]
    pg.start()
    swept, history = steps(lab, site, sweep_argv(site, pg.url), history_argv(pg.url))
    assert_kept_then_stored(site, failed, swept, history)


def test_postgresql_stopped_during_the_save_keeps_the_run(
    lab: Lab, site: dict[str, Any], pg: Server
) -> None:
    (first,) = steps(lab, site, sweep_argv(site, pg.url))
    assert first["rc"] in (0, 1), first["err"]
    env = guarded_env(lab, CAMSCAN_DATA_DIR=site["data"], CAMSCAN_STORE_HOLD="5")
    proc = start_camscan(lab, *scan_argv(site, pg.url), env=env)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "holding the write open" in line:
            break
    pg.stop()  # fast: the server ends the connection in the middle of the transaction
    _, rest = proc.communicate(timeout=120)
    failed = {"rc": proc.returncode, "err": "".join(seen) + rest}
    pg.start()
    swept, history = steps(lab, site, sweep_argv(site, pg.url), history_argv(pg.url))
    assert_kept_then_stored(site, failed, swept, history)


# -- a sweep stopped by a signal --------------------------------------------------------------
def test_a_sweep_stopped_by_sigterm_stores_a_partial_run_never_a_baseline(
    lab: Lab, site: dict[str, Any]
) -> None:
    Path(site["cfg"]).write_text(CONFIG.format(window=8.0))
    db = str(site["tmp"] / "runs.sqlite3")
    env = guarded_env(lab, CAMSCAN_DATA_DIR=site["data"])
    proc = start_camscan(lab, *sweep_argv(site, db), env=env)
    lock = site["tmp"] / "runs.sqlite3.locks" / "faults.lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)  # the lock is taken (its pid written) once the signal handler is in
    time.sleep(1.0)  # inside the 8 s discovery window
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert "sweep stopped by SIGTERM" in err and "marked partial" in err, err
    history = run_camscan(lab, *history_argv(db), env=env)
    assert [(h["run"], h["partial"]) for h in json.loads(history.stdout)] == [(1, True)]
    Path(site["cfg"]).write_text(CONFIG.format(window=0.5))
    again = run_camscan(lab, *sweep_argv(site, db), env=env)
    assert again.returncode in (0, 1), again.stderr
    assert json.loads(again.stdout)["before"] is None  # the stopped run is no baseline
