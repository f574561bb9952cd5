"""Sweeps that remember, end to end in the lab, on SQLite and on a real PostgreSQL server.

A site's lab is built, swept, rebuilt with four changes (a persona added, one removed, one moved
to another segment keeping its MAC, one with new firmware) and swept again: the diff must name
exactly those four. Also: a sweep killed with SIGKILL half-way through its write leaves the run
absent (never half there) and the lock free; an overlapping sweep of one site is refused in one
line; two sensors in two lab sites write into one PostgreSQL database at the same time.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab
from camscan.lab.persona import BUNDLED_PERSONAS
from camscan.store import is_postgres, open_store
from tests.labtools import topology_toml

pytestmark = pytest.mark.lab

CONFIG = """
[[segment]]
name = "{site}-core"
cidrs = ["{core}"]
zone = "core"

[[segment]]
name = "{site}-office"
cidrs = ["{office}"]
zone = "general"

[scan]
probes = ["arp", "sadp", "dhip", "wsd", "banners"]
discovery_window = 1.0
timeout = 2.0

[store]
site = "{site}"
"""
MOVED_MAC = "ac:cc:8e:47:00:15"  # the Axis camera's MAC, kept when it moves to the core
NEW_FIRMWARE = "V5.7.3build 220112"


def topology(name: str, core: str, office: str, groups: list[dict[str, Any]]) -> str:
    networks = [
        {"name": net, "cidr": cidr, "scanner": cidr.rsplit(".", 1)[0] + ".1"}
        for net, cidr in (("core", core), ("office", office))
    ]
    return topology_toml(name, networks, groups)


def write_site(tmp: Path, name: str, third: int, groups: list[dict[str, Any]]) -> Path:
    """A topology file (with the firmware-upgrade persona beside it) for one lab site."""
    (tmp / "personas").mkdir(parents=True, exist_ok=True)
    upgraded = (BUNDLED_PERSONAS / "hikvision-ipc.toml").read_text()
    upgraded = upgraded.replace('name = "hikvision-ipc"', 'name = "hikvision-ipc-upgraded"')
    upgraded = upgraded.replace('firmware = "V5.6.2build 190701"', f'firmware = "{NEW_FIRMWARE}"')
    (tmp / "personas" / "hikvision-ipc-upgraded.toml").write_text(upgraded)
    path = tmp / f"{name}.toml"
    core, office = f"198.18.{third}.0/24", f"198.18.{third + 1}.0/24"
    path.write_text(topology(name, core, office, groups))
    return path


def site_config(tmp: Path, site: str, third: int) -> Path:
    path = tmp / f"{site}.camscan.toml"
    core, office = f"198.18.{third}.0/24", f"198.18.{third + 1}.0/24"
    path.write_text(CONFIG.format(site=site, core=core, office=office))
    return path


def before_groups(third: int) -> list[dict[str, Any]]:
    core, office = f"198.18.{third}", f"198.18.{third + 1}"
    return [
        {"persona": "hikvision-ipc", "network": "core", "addresses": [f"{core}.10"]},
        {"persona": "printer", "network": "core", "addresses": [f"{core}.11"]},
        {"persona": "dahua-ipc", "network": "office", "addresses": [f"{office}.20"]},
        {"persona": "axis", "network": "office", "addresses": [f"{office}.21"], "mac": MOVED_MAC},
        {"persona": "workstation", "network": "office", "addresses": [f"{office}.22"]},
    ]


def after_groups(third: int) -> list[dict[str, Any]]:
    core, office = f"198.18.{third}", f"198.18.{third + 1}"
    return [
        # firmware upgraded in place
        {"persona": "hikvision-ipc-upgraded", "network": "core", "addresses": [f"{core}.10"]},
        {"persona": "printer", "network": "core", "addresses": [f"{core}.11"]},
        # the Dahua camera at office .20 is gone; the Axis camera moved to the core
        {"persona": "axis", "network": "core", "addresses": [f"{core}.21"], "mac": MOVED_MAC},
        {"persona": "workstation", "network": "office", "addresses": [f"{office}.22"]},
        # a new Dahua camera on the core: newly flagged
        {"persona": "dahua-ipc", "network": "core", "addresses": [f"{core}.30"]},
    ]


def sweep_argv(cfg: Path, db: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "camscan", "sweep", "-c", str(cfg), "--db", db, *extra]


def env(**extra: str) -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    return dict(os.environ, CAMSCAN_LAB_GUARD="1", PYTHONPATH=root, **extra)


def sweep(
    lab: Lab, cfg: Path, db: str, *extra: str, **environ: str
) -> subprocess.CompletedProcess[str]:
    return lab.run(
        sweep_argv(cfg, db, *extra),
        capture_output=True,
        text=True,
        env=env(**environ),
        timeout=300,
    )


def start_sweep(lab: Lab, cfg: Path, db: str, *extra: str, **environ: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", lab.scanner_ns, *sweep_argv(cfg, db, *extra)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**environ),
    )


def wait_for_line(proc: subprocess.Popen[str], needle: str, limit: float = 120.0) -> str:
    """Read the sweep's stderr until `needle` shows (bounded: the sweep has a hard timeout)."""
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return line
    proc.kill()
    raise AssertionError(f"never saw {needle!r}; stderr: {''.join(seen)}")


def camscan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camscan", *args],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
    )


def consistent(db: str) -> dict[str, int]:
    """Row counts, after checking that no table holds rows of a run that is not stored."""
    store = open_store(db)
    try:
        q = store._query  # type: ignore[attr-defined]
        for table in ("devices", "observations", "evidence", "findings"):
            orphans = q(f"SELECT COUNT(*) FROM {table} WHERE run_id NOT IN (SELECT id FROM runs)")
            assert orphans[0][0] == 0, table
        for run in store.runs():  # every stored run is whole: its devices match its count
            assert len(store.load(run.id).devices) == run.devices
        return {t: q(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("runs", "devices")}
    finally:
        store.close()


@pytest.fixture(scope="module")
def site_a(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("site-a")
    return tmp, write_site(tmp, "sitea1", 70, before_groups(70)), site_config(tmp, "hq", 70)


@pytest.fixture
def db(store_url: str) -> str:
    """Each sweep test on both backends (conftest's store_url: SQLite, PostgreSQL)."""
    return store_url


def test_second_sweep_names_exactly_the_four_changes(site_a: Any, db: str) -> None:
    tmp, before, cfg = site_a
    with Lab(before) as lab:
        first = sweep(lab, cfg, db, "-f", "json")
    assert first.returncode == 1, first.stderr  # first run of the site: flagged findings are new
    assert "Traceback" not in first.stderr
    assert json.loads(first.stdout)["before"] is None
    after = write_site(tmp / "after", "sitea2", 70, after_groups(70))
    with Lab(after) as lab:
        second = sweep(lab, cfg, db, "-f", "json")
        quiet = sweep(lab, cfg, db, "-q")  # nothing changed since: nothing printed
        pruning = sweep(lab, cfg, db, "-q", "--keep-runs", "2", "--site", "pruned")
        pruning = sweep(lab, cfg, db, "-q", "--keep-runs", "2", "--site", "pruned")
        pruning = sweep(lab, cfg, db, "--keep-runs", "2", "--site", "pruned")
        pruned = json.loads(camscan("history", "--db", db, "--site", "pruned", "-f", "json").stdout)
        # `scan --db` stores too, and its HTML report shows the changes since the last run.
        page = tmp / "scan.html"
        scanned = lab.run(
            [
                sys.executable,
                "-m",
                "camscan",
                "scan",
                "-c",
                str(cfg),
                "--all-segments",
                "--db",
                db,
                "--site",
                "pruned",
                "-f",
                "html",
                "-o",
                str(page),
            ],
            capture_output=True,
            text=True,
            env=env(),
            timeout=300,
        )
    assert second.returncode == 1, second.stderr  # a finding is newly flagged
    diff = json.loads(second.stdout)
    named = {(c["kind"], c["ip"]) for c in diff["changes"]}
    assert named == {
        ("new", "198.18.70.30"),
        ("newly_flagged", "198.18.70.30"),
        # the moved Axis camera (issue 21): any maker's surveillance equipment on a core network
        ("newly_flagged", "198.18.70.21"),
        ("gone", "198.18.71.20"),
        ("moved", "198.18.70.21"),
        ("changed", "198.18.70.10"),
    }, diff["changes"]
    by_kind = {c["kind"]: c for c in diff["changes"]}
    assert by_kind["moved"]["device_id"] == f"mac:{MOVED_MAC}"
    assert {(f["field"], f["before"], f["after"]) for f in by_kind["moved"]["fields"]} == {
        ("ip", "198.18.71.21", "198.18.70.21"),
        ("segment", "hq-office", "hq-core"),
        ("zone", "general", "core"),
    }
    assert by_kind["changed"]["fields"] == [
        {"field": "firmware", "before": "V5.6.2build 190701", "after": NEW_FIRMWARE}
    ]
    assert by_kind["new"]["maker"] == "dahua" and by_kind["gone"]["maker"] == "dahua"
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""
    # history and diff see the same, from outside the lab (no packets: reads the database)
    hist = json.loads(camscan("history", "--db", db, "--site", "hq", "-f", "json").stdout)
    assert [h["devices"] for h in hist] == [5, 5, 5]
    assert [h["partial"] for h in hist] == [False, False, False]
    table = camscan("diff", str(hist[2]["run"]), str(hist[1]["run"]), "--db", db)
    assert table.returncode == 1
    assert "2 newly flagged, 1 new, 1 gone, 1 moved, 1 changed, 0 resolved" in table.stdout
    html = camscan("report", str(hist[1]["run"]), "--db", db, "-f", "html")
    assert "Changes since the previous run" in html.stdout and MOVED_MAC in html.stdout
    csv_out = camscan("diff", "--db", db, "--site", "hq", "-f", "csv")
    assert csv_out.returncode == 0 and len(csv_out.stdout.splitlines()) == 1  # header only
    # Retention: the "pruned" site keeps its newest two runs, and the "hq" site is untouched.
    assert pruning.returncode == 0 and "1 old runs removed" in pruning.stderr, pruning.stderr
    assert len(pruned) == 2
    assert scanned.returncode == 1, scanned.stderr  # flagged devices, as any scan
    assert f"stored as run {pruned[0]['run'] + 1} of site 'pruned'" in scanned.stderr
    html_page = page.read_text()
    assert "Changes since the previous run" in html_page and "No changes." in html_page
    assert len(json.loads(camscan("history", "--db", db, "--site", "hq", "-f", "json").stdout)) == 3
    consistent(db)


def test_kill_9_mid_write_leaves_the_run_absent_and_the_lock_free(site_a: Any, db: str) -> None:
    _, before, cfg = site_a
    with Lab(before) as lab:
        assert sweep(lab, cfg, db, "-q").returncode == 1
        counts = consistent(db)
        proc = start_sweep(lab, cfg, db, CAMSCAN_STORE_HOLD="60")
        wait_for_line(proc, "holding the write open")  # devices written, not committed
        os.kill(proc.pid, signal.SIGKILL)  # ip netns exec execs camscan: this pid is camscan
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        time.sleep(0.5)  # PostgreSQL notices the dropped connection and rolls back
        assert consistent(db) == counts  # nothing of the killed run is there
        again = sweep(lab, cfg, db, "-f", "json")  # the lock died with the process
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["changes"] == []
    assert consistent(db)["runs"] == counts["runs"] + 1


def test_an_overlapping_sweep_of_the_same_site_is_refused(site_a: Any, db: str) -> None:
    _, before, cfg = site_a
    with Lab(before) as lab:
        proc = start_sweep(lab, cfg, db, "-q", CAMSCAN_STORE_HOLD="120")
        try:
            wait_for_line(proc, "holding the write open")  # it holds the site's lock
            second = sweep(lab, cfg, db)
            # Another site is not blocked. (On SQLite it would queue behind the held write:
            # one writer at a time, which in real sweeps lasts milliseconds, not this hold.)
            other_site = (
                sweep(lab, cfg, db, "--site", "elsewhere", "-q") if is_postgres(db) else None
            )
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
    assert second.returncode == 3
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "another sweep of site 'hq' is running" in lines[0]
    stored = [r["site"] for r in json.loads(camscan("history", "--db", db, "-f", "json").stdout)]
    if other_site is not None:
        assert other_site.returncode == 1, other_site.stderr
        assert stored == ["elsewhere"]
    else:
        assert stored == []


def test_two_sensors_in_two_sites_share_one_postgresql_database(
    tmp_path: Path, pg_url: str
) -> None:
    sites = {"north": 80, "south": 90}
    labs, cfgs = {}, {}
    try:
        for site, third in sites.items():
            labs[site] = Lab(write_site(tmp_path / site, f"{site}1", third, before_groups(third)))
            labs[site].start()
            cfgs[site] = site_config(tmp_path, site, third)
        for _ in range(2):  # two rounds, both sensors writing at the same time
            procs = {
                s: start_sweep(labs[s], cfgs[s], pg_url, "-q", CAMSCAN_STORE_HOLD="2")
                for s in sites
            }
            for p in procs.values():
                wait_for_line(p, "holding the write open")  # both transactions are open now
            for p in procs.values():
                p.wait(120)
                assert p.returncode in (0, 1), p.stderr.read() if p.stderr else ""
    finally:
        for lab in labs.values():
            lab.close()
    for site, third in sites.items():
        hist = json.loads(camscan("history", "--db", pg_url, "--site", site, "-f", "json").stdout)
        assert len(hist) == 2 and all(h["site"] == site for h in hist)
        assert [(h["devices"], h["flagged"]) for h in hist] == [(5, 1), (5, 1)], hist
        own = {
            ipaddress.IPv4Network(f"198.18.{third}.0/24"),
            ipaddress.IPv4Network(f"198.18.{third + 1}.0/24"),
        }
        for h in hist:  # the site's own two networks (camscan may write them as one /23)
            got = {ipaddress.IPv4Network(t) for t in h["targets"]}
            assert set(ipaddress.collapse_addresses(got)) == set(ipaddress.collapse_addresses(own))
        d = camscan("diff", "--db", pg_url, "--site", site, "-f", "json")
        assert d.returncode == 0, d.stderr
        doc = json.loads(d.stdout)
        assert doc["changes"] == [] and doc["after"]["site"] == site
    everything = json.loads(camscan("history", "--db", pg_url, "-f", "json").stdout)
    assert sorted(h["site"] for h in everything) == ["north", "north", "south", "south"]
    consistent(pg_url)


ROUTED_CONFIG = """
[[segment]]
name = "cctv"
cidrs = ["198.18.61.0/25"]
zone = "general"
{spare}
[scan]
probes = ["l3", "banners"]

[store]
site = "estate"
"""
SILENT_SPARE = '[[segment]]\nname = "spare"\ncidrs = ["198.18.61.192/28"]\nzone = "general"\n'


def test_a_partial_sweep_is_stored_marked_and_never_a_baseline(
    lab_factory: Any, tmp_path: Path
) -> None:
    """End to end: a sweep whose routed "spare" segment gave not one answer (empty, or behind
    an ACL: off-link the two look the same) is partial: exit 3, the gap on stderr, stored and
    marked. The next complete sweep has no baseline (the partial run is not one), the one after
    diffs against it."""
    routed = lab_factory("routed")
    db = str(tmp_path / "runs.sqlite3")
    with_spare, fixed = tmp_path / "spare.toml", tmp_path / "fixed.toml"
    with_spare.write_text(ROUTED_CONFIG.format(spare=SILENT_SPARE))
    fixed.write_text(ROUTED_CONFIG.format(spare=""))
    first = sweep(routed, with_spare, db, "-f", "json")
    assert first.returncode == 3, first.stderr
    assert "not covered: 198.18.61.192/28" in first.stderr
    assert "no address answered" in first.stderr and "never used as a baseline" in first.stderr
    second = sweep(routed, fixed, db, "-f", "json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["before"] is None  # run 1 was partial: no baseline
    third = sweep(routed, fixed, db, "-f", "json")
    assert third.returncode == 0, third.stderr
    diff = json.loads(third.stdout)
    assert diff["before"]["id"] == 2 and diff["changes"] == []
    history = camscan("history", "--db", db, "-f", "json")
    assert [(h["run"], h["partial"]) for h in json.loads(history.stdout)] == [
        (3, False),
        (2, False),
        (1, True),
    ]
