"""Issue 10 in the lab: a segment given by interface, a stage that fails mid-scan, SIGTERM.

The destructive tests (an interface removed, a scan killed) build their own small lab so the
shared session labs stay intact. Lab addresses come from 198.18.0.0/15 only, so a "factory
address" is played by a camera whose address lies in no configured segment and outside the
targets, heard on the interface the core segment names (the unit tests cover 192.0.0.64 as data).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab
from tests.conftest import LabFactory
from tests.labtools import guarded_env, run_camscan, start_camscan, topology_toml

pytestmark = pytest.mark.lab

SMALL = topology_toml(
    "honesty",
    [{"name": "core", "cidr": "198.18.60.0/24", "scanner": "198.18.60.1"}],
    [
        {"persona": persona, "network": "core", "addresses": [ip]}
        for persona, ip in (
            ("hikvision-ipc", "198.18.60.64"),
            ("dahua-ipc", "198.18.60.108"),
            ("workstation", "198.18.60.20"),
        )
    ],
    description="one /24 with a Hikvision and a Dahua camera and a workstation",
)


def env(lab: Lab) -> dict[str, str]:
    """No config file from anywhere: every setting comes from the test's own flags."""
    return guarded_env(lab, CAMSCAN_CONFIG="", HOME="/nonexistent")


def camscan(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return run_camscan(lab, *args, env=env(lab))


def start(lab: Lab, *args: str) -> subprocess.Popen[str]:
    return start_camscan(lab, *args, env=env(lab))


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Lab]:
    topology = tmp_path / "honesty.toml"
    topology.write_text(SMALL)
    with Lab(topology) as lab:
        yield lab


def test_a_segment_given_by_interface_catches_a_camera_outside_every_cidr(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    lab = lab_factory("mixed")
    iface = next(iter(lab.interfaces.values()))
    scanner = next(n.scanner for n in lab.topology.networks)
    cfg = tmp_path / "camscan.toml"
    # The core segment is the scanner's own address plus its interface: every camera on the
    # link answers multicast from an address in no segment's CIDRs, as a camera still on its
    # factory address would.
    cfg.write_text(
        f'[[segment]]\nname = "core"\ncidrs = ["{scanner}/32"]\nzone = "core"\n'
        f'interfaces = ["{iface}"]\n'
    )
    out = tmp_path / "r.json"
    r = camscan(
        lab, "scan", "-c", str(cfg), "--all-segments", "--probes", "sadp,dhip", "-o", str(out)
    )
    assert r.returncode == 1, r.stderr  # flagged
    doc = json.loads(out.read_text())
    hik = next(d for d in lab.devices if d.persona == "hikvision-ipc")
    got = {d["ip"]: d for d in doc["devices"]}[hik.ip]
    assert (got["segment"], got["zone"], got["segment_by"]) == ("core", "core", "interface")
    assert (got["severity"], got["flagged"], got["in_scope"]) == ("critical", True, False)
    assert f"heard on ({iface})" in got["rationale"]
    # Without the interface the same camera is out of scope: reported apart, never counted.
    cfg.write_text(f'[[segment]]\nname = "core"\ncidrs = ["{scanner}/32"]\nzone = "core"\n')
    r = camscan(
        lab, "scan", "-c", str(cfg), "--all-segments", "--probes", "sadp,dhip", "-o", str(out)
    )
    doc = json.loads(out.read_text())
    assert hik.ip in {d["ip"] for d in doc["out_of_scope"]}
    assert hik.ip not in {d["ip"] for d in doc["devices"]}
    assert doc["summary"]["devices"] == 0 and doc["summary"]["out_of_scope"] > 0
    assert doc["verdict"]["status"] == "clean", doc["verdict"]


def test_a_stage_failing_mid_scan_gives_exit_3_and_says_which(small: Lab, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = start(
        small,
        "scan",
        "198.18.60.0/24",
        "--probes",
        "arp",
        "--rate",
        "4",
        "-f",
        "json",
        "-o",
        str(out),
    )
    time.sleep(4)  # well into the paced sweep (254 addresses at 4/s): not an assertion
    iface = small.interfaces["core"]
    subprocess.run(["ip", "-n", small.scanner_ns, "link", "del", iface], check=True)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3, stderr
    doc = json.loads(out.read_text())
    assert doc["run"]["partial"] is True
    assert doc["verdict"]["status"] == "partial"
    failed = [c for c in doc["run"]["coverage"] if not c["covered"]]
    assert failed and any(f.startswith("arp:") for c in failed for f in c["failed"]), failed
    assert any(g.startswith("198.18.60.0/24") and "arp" in g for g in doc["run"]["not_covered"])
    assert "not covered" in stderr and "Traceback" not in stderr


def test_sigterm_mid_scan_leaves_a_valid_partial_result(small: Lab, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    out.write_text("previous report\n")
    proc = start(
        small,
        "scan",
        "198.18.60.0/24",
        "--probes",
        "arp,sadp",
        "--rate",
        "4",
        "-o",
        f"json:{out}",
    )
    time.sleep(4)  # into the sweep
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stderr
    doc: dict[str, Any] = json.loads(out.read_text())
    assert doc["run"]["partial"] is True
    assert doc["run"]["stopped"].startswith("SIGTERM during "), doc["run"]["stopped"]
    assert doc["verdict"]["status"] == "partial"
    assert any("SIGTERM" in g for g in doc["run"]["not_covered"])
    # What was found before the signal is kept: the SADP round ended while ARP was still paced.
    hik = next(d for d in doc["devices"] if d["ip"] == "198.18.60.64")
    assert hik["maker"] == "hikvision"
    assert not list(tmp_path.glob(".r.json.*.tmp"))  # no temporary file left behind


def test_bad_values_are_refused_before_any_packet(lab_factory: LabFactory, tmp_path: Path) -> None:
    lab = lab_factory("mixed")
    cfg = tmp_path / "camscan.toml"
    cfg.write_text("[scan]\nmax_hosts = 16\n")
    typo = tmp_path / "typo.toml"
    typo.write_text('[policy]\nlisted_makers = ["hikvison", "dahua"]\n')
    cases = [
        (["--rate", "1e9"], "--rate must be between 1 and 100000"),
        (["--rate", "-5"], "--rate must be between 1 and 100000"),
        (["--timeout", "-1"], "--timeout must be between 0.1 and 120"),
        (["--window", "-1"], "--window must be between 0.1 and 60"),
        (["--concurrency", "0"], "--concurrency must be between 1 and 4096"),
        (["-c", str(cfg)], "more than --max-hosts 16"),
        (["-c", str(typo)], "listed_makers 'hikvison' is not a maker camscan knows"),
        (["-o", str(tmp_path / "no" / "such" / "dir.json")], "cannot write the report"),
    ]
    for extra, needle in cases:
        r = camscan(lab, "scan", "198.18.40.0/24", *extra)
        assert r.returncode == 2, (extra, r.stderr)
        assert needle in r.stderr, (extra, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_routed_off_nothing_is_dropped_silently(lab_factory: LabFactory, tmp_path: Path) -> None:
    # Issue 10: one attached /24 and one that is not: the second must not vanish from the
    # result while the report lists the whole range as scanned.
    lab = lab_factory("mixed")
    out = tmp_path / "r.json"
    r = camscan(lab, "scan", "198.18.40.0/23", "--probes", "arp,sadp", "-f", "json", "-o", str(out))
    if r.returncode == 2:  # camscan refuses up front: said, not dropped
        assert "198.18.41.0/24" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        return
    doc = json.loads(out.read_text())
    parts = {c["network"]: c for c in doc["run"]["coverage"]}
    assert parts["198.18.40.0/24"]["covered"] is True
    assert parts["198.18.41.0/24"]["covered"] is (parts["198.18.41.0/24"]["method"] == "l3")
    if not parts["198.18.41.0/24"]["covered"]:
        assert r.returncode == 3
        assert any("198.18.41.0/24" in g for g in doc["run"]["not_covered"])
