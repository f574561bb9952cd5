"""End to end, as a user runs it: `camscan scan` inside the lab's scanner namespace.

The lab knows what every device is (each persona states its expected verdict), so these tests
hold camscan's answers to that ground truth.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab
from camscan.model import MEDIUM_CONFIDENCE
from tests.conftest import LabFactory
from tests.labtools import guarded_env

pytestmark = pytest.mark.lab

LISTED = {"hikvision", "dahua"}
FLAT_CONFIG = """
[[segment]]
name = "servers"
cidrs = ["198.18.1.0/26"]
zone = "core"

[[segment]]
name = "cctv"
cidrs = ["198.18.1.64/26"]
zone = "sensitive"

[[segment]]
name = "office"
cidrs = ["198.18.1.128/25"]
zone = "general"
"""
CONTRACT_KEYS = {
    "ip",
    "mac",
    "vendor",
    "brand",
    "model",
    "firmware",
    "confidence",
    "evidence",
    "segment",
    "zone",
    "flagged",
}


def camscan(lab: Lab, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "camscan", *args]
    if user == "nobody":  # no capabilities at all, as an ordinary user would run it
        argv = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            *argv,
        ]
    env = guarded_env(lab)
    return lab.run(argv, capture_output=True, text=True, env=env, cwd=Path.cwd(), timeout=300)


def zone_of(ip: str) -> str:
    addr = ipaddress.IPv4Address(ip)
    if addr in ipaddress.IPv4Network("198.18.1.0/26"):
        return "core"
    if addr in ipaddress.IPv4Network("198.18.1.64/26"):
        return "sensitive"
    return "general"


@pytest.fixture(scope="module")
def flat(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> tuple[Lab, Path]:
    cfg = tmp_path_factory.mktemp("flat") / "camscan.toml"
    cfg.write_text(FLAT_CONFIG)
    return lab_factory("flat253"), cfg


@pytest.fixture(scope="module")
def flat_result(flat: tuple[Lab, Path]) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    lab, cfg = flat
    out = cfg.parent / "result.json"
    r = camscan(
        lab,
        "scan",
        "--config",
        str(cfg),
        "--all-segments",
        "--probes",
        "arp",
        "-f",
        "json",
        "-o",
        str(out),
    )
    return r, json.loads(out.read_text())


def test_arp_sweep_finds_all_253_and_attributes_by_oui(flat_result: Any, flat: Any) -> None:
    r, doc = flat_result
    lab = flat[0]
    assert r.returncode == 1, r.stderr  # flagged devices exist
    assert "Traceback" not in r.stderr
    got = {d["ip"]: d for d in doc["devices"]}
    assert len(got) == len(lab.devices) == 253
    for dev in lab.devices:
        d = got[dev.ip]
        assert d["mac"] == dev.mac
        assert d["maker"] == dev.expected_maker, (dev.persona, d["evidence"])
        assert d["vendor"] == (dev.expected_maker if dev.expected_maker in LISTED else None)
        if dev.expected_maker:
            assert d["evidence"][0]["channel"] == "arp.mac"
            assert d["evidence"][0]["signature_id"].startswith("oui.")


def test_oem_badges_from_oui(flat_result: Any, flat: Any) -> None:
    _, doc = flat_result
    lab = flat[0]
    got = {d["ip"]: d for d in doc["devices"]}
    badges = {dev.persona: got[dev.ip]["brand"] for dev in lab.devices}
    assert badges["ezviz"] == "EZVIZ"
    assert badges["lorex"] == "Lorex"
    assert badges["amcrest"] == "Amcrest"
    assert badges["hikvision-ipc"] is None


def test_flags_exactly_the_listed_makers_in_core_and_sensitive(flat_result: Any, flat: Any) -> None:
    _, doc = flat_result
    lab = flat[0]
    got = {d["ip"]: d for d in doc["devices"]}
    for dev in lab.devices:
        d = got[dev.ip]
        zone = zone_of(dev.ip)
        assert d["zone"] == zone
        listed_here = dev.expected_maker in LISTED and zone in ("core", "sensitive")
        # A lone medium hint (Lorex's own OUI: not every Lorex is Dahua-made) is below the
        # default flagging floor: it is a finding for review, never a flag.
        should = listed_here and d["confidence"] >= MEDIUM_CONFIDENCE
        assert d["flagged"] is should, (dev.ip, dev.persona, zone, d["severity"])
        if listed_here and not should:
            assert d["severity"] == "medium", (dev.persona, d["severity"])
        if dev.expected_maker in LISTED and zone == "general":
            assert d["severity"] == "medium"  # reported for review, not flagged
    assert sum(d["flagged"] for d in doc["devices"]) > 0


def test_json_output_matches_the_contract(flat_result: Any) -> None:
    _, doc = flat_result
    assert doc["schema_version"].startswith("1.")
    assert doc["run"]["privileged"] is True
    ips = [ipaddress.IPv4Address(d["ip"]) for d in doc["devices"]]
    assert ips == sorted(ips)
    for d in doc["devices"]:
        assert d.keys() >= CONTRACT_KEYS
        assert d["vendor"] in ("hikvision", "dahua", None)
        assert 0.0 <= d["confidence"] <= 1.0
        for ev in d["evidence"]:
            assert {"signature_id", "channel", "raw", "strength"} <= ev.keys()


def test_without_cap_net_raw_falls_back_and_says_so(flat: tuple[Lab, Path]) -> None:
    lab, _ = flat
    r = camscan(lab, "scan", "198.18.1.0/26", "--probes", "arp", "-f", "json", user="nobody")
    assert r.returncode == 0, r.stderr
    notes = r.stderr.strip().splitlines()
    assert len(notes) == 1
    assert "CAP_NET_RAW" in notes[0]
    doc = json.loads(r.stdout)
    assert doc["run"]["privileged"] is False
    expected = {
        d.ip
        for d in lab.devices
        if ipaddress.IPv4Address(d.ip) in ipaddress.IPv4Network("198.18.1.0/26")
    }
    assert {d["ip"] for d in doc["devices"]} == expected
    macs = {d.ip: d.mac for d in lab.devices}
    assert all(d["mac"] == macs[d["ip"]] for d in doc["devices"])


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["scan"], 2, "camscan scans only what you name"),
        (["scan", "198.18.1.0/24", "--interface", "nope0"], 2, "unknown interface"),
        (["scan", "8.8.8.0/24"], 2, "--allow-public"),
        (["scan", "198.18.99.0/24"], 3, "no interface is attached"),
        (["scan", "198.18.1.0/24", "--config", "/nonexistent.toml"], 2, "no such file"),
        (["scan", "198.18.1.0/24", "--probes", "arp,telnet"], 2, "unknown probe 'telnet'"),
        (["scan", "--segment", "nope"], 2, "no segment named 'nope'"),
    ],
)
def test_bad_input_gives_one_line_and_an_exit_code(
    flat: tuple[Lab, Path], args: list[str], code: int, needle: str
) -> None:
    lab, _ = flat
    r = camscan(lab, *args)
    assert r.returncode == code, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    if code != 2 or args != ["scan"]:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_lab_guard_refuses_outside_the_lab() -> None:
    # Runs in the host namespace: the guard must refuse before anything is sent.
    env = dict(os.environ, CAMSCAN_LAB_GUARD="1")
    r = subprocess.run(
        [sys.executable, "-m", "camscan", "scan", "198.18.1.0/24"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 2
    assert "lab guard: refusing to scan" in r.stderr


# --- identification across every channel (issue 4) and the report contract (issue 5) ---


@pytest.fixture(scope="module")
def mixed(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    lab = lab_factory("mixed")
    out = tmp_path_factory.mktemp("mixed") / "result.json"
    r = camscan(lab, "scan", "198.18.40.0/24", "-f", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr  # no config: nothing is in a core or sensitive segment
    doc = json.loads(out.read_text())
    return {"lab": lab, "doc": doc, "by_ip": {d["ip"]: d for d in doc["devices"]}, "path": out}


def test_every_persona_gets_its_expected_maker(mixed: dict[str, Any]) -> None:
    wrong = []
    for dev in mixed["lab"].devices:
        d = mixed["by_ip"][dev.ip]
        if d["maker"] != dev.expected_maker:
            wrong.append(f"{dev.persona}: expected {dev.expected_maker}, got {d['maker']}")
    assert not wrong, wrong


def test_firmware_verdicts_of_affected_fixed_and_versionless_personas(
    mixed: dict[str, Any],
) -> None:
    """Issue 24: both makers' affected and fixed builds, an Amcrest badge on Dahua-made
    hardware, and a device that reports no version, each get the firmware verdict its persona
    expects, from versions heard in the scan (no extra probe)."""
    checked, wrong = set(), []
    for dev in mixed["lab"].devices:
        if dev.expected_exposure is None:
            continue
        exp = mixed["by_ip"][dev.ip]["exposure"]
        checked.add(dev.persona)
        if exp is None or exp["status"] != dev.expected_exposure:
            wrong.append(f"{dev.persona}: expected {dev.expected_exposure}, got {exp}")
    assert not wrong, wrong
    assert checked >= {"hikvision-ipc", "hik-only-sadp", "dahua-ipc-kev", "dahua-ipc-fixed"}
    assert checked >= {"amcrest-kev", "hik-only-http-server"}
    by_persona = {d.persona: mixed["by_ip"][d.ip] for d in mixed["lab"].devices}
    hik = by_persona["hikvision-ipc"]["exposure"]
    assert hik["summary"].startswith("known exploited (KEV): CVE-2021-36260, fixed in ")
    assert hik["cves"][0]["kev_due"] == "2022-01-24" and hik["cves"][0]["source"]
    dahua = by_persona["dahua-ipc-kev"]["exposure"]
    assert {c["cve"] for c in dahua["cves"]} == {"CVE-2021-33044", "CVE-2021-33045"}
    assert "fixed in 2.800.0000000.29.R.210630" in dahua["summary"]
    amcrest = by_persona["amcrest-kev"]
    assert amcrest["maker"] == "dahua" and amcrest["brand"] == "Amcrest"
    assert [c["cve"] for c in amcrest["exposure"]["cves"]] == ["CVE-2020-5735"]
    assert by_persona["hik-only-http-server"]["exposure"]["summary"] == "version unknown"
    assert by_persona["dahua-ipc-fixed"]["exposure"]["summary"] == (
        "no known advisory for this version"
    )
    for d in mixed["doc"]["devices"]:
        assert "safe" not in ((d.get("exposure") or {}).get("summary") or "")


def test_oem_personas_report_maker_and_badge(mixed: dict[str, Any]) -> None:
    for dev in mixed["lab"].devices:
        d = mixed["by_ip"][dev.ip]
        if dev.expected_badge:
            assert d["brand"] == dev.expected_badge, dev.persona
            assert dev.expected_badge in d["summary"]


def test_single_channel_personas_with_neutral_macs(mixed: dict[str, Any]) -> None:
    singles = [d for d in mixed["lab"].devices if "-only-" in d.persona]
    assert len(singles) >= 8
    for dev in singles:
        d = mixed["by_ip"][dev.ip]
        assert dev.mac.startswith("02:"), dev.persona
        assert d["maker"] == dev.expected_maker, dev.persona
        assert d["confidence_label"] in ("medium", "high")
        assert all(e["channel"] != "arp.mac" for e in d["evidence"] if e["maker"])


def test_lookalikes_are_never_hikvision_or_dahua(mixed: dict[str, Any]) -> None:
    for dev in mixed["lab"].devices:
        if dev.persona in ("axis", "hanwha", "uniview", "xiongmai", "reolink", "generic-goahead"):
            assert mixed["by_ip"][dev.ip]["vendor"] is None, dev.persona


def test_weak_generic_server_alone_makes_no_verdict(mixed: dict[str, Any]) -> None:
    dev = next(d for d in mixed["lab"].devices if d.persona == "generic-goahead")
    d = mixed["by_ip"][dev.ip]
    assert d["maker"] is None
    assert d["confidence"] < 0.5


def test_hostile_personas_cost_only_their_timeout(mixed: dict[str, Any]) -> None:
    run = mixed["doc"]["run"]
    assert run["partial"] is False
    assert run["ended"] - run["started"] < 30
    for dev in mixed["lab"].devices:
        if dev.persona.startswith("hostile-"):
            d = mixed["by_ip"][dev.ip]
            assert d["mac"] == dev.mac  # still discovered and reported
    errors = [
        e
        for dev in mixed["lab"].devices
        if dev.persona.startswith("hostile-")
        for e in mixed["by_ip"][dev.ip]["probe_errors"]
    ]
    # a slow one is cut by its request's deadline or by its host budget (issue 27: the same time)
    assert any(e["kind"] == "timeout" for e in errors)
    assert any("over" in e["error"] for e in errors)  # the huge header was cut at its bound


def test_cron_run_quiet_exit_codes(mixed: dict[str, Any], tmp_path: Path) -> None:
    lab = mixed["lab"]
    cfg = tmp_path / "camscan.toml"
    cfg.write_text(
        '[[segment]]\nname = "cctv"\ncidrs = ["198.18.40.0/24"]\nzone = "sensitive"\n'
        '[scan]\nprobes = ["arp", "sadp", "dhip"]\n'
    )
    r = camscan(lab, "scan", "-c", str(cfg), "--all-segments", "-q")  # no terminal here
    assert r.returncode == 1
    assert r.stderr == ""  # -q silences the chatter; the report asked for still prints
    assert "flagged" in r.stdout.splitlines()[-1]
    cfg.write_text(cfg.read_text().replace('"sensitive"', '"general"'))
    r = camscan(
        lab,
        "scan",
        "-c",
        str(cfg),
        "--all-segments",
        "-q",
        "-f",
        "jsonl",
        "-o",
        str(tmp_path / "out.jsonl"),
    )
    assert r.returncode == 0
    assert r.stdout == "" and r.stderr == ""
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "run"


def test_two_interfaces_discover_devices_on_every_segment(lab_factory: LabFactory) -> None:
    lab = lab_factory("office")
    assert len(lab.interfaces) == 3
    cidrs = sorted({str(ipaddress.IPv4Interface(f"{d.ip}/24").network) for d in lab.devices})
    # Multicast discovery only, unprivileged: replies must come back on every interface.
    r = camscan(lab, "scan", *cidrs, "--probes", "sadp,dhip,wsd", "-f", "json", user="nobody")
    assert r.returncode in (0, 1), r.stderr
    doc = json.loads(r.stdout)
    assert sorted(doc["run"]["interfaces"]) == sorted(lab.interfaces.values())
    seen_on = {d["interface"] for d in doc["devices"]}
    assert seen_on == set(lab.interfaces.values())
    got = {d["ip"]: d for d in doc["devices"]}
    for dev in lab.devices:
        if dev.persona in ("hikvision-ipc", "dahua-ipc", "intelbras", "ezviz"):
            assert got[dev.ip]["maker"] == dev.expected_maker, dev.persona


@pytest.mark.skipif(not Path("/usr/bin/nmap").exists(), reason="nmap not installed")
def test_import_of_real_nmap_output(mixed: dict[str, Any], tmp_path: Path) -> None:
    lab = mixed["lab"]
    wanted = [
        d
        for d in lab.devices
        if d.persona in ("hikvision-ipc", "dahua-ipc", "axis", "hik-only-http-server")
    ]
    xml = tmp_path / "nmap.xml"
    # --version-light and two ports: full -sV costs ~150 s per emulated camera here.
    r = lab.run(
        [
            "nmap",
            "-sV",
            "--version-light",
            "-n",
            "-Pn",
            "-p",
            "80,8000",
            "--max-retries",
            "1",
            "-oX",
            str(xml),
            *[d.ip for d in wanted],
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    imported = subprocess.run(
        [sys.executable, "-m", "camscan", "import", str(xml), "-f", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode in (0, 1), imported.stderr
    got = {d["ip"]: d for d in json.loads(imported.stdout)["devices"]}
    for dev in wanted:
        assert got[dev.ip]["maker"] == dev.expected_maker, (dev.persona, got[dev.ip]["evidence"])


def test_hostile_banners_are_inert_in_every_format(mixed: dict[str, Any]) -> None:
    dev = next(d for d in mixed["lab"].devices if d.persona == "hostile-injection")
    d = mixed["by_ip"][dev.ip]
    assert d["model"] == "<script>document.title='pwned'</script>"  # kept as the device said
    assert d["serial"].startswith("=HYPERLINK")

    def report(fmt: str) -> str:
        r = subprocess.run(
            [
                *(sys.executable, "-m", "camscan", "report", str(mixed["path"])),
                *("-f", fmt, "--fail-on", "never"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    html = report("html")
    assert "<script>document.title" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;document.title" in html  # shown, as text
    rows = list(csv.reader(io.StringIO(report("csv"))))
    cells = [c for row in rows for c in row]
    assert any("HYPERLINK" in c for c in cells)
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert "\x1b" not in report("table")
    for line in report("jsonl").splitlines():
        json.loads(line)


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_demo_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    before = set(
        subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    )
    r = subprocess.run(
        [sys.executable, "-m", "camscan", "demo", "-o", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "CRITICAL" in r.stdout  # the findings table
    right = next(line for line in r.stderr.splitlines() if "makers right for" in line)
    got, total = right.split("makers right for ")[1].split(" ")[0].split("/")
    assert got == total
    doc = json.loads((tmp_path / "demo" / "result.json").read_text())
    flagged = [d["ip"] for d in doc["devices"] if d["flagged"]]
    assert flagged
    html = (tmp_path / "demo" / "report.html").read_text()
    assert all(ip in html for ip in flagged)
    after = set(
        subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    )
    assert after <= before  # the demo's lab is gone
