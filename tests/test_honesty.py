"""Issue 10, without a network: coverage, the honest verdict line, zone by interface, out of
scope, validation before any packet, atomic writes, stopping on a signal.

Each test names the "What is wrong today" bullet it holds camscan to. Addresses here are data;
the CLI tests replace interface selection with a tripwire, so a validation that let a scan
through fails the test instead of sending anything.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import ipaddress
import json
import os
import signal
import subprocess
import sys
import threading
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from camscan import coverage
from camscan.cli.main import app
from camscan.config import ConfigError, check_makers, parse_config
from camscan.errors import ProbeKind
from camscan.model import (
    Device,
    Evidence,
    ProbeError,
    ScanResult,
    ScanRun,
    Segment,
    Severity,
    Strength,
    Verdict,
)
from camscan.netif import Interface
from camscan.policy import PolicySettings, evaluate
from camscan.policy.outcome import NO_ZONES, outcome
from camscan.report import render
from camscan.status import exit_code, settle
from camscan.stopping import Stopped, StopSignal
from camscan.store.results import atomic_write_text, load_result
from camscan.targets import TargetSet

TODAY = date(2026, 6, 1)
FORMATS = ("table", "json", "jsonl", "csv", "html")


def iface(name: str, cidr: str) -> Interface:
    net = ipaddress.IPv4Interface(cidr)
    return Interface(name, 2, "02:00:00:00:00:01", net.ip, net.network)


def hikvision(ip: str, interface: str | None = "eth1", in_scope: bool = True) -> Device:
    sadp = Evidence(
        "hikvision.sadp.probematch",
        "sadp.reply",
        "<ProbeMatch/>",
        "hikvision",
        Strength.STRONG,
        probe="sadp",
    )
    return Device(
        ip=ip,
        mac="44:19:b6:00:00:01",
        interface=interface,
        in_scope=in_scope,
        verdict=Verdict(
            maker="hikvision", confidence=0.95, confidence_label="high", evidence=[sadp]
        ),
    )


def run_of(targets: list[str], probes: list[str]) -> ScanRun:
    return ScanRun(targets=targets, probes=probes, started=0.0, ended=1.0)


def rendered(result: ScanResult, fmt: str) -> str:
    out = io.StringIO()
    render(result, fmt, out, color=False)
    return out.getvalue()


# --- a failed probe stage, and targets dropped without a word ---------------------------------


def test_a_failed_arp_stage_makes_the_run_partial_and_exit_3() -> None:
    # Bullet 1: a failed ARP sweep gave 0 devices and exit 0, silent under -q.
    targets = TargetSet.parse(["198.18.1.0/24"])
    eth0 = iface("eth0", "198.18.1.1/24")
    planned = coverage.plan(targets, [eth0], [], ["arp", "sadp"])
    run = run_of(["198.18.1.0/24"], ["arp", "sadp"])
    run.errors.append(
        ProbeError("arp", "eth0", "ARP sweep failed: [Errno 19] No such device", ProbeKind.OTHER)
    )
    run = settle(run, planned, [])
    assert run.partial is True
    [part] = run.coverage
    assert (part.covered, part.probes) == (False, ["sadp"])
    assert part.failed == ["arp: ARP sweep failed: [Errno 19] No such device"]
    assert run.not_covered == [
        "198.18.1.0/24 (target 198.18.1.0/24, eth0): arp: ARP sweep failed: [Errno 19] No such "
        "device"
    ]
    result = ScanResult(run=run, devices=[])
    assert exit_code(result.findings, result.run) == 3
    assert outcome(result).status == "partial"


def test_a_target_part_no_interface_reaches_is_listed_not_dropped() -> None:
    # Bullet 2: one attached /24 and one not: only the attached half was planned, and the
    # report listed the whole range as scanned.
    targets = TargetSet.parse(["198.18.40.0/23"])
    planned = coverage.plan(targets, [iface("eth0", "198.18.40.1/24")], [], ["arp"])
    assert [(c.network, c.method, c.planned) for c in planned] == [
        ("198.18.40.0/24", "arp", 253),  # not the interface's own, network or broadcast
        ("198.18.41.0/24", "none", 0),
    ]
    run = run_of(["198.18.40.0/23"], ["arp"])
    run = settle(run, planned, [Device("198.18.40.7")])
    assert [c.covered for c in run.coverage] == [True, False]
    assert (run.coverage[0].probed, run.coverage[0].answered) == (253, 1)
    assert planned[0].answered == 0  # the plan is left as it was
    assert run.partial and run.not_covered[0].startswith("198.18.41.0/24 (target 198.18.40.0/23)")
    # With the l3 probe (routed targets) the far part is planned off-link, not dropped.
    routed = coverage.plan(targets, [iface("eth0", "198.18.40.1/24")], [], ["arp", "l3"])
    assert [(c.method, c.probes) for c in routed] == [("arp", ["arp"]), ("l3", ["l3"])]


def test_a_routed_segment_that_gave_nothing_is_not_called_covered() -> None:
    # Off-link, a firewall that drops every probe looks exactly like an empty VLAN; calling the
    # CCTV VLAN "covered, 0 devices" would be a false clean. Judged per segment: the office
    # answered, the CCTV VLAN did not; parts in no segment are judged together.
    cctv = Segment(name="cctv", cidrs=["198.18.61.0/24"], zone="sensitive")
    office = Segment(name="office", cidrs=["198.18.62.0/24"], zone="general")
    targets = TargetSet.parse(["198.18.61.0/24", "198.18.62.0/24", "198.18.64.0/24"])
    planned = coverage.plan(targets, [], [cctv, office], ["l3"])
    run = run_of([str(n) for n in targets.networks], ["l3"])
    run = settle(run, planned, [Device("198.18.62.7")])
    assert [(c.network, c.covered) for c in run.coverage] == [
        ("198.18.61.0/24", False),
        ("198.18.62.0/24", True),
        ("198.18.64.0/24", False),
    ]
    assert run.coverage[0].note == coverage.SILENT_ROUTED and run.partial
    assert any(g.startswith("198.18.61.0/24") for g in run.not_covered)
    # Outside every segment, a quiet corner of a range that answered elsewhere is just empty.
    planned = coverage.plan(TargetSet.parse(["198.18.61.200-215"]), [], [], ["l3"])
    assert len(planned) == 2  # the range is two CIDRs: .200/29 and .208/29
    run = run_of(["198.18.61.200-215"], ["l3"])
    run = settle(run, planned, [Device("198.18.61.201")])
    assert all(c.covered for c in run.coverage) and not run.partial


def test_a_signal_stop_is_not_covered_in_every_part() -> None:
    planned = coverage.plan(
        TargetSet.parse(["198.18.1.0/24"]), [iface("eth0", "198.18.1.1/24")], [], ["arp"]
    )
    run = run_of(["198.18.1.0/24"], ["arp"])
    run.stopped = "SIGTERM during discovery"
    run = settle(run, planned, [])
    assert run.partial and "stopped: SIGTERM during discovery" in run.not_covered[0]


# --- listed makers ----------------------------------------------------------------------------


def test_a_typo_in_listed_makers_is_an_error_listing_the_known_makers(tmp_path: Path) -> None:
    # Bullet 3: "hikvison" passed `config check`, then rated Hikvision cameras on core INFO.
    with pytest.raises(ConfigError) as e:
        check_makers(["hikvison", "dahua"], "config", {"hikvision", "dahua", "axis"})
    assert "listed_makers 'hikvison' is not a maker camscan knows" in str(e.value)
    assert "did you mean 'hikvision'?" in str(e.value)
    assert "known: axis, dahua, hikvision" in str(e.value)
    with pytest.raises(ConfigError, match="'hikvison' is not a maker camscan knows"):
        parse_config(tomllib.loads('[policy]\nlisted_makers = ["hikvison", "dahua"]'))
    path = tmp_path / "camscan.toml"
    path.write_text('[policy]\nlisted_makers = ["hikvison", "dahua"]\n')
    r = CliRunner().invoke(app, ["config", "check", str(path)], prog_name="camscan")
    assert r.exit_code == 2
    assert "'hikvison' is not a maker camscan knows" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_every_command_refuses_a_typo_in_listed_makers_the_same_way(tmp_path: Path) -> None:
    """Issue 20: only scan and `config check` checked the names; `identify` with "hikvison"
    rated a Hikvision on a core segment info, exit 0, and import and sweep skipped it too. The
    check now sits in loading the config, so every command says the same one line, exit 2.
    (scan: tests/test_honesty_lab.py, against the lab.)"""
    cfg = tmp_path / "camscan.toml"
    cfg.write_text(
        '[[segment]]\nname = "cctv"\ncidrs = ["198.18.40.0/24"]\nzone = "core"\n\n'
        '[policy]\nlisted_makers = ["hikvison", "dahua"]\n'
    )
    nosegs = tmp_path / "nosegs.toml"  # sweep: fails safe (no segment to scan) without the check
    nosegs.write_text('[policy]\nlisted_makers = ["hikvison", "dahua"]\n')
    banner = tmp_path / "banner.jsonl"
    banner.write_text(
        json.dumps({"channel": "http.header.server", "raw": "App-webs/", "ip": "198.18.40.5"})
        + "\n"
    )
    nmap_xml = tmp_path / "scan.xml"
    nmap_xml.write_text('<?xml version="1.0"?><nmaprun></nmaprun>\n')
    db = str(tmp_path / "runs.db")
    commands = [
        ["config", "check", str(cfg)],
        ["identify", "-c", str(cfg), str(banner)],
        ["import", "-c", str(cfg), str(nmap_xml)],
        ["sweep", "-c", str(nosegs), "--db", db],
        ["history", "-c", str(cfg), "--db", db],
        ["diff", "-c", str(cfg), "--db", db],
    ]
    lines = set()
    for argv in commands:
        r = CliRunner().invoke(app, argv, prog_name="camscan")
        assert r.exit_code == 2, (argv, r.stdout, r.stderr)
        assert "listed_makers 'hikvison' is not a maker camscan knows" in r.stderr, argv
        assert len(r.stderr.strip().splitlines()) == 1, (argv, r.stderr)
        assert not r.stdout, argv  # nothing rated, nothing reported
        lines.add(r.stderr.strip().replace(str(nosegs), str(cfg)))
    assert len(lines) == 1, lines  # the same line from every command


# --- the verdict line -------------------------------------------------------------------------


def test_no_segments_is_never_a_green_clean_in_any_format() -> None:
    # Bullet 4: no segments configured ended with a green "No device needs action" and exit 0.
    planned = coverage.plan(
        TargetSet.parse(["198.18.1.0/24"]), [iface("eth0", "198.18.1.1/24")], [], ["arp"]
    )
    run = run_of(["198.18.1.0/24"], ["arp"])
    run = settle(run, planned, [])
    result = ScanResult(run=run, devices=[])
    assert (outcome(result).status, outcome(result).text) == ("not_assessed", NO_ZONES)
    for fmt in FORMATS:
        text = rendered(result, fmt)
        assert NO_ZONES in text, fmt
        assert "No device needs action" not in text, fmt
    # The verdict comes first: the table's first line, the JSONL's first record, the CSV's first
    # row, the JSON's third key (after the version and the tool).
    assert rendered(result, "table").splitlines()[0] == f"camscan verdict: {NO_ZONES}"
    assert json.loads(rendered(result, "jsonl").splitlines()[0])["type"] == "verdict"
    assert next(csv.DictReader(io.StringIO(rendered(result, "csv"))))["record"] == "verdict"
    assert list(json.loads(rendered(result, "json")))[2] == "verdict"


def test_segments_that_no_target_reaches_assess_nothing() -> None:
    segs = [Segment("hq", ["198.18.9.0/24"], "core")]
    planned = coverage.plan(
        TargetSet.parse(["198.18.1.0/24"]), [iface("eth0", "198.18.1.1/24")], segs, ["arp"]
    )
    run = run_of(["198.18.1.0/24"], ["arp"])
    run = settle(run, planned, [])
    verdict = outcome(ScanResult(run=run, devices=[], segments=segs))
    assert verdict.status == "not_assessed"
    assert verdict.text.startswith("no zone assessed")


def test_clean_names_the_zones_it_assessed_and_partial_is_never_clean() -> None:
    segs = [Segment("hq", ["198.18.1.0/24"], "core")]
    planned = coverage.plan(
        TargetSet.parse(["198.18.1.0/24"]), [iface("eth0", "198.18.1.1/24")], segs, ["arp"]
    )
    run = run_of(["198.18.1.0/24"], ["arp"])
    run = settle(run, planned, [])
    result = ScanResult(run=run, devices=[], segments=segs)
    assert outcome(result).text == (
        "No device needs action under the policy in the zones assessed: hq (core)"
    )
    run.not_covered, run.partial = ["198.18.1.0/24 (target 198.18.1.0/24, eth0): arp: x"], True
    assert outcome(result).status == "partial"
    assert "not a clean result" in outcome(result).text


# --- zone by interface, out of scope ----------------------------------------------------------


SEGMENTS = [
    Segment("core", ["198.18.10.0/24"], "core", interfaces=["eth1"]),
    Segment("cctv", ["198.18.20.0/24"], "sensitive", interfaces=["eth2.20"]),
]


def test_a_factory_address_camera_heard_on_a_core_interface_is_flagged() -> None:
    # Bullet 6: Hikvision on 192.0.0.64 heard on the core interface came out "outside every
    # segment", not flagged. (192.0.0.64 is data here: nothing is sent to it.)
    [f] = evaluate(
        [hikvision("192.0.0.64", "eth1", in_scope=False)], SEGMENTS, PolicySettings(), [], TODAY
    )
    assert (f.segment, f.zone, f.segment_by) == ("core", "core", "interface")
    assert (f.severity, f.flagged) == (Severity.CRITICAL, True)
    assert "192.0.0.64 is the Hikvision factory-default address" in f.rationale
    [dahua] = evaluate(
        [hikvision("192.168.1.108", "eth2.20")], SEGMENTS, PolicySettings(), [], TODAY
    )
    assert (dahua.segment, dahua.severity) == ("cctv", Severity.HIGH)  # a VLAN interface


def test_the_address_decides_first_and_an_unnamed_interface_gives_a_hint() -> None:
    [by_address] = evaluate(
        [hikvision("198.18.20.5", "eth1")], SEGMENTS, PolicySettings(), [], TODAY
    )
    assert (by_address.segment, by_address.segment_by) == ("cctv", "address")
    [stray] = evaluate([hikvision("192.0.0.64", "eth9")], SEGMENTS, PolicySettings(), [], TODAY)
    assert (stray.segment, stray.flagged) == (None, False)
    assert 'name interface eth9 in its segment (interfaces = ["eth9"])' in stray.rationale


def test_config_segments_name_interfaces_once() -> None:
    cfg = parse_config(
        tomllib.loads(
            '[[segment]]\nname="core"\ncidrs=["198.18.10.0/24"]\nzone="core"\ninterfaces=["eth1"]'
        )
    )
    assert cfg.segments[0].interfaces == ["eth1"]
    for bad, needle in [
        ('interfaces=["eth 1"]', "is not an interface name"),
        ('interfaces="eth1"', "interfaces must be a list of strings"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            parse_config(
                tomllib.loads(f'[[segment]]\nname="a"\ncidrs=["198.18.1.0/24"]\nzone="core"\n{bad}')
            )
    with pytest.raises(ConfigError, match="named by segments 'a' and 'b'"):
        parse_config(
            tomllib.loads(
                '[[segment]]\nname="a"\ncidrs=["198.18.1.0/24"]\nzone="core"\ninterfaces=["eth1"]\n'
                '[[segment]]\nname="b"\ncidrs=["198.18.2.0/24"]\nzone="general"\n'
                'interfaces=["eth1"]'
            )
        )


def test_out_of_scope_devices_are_their_own_section_in_every_format() -> None:
    # Bullet 7: devices heard by multicast from outside the targets were counted: a scan of one
    # address reported 31 devices.
    scanned = hikvision("198.18.10.5")
    outside = [hikvision(f"198.18.30.{n}", "eth0", in_scope=False) for n in range(1, 31)]
    devices = [scanned, *outside]
    findings = list(evaluate(devices, SEGMENTS, PolicySettings(), [], TODAY))
    assert [f.device_ip for f in findings] == ["198.18.10.5"]  # the others are not assessed
    result = ScanResult(
        run=run_of(["198.18.10.5/32"], ["sadp"]),
        devices=devices,
        findings=findings,
        segments=SEGMENTS,
    )
    doc = json.loads(rendered(result, "json"))
    assert (doc["summary"]["devices"], doc["summary"]["out_of_scope"]) == (1, 30)
    assert [d["ip"] for d in doc["devices"]] == ["198.18.10.5"]
    assert len(doc["out_of_scope"]) == 30
    kinds = [json.loads(x)["type"] for x in rendered(result, "jsonl").splitlines()]
    assert kinds.count("device") == 1 and kinds.count("out_of_scope") == 30
    rows = list(csv.DictReader(io.StringIO(rendered(result, "csv"))))
    assert [r["record"] for r in rows].count("out_of_scope") == 30
    assert "Out of scope, not assessed (30" in rendered(result, "table")
    assert "1 devices, 1 identified" in rendered(result, "table")
    assert 'id="out-of-scope"' in rendered(result, "html")


def test_a_saved_result_keeps_coverage_verdict_and_out_of_scope(tmp_path: Path) -> None:
    planned = coverage.plan(
        TargetSet.parse(["198.18.10.0/23"]), [iface("eth1", "198.18.10.1/24")], SEGMENTS, ["arp"]
    )
    run = run_of(["198.18.10.0/23"], ["arp"])
    devices = [hikvision("198.18.10.5"), hikvision("198.18.50.1", "eth0", in_scope=False)]
    run = settle(run, planned, devices)
    findings = list(evaluate(devices, SEGMENTS, PolicySettings(), [], TODAY))
    result = ScanResult(run=run, devices=devices, findings=findings, segments=SEGMENTS)
    path = tmp_path / "r.json"
    path.write_text(rendered(result, "json"))
    again = load_result(path)
    assert again.run.coverage == run.coverage and again.run.not_covered == run.not_covered
    assert [d.in_scope for d in again.devices] == [True, False]
    assert again.segments[0].interfaces == ["eth1"]
    assert rendered(again, "json") == rendered(result, "json")


# --- validation before any packet -------------------------------------------------------------


@pytest.fixture
def no_packets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Interface selection and the pipeline are tripwires: reaching them fails the test."""

    def tripwire(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("validation let the scan reach the network")

    monkeypatch.setattr("camscan.netif.select_interfaces", tripwire)
    monkeypatch.setattr("camscan.pipeline.scan", tripwire)
    monkeypatch.delenv("CAMSCAN_LAB_GUARD", raising=False)
    monkeypatch.setenv("CAMSCAN_CONFIG", "")


def scan(*args: str) -> Any:
    r = CliRunner().invoke(app, ["scan", *args], prog_name="camscan")
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        # Bullet 8: --rate 1e9 removed pacing, --rate -5 stalled, --timeout -1 was an internal
        # error, --window -1 was accepted.
        (["--rate", "1e9"], "--rate must be between 1 and 100000 packets/s, got 1000000000.0"),
        (["--rate", "-5"], "--rate must be between 1 and 100000"),
        (["--rate", "nan"], "--rate must be between 1 and 100000"),
        (["--timeout", "-1"], "--timeout must be between 0.1 and 120 s"),
        (["--window", "-1"], "--window must be between 0.1 and 60 s"),
        (["--concurrency", "0"], "--concurrency must be between 1 and 4096"),
        (["--host-rate", "0"], "--host-rate must be between 1 and 10000"),
        # Bullet 9: a bad -o was found only after the scan.
        (["-o", "/nonexistent/dir/r.json"], "cannot write the report to /nonexistent/dir/r.json"),
    ],
)
def test_bad_values_are_one_line_and_exit_2_before_any_packet(
    no_packets: None, args: list[str], needle: str
) -> None:
    r = scan("192.0.2.0/24", *args)
    assert r.exit_code == 2, r.stderr
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_max_hosts_from_the_config_is_applied(no_packets: None, tmp_path: Path) -> None:
    # Bullet 8: [scan] max_hosts was validated, then ignored.
    cfg = tmp_path / "camscan.toml"
    cfg.write_text("[scan]\nmax_hosts = 16\n")
    r = scan("192.0.2.0/24", "-c", str(cfg))
    assert r.exit_code == 2
    assert "more than --max-hosts 16" in r.stderr


def test_config_and_flags_share_one_set_of_bounds() -> None:
    for key, value in [
        ("rate", 0),
        ("discovery_window", 61),
        ("timeout", 0.01),
        ("concurrency", 5000),
        ("max_hosts", 0),
        ("host_rate", 0),
    ]:
        with pytest.raises(ConfigError, match=f"{key} must be between"):
            parse_config({"scan": {key: value}})


def test_bad_signature_data_is_found_before_discovery(
    no_packets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bullet 9: signatures and OUI data loaded after discovery: one bad edit lost the run.
    from camscan.identify.signatures import SignatureDB, SignatureError

    def broken(*_a: Any, **_k: Any) -> SignatureDB:
        raise SignatureError(["signatures/hikvision.toml: signature 3: bad regex", "second"])

    monkeypatch.setattr(SignatureDB, "load", classmethod(broken))
    r = scan("192.0.2.0/24")
    assert r.exit_code == 2
    assert "signature data: signatures/hikvision.toml: signature 3: bad regex (and 1 more)" in (
        r.stderr
    )


# --- atomic writes and signals ----------------------------------------------------------------


def test_a_report_that_fails_to_render_leaves_the_previous_one(tmp_path: Path) -> None:
    # Bullet 9/10: reports were written in place, the file opened with "w" before rendering.
    from camscan.cli.output import Output, write_outputs

    path = tmp_path / "report.json"
    path.write_text("previous report\n")
    result = ScanResult(run=run_of([], []), devices=[])

    class Exploding(Exception):
        pass

    def explode(*_a: Any, **_k: Any) -> None:
        raise Exploding

    import camscan.report as report

    original = report.render
    report.render = explode
    try:
        with pytest.raises(Exploding):
            write_outputs(result, [Output("json", path)], None)
    finally:
        report.render = original
    assert path.read_text() == "previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


WRITER = """
import sys, time
from pathlib import Path
from camscan.store.outfile import atomic_write

def write(out):
    out.write("half of a new report")
    out.flush()
    Path(sys.argv[2]).write_text("ready")
    time.sleep(60)

atomic_write(Path(sys.argv[1]), write)
"""


def test_kill_9_while_writing_never_replaces_the_previous_report(tmp_path: Path) -> None:
    # Bullet 10: kill -9 while the report was written left a 0-byte file in its place.
    path, ready = tmp_path / "report.html", tmp_path / "ready"
    path.write_text("previous report\n")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(ready)])
    try:
        for _ in range(600):  # waits for the writer to be midway; not a timed assertion
            if ready.exists() or proc.poll() is not None:
                break
            threading.Event().wait(0.05)
        assert ready.exists()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert path.read_text() == "previous report\n"
    atomic_write_text(path, "new report\n")
    assert path.read_text() == "new report\n"


def test_a_stop_cancels_the_running_stage_and_keeps_what_it_found() -> None:
    stop = StopSignal()
    found: list[str] = []

    async def stage() -> None:
        found.append("first")
        threading.Timer(0.05, stop.trip, args=("SIGTERM",)).start()
        await asyncio.sleep(3600)  # a stage that would never end on its own

    with pytest.raises(Stopped, match="SIGTERM during discovery"):
        stop.run("discovery", stage())
    assert found == ["first"] and stop.stopped

    async def never() -> None:
        raise AssertionError("ran after the stop")

    with pytest.raises(Stopped):  # later stages do not start at all
        stop.run("banners", never())


def test_signal_handlers_are_installed_and_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stop = StopSignal()
    stop.install()
    try:
        assert signal.getsignal(signal.SIGTERM) is not before
        os.kill(os.getpid(), signal.SIGTERM)  # handled: sets the flag, does not kill us
        stop.event.wait(5)
        assert stop.signal_name == "SIGTERM"
    finally:
        stop.restore()
    assert signal.getsignal(signal.SIGTERM) == before


def test_coverage_is_plain_data() -> None:
    entry = coverage.plan(TargetSet.parse(["198.18.1.0/30"]), [], [], ["arp"])[0]
    assert dataclasses.asdict(entry)["method"] == "none"
