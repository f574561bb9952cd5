"""The whole statement in the lab (issue 21): `camscan scan` on a core segment holding an Axis
camera, a white-label camera and a recorder (flagged, whatever their maker), a printer
answering WS-Discovery, a media server answering SSDP and RTSP and a Linux server (not
flagged), and a listed-maker camera at a sensitive site past its removal deadline (overdue)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from camscan.lab import Lab
from tests.conftest import LabFactory
from tests.labtools import run_camscan

pytestmark = pytest.mark.lab

CONFIG = """
[[segment]]
name = "hq-core"
cidrs = ["198.18.40.0/24"]
zone = "core"

[[segment]]
name = "finance"
cidrs = ["198.18.41.0/24"]
zone = "sensitive"

[policy.deadlines]
sensitive = 2024-04-26
"""
NARROW = CONFIG + "\n[policy]\ncore_any_maker = false\n"
# (persona -> flagged, finding type) as the statement reads
EXPECTED = {
    "axis": (True, "surveillance-on-core"),
    "whitelabel-camera": (True, "surveillance-on-core"),
    "dahua-nvr": (True, "listed-maker"),
    "printer-wsd": (False, None),
    "media-server": (False, None),
    "nginx-server": (False, None),
    "hikvision-ipc": (True, "listed-maker"),
}


@pytest.fixture(scope="module")
def statement(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Any:
    lab = lab_factory("statement")
    base = tmp_path_factory.mktemp("statement")
    out: dict[str, Any] = {"lab": lab}
    for name, text in (("wide", CONFIG), ("narrow", NARROW)):
        cfg = base / f"{name}.toml"
        cfg.write_text(text, encoding="utf-8")
        files = {fmt: base / f"{name}.{fmt}" for fmt in ("json", "csv", "ecs", "table")}
        done = run_camscan(
            lab,
            "scan",
            "--config",
            str(cfg),
            "--all-segments",
            *(a for fmt, path in files.items() for a in ("-o", f"{fmt}:{path}")),
        )
        assert done.returncode == 1, done.stderr  # flagged devices
        assert "Traceback" not in done.stderr
        out[name] = {fmt: path.read_text(encoding="utf-8") for fmt, path in files.items()}
        out[name]["doc"] = json.loads(out[name]["json"])
    overdue = run_camscan(
        lab,
        "scan",
        "--config",
        str(base / "wide.toml"),
        "--all-segments",
        "--fail-on",
        "overdue",
        "-q",
        "-f",
        "json",
    )
    out["overdue_exit"] = overdue.returncode
    return out


def _by_persona(lab: Lab, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    got = {d["ip"]: d for d in doc["devices"]}
    return {dev.persona: got[dev.ip] for dev in lab.devices}


def test_any_makers_surveillance_equipment_on_the_core_is_flagged(statement: Any) -> None:
    devices = _by_persona(statement["lab"], statement["wide"]["doc"])
    for persona, (flagged, kind) in EXPECTED.items():
        d = devices[persona]
        assert (d["flagged"], d["finding_type"]) == (flagged, kind), (persona, d["rationale"])
    axis, white = devices["axis"], devices["whitelabel-camera"]
    assert axis["maker"] == "axis" and axis["severity"] == "high"
    assert axis["surveillance"] == "yes"
    assert white["maker"] is None and white["surveillance"] == "yes"
    assert white["equipment_class"] == "video-transmitter"
    for persona in ("printer-wsd", "media-server", "nginx-server"):
        assert devices[persona]["surveillance"] != "yes", persona
    assert devices["printer-wsd"]["equipment_class"] == "other"
    assert devices["media-server"]["equipment_class"] == "other"


def test_the_recorder_reports_its_channels_and_the_summary_totals_them(statement: Any) -> None:
    wide = statement["wide"]
    nvr = _by_persona(statement["lab"], wide["doc"])["dahua-nvr"]
    assert (nvr["equipment_class"], nvr["recorder_channels"]) == ("recorder", 8)
    hidden = wide["doc"]["summary"]["hidden_cameras"]
    assert hidden["channels"] == 8 and hidden["recorders"] == 1
    assert "up to 8 cameras out of the network's sight" in hidden["note"]
    assert wide["doc"]["summary"]["devices"] == len(statement["lab"].devices)  # not + 8
    assert "coverage: up to 8 cameras out of the network's sight" in wide["table"]
    rows = list(csv.DictReader(io.StringIO(wide["csv"])))
    assert any(r["record"] == "hidden_cameras" for r in rows)
    assert any(r["recorder_channels"] == "8" for r in rows)


def test_the_listed_camera_past_its_deadline_is_overdue_in_every_format(statement: Any) -> None:
    wide = statement["wide"]
    cam = _by_persona(statement["lab"], wide["doc"])["hikvision-ipc"]
    assert (cam["deadline"], cam["overdue"]) == ("2024-04-26", True)
    assert wide["doc"]["summary"]["overdue"] == 1
    assert "1 OVERDUE" in wide["doc"]["verdict"]["text"]
    assert "listed maker at a sensitive site (Hikvision)" in wide["table"]
    assert "OVERDUE" in wide["table"]
    rows = {r["ip"]: r for r in csv.DictReader(io.StringIO(wide["csv"])) if r["record"] == "device"}
    assert rows[cam["ip"]]["overdue"] == "true"
    events = [json.loads(line) for line in wide["ecs"].splitlines()]
    event = next(e for e in events if e.get("host", {}).get("ip") == [cam["ip"]])
    assert "overdue" in event["tags"] and event["camscan"]["overdue"] is True
    assert statement["overdue_exit"] == 1


def test_the_verdict_line_and_table_name_both_finding_types(statement: Any) -> None:
    wide = statement["wide"]
    text = wide["doc"]["verdict"]["text"]
    assert "(2 listed maker, 2 surveillance equipment on the core network; 1 OVERDUE)" in text
    assert "surveillance equipment on the core network (Axis)" in wide["table"]
    assert "surveillance equipment on the core network (unknown maker)" in wide["table"]


def test_the_narrow_reading_flags_only_the_listed_makers(statement: Any) -> None:
    lab = statement["lab"]
    wide = _by_persona(lab, statement["wide"]["doc"])
    narrow = _by_persona(lab, statement["narrow"]["doc"])
    for persona, d in narrow.items():
        listed = d["maker"] in ("hikvision", "dahua")
        assert d["flagged"] is listed, persona
        if listed:  # the listed-maker findings are the same either way
            for key in ("flagged", "severity", "finding_type", "deadline", "overdue"):
                assert d[key] == wide[persona][key], (persona, key)
