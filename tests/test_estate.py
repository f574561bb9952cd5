"""`camscan estate` over a store of 3 sites x 6 runs, on SQLite and PostgreSQL.

Site hq sweeps daily with one accepted exception ending soon; site depot went silent 3 days
ago; site branch removes one Hikvision camera from its core network run by run. Runs are built
from real observations through identify and policy (tests/test_store.py), stored, then read by
the command as a user runs it: the silent site comes first, the burn-down falls, the counts are
the runs' own, and the table, JSON (valid against its published schema), CSV and HTML agree.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from camscan.config import parse_config
from camscan.history.estate_render import CSV_COLUMNS, site_row
from camscan.model import Device, ScanResult, ScanRun
from camscan.pipeline import apply_policy, identify_devices
from camscan.store import open_store
from tests.test_cli import camscan
from tests.test_store import AXIS_MAC, HIK_MAC, device

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "camscan" / "schemas" / "estate.schema.json").read_text())
DAY = 86400.0
TODAY = datetime.now(UTC).date()
EXPIRES = TODAY + timedelta(days=10)
CORE_DEADLINE = TODAY + timedelta(days=20)
VAULT_DEADLINE = TODAY - timedelta(days=30)  # passed: flagged devices in the vault are overdue


def config(site_exception: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "segment": [
            {"name": "servers", "cidrs": ["198.18.70.0/24"], "zone": "core"},
            {"name": "office", "cidrs": ["198.18.71.0/24"], "zone": "general"},
            {"name": "vault", "cidrs": ["198.18.72.0/24"], "zone": "sensitive"},
        ],
        "policy": {"deadlines": {"core": CORE_DEADLINE, "sensitive": VAULT_DEADLINE}},
    }
    if site_exception:
        doc["exception"] = [
            {
                "mac": HIK_MAC + "99",
                "reason": "lift camera, replacement ordered",
                "accepted_by": "J. Smith",
                "expires": EXPIRES,
            }
        ]
    return doc


def run_of(devices: list[Device], started: float, exception: bool = False) -> ScanResult:
    cfg = parse_config(config(exception))
    run = ScanRun(
        targets=["198.18.70.0/23", "198.18.72.0/24"],
        probes=["arp", "sadp"],
        started=started,
        ended=started + 60,
        camscan_version="test",
    )
    res = ScanResult(run=run, devices=devices, segments=list(cfg.segments))
    identify_devices(res.devices)
    apply_policy(res, cfg)
    return res


def hq(n: int) -> list[Device]:
    """Steady: two core Hikvision (flagged), one accepted by exception, offices; run 4 adds a
    camera in the vault (overdue: the sensitive deadline passed)."""
    devices = [
        device("198.18.70.10", HIK_MAC + "10"),
        device("198.18.70.11", HIK_MAC + "11"),
        device("198.18.70.99", HIK_MAC + "99"),
        device("198.18.71.10", AXIS_MAC + "10"),
        device("198.18.71.11", HIK_MAC + "21"),
    ]
    if n >= 4:
        devices.append(device("198.18.72.5", HIK_MAC + "55"))
    return devices


def branch(n: int) -> list[Device]:
    """Five Hikvision cameras in the core at first, one fewer each run; the office stays."""
    cams = [device(f"198.18.70.{20 + i}", HIK_MAC + f"{30 + i}") for i in range(5 - n)]
    return [*cams, device("198.18.71.30", AXIS_MAC + "30")]


def depot(n: int) -> list[Device]:
    return [device("198.18.70.40", HIK_MAC + "40"), device("198.18.71.40", AXIS_MAC + "40")]


def build(url: str) -> dict[str, list[int]]:
    """6 runs a site: hq and branch daily up to an hour ago, depot until 3 days ago."""
    now = time.time()
    ids: dict[str, list[int]] = {"hq": [], "branch": [], "depot": []}
    store = open_store(url)
    try:
        for n in range(6):
            day = now - (5 - n) * DAY - 3600
            ids["hq"].append(store.save(run_of(hq(n), day, exception=True), "hq"))
            ids["branch"].append(store.save(run_of(branch(n), day + 60), "branch"))
            ids["depot"].append(store.save(run_of(depot(n), day - 3 * DAY + 120), "depot"))
    finally:
        store.close()
    return ids


@pytest.fixture
def estate_store(store_url: str) -> tuple[str, dict[str, list[int]]]:
    return store_url, build(store_url)


def estate_json(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    r = camscan("estate", "--db", url, "-f", "json", *args)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def test_silent_site_first_burn_down_falls_counts_match(
    estate_store: tuple[str, dict[str, list[int]]],
) -> None:
    url, ids = estate_store
    code, doc = estate_json(url, "--since", "4d")
    jsonschema.validate(doc, SCHEMA)
    assert code == 1  # a gap and an overdue device
    sites = {s["site"]: s for s in doc["sites"]}
    assert doc["sites"][0]["site"] == "depot"
    assert sites["depot"]["status"] == "gap" and "no complete run for 3.0 days" in (
        sites["depot"]["gap"] or ""
    )
    assert sites["hq"]["status"] == "action" and sites["branch"]["status"] == "clean"
    assert doc["totals"]["gaps"] == 1 and doc["totals"]["clean"] == 1
    # the counts are the latest runs' own, read back from the store
    store = open_store(url, readonly=True)
    try:
        for name, runs in ids.items():
            run = store.load(runs[-1])
            assert sites[name]["latest_run"] == runs[-1]
            assert sites[name]["runs"] == 6
            assert sites[name]["devices"] == len(run.devices)
            assert sites[name]["flagged"] == sum(1 for f in run.findings if f.flagged)
    finally:
        store.close()
    assert sites["hq"]["by_severity"]["accepted"] == 1
    assert sites["hq"]["by_zone"] == {"core": 3, "general": 2, "sensitive": 1}
    assert doc["totals"]["devices"] == 6 + 1 + 2
    assert doc["totals"]["by_maker"] == {"axis": 3, "hikvision": 6}
    # burn-down: branch's core cameras fall 5 -> 0 while hq's two (and the vault's one) stay
    points = [p["devices"] for p in doc["trends"]["burndown"]["points"]]
    assert points[-1] < max(points)
    assert points == sorted(points, reverse=True) or points[-6:] == sorted(
        points[-6:], reverse=True
    )
    assert doc["trends"]["burndown"]["deadline"] == VAULT_DEADLINE.isoformat()
    branch_line = next(s for s in doc["trends"]["flagged"] if s["site"] == "branch")
    assert [p["flagged"] for p in branch_line["points"]] == [5, 4, 3, 2, 1, 0]
    # since 4 days ago: branch's cameras resolved, hq's vault camera new; depot has no change
    assert sites["branch"]["gone"] == 4 and sites["branch"]["resolved"] == 4
    assert sites["hq"]["new"] == 1 and sites["hq"]["newly_flagged"] == 1
    assert [d["ip"] for d in doc["overdue"]] == ["198.18.72.5"]
    assert doc["overdue"][0]["days_overdue"] == 30
    assert [(e["ip"], e["expires"], e["days_left"]) for e in doc["expiring"]] == [
        ("198.18.70.99", EXPIRES.isoformat(), 10)
    ]


def test_every_format_says_the_same(
    estate_store: tuple[str, dict[str, list[int]]], tmp_path: Path
) -> None:
    url, _ = estate_store
    r = camscan(
        "estate", "--db", url, "-o", str(tmp_path / "e.json"), "-o", str(tmp_path / "e.csv"),
        "-o", str(tmp_path / "e.html"), "-o", "-",
    )  # fmt: skip
    assert r.returncode == 1, r.stderr
    doc = json.loads((tmp_path / "e.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    rows = list(csv.reader(io.StringIO((tmp_path / "e.csv").read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1:] == [["" if v is None else str(v) for v in site_row(s)] for s in doc["sites"]]
    page = (tmp_path / "e.html").read_text()
    assert "<script" not in page
    csp = "default-src 'none'; style-src 'sha256-"
    assert csp in page
    body = page.split("<main>")[1]
    assert body.index("depot") < body.index("branch")  # the gap is named first
    for s in doc["sites"]:
        assert f"<td>{s['site']}" in page
    # the burn-down (its deadline passed: no line to it) and one line per site
    assert page.count('<polyline class="series"') == 1 + 3
    table = r.stdout.splitlines()
    assert table[1].split()[:2] == ["site", "status"]
    assert [line.split()[0] for line in table[2:5]] == [s["site"] for s in doc["sites"]]
    assert any(line.startswith("  GAP  depot:") for line in table)


def test_a_generous_silence_and_the_config(
    estate_store: tuple[str, dict[str, list[int]]], tmp_path: Path
) -> None:
    url, _ = estate_store
    code, doc = estate_json(url, "--silent-after", "5d")
    assert doc["totals"]["gaps"] == 0
    assert code == 1  # still: the vault camera is overdue
    cfg = tmp_path / "camscan.toml"
    cfg.write_text(f'[store]\ndb = "{url}"\n[estate]\nsilent_after = "4d"\n')
    r = camscan("estate", "-c", str(cfg), "-f", "json")
    assert json.loads(r.stdout)["settings"]["silent_after_days"] == 4
    assert json.loads(r.stdout)["totals"]["gaps"] == 0


def test_usage_errors_and_no_store_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    r = camscan("estate", "--db", str(missing))
    assert r.returncode == 2 and "nothing was ever stored there" in r.stderr
    assert not missing.exists()  # a reader never creates a store
    for args in (["--since", "yesterday"], ["--silent-after", "2 weeks"], ["-f", "pdf"]):
        r = camscan("estate", "--db", str(missing), *args)
        assert r.returncode == 2, args
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[estate]\nsilent_after = 2\n")
    r = camscan("estate", "-c", str(bad), "--db", str(missing))
    assert r.returncode == 2 and "[estate] silent_after" in r.stderr


def test_a_site_whose_runs_sit_only_in_the_spool_is_a_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from camscan.store.spool import spool_run

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = str(tmp_path / "runs.sqlite3")
    store = open_store(url)
    try:
        store.save(run_of(depot(0), time.time() - 3600), "hq")
    finally:
        store.close()
    spool_run(run_of(depot(0), time.time() - 600), "annex", url)
    spool_run(run_of(depot(0), time.time() - 60), "hq", url)
    code, doc = estate_json(url)
    sites = {s["site"]: s for s in doc["sites"]}
    assert code == 1 and doc["sites"][0]["status"] == "gap"
    assert sites["annex"]["status"] == "gap" and sites["annex"]["spooled"] == 1
    assert "no complete run stored" in sites["annex"]["gap"]
    assert "wait in this machine's spool" in sites["hq"]["gap"]  # newer runs not in the store
    assert sites["hq"]["status"] == "gap"
