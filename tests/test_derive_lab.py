"""In the lab: devices whose ONLY tell is a fact inside another value are attributed, with the
derivation in their evidence; look-alikes of those values stay unattributed (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LabFactory
from tests.test_scan_lab import camscan

pytestmark = pytest.mark.lab

# persona -> (maker, badge, model, confidence, text its evidence must show). A medium tell alone
# names the maker with low confidence (reported for review, not flagged): a reported MAC counts
# one strength lower than an ARP MAC, and a model grammar or an OEM badge is medium evidence.
DERIVED = {
    "hik-derived-epr-mac": (
        "hikvision",
        None,
        None,
        "low",
        "mac 58:50:ed:1f:e3:85 read from the ONVIF endpoint UUID",
    ),
    "dahua-derived-hardware-model": (
        "dahua",
        None,
        "IPC-HDW1431T1-S4",
        "low",
        "model IPC-HDW1431T1-S4 read from the ONVIF hardware/ scope",
    ),
    "hik-derived-name-badge": (
        "hikvision",
        "HiWatch",
        None,
        "low",
        "badge HiWatch read from the ONVIF name/ scope",
    ),
    "hik-derived-mdns-serial": (
        "hikvision",
        None,
        "DS-2CD2722FWD-IZS",
        "high",
        "read from the mDNS SRV target host name",
    ),
}
LOOKALIKES = ("lookalike-onvif-derived", "lookalike-badge-serial")


@pytest.fixture(scope="module")
def scanned(lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    lab = lab_factory("mixed")
    out: Path = tmp_path_factory.mktemp("derived") / "result.json"
    r = camscan(lab, "scan", "198.18.40.0/24", "-f", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    by_ip = {d["ip"]: d for d in json.loads(out.read_text())["devices"]}
    return {dev.persona: by_ip[dev.ip] for dev in lab.devices}


@pytest.mark.parametrize("persona", sorted(DERIVED))
def test_only_tell_inside_a_value_is_attributed_with_its_derivation(
    scanned: dict[str, Any], persona: str
) -> None:
    maker, badge, model, confidence, shown = DERIVED[persona]
    d = scanned[persona]
    assert d["mac"].startswith("02:"), persona  # the wire MAC says nothing
    assert (d["maker"], d["brand"], d["model"]) == (maker, badge, model), d["evidence"]
    assert d["confidence_label"] == confidence, d["summary"]
    assert all(e["channel"] != "arp.mac" for e in d["evidence"] if e["maker"])
    deciding = [e for e in d["evidence"] if e["maker"] == maker]
    assert any(shown in e["description"] for e in deciding), deciding


@pytest.mark.parametrize("persona", LOOKALIKES)
def test_look_alike_values_stay_unattributed(scanned: dict[str, Any], persona: str) -> None:
    d = scanned[persona]
    assert d["maker"] is None, d["evidence"]
    assert not d["flagged"]


def test_no_false_positive_on_any_lookalike_persona(scanned: dict[str, Any]) -> None:
    lookalikes = (
        "axis",
        "hanwha",
        "uniview",
        "xiongmai",
        "reolink",
        "generic-goahead",
        "printer",
        "workstation",
        *LOOKALIKES,
    )
    wrong = {
        p: scanned[p]["maker"] for p in lookalikes if scanned[p]["maker"] in ("hikvision", "dahua")
    }
    assert wrong == {}
