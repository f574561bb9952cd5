"""Reports: the JSON contract and its round trip, JSONL, CSV, table, HTML; hostile device text."""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import random
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.contract import result_to_contract
from camscan.model import (
    SCHEMA_VERSION,
    ScanResult,
    ScanRun,
    Segment,
)
from camscan.report import FORMATS, ReportFormatError, render
from camscan.report.csv_out import safe_cell
from camscan.store.results import ResultFileError, load_result, result_from_contract, save_result
from tests.samples import CMD, ESC, FORMULA, SCRIPT, sample_result


def rendered(result: ScanResult, fmt: str, **kw: Any) -> str:
    out = io.StringIO()
    render(result, fmt, out, **kw)
    return out.getvalue()


# --- JSON contract --------------------------------------------------------------------------

DEVICE_KEYS = {
    "ip",
    "mac",
    "vendor",
    "maker",
    "brand",
    "model",
    "firmware",
    "serial",
    "confidence",
    "confidence_label",
    "summary",
    "evidence",
    "observations",
    "segment",
    "zone",
    "severity",
    "flagged",
    "in_scope",
    "interface",
    "oui_vendor",
    "probe_errors",
}


def test_contract_shape_and_order() -> None:
    data = json.loads(rendered(sample_result(), "json"))
    assert list(data) == [
        "schema_version",
        "tool",
        "verdict",
        "run",
        "segments",
        "summary",
        "devices",
        "out_of_scope",
        "findings",
        "policy",
    ]
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["tool"]["name"] == "camscan"
    ips = [d["ip"] for d in data["devices"]]
    assert ips == [
        "198.18.0.9",
        "198.18.0.10",
        "198.18.0.66",
        "198.18.1.20",
        "198.18.1.21",
        "198.18.2.5",
        "198.18.2.77",
        "198.18.3.99",
    ]
    assert [d["ip"] for d in data["out_of_scope"]] == ["198.18.9.1"]
    assert data["out_of_scope"][0]["in_scope"] is False
    by_ip = {d["ip"]: d for d in data["devices"]}
    assert set(by_ip["198.18.0.10"]) >= DEVICE_KEYS
    assert set(by_ip["198.18.0.10"]["evidence"][0]) >= {
        "signature_id",
        "channel",
        "raw",
        "maker",
        "strength",
        "badge",
        "captured",
        "probe",
    }
    assert (by_ip["198.18.1.20"]["vendor"], by_ip["198.18.1.20"]["brand"]) == ("dahua", "Lorex")
    assert (by_ip["198.18.2.77"]["vendor"], by_ip["198.18.2.77"]["maker"]) == (None, "axis")
    assert by_ip["198.18.0.10"]["severity"] == "critical"
    assert by_ip["198.18.0.10"]["flagged"]
    assert by_ip["198.18.1.21"]["severity"] == "accepted"
    assert not by_ip["198.18.1.21"]["flagged"]
    assert by_ip["198.18.2.5"]["severity"] == "medium"
    assert not by_ip["198.18.2.5"]["flagged"]
    assert by_ip["198.18.3.99"]["segment"] is None


def test_summary_counts() -> None:
    summary = result_to_contract(sample_result())["summary"]
    assert summary["devices"] == 8
    assert summary["identified"] == 7
    assert summary["flagged"] == 4  # .9, .10, .66 in core; .20 in sensitive
    assert summary["by_severity"] == {
        "critical": 3,
        "high": 1,
        "medium": 1,
        "info": 2,
        "accepted": 1,
    }
    assert summary["by_maker"] == {"axis": 1, "dahua": 2, "hikvision": 4, "unknown": 1}
    assert summary["flagged_by_segment"] == {"evidence-store": 1, "hq-core": 3}
    assert summary["by_segment"]["unassigned"] == 1


def test_output_is_stable_whatever_the_input_order() -> None:
    result = sample_result()
    first = rendered(result, "json")
    random.Random(4).shuffle(result.devices)
    random.Random(5).shuffle(result.findings)
    assert rendered(result, "json") == first


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    result = sample_result()
    path = tmp_path / "scan.json"
    save_result(result, path)
    loaded = load_result(path)
    key = lambda d: d.ip  # noqa: E731
    assert sorted(loaded.devices, key=key) == sorted(result.devices, key=key)
    assert sorted(loaded.findings, key=lambda f: f.device_ip) == sorted(
        result.findings, key=lambda f: f.device_ip
    )
    assert (loaded.run, loaded.segments) == (result.run, result.segments)
    assert rendered(loaded, "json") == rendered(result, "json")  # and it re-renders the same
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not JSON"),
        (b"{nope", "not JSON (line 1"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[]", "result: expected an object"),
        (b'{"schema_version": "2.0"}', "schema_version '2.0' cannot be read"),
        (
            b'{"schema_version": "1.0", "run": {"targets": [], "probes": [], "started": "x"}}',
            "result.run.started: expected a number",
        ),
        (
            b'{"schema_version": "1.0", "run": {"targets": [], "probes": [], "started": 1},'
            b' "devices": [{"ip": "198.18.0.1", "evidence": [{"signature_id": "a", "channel": "b",'
            b' "raw": "c", "maker": null, "strength": "huge"}]}]}',
            "result.devices[0].evidence[0].strength: expected one of strong, medium, weak",
        ),
        (
            b'{"schema_version": "1.0", "run": {"targets": [], "probes": [], "started": 1},'
            b' "devices": [{"ip": "198.18.0.1", "confidence": 7}]}',
            "devices[0].confidence: expected a number from 0 to 1",
        ),
        (b"[" * 100000, "JSON nested too deeply"),
    ],
)
def test_bad_result_files_give_one_line_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ResultFileError) as info:
        load_result(path)
    text = str(info.value)
    assert message in text
    assert text.startswith(str(path))
    assert "\n" not in text


def test_missing_result_file(tmp_path: Path) -> None:
    with pytest.raises(ResultFileError, match="cannot read"):
        load_result(tmp_path / "absent.json")


_json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
_CONTRACT = result_to_contract(sample_result())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*prefix, i))
    return found


_PATHS = _paths(_CONTRACT)[1:]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_PATHS), _json)
def test_corrupted_contract_loads_or_fails_cleanly(path: tuple[Any, ...], value: Any) -> None:
    data = copy.deepcopy(_CONTRACT)
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    error = ""
    try:
        result_from_contract(data)
    except ResultFileError as exc:
        error = str(exc)
    assert "\n" not in error


@given(_json)
def test_random_json_never_tracebacks(value: Any) -> None:
    with contextlib.suppress(ResultFileError):
        result_from_contract(value)


# --- JSONL, CSV, table ----------------------------------------------------------------------


def test_jsonl_one_line_per_device_then_run() -> None:
    lines = rendered(sample_result(), "jsonl").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["type"] for r in records] == ["verdict"] + ["device"] * 8 + ["out_of_scope", "run"]
    assert records[0]["verdict"]["status"] == "action"
    core = next(r for r in records if r.get("ip") == "198.18.0.10")
    assert core["severity"] == "critical"
    assert "core network" in core["rationale"]
    assert "observations" not in core
    assert core["evidence"]
    assert records[-1]["summary"]["flagged"] == 4


def test_csv_one_row_per_device_and_no_formulas() -> None:
    text = rendered(sample_result(), "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["record"] == "verdict"
    assert rows[0]["summary"] == (
        "action: 4 devices must be acted on under the policy "
        "(4 listed maker, 0 surveillance equipment on the core network)"
    )
    assert [r["record"] for r in rows[1:]] == ["device"] * 8 + ["out_of_scope"]
    rows = [r for r in rows if r["record"] == "device"]
    bad = next(r for r in rows if r["ip"] == "198.18.0.66")
    assert bad["model"].startswith("'=HYPERLINK(")
    assert bad["brand"] == "'" + CMD
    assert bad["firmware"] == "'@SUM(1+1)"
    assert bad["serial"] == "'-2+3"
    assert bad["summary"].startswith("'\t")
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_every_human_format_and_csv_show_a_dual_stack_devices_ipv6(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 28: a device's IPv6 addresses were in JSON only (devices[].ipv6, ipv6_reported)."""
    result = sample_result()
    axis = next(d for d in result.devices if d.ip == "198.18.2.77")
    axis.ipv6 = ["2001:db8:70::20", "fe80::240:8cff:fe01:203"]
    hik = next(d for d in result.devices if d.ip == "198.18.0.10")
    hik.ipv6_reported = ["2001:db8:70::10"]
    rows = {r["ip"]: r for r in csv.DictReader(io.StringIO(rendered(result, "csv")))}
    assert rows["198.18.2.77"]["ipv6"] == "2001:db8:70::20;fe80::240:8cff:fe01:203"
    assert rows["198.18.0.10"]["ipv6_reported"] == "2001:db8:70::10"
    assert rows["198.18.0.10"]["ipv6"] == rows["198.18.0.9"]["ipv6_reported"] == ""
    monkeypatch.setenv("COLUMNS", "250")  # every column fits: IPv6 is one of them
    wide = rendered(result, "table", color=False)
    (line,) = [x for x in wide.splitlines() if "198.18.2.77" in x]
    assert "2001:db8:70::20 fe80::240:8cff:fe01:203" in line
    assert "IPv6" not in rendered(sample_result(), "table", color=False)  # none: no column
    monkeypatch.setenv("COLUMNS", "39")  # a device per block: its details name them
    narrow = rendered(result, "table", color=False)
    assert "ipv6 2001:db8:70::20 fe80::" in narrow  # (folded to the width after that)
    assert "ipv6 reported 2001:db8:70::10" in narrow
    html = rendered(result, "html")
    assert "fe80::240:8cff:fe01:203" in html and "2001:db8:70::10 (reported)" in html


@given(st.text())
def test_safe_cell_never_starts_a_formula(text: str) -> None:
    cell = safe_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell in (text, "'" + text)


def test_plain_table_has_no_escape_codes_and_shows_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for the model column
    text = rendered(sample_result(), "table", color=False)
    assert "\x1b" not in text
    assert "198.18.0.10" in text
    assert "CRITICAL" in text
    assert "Dahua (Lorex)" in text
    assert "\\x1b[2J" in text  # the device's escape sequence, shown, not sent
    assert (
        "8 devices, 7 identified, 4 flagged; by severity: 3 critical, 1 high, 1 medium, 2 info, 1 accepted"
        in text
    )
    lines = text.splitlines()
    assert lines.index(next(x for x in lines if "CRITICAL" in x)) < lines.index(
        next(x for x in lines if "INFO" in x)
    )  # worst first


def test_colour_table_uses_colour_but_never_device_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = sample_result()
    result.devices[0].verdict.model = "[bold red]fake[/bold red]"
    text = rendered(result, "table", color=True)
    assert "\x1b[" in text
    assert "[bold red]fake[/bold red]" in text
    assert "\x1b[2J" not in text


def test_unknown_format() -> None:
    with pytest.raises(ReportFormatError, match="choose one of table, json"):
        rendered(sample_result(), "pdf")


# --- HTML -----------------------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)


def test_html_is_self_contained_and_inert() -> None:
    result = sample_result()
    result.segments.append(Segment('<img src=x onerror="alert(2)">', ["198.18.3.0/24"], "core"))
    page = rendered(result, "html")
    parser = _Elements()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "img" not in parser.tags
    assert not [a for a, _ in parser.attrs if a.startswith("on")]
    assert not [v for a, v in parser.attrs if a in ("src", "href") and v]  # no external assets
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert "<svg" in page
    assert "Executive summary" in page
    assert "Policy applied" in page


def test_html_lists_flagged_devices_and_evidence() -> None:
    page = rendered(sample_result(), "html")
    assert (
        "4 devices must be acted on under the policy "
        "(4 listed maker, 0 surveillance equipment on the core network)." in page
    )
    assert "hikvision.sadp.probematch" in page
    assert "DS-2CD2385G1-I20200414AAWRE33842150" in page
    assert "replacement ordered" in page  # the accepted exception is shown
    assert "must not be connected to the core network" in page


def test_html_with_nothing_found() -> None:
    empty = ScanResult(run=ScanRun(targets=[], probes=[], started=0.0), devices=[])
    page = rendered(empty, "html")
    # Issue 10: no segments configured is never a green "No device needs action".
    assert "No device needs action" not in page
    assert "no zones configured: findings are for review, nothing was assessed" in page
    assert "No flagged devices." in page


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_an_empty_result(fmt: str) -> None:
    empty = ScanResult(run=ScanRun(targets=[], probes=[], started=0.0), devices=[])
    assert rendered(empty, fmt, color=False)


def test_json_keeps_hostile_text_as_plain_strings() -> None:
    data = json.loads(rendered(sample_result(), "json"))
    bad = next(d for d in data["devices"] if d["ip"] == "198.18.0.66")
    assert bad["model"] == FORMULA + ESC
    assert bad["brand"] == CMD
    assert SCRIPT in bad["evidence"][0]["raw"]


def test_every_emitted_key_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "json-contract.md").read_text(encoding="utf-8")
    data = result_to_contract(sample_result())
    device = data["devices"][0]
    keys = {*data, *data["run"], *data["summary"], *device, *device["evidence"][0]}
    keys |= {*data["verdict"]}
    keys |= {*data["findings"][0], *device["observations"][0]}
    undocumented = sorted(k for k in keys if f'"{k}"' not in doc and f"`{k}`" not in doc)
    assert not undocumented


def test_streamed_json_is_the_contract_one_record_per_line(tmp_path: Path) -> None:
    from camscan.contract import dump_contract, result_to_contract

    result = sample_result()
    out = io.StringIO()
    dump_contract(result, out)
    text = out.getvalue()
    assert json.loads(text) == json.loads(json.dumps(result_to_contract(result)))
    device_lines = [ln for ln in text.splitlines() if ln.startswith('    {"ip": ')]
    assert len(device_lines) == len(result.devices)  # one device per line: grep-able, streamable


def test_fixture_evidence_names_real_signatures_and_oui_blocks() -> None:
    from camscan.identify.oui import OuiDB
    from camscan.identify.signatures import SignatureDB

    db, ouis = SignatureDB.load(), OuiDB.load()
    ids = {s.id for s in db.signatures} | {r.id for r in db.rules}
    for dev in sample_result().devices:
        for ev in dev.verdict.evidence:
            if ev.signature_id.startswith("oui."):
                got = ouis.evidence(ev.raw)
                assert got is not None and got.signature_id == ev.signature_id, ev
            else:
                assert ev.signature_id in ids, ev.signature_id
