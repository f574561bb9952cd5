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
from tests.samples import sample_result

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


_PLAIN_TYPES: dict[str, Any] = {"keyword": str, "text": str, "object": dict, "float": int | float}


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
    for line in lines(out(RESULTS[which](), "ecs")):
        for path, value in leaves(line):
            if path.startswith("camscan."):
                continue  # camscan's own fields, in their own namespace as ECS asks
            assert path in published, path
            assert _type_ok(published[path], value), (path, value)


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
    assert "<script>alert(1)</script>" in hostile["description"]
    for span in re.findall(r"(`+) (.*?) \1", hostile["description"]):
        assert "`" * len(span[0]) not in span[1]


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
