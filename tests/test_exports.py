"""Exports for the tools teams run: every format validates against its JSON Schema; the ECS
lines use only fields from ECS's published field list, with the right types; the DefectDojo file
uses only the keys DefectDojo's generic parser accepts; CSV with an optional BOM for Excel."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from camscan.model import SCHEMA_VERSION, ScanResult, ScanRun
from camscan.report import render
from camscan.report.csv_out import BOM
from tests.html_sample import office_result
from tests.samples import firmware_result, sample_result

ROOT = Path(__file__).parents[1]
SCHEMAS = ROOT / "camscan" / "schemas"
PUBLISHED = Path(__file__).parent / "fixtures" / "published"


def schema(name: str) -> jsonschema.Draft202012Validator:
    doc = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(doc)
    return jsonschema.Draft202012Validator(
        doc, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def partial_result() -> ScanResult:
    r = office_result()
    r.run.partial = True
    r.run.ended = None
    return r


def empty_result() -> ScanResult:
    return ScanResult(run=ScanRun(targets=[], probes=[], started=0.0), devices=[])


RESULTS = {
    "sample": sample_result,
    "office": office_result,
    "partial": partial_result,
    "empty": empty_result,
    "firmware": firmware_result,
}


def out(result: ScanResult, fmt: str, **kw: Any) -> str:
    buf = io.StringIO()
    render(result, fmt, buf, **kw)
    return buf.getvalue()


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def errors(validator: jsonschema.Draft202012Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("which", RESULTS)
def test_every_export_validates_against_its_schema(which: str) -> None:
    result = RESULTS[which]()
    assert not errors(schema("result"), json.loads(out(result, "json")))
    for line in lines(out(result, "jsonl")):
        assert not errors(schema("jsonl"), line), line.get("ip")
    for line in lines(out(result, "ecs")):
        assert not errors(schema("ecs"), line), line["message"]
    assert not errors(schema("defectdojo"), json.loads(out(result, "defectdojo")))
    for row in csv.DictReader(io.StringIO(out(result, "csv"))):
        assert not errors(schema("csv-row"), row), row["ip"]


def test_schemas_reject_what_they_should() -> None:
    doc = json.loads(out(sample_result(), "json"))
    doc["devices"][0]["severity"] = "catastrophic"
    doc["devices"][1]["confidence"] = 3
    del doc["run"]["partial"]
    found = errors(schema("result"), doc)
    assert any("catastrophic" in e for e in found)
    assert any("3 is greater than the maximum" in e for e in found)
    assert any("'partial' is a required property" in e for e in found)
    line = lines(out(sample_result(), "ecs"))[0]
    line["host"]["mac"] = ["44:19:b6:12:34:57"]  # not ECS's notation
    assert errors(schema("ecs"), line)
    dojo = json.loads(out(sample_result(), "defectdojo"))
    dojo["findings"][0]["duplicate"] = False  # DefectDojo's parser refuses unknown keys
    assert errors(schema("defectdojo"), dojo)


def test_the_contract_example_is_current_and_valid() -> None:
    doc = (ROOT / "docs" / "json-contract.md").read_text(encoding="utf-8")
    example = doc.split("## Example")[1].split("```json\n")[1].split("```")[0]
    data = json.loads(example)
    assert data["schema_version"] == SCHEMA_VERSION
    assert not errors(schema("result"), data)


# --- ECS ---------------------------------------------------------------------------------------


def ecs_fields() -> dict[str, str]:
    with (PUBLISHED / "ecs_fields.csv").open(encoding="utf-8") as f:
        return {row["Field"]: row["Type"] for row in csv.DictReader(f)}


def leaves(node: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in ("labels",):
            found += leaves(value, path + ".")
        else:
            found.append((path, value))
    return found


_PLAIN_TYPES: dict[str, Any] = {
    "keyword": str,
    "text": str,
    "match_only_text": str,
    "object": dict,
    "float": int | float,
}


def ecs_allowed_values() -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads(
        (PUBLISHED / "ecs_allowed_values.json").read_text(encoding="utf-8")
    )
    return data


def _type_ok(ecs_type: str, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]  # ECS: any field may be an array
    for v in values:
        if ecs_type == "ip":
            ipaddress.ip_address(v)
        elif ecs_type == "date":
            datetime.fromisoformat(v.replace("Z", "+00:00"))
        elif ecs_type == "long":
            if isinstance(v, bool) or not isinstance(v, int):
                return False
        elif not isinstance(v, _PLAIN_TYPES[ecs_type]):
            return False
    return True


@pytest.mark.parametrize("which", RESULTS)
def test_ecs_lines_use_only_published_ecs_fields_with_their_types(which: str) -> None:
    published = ecs_fields()
    allowed = ecs_allowed_values()
    for line in lines(out(RESULTS[which](), "ecs")):
        for path, value in leaves(line):
            if path.startswith("camscan."):
                continue  # camscan's own fields, in their own namespace as ECS asks
            assert path in published, path
            assert _type_ok(published[path], value), (path, value)
            if path in allowed:  # event.kind, .category, .type, .outcome: ECS's own values
                values = value if isinstance(value, list) else [value]
                assert set(values) <= set(allowed[path]), (path, value)


def test_ecs_names_the_device_as_host_and_camscan_as_observer() -> None:
    events = lines(out(office_result(), "ecs"))
    devices = [e for e in events if e["event"]["dataset"] == "camscan.device"]
    assert len(devices) == 28
    assert events[-1]["event"]["dataset"] == "camscan.run"  # the run comes last
    flagged = [e for e in devices if e["event"]["kind"] == "alert"]
    assert len(flagged) == 8
    first = next(e for e in devices if e["host"]["ip"] == ["198.18.0.11"])
    assert first["host"]["mac"] == ["44-19-B6-00-00-01"]
    assert first["@timestamp"] == "2025-06-01T10:00:12.250Z"
    assert first["observer"] == {
        "type": "scanner",
        "vendor": "camscan",
        "product": "camscan",
        "version": first["observer"]["version"],
        "hostname": "scanner-01",
    }
    assert first["network"] == {"name": "hq-core"}
    assert (
        first["event"]["severity"]
        > next(e for e in devices if e["host"]["ip"] == ["198.18.2.19"])["event"]["severity"]
    )


def test_ecs_8_device_rule_and_asset_fields() -> None:
    # The output declared ECS 1.2.0 with maker and model under camscan.*, no rule.* on alerts
    # and inventory records as `event`.
    events = lines(out(office_result(), "ecs"))
    assert {e["ecs"]["version"] for e in events} == {"8.17.0"}
    devices = [e for e in events if e["event"]["dataset"] == "camscan.device"]
    assert {e["event"]["kind"] for e in devices} == {"alert", "asset"}
    assert events[-1]["event"]["kind"] == "event"  # the run: something that happened
    core = next(e for e in devices if e["host"]["ip"] == ["198.18.0.11"])
    assert core["device"] == {
        "id": "mac:44:19:b6:00:00:01",
        "manufacturer": "Hikvision",
        "model": {"identifier": "DS-2CD2385G1-I"},
        "serial_number": "DS-2CD2385G1-I2020041" + "01AAWRE33840001",
    }
    assert core["event"]["kind"] == "alert"
    assert core["rule"]["id"] == "camscan.listed-maker.core"
    assert core["rule"]["ruleset"] == "camscan policy"
    review = next(e for e in devices if e["host"]["ip"] == ["198.18.2.19"])
    assert review["event"]["kind"] == "asset"  # listed maker, not flagged: for review
    assert review["rule"]["id"] == "camscan.listed-maker.general"
    axis = next(e for e in devices if e["host"]["ip"] == ["198.18.2.77"])
    assert axis["event"]["kind"] == "asset" and "rule" not in axis
    assert axis["device"]["manufacturer"] == "Axis"
    assert "model" not in core["camscan"] and "serial" not in core["camscan"]


def test_a_partial_run_is_loud_in_ecs() -> None:
    events = lines(out(partial_result(), "ecs"))
    assert all(e["camscan"]["partial_run"] for e in events)
    run = events[-1]
    assert run["event"]["outcome"] == "failure"
    assert "partial" in run["tags"]
    assert "PARTIAL" in run["message"]


# --- DefectDojo -----------------------------------------------------------------------------


def dojo_fields() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (PUBLISHED / "defectdojo_generic_json_fields.json").read_text(encoding="utf-8")
    )
    return data


@pytest.mark.parametrize("which", RESULTS)
def test_defectdojo_uses_only_keys_its_generic_parser_accepts(which: str) -> None:
    spec = dojo_fields()
    doc = json.loads(out(RESULTS[which](), "defectdojo"))
    assert set(doc) <= set(spec["top_level"])
    for f in doc["findings"]:
        assert set(spec["required"]) <= set(f)
        checked = set(f) - set(spec["popped_before_the_check"])
        assert checked <= set(spec["allowed"]) | set(spec["required"]), checked
        assert f["severity"] in spec["severities"]
        date.fromisoformat(f["date"])
        for endpoint in f["endpoints"]:
            assert isinstance(endpoint, str)
            ipaddress.ip_address(endpoint)  # the parser reads it as //<host>


def test_defectdojo_findings_are_the_listed_makers_with_steps() -> None:
    doc = json.loads(out(office_result(), "defectdojo"))
    by_ip = {f["endpoints"][0]: f for f in doc["findings"]}
    assert len(by_ip) == 12  # 5 core, 3 sensitive, 3 for review, 1 accepted; not Axis, not unknowns
    assert by_ip["198.18.0.11"]["severity"] == "Critical"
    assert "Disconnect it from the core network" in by_ip["198.18.0.11"]["mitigation"]
    assert "[[exception]]" in by_ip["198.18.0.11"]["mitigation"]
    assert by_ip["198.18.1.16"]["severity"] == "High"
    accepted = by_ip["198.18.1.40"]
    assert (accepted["risk_accepted"], accepted["active"], accepted["severity"]) == (
        True,
        False,
        "High",  # the severity its zone carries; the exception is DefectDojo's to track
    )
    ids = [f["unique_id_from_tool"] for f in doc["findings"]]
    assert len(set(ids)) == len(ids)
    again = json.loads(out(office_result(), "defectdojo"))
    assert [f["unique_id_from_tool"] for f in again["findings"]] == ids  # stable on re-import


def test_defectdojo_keeps_hostile_text_inside_code_spans() -> None:
    doc = json.loads(out(sample_result(), "defectdojo"))
    hostile = next(f for f in doc["findings"] if f["endpoints"] == ["198.18.0.66"])
    assert "<script>alert(1)</script>" in hostile["steps_to_reproduce"]
    for span in re.findall(r"(`+) (.*?) \1", hostile["steps_to_reproduce"]):
        assert "`" * len(span[0]) not in span[1]


def dojo_hash_code(finding: dict[str, Any], fields: list[str] | None = None) -> str:
    """DefectDojo's hash_code for a finding as its generic parser builds it (Finding(**item):
    cwe 0, line and file_path None when absent). `fields`: a HASHCODE_FIELDS_PER_SCANNER entry;
    None is compute_hash_code_legacy, what Generic Findings Import uses by default
    (dojo/models.py: title + cwe + line + file_path + description, casefolded, sha256)."""
    import hashlib

    values = {"cwe": 0, "line": None, "file_path": None, **finding}
    if fields is None:
        text = "".join(str(values[k]) for k in ("title", "cwe", "line", "file_path"))
        text += values["description"]
    else:
        text = "".join(str(values[k]) for k in fields)
    return hashlib.sha256(text.casefold().encode("utf-8").strip()).hexdigest()


def test_defectdojo_hash_stays_the_same_for_a_device_across_runs() -> None:
    # The title held the address and segment, the description the evidence: a camera that moved,
    # or whose evidence varied, became a new finding and the old one closed with its notes.
    from camscan.model import Evidence, Strength

    first = office_result()
    second = office_result()
    moved = next(d for d in second.devices if d.ip == "198.18.0.11")
    mac = moved.mac
    moved.ip = "198.18.1.99"  # to the sensitive segment, by DHCP or a re-patch
    assert moved.verdict is not None
    moved.verdict.evidence = [
        *moved.verdict.evidence[:2],
        Evidence("hikvision.http.title", "http.title", "Web", "hikvision", Strength.WEAK),
    ]
    moved.verdict.confidence = 0.91
    moved.verdict.badge = None  # this time no probe read the badge
    moved.verdict.firmware = "V5.7.3"  # and the firmware was upgraded
    from camscan.policy import ExceptionEntry, PolicySettings, evaluate
    from tests.samples import SCAN_DAY, SEGMENTS

    accepted = [ExceptionEntry("r", "CISO", date(2099, 1, 1), mac="44:19:b6:00:00:0c")]
    second.findings = list(evaluate(second.devices, SEGMENTS, PolicySettings(), accepted, SCAN_DAY))
    before = {f["unique_id_from_tool"]: f for f in json.loads(out(first, "defectdojo"))["findings"]}
    after = {f["unique_id_from_tool"]: f for f in json.loads(out(second, "defectdojo"))["findings"]}
    assert set(before) == set(after)
    key = f"camscan:mac:{mac}"
    assert before[key]["endpoints"] != after[key]["endpoints"]  # it did move
    assert before[key]["steps_to_reproduce"] != after[key]["steps_to_reproduce"]
    assert (before[key]["severity"], after[key]["severity"]) == ("Critical", "High")
    for uid, f in before.items():
        for fields in (None, ["title", "description"]):
            assert dojo_hash_code(f, fields) == dojo_hash_code(after[uid], fields), uid
    hashes = [dojo_hash_code(f) for f in before.values()]
    assert len(set(hashes)) == len(hashes)  # one finding per device, never merged
    assert mac in before[key]["title"] and "198.18" not in before[key]["title"]
    assert "198.18" not in before[key]["description"]


# --- CSV ------------------------------------------------------------------------------------


def test_csv_bom_only_when_asked_and_non_ascii_survives() -> None:
    result = sample_result()
    result.devices[2].verdict.model = "Kamera Außenbereich, 東門"
    plain = out(result, "csv")
    excel = out(result, "csv", excel=True)
    assert not plain.startswith(BOM)
    assert excel.startswith(BOM)
    assert excel[1:] == plain
    decoded = excel.encode("utf-8").decode("utf-8-sig")  # what Excel does with the BOM
    assert "Kamera Außenbereich, 東門" in decoded
    assert next(csv.reader(io.StringIO(decoded)))[0] == "record"  # the header is not garbled
