"""A result of thousands of devices renders in every format exactly as the slow path would.

The report code finds each device's finding through an index, streams device records one at a
time and writes files as they are rendered (issue 11: a 65,000-device import spent minutes in a
pass over every finding per device). Here a real import of 3,000 devices (the nmap fixture's
cameras over distinct lab addresses, judged under segments that give several zones), plus
devices sharing an address and devices out of scope, is rendered in every format and checked
against the straightforward implementation the index replaced, and against per-format
invariants. Speed is measured in bench/ (workload `import_large`), never asserted here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.nmap_xml import write_nmap_xml
from camscan.config import parse_config
from camscan.contract import (
    device_record,
    dumps_contract,
    ip_sort_key,
    result_to_contract,
    run_record,
    sorted_devices,
    verdict_record,
)
from camscan.discovery.ingest import devices_from_nmap_xml
from camscan.model import SCHEMA_VERSION, Device, Finding, ScanResult, ScanRun, to_jsonable
from camscan.pipeline import apply_policy, identify_devices
from camscan.report import FORMATS, render

DEVICES = 3000
CONFIG = {
    "segment": [
        {"name": "cctv", "cidrs": ["198.18.0.0/22"], "zone": "sensitive"},
        {"name": "corp", "cidrs": ["198.18.4.0/23"], "zone": "core"},
        {"name": "lab", "cidrs": ["198.18.8.0/22"], "zone": "lab"},
    ]
}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    xml = tmp_path_factory.mktemp("large") / "large.xml"
    write_nmap_xml(xml, DEVICES, repeats=2)  # each host twice, as merged nmap runs hold it
    devices = devices_from_nmap_xml(xml)
    assert len(devices) == DEVICES
    # Two devices behind one address (a NAT or a re-used lease): the finding goes by MAC too.
    twin = Device(ip=devices[5].ip, mac="02:00:00:00:00:05", observations=[])
    # Heard from outside the targets and placed in no segment: out of scope, no finding.
    outside = [Device(ip=f"198.19.200.{n}", in_scope=False) for n in range(1, 40)]
    devices = [*devices, twin, *outside]
    run = ScanRun(
        targets=["198.18.0.0/16"], probes=["import"], started=1_700_000_000.0, ended=1_700_000_030.0
    )
    identify_devices(devices)
    result = ScanResult(run=run, devices=devices)
    cfg = parse_config(CONFIG)
    result.segments = list(cfg.segments)
    apply_policy(result, cfg)
    return result


# --- the slow path: what the contract was built by before the finding index ------------------


def _slow_finding_for(device: Device, findings: list[Finding]) -> Finding | None:
    for f in findings:
        if f.device_ip == device.ip and (
            f.device_mac is None or device.mac is None or f.device_mac == device.mac
        ):
            return f
    return None


def _slow_contract(result: ScanResult) -> dict[str, Any]:
    from camscan.contract import summary_record

    assessed = [
        d for d in result.devices if d.in_scope or _slow_finding_for(d, result.findings) is not None
    ]
    outside = [d for d in result.devices if d not in assessed]
    findings = sorted(result.findings, key=lambda f: (ip_sort_key(f.device_ip), f.device_mac or ""))
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": result_to_contract(result)["tool"],
        "verdict": verdict_record(result),
        "run": run_record(result.run),
        "segments": [to_jsonable(s) for s in result.segments],
        "summary": summary_record(result),
        "devices": [
            device_record(d, _slow_finding_for(d, result.findings))
            for d in sorted_devices(assessed)
        ],
        "out_of_scope": [device_record(d, None) for d in sorted_devices(outside)],
        "findings": [to_jsonable(f) for f in findings],
        "policy": to_jsonable(result.policy),
    }


def _slow_dump(doc: dict[str, Any]) -> str:
    """The writer as it was: the whole contract built first, then written record by record."""
    out = io.StringIO()
    out.write("{\n")
    for n, (key, value) in enumerate(doc.items()):
        out.write(f"  {json.dumps(key)}: ")
        if isinstance(value, list) and value:
            out.write("[\n")
            for i, item in enumerate(value):
                out.write("    " + json.dumps(item, ensure_ascii=False))
                out.write(",\n" if i < len(value) - 1 else "\n")
            out.write("  ]")
        else:
            out.write(json.dumps(value, ensure_ascii=False))
        out.write(",\n" if n < len(doc) - 1 else "\n")
    out.write("}\n")
    return out.getvalue()


@pytest.fixture(scope="module")
def slow(big: ScanResult) -> dict[str, Any]:
    return _slow_contract(big)


def _rendered(result: ScanResult, fmt: str) -> str:
    out = io.StringIO()
    render(result, fmt, out, color=False)
    return out.getvalue()


def test_the_result_is_large_and_varied(big: ScanResult, slow: dict[str, Any]) -> None:
    # Guards the checks below against passing on a result with nothing in it.
    assert len(slow["devices"]) == DEVICES + 1 and len(slow["out_of_scope"]) == 39
    zones = {d["zone"] for d in slow["devices"]}
    assert {"sensitive", "core", "lab", None} <= zones
    assert sum(d["flagged"] for d in slow["devices"]) > 500
    assert {d["maker"] for d in slow["devices"]} >= {"hikvision", "dahua", "axis"}
    twins = [d for d in slow["devices"] if d["ip"] == big.devices[5].ip]
    assert len(twins) == 2 and twins[0]["segment"] == twins[1]["segment"] == "cctv"


def test_json_is_byte_for_byte_the_slow_path(big: ScanResult, slow: dict[str, Any]) -> None:
    assert result_to_contract(big) == slow
    assert dumps_contract(big) == _slow_dump(slow)
    assert _rendered(big, "json") == _slow_dump(slow)


def test_jsonl_has_every_device_record_once_in_order(big: ScanResult, slow: dict[str, Any]) -> None:
    lines = [json.loads(line) for line in _rendered(big, "jsonl").splitlines()]
    assert [r["type"] for r in lines] == (
        ["verdict"] + ["device"] * len(slow["devices"]) + ["out_of_scope"] * 39 + ["run"]
    )
    for record, want in zip(lines[1:-1], slow["devices"] + slow["out_of_scope"], strict=True):
        del record["type"], record["schema_version"], record["run_started"]
        assert record == {k: v for k, v in want.items() if k != "observations"}
    assert lines[-1]["summary"] == slow["summary"]


def test_csv_rows_follow_the_devices(big: ScanResult, slow: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(_rendered(big, "csv"))))
    devices = [r for r in rows if r["record"] in ("device", "out_of_scope")]
    want = slow["devices"] + slow["out_of_scope"]
    assert [r["ip"] for r in devices] == [d["ip"] for d in want]
    assert [r["severity"] for r in devices] == [d["severity"] or "" for d in want]
    assert [int(r["evidence_count"]) for r in devices] == [len(d["evidence"]) for d in want]


def test_ecs_and_defectdojo_cover_every_device(big: ScanResult, slow: dict[str, Any]) -> None:
    events = [json.loads(line) for line in _rendered(big, "ecs").splitlines()]
    assert [e["host"]["ip"] for e in events[:-1]] == [[d["ip"]] for d in slow["devices"]]
    assert events[-1]["camscan"]["summary"] == slow["summary"]
    dojo = json.loads(_rendered(big, "defectdojo"))
    listed = [d for d in slow["devices"] if d["maker"] in ("hikvision", "dahua")]
    assert [f["endpoints"] for f in dojo["findings"]] == [[d["ip"]] for d in listed]


def test_table_and_html_show_every_device(big: ScanResult, slow: dict[str, Any]) -> None:
    table = _rendered(big, "table")
    html = _rendered(big, "html")
    for device in slow["devices"]:
        assert f" {device['ip']} " in table
        assert f">{device['ip']}<" in html
    assert table.count(f" {big.devices[5].ip} ") == 2  # the twins: two rows


def test_a_file_output_is_the_same_text_as_standard_output(big: ScanResult, tmp_path: Path) -> None:
    # Files are now rendered straight into their temporary file, not into memory first.
    import re

    from camscan.cli.output import Output, write_outputs

    def undated(text: str) -> str:  # the html footer names the second it was generated
        return re.sub(r"<footer>Generated [^<]* UTC", "<footer>", text)

    for fmt in FORMATS:
        path = tmp_path / f"r.{fmt}"
        write_outputs(big, [Output(fmt, path)], None)
        written = path.read_bytes().decode("utf-8")
        assert undated(written) == undated(_rendered(big, fmt)), fmt
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"r.{f}" for f in FORMATS)


# --- the small pieces made faster ------------------------------------------------------------


def _slow_printable(value: Any, keep: str = "") -> str:
    import re

    unsafe = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
    if value is None:
        return "-"
    return unsafe.sub(
        lambda m: m.group() if m.group() in keep else f"\\x{ord(m.group()):02x}", str(value)
    )


@given(st.one_of(st.none(), st.text(), st.integers()), st.sampled_from(["", "\t\n"]))
def test_printable_is_the_slow_path(value: Any, keep: str) -> None:
    from camscan.report.text import printable

    assert printable(value, keep) == _slow_printable(value, keep)


def _macs() -> Iterator[str]:
    yield from (
        "44:19:b6:12:34:56",
        "44-19-B6-00-00-01",
        "3c:ef:8c:61:01:c0",
        "00:00:00:00:00:00",
        "02:00:00:00:00:01",
        "44:19:b6:12:34:56:78:9a",
        "zz",
        "",
    )


@pytest.mark.parametrize("mac", list(_macs()))
def test_display_vendor_read_once_per_block_is_netaddrs_answer(mac: str) -> None:
    from netaddr import EUI, AddrFormatError, NotRegisteredError

    from camscan.identify.oui import display_vendor

    try:
        want: str | None = str(EUI(mac).oui.registration().org)
    except (AddrFormatError, NotRegisteredError, ValueError, IndexError, TypeError):
        want = None
    assert display_vendor(mac) == want
    assert display_vendor(mac) == want  # and again, from the cache


# --- reading a large result back line by line --------------------------------------------------


def _read(text: str, tmp_path: Path) -> tuple[str, ScanResult | str]:
    """(what load_result gives, what the whole-file reader gives): a result or the error."""
    from camscan.store.results import ResultFileError, load_result, parse_result

    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    answers: list[Any] = []
    readers: list[Callable[[], ScanResult]] = [
        lambda: load_result(path),
        lambda: parse_result(text, str(path)),
    ]
    for read in readers:
        try:
            answers.append(dumps_contract(read()))
        except ResultFileError as e:
            answers.append(f"error: {e}")
    return answers[0], answers[1]


def test_a_large_saved_result_reads_back_line_by_line_as_whole(
    big: ScanResult, tmp_path: Path
) -> None:
    from camscan.store import results

    text = dumps_contract(big)
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")

    def whole_file(*_a: Any) -> ScanResult:
        raise AssertionError("read whole, not line by line")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(results, "parse_result", whole_file)
        streamed = results.load_result(path)
    assert dumps_contract(streamed) == text
    assert dumps_contract(results.parse_result(text, str(path))) == text


_SAMPLE = None


def _sample() -> str:
    global _SAMPLE
    if _SAMPLE is None:
        result = ScanResult(
            run=ScanRun(
                targets=["198.18.0.0/24"],
                probes=["import"],
                started=1_700_000_000.0,
                ended=1_700_000_001.0,
            ),
            devices=[],
        )
        xml = Path(__file__).parent / "fixtures" / "nmap_camera_lab.xml"
        result.devices = devices_from_nmap_xml(xml)
        identify_devices(result.devices)
        apply_policy(result, parse_config(CONFIG))
        _SAMPLE = dumps_contract(result)
    return _SAMPLE


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_line_by_line_and_whole_file_reading_agree_on_any_edit(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Hand-edited, cut or hostile files: the fast reader gives the same result or the same
    # one-line error as the whole-file reader, never a different answer.
    lines = _sample().splitlines(keepends=True)
    n = data.draw(st.integers(0, len(lines) - 1))
    edit = data.draw(st.sampled_from(["drop", "dup", "replace", "indent", "cut"]))
    if edit == "drop":
        del lines[n]
    elif edit == "dup":
        lines.insert(n, lines[n])
    elif edit == "replace":
        lines[n] = data.draw(
            st.sampled_from(
                [
                    "{}\n",
                    "  ]\n",
                    '  "devices": [\n',
                    "    {},\n",
                    "    null\n",
                    '  "x": 1,\n',
                    "    " + json.dumps({"ip": 5}) + ",\n",
                    "}\n",
                    "\n",
                    "[\n",
                ]
            )
        )
    elif edit == "indent":
        lines[n] = " " + lines[n]
    else:
        lines[n] = lines[n][: data.draw(st.integers(0, len(lines[n])))]
    streamed, whole = _read("".join(lines), tmp_path_factory.mktemp("edit"))
    assert streamed == whole


@pytest.mark.parametrize("colour", [False, True])
@pytest.mark.parametrize("width", [100, 131, 160, 240])
def test_a_table_printed_in_parts_is_the_one_table(
    big: ScanResult, colour: bool, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from camscan.report import table

    # Rows that wrap, wide characters and control characters, among the thousands.
    devices = list(big.devices)
    for n, model in ((7, "DS-" + "2CD2385G1-I " * 9), (8, "摄像机" * 12), (9, "a\x1b[31mb\u202e")):
        verdict = dataclasses.replace(devices[n].verdict, model=model)
        devices[n] = dataclasses.replace(devices[n], verdict=verdict)
    odd = dataclasses.replace(big, devices=devices)

    def printed() -> str:
        out = io.StringIO()
        table.write_table(odd, out, color=colour, width=width)
        return out.getvalue()

    monkeypatch.setattr(table, "ROWS_PER_PART", 10**9)
    whole = printed()
    monkeypatch.setattr(table, "ROWS_PER_PART", 97)
    assert printed() == whole
    assert whole.count("\n") > DEVICES
