"""The whole statement: any maker's surveillance equipment on core networks (instruction 2),
finding types, removal deadlines and overdue devices, and the narrow reading as a switch."""

from __future__ import annotations

import dataclasses
import itertools
import json
import tomllib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.config import ConfigError, parse_config
from camscan.contract import result_to_contract
from camscan.model import (
    Device,
    Equipment,
    Finding,
    ScanResult,
    ScanRun,
    Segment,
    Severity,
    Verdict,
)
from camscan.policy import (
    LISTED_MAKER,
    SURVEILLANCE_ON_CORE,
    ExceptionEntry,
    PolicySettings,
    evaluate,
    evaluate_result,
    finding_label,
)
from camscan.policy.outcome import outcome
from camscan.status import exit_code
from camscan.store.results import result_from_contract

TODAY = date(2025, 6, 1)
SEGMENTS = [
    Segment("hq-core", ["198.18.0.0/24"], "core"),
    Segment("finance", ["198.18.1.0/24"], "sensitive"),
    Segment("annex", ["198.18.2.0/24"], "sensitive", deadline="2026-01-31"),
    Segment("car-park", ["198.18.3.0/24"], "general"),
]
CAMERA = Equipment("camera", "yes", 0.9, "high", ["class.dhip.deviceclass.ipc"])
RECORDER = Equipment("recorder", "yes", 0.9, "high", ["class.wsd.types.nvs"], channels=16)
PRINTER = Equipment("other", "no", 0.9, "high", ["class.wsd.types.print-scan"])
LOW = Equipment("camera", "unknown", 0.55, "low", ["hikvision.http.server.app-webs"])


def _mac(ip: str) -> str:
    a, b, c, d = (int(x) for x in ip.split("."))
    return f"02:00:{a:02x}:{b:02x}:{c:02x}:{d:02x}"


def device(ip: str, maker: str | None, eq: Equipment, confidence: float = 0.95) -> Device:
    label = "high" if confidence >= 0.85 else "medium" if confidence >= 0.7 else "low"
    verdict = Verdict(
        maker=maker,
        confidence=confidence if maker else 0.0,
        confidence_label=label if maker else "none",
        equipment=eq,
    )
    return Device(ip=ip, mac=_mac(ip), verdict=verdict)


def judge(
    dev: Device,
    policy: PolicySettings | None = None,
    today: date = TODAY,
    exc: Sequence[ExceptionEntry] = (),
) -> Finding:
    [finding] = evaluate([dev], SEGMENTS, policy or PolicySettings(), list(exc), today)
    return finding


def test_any_makers_camera_on_the_core_is_flagged_high() -> None:
    f = judge(device("198.18.0.10", "axis", CAMERA))
    assert (f.severity, f.flagged, f.finding_type) == (Severity.HIGH, True, SURVEILLANCE_ON_CORE)
    assert "Visual surveillance equipment (camera" in f.rationale
    assert "made by Axis" in f.rationale and "instruction 2" in f.rationale
    assert finding_label(f) == "surveillance equipment on the core network (Axis)"


def test_a_white_label_camera_with_no_maker_is_flagged_on_the_core() -> None:
    f = judge(device("198.18.0.11", None, CAMERA))
    assert (f.severity, f.flagged, f.finding_type) == (Severity.HIGH, True, SURVEILLANCE_ON_CORE)
    assert "a maker no signature names" in f.rationale


def test_a_recorder_on_the_core_names_its_channels() -> None:
    f = judge(device("198.18.0.12", None, RECORDER))
    assert f.flagged and "16 channels: up to 16 cameras out of the network's sight" in f.rationale


@pytest.mark.parametrize("eq", [PRINTER, LOW, Equipment()], ids=["other", "one-hint", "unknown"])
def test_what_is_not_known_surveillance_is_not_flagged_on_the_core(eq: Equipment) -> None:
    f = judge(device("198.18.0.13", None, eq))
    assert (f.severity, f.flagged, f.finding_type) == (Severity.INFO, False, None)


def test_the_any_maker_rule_is_for_the_core_only() -> None:
    for ip in ("198.18.1.10", "198.18.3.10", "198.19.0.1"):
        f = judge(device(ip, "axis", CAMERA))
        assert (f.severity, f.flagged) == (Severity.INFO, False), ip


def test_listed_makers_keep_their_rule_and_severity() -> None:
    core = judge(device("198.18.0.20", "hikvision", CAMERA))
    assert (core.severity, core.flagged, core.finding_type) == (
        Severity.CRITICAL,
        True,
        LISTED_MAKER,
    )
    assert finding_label(core) == "listed maker on the core network (Hikvision)"
    site = judge(device("198.18.1.20", "dahua", RECORDER))
    assert (site.severity, site.flagged, site.finding_type) == (Severity.HIGH, True, LISTED_MAKER)
    assert finding_label(site) == "listed maker at a sensitive site (Dahua)"
    review = judge(device("198.18.3.20", "hikvision", CAMERA))
    assert (review.severity, review.flagged) == (Severity.MEDIUM, False)


def test_a_low_confidence_listed_maker_known_as_a_camera_is_flagged_by_the_core_rule() -> None:
    f = judge(device("198.18.0.21", "hikvision", CAMERA, confidence=0.55))
    assert (f.severity, f.flagged, f.finding_type) == (Severity.HIGH, True, SURVEILLANCE_ON_CORE)


def test_exceptions_work_for_both_rules() -> None:
    axis = device("198.18.0.30", "axis", CAMERA)
    hik = device("198.18.0.31", "hikvision", CAMERA)
    for dev in (axis, hik):
        exc = ExceptionEntry("replacement ordered", "CISO", date(2025, 12, 31), mac=dev.mac)
        f = judge(dev, exc=[exc])
        assert (f.severity, f.flagged, f.exception) == (
            Severity.ACCEPTED,
            False,
            "replacement ordered",
        )
        assert f.finding_type is not None and not f.overdue
        later = judge(dev, today=date(2026, 1, 1), exc=[exc])
        assert later.flagged and "expired on 2025-12-31" in later.rationale


def test_deadlines_per_zone_and_segment_make_flagged_devices_overdue() -> None:
    policy = PolicySettings(deadlines={"sensitive": date(2025, 4, 26), "core": date(2027, 1, 1)})
    past = judge(device("198.18.1.40", "hikvision", CAMERA), policy)
    assert (past.flagged, past.deadline, past.overdue) == (True, "2025-04-26", True)
    assert "has passed: OVERDUE" in past.rationale
    own = judge(device("198.18.2.40", "hikvision", CAMERA), policy)  # the segment's own date wins
    assert (own.deadline, own.overdue) == ("2026-01-31", False)
    core = judge(device("198.18.0.40", "axis", CAMERA), policy)
    assert (core.deadline, core.overdue) == ("2027-01-01", False)
    review = judge(device("198.18.3.40", "hikvision", CAMERA), policy)  # not flagged: no date
    assert (review.deadline, review.overdue) == (None, False)
    on_the_day = judge(device("198.18.1.41", "hikvision", CAMERA), policy, today=date(2025, 4, 26))
    assert on_the_day.overdue is False


# --- the narrow reading restores today's flags exactly ------------------------------------------

MAKERS = ["hikvision", "dahua", "axis", None]
KINDS = [CAMERA, RECORDER, PRINTER, LOW, Equipment()]
IPS = ["198.18.0.{n}", "198.18.1.{n}", "198.18.2.{n}", "198.18.3.{n}", "198.19.0.{n}"]
CONFIDENCES = [0.95, 0.55]


def _grid() -> list[Device]:
    devices = []
    for n, (maker, eq, ip, conf) in enumerate(itertools.product(MAKERS, KINDS, IPS, CONFIDENCES)):
        devices.append(device(ip.format(n=n % 250 + 1), maker, eq, conf))
    return devices


def test_turning_the_any_maker_rule_off_restores_the_listed_maker_findings_exactly() -> None:
    devices = _grid()
    exceptions = [ExceptionEntry("kept", "CISO", date(2025, 12, 31), mac=devices[3].mac)]
    policy = PolicySettings(deadlines={"sensitive": date(2025, 4, 26)})
    narrow = dataclasses.replace(policy, core_any_maker=False)
    off = evaluate(devices, SEGMENTS, narrow, exceptions, TODAY)
    # Before classes existed no device had one: the same devices without their class, judged
    # with the rule on, are what camscan flagged before this rule.
    blind = [
        dataclasses.replace(d, verdict=dataclasses.replace(d.verdict, equipment=Equipment()))
        for d in devices
    ]
    before = evaluate(blind, SEGMENTS, policy, exceptions, TODAY)
    assert off == before
    assert all(f.finding_type != SURVEILLANCE_ON_CORE for f in off)
    on = evaluate(devices, SEGMENTS, policy, exceptions, TODAY)
    changed = [(a, b) for a, b in zip(off, on, strict=True) if a != b]
    assert changed  # the rule does something on this grid
    for a, b in changed:  # and only to core devices known as surveillance equipment
        assert a.zone == "core" and not a.flagged and b.finding_type == SURVEILLANCE_ON_CORE


# --- config, verdict line, exit code, contract ----------------------------------------------------

CONFIG = """
[[segment]]
name = "hq-core"
cidrs = ["198.18.0.0/24"]
zone = "core"
[[segment]]
name = "finance"
cidrs = ["198.18.1.0/24"]
zone = "sensitive"
deadline = 2025-04-26
[policy]
core_any_maker = false
core_any_maker_severity = "critical"
[policy.deadlines]
Sensitive = 2024-04-26
"""


def test_config_reads_the_rule_switch_and_deadlines() -> None:
    cfg = parse_config(tomllib.loads(CONFIG))
    assert (cfg.policy.core_any_maker, cfg.policy.core_any_maker_severity) == (False, "critical")
    assert cfg.policy.deadlines == {"sensitive": "2024-04-26"}
    assert cfg.segments[1].deadline == "2025-04-26"
    defaults = parse_config({})
    assert (defaults.policy.core_any_maker, defaults.policy.deadlines) == (True, {})


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("[policy]\ncore_any_maker = 1", "core_any_maker must be bool"),
        ('[policy]\ncore_any_maker_severity = "info"', "core_any_maker_severity 'info'"),
        ('[policy.deadlines]\nsensitive = "soon"', "deadlines must be a table of zone = date"),
        (
            '[[segment]]\nname = "a"\ncidrs = ["198.18.0.0/24"]\nzone = "core"\ndeadline = "x"',
            "deadline must be a date",
        ),
    ],
)
def test_bad_rule_settings_are_one_line_errors(snippet: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(tomllib.loads(snippet))


def _result(devices: list[Device], config_text: str = "", today: date = TODAY) -> ScanResult:
    cfg = parse_config(tomllib.loads(config_text)) if config_text else parse_config({})
    cfg.segments = SEGMENTS if not config_text else cfg.segments
    result = ScanResult(
        run=ScanRun(targets=[], probes=[], started=0.0), devices=devices, segments=cfg.segments
    )
    result.findings = list(evaluate_result(result, cfg, today))
    return result


def test_the_verdict_line_counts_both_types_and_overdue() -> None:
    text = "[policy.deadlines]\nsensitive = 2025-04-26\n" + "".join(
        f'[[segment]]\nname = "{s.name}"\ncidrs = {s.cidrs!r}\nzone = "{s.zone}"\n'.replace(
            "'", '"'
        )
        for s in SEGMENTS
    )
    result = _result(
        [
            device("198.18.0.50", "axis", CAMERA),
            device("198.18.0.51", None, RECORDER),
            device("198.18.1.52", "hikvision", CAMERA),
            device("198.18.0.53", None, PRINTER),
        ],
        text,
    )
    line = outcome(result).text
    assert line.startswith("3 devices must be acted on under the policy")
    assert "(1 listed maker, 2 surveillance equipment on the core network; 1 OVERDUE)" in line
    assert exit_code(result.findings, result.run, "overdue") == 1
    assert exit_code(result.findings, result.run, "flagged") == 1
    calm = _result([device("198.18.0.50", "axis", CAMERA)], text)
    assert exit_code(calm.findings, calm.run, "overdue") == 0


def test_the_contract_carries_class_finding_type_deadline_and_hidden_cameras() -> None:
    text = "[policy.deadlines]\nsensitive = 2025-04-26\n" + "".join(
        f'[[segment]]\nname = "{s.name}"\ncidrs = ["{s.cidrs[0]}"]\nzone = "{s.zone}"\n'
        for s in SEGMENTS
    )
    result = _result(
        [device("198.18.0.60", None, RECORDER), device("198.18.1.61", "dahua", RECORDER)], text
    )
    doc = result_to_contract(result)
    first, second = doc["devices"]
    assert (first["equipment_class"], first["surveillance"], first["recorder_channels"]) == (
        "recorder",
        "yes",
        16,
    )
    assert (first["finding_type"], first["overdue"]) == (SURVEILLANCE_ON_CORE, False)
    assert (second["finding_type"], second["deadline"], second["overdue"]) == (
        LISTED_MAKER,
        "2025-04-26",
        True,
    )
    hidden = doc["summary"]["hidden_cameras"]
    assert hidden == {
        "recorders": 2,
        "channels": 32,
        "note": "up to 32 cameras out of the network's sight behind recorders",
    }
    assert doc["summary"]["devices"] == 2  # channels are never counted as devices
    assert doc["summary"]["overdue"] == 1
    back = result_from_contract(doc)
    assert back.devices[0].verdict.equipment == result.devices[0].verdict.equipment
    assert back.findings == result.findings


def test_config_check_explains_both_readings_and_cites_the_statement(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from camscan.cli.main import app

    for extra, reading in (
        ("", "read as written"),
        ("[policy]\ncore_any_maker = false\n", "read narrowly"),
    ):
        path = tmp_path / "c.toml"
        path.write_text(CONFIG.split("[policy]")[0] + extra, encoding="utf-8")
        r = CliRunner().invoke(app, ["config", "check", str(path)])
        assert r.exit_code == 0, r.output
        assert "Departments are also instructed to not connect visual surveillance" in r.output
        assert reading in r.output
        assert "core_any_maker = " in r.output
        assert "segment finance 2025-04-26" in r.output


def _statement_result() -> ScanResult:
    text = "[policy.deadlines]\nsensitive = 2025-04-26\n" + "".join(
        f'[[segment]]\nname = "{s.name}"\ncidrs = ["{s.cidrs[0]}"]\nzone = "{s.zone}"\n'
        for s in SEGMENTS
    )
    return _result(
        [
            device("198.18.0.70", "axis", CAMERA),
            device("198.18.0.71", None, RECORDER),
            device("198.18.1.72", "hikvision", CAMERA),
            device("198.18.0.73", None, PRINTER),
        ],
        text,
    )


def _render(result: ScanResult, fmt: str) -> str:
    import io

    from camscan.report import render

    out = io.StringIO()
    render(result, fmt, out)
    return out.getvalue()


def test_every_format_names_the_finding_type_class_deadline_and_hidden_cameras() -> None:
    result = _statement_result()
    html = _render(result, "html")
    assert "surveillance equipment on the core network (Axis)" in html
    assert "listed maker at a sensitive site (Hikvision)" in html
    assert "OVERDUE since 2025-04-26" in html
    assert "up to 16 cameras out of the network&#39;s sight behind recorders" in html
    lines = [json.loads(line) for line in _render(result, "jsonl").splitlines()]
    devices = {d["ip"]: d for d in lines if d["type"] == "device"}
    assert devices["198.18.0.70"]["finding_type"] == SURVEILLANCE_ON_CORE
    assert devices["198.18.1.72"]["overdue"] is True
    assert lines[-1]["summary"]["hidden_cameras"]["channels"] == 16
    dojo = json.loads(_render(result, "defectdojo"))["findings"]
    by_ip = {f["endpoints"][0]: f for f in dojo}
    assert set(by_ip) == {"198.18.0.70", "198.18.0.71", "198.18.1.72"}  # not the printer
    assert by_ip["198.18.0.70"]["vuln_id_from_tool"] == "camscan.surveillance-on-core.core"
    assert by_ip["198.18.0.70"]["title"].startswith("Surveillance equipment on the core network")
    assert by_ip["198.18.1.72"]["planned_remediation_date"] == "2025-04-26"
    assert "overdue" in by_ip["198.18.1.72"]["tags"]
    table = _render(result, "table")
    assert "coverage: up to 16 cameras out of the network's sight behind recorders" in table
    assert "198.18.1.72: listed maker at a sensitive site (Hikvision)" in table


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_channel_counts_never_raise_on_any_reply(raw: str) -> None:
    from camscan import channels
    from camscan.identify.equipment import channel_count
    from camscan.model import Observation

    for channel in (channels.SADP_REPLY, channels.DHIP_REPLY):
        n = channel_count([Observation(channel, raw, "x")])
        assert n is None or 0 <= n <= 4096
