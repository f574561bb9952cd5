"""Firmware exposure through policy and every format: priority, table column, HTML card, JSON
contract (round trip), CSV, ECS vulnerability.*, DefectDojo one finding per CVE per device."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from camscan.identify.advisories import AdvisoryData, assess
from camscan.model import Device, ScanResult, Severity, Verdict
from camscan.policy import PolicySettings, evaluate
from camscan.report import render
from camscan.store.results import result_from_contract
from tests.samples import SEGMENTS, sample_run

DATA = AdvisoryData.load()
DAY = date(2025, 6, 1)


def _device(
    ip: str, maker: str, model: str, firmware: str | None, badge: str | None = None
) -> Device:
    verdict = Verdict(
        maker=maker,
        badge=badge,
        model=model,
        firmware=firmware,
        confidence=0.95,
        confidence_label="high",
        summary=f"{maker}-made",
    )
    return Device(ip=ip, mac=None, verdict=verdict, exposure=assess(verdict, DATA))


def _result(devices: list[Device], policy: PolicySettings | None = None) -> ScanResult:
    findings = list(evaluate(devices, SEGMENTS, policy or PolicySettings(), [], DAY))
    return ScanResult(
        run=sample_run(["sadp", "dhip"], {}), devices=devices, findings=findings, segments=SEGMENTS
    )


def _devices() -> list[Device]:
    return [
        _device("198.18.0.20", "hikvision", "DS-2CD2386G2-IU", "V5.7.3build 220112"),  # core, fixed
        _device("198.18.0.21", "hikvision", "DS-2CD2385G1-I", "V5.6.2build 190701"),  # core, KEV
        _device("198.18.2.30", "dahua", "IPC-HDW3441T-ZS", "2.800.0000000.16.R"),  # general, KEV
        _device("198.18.2.31", "dahua", "IP2M-841", "2.420.AC00.15.R", badge="Amcrest"),
        _device("198.18.2.32", "dahua", "IPC-HDW1431T1-S4", None),  # no version
    ]


def _by_ip(result: ScanResult) -> dict[str, Any]:
    return {f.device_ip: f for f in result.findings}


def test_kev_exposure_raises_priority_and_sorts_first() -> None:
    result = _result(_devices())
    f = _by_ip(result)
    assert f["198.18.0.21"].severity is Severity.CRITICAL and f["198.18.0.21"].exposure == "kev"
    assert "known exploited (KEV): CVE-2021-36260" in f["198.18.0.21"].rationale
    assert f["198.18.0.20"].severity is Severity.CRITICAL and f["198.18.0.20"].exposure is None
    # elsewhere a listed maker is medium; on KEV-listed firmware it is at least high
    assert f["198.18.2.30"].severity is Severity.HIGH
    assert f["198.18.2.32"].severity is Severity.MEDIUM
    from camscan.report.table import write_table

    table = io.StringIO()
    write_table(result, table, color=False, width=250)
    lines = [ln for ln in table.getvalue().splitlines() if "198.18." in ln]
    assert "198.18.0.21" in lines[0], lines  # the core KEV camera before the core fixed one
    assert "KEV: CVE-2021-36260" in lines[0]
    assert "Firmware" in table.getvalue()
    off = _result(_devices(), PolicySettings(kev_severity=None))
    assert _by_ip(off)["198.18.2.30"].severity is Severity.MEDIUM


def test_a_camera_of_a_maker_not_listed_with_kev_firmware_is_a_finding_of_its_own() -> None:
    policy = PolicySettings(listed_makers=frozenset({"hikvision"}))
    result = _result(_devices(), policy)
    f = _by_ip(result)
    amcrest = f["198.18.2.31"]
    assert amcrest.severity is Severity.HIGH and not amcrest.flagged  # general zone: review
    assert "not a listed maker, but its firmware is known exploited" in amcrest.rationale
    assert "CVE-2020-5735" in amcrest.rationale
    assert f["198.18.2.32"].severity is Severity.INFO  # not listed, no version: nothing to do
    core = _result(
        [_device("198.18.0.40", "dahua", "IPC-HDW3441T-ZS", "2.800.0000000.16.R")], policy
    )
    assert _by_ip(core)["198.18.0.40"].flagged


def _rendered(result: ScanResult, fmt: str) -> str:
    out = io.StringIO()
    render(result, fmt, out)
    return out.getvalue()


def test_json_contract_carries_exposure_and_reads_back() -> None:
    result = _result(_devices())
    doc = json.loads(_rendered(result, "json"))
    by_ip = {d["ip"]: d for d in doc["devices"]}
    exp = by_ip["198.18.0.21"]["exposure"]
    assert exp["status"] == "kev" and exp["cves"][0]["kev_due"] == "2022-01-24"
    assert by_ip["198.18.2.32"]["exposure"]["summary"] == "version unknown"
    back = result_from_contract(doc)
    again = json.loads(_rendered(back, "json"))
    assert again["devices"] == doc["devices"] and again["findings"] == doc["findings"]


def test_csv_html_ecs_and_defectdojo_carry_the_cves() -> None:
    result = _result(_devices())
    rows = {r["ip"]: r for r in csv.DictReader(io.StringIO(_rendered(result, "csv"))) if r["ip"]}
    assert rows["198.18.2.30"]["exposure"] == "kev"
    assert rows["198.18.2.30"]["kev_cves"] == "CVE-2021-33044;CVE-2021-33045"
    assert rows["198.18.0.20"]["exposure_summary"] == "no known advisory for this version"

    html = _rendered(result, "html")
    assert "CVE-2021-36260" in html and "required action: Apply updates per vendor" in html
    assert "Due 2022-01-24" in html and "watchfulip.github.io" in html

    events = [json.loads(line) for line in _rendered(result, "ecs").splitlines()]
    hik = next(e for e in events if e.get("host", {}).get("ip") == ["198.18.0.21"])
    assert hik["vulnerability"]["id"] == ["CVE-2021-36260"]
    assert hik["vulnerability"]["score"]["base"] == 9.8 and "kev" in hik["tags"]
    fixed = next(e for e in events if e.get("host", {}).get("ip") == ["198.18.0.20"])
    assert "vulnerability" not in fixed

    dojo = json.loads(_rendered(result, "defectdojo"))
    cve = [f for f in dojo["findings"] if f.get("cve")]
    keys = sorted((f["endpoints"][0], f["cve"]) for f in cve)
    assert keys == [
        ("198.18.0.21", "CVE-2021-36260"),
        ("198.18.2.30", "CVE-2021-33044"),
        ("198.18.2.30", "CVE-2021-33045"),
        ("198.18.2.31", "CVE-2020-5735"),
    ]
    amcrest = next(f for f in cve if f["cve"] == "CVE-2020-5735")
    assert amcrest["severity"] == "High" and amcrest["known_exploited"] is True
    assert amcrest["kev_date"] == "2021-11-03" and amcrest["cvssv3_score"] == 8.8
    assert len({f["unique_id_from_tool"] for f in cve}) == len(cve)
