"""The multicast discovery round against emulated devices in a network-namespace lab.

Discovery runs only inside the lab's scanner namespace (`lab.run`), never in the host's.
Personas: the bundled Hikvision and Dahua cameras, plus small test personas below for OEM
badges (EZVIZ, Intelbras, CP PLUS), SSDP description fetching and its scope rules, and a
hostile device whose replies must be dropped and counted.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from camscan import channels as ch
from camscan.lab import Lab, lab_problem, load_topology
from tests.labtools import topology_toml

pytestmark = pytest.mark.lab

NET = "198.18.4"
HIK, DAHUA, EZVIZ, INTELBRAS, CPPLUS = (f"{NET}.{n}" for n in (10, 11, 12, 13, 14))
UPNP, REDIRECT, HOSTILE, UPNP_OUT = (f"{NET}.{n}" for n in (20, 21, 30, 40))
TARGETS = f"{NET}.0/27"  # .40 answers discovery but lies outside the targets
WINDOW = 1.5
MAX_REPLY = 4096

TOPOLOGY = topology_toml(
    "discovery",
    [{"name": "lan", "cidr": f"{NET}.0/24", "scanner": f"{NET}.1"}],
    [
        {"persona": persona, "network": "lan", "addresses": addresses}
        for persona, addresses in (
            ("hikvision-ipc", [HIK]),
            ("dahua-ipc", [DAHUA]),
            ("t-ezviz", [EZVIZ]),
            ("t-intelbras", [INTELBRAS]),
            ("t-cpplus", [CPPLUS]),
            ("t-upnp", [UPNP, UPNP_OUT]),
            ("t-redirect", [REDIRECT]),
            ("t-hostile", [HOSTILE]),
        )
    ],
)

PERSONAS = {
    "t-ezviz": """
name = "t-ezviz"
mac_prefix = "54:c4:15"
[sadp]  # EZVIZ answers SADP (signatures.md 2.7), here not yet activated
reply = '''<?xml version="1.0" encoding="UTF-8"?>
<ProbeMatch><Uuid>${probe_uuid}</Uuid><Types>inquiry</Types>
<DeviceDescription>CS-C6TC-32WFR</DeviceDescription>
<DeviceSN>CS-C6TC-32WFR0120170327CCCH${serial9}</DeviceSN>
<MAC>${mac_dash}</MAC><IPv4Address>${ip}</IPv4Address>
<SoftwareVersion>V5.2.4build 180108</SoftwareVersion><Activated>false</Activated></ProbeMatch>'''
""",
    "t-intelbras": """
name = "t-intelbras"
mac_prefix = "b4:4c:3b"
[dhip.deviceInfo]  # Intelbras field capture (signatures.md 2.8)
DeviceClass = "BSC"
DeviceType = "SS 3530 MF FACE W"
Manufacturer = "Intelbras"
Port = 37777
SerialNo = "8H0C5E2PAZ${hex8}"
Vendor = "Intelbras"
Version = "2.000.00IB004.0.R"
""",
    "t-cpplus": """
name = "t-cpplus"
mac_prefix = "02:00:cc"
[wsd]  # Dahua scope layout with the CP PLUS name (signatures.md 2.5)
types = "dn:NetworkVideoTransmitter tds:Device"
scopes = ["onvif://www.onvif.org/location/country/India", "onvif://www.onvif.org/name/CP_PLUS",
  "onvif://www.onvif.org/hardware/CP-UNC-TA21PL3-Y",
  "onvif://www.onvif.org/type/Network_Video_Transmitter",
  "onvif://www.onvif.org/extension/unique_identifier/1"]
xaddrs = "http://${ip}/onvif/device_service"
""",
    "t-upnp": """
name = "t-upnp"
mac_prefix = "00:1f:54"
[ssdp]
server = "Linux/3.10, UPnP/1.0, Portable SDK for UPnP devices/1.6.18"
location = "http://${ip}:8080/desc.xml"
usn = "uuid:${uuid}"
[http.8080.paths."/desc.xml"]
status = 200
headers = [["Content-Type", "text/xml"]]
body = '''<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>
<manufacturer>LOREX</manufacturer><modelName>LNB4321B</modelName>
<serialNumber>ND0118${hex8}</serialNumber><UDN>uuid:${uuid}</UDN></device></root>'''
""",
    "t-redirect": f"""
name = "t-redirect"
mac_prefix = "02:00:dd"
[ssdp]  # points at another device's description: camscan must not follow it
server = "Linux/3.10, UPnP/1.0, Portable SDK for UPnP devices/1.6.18"
location = "http://{UPNP}:8080/desc.xml"
usn = "uuid:${{uuid}}"
""",
    "t-hostile": """
name = "t-hostile"
mac_prefix = "02:00:ee"
[sadp]  # billion laughs
reply = '''<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<ProbeMatch><Types>inquiry</Types><DeviceDescription>&c;</DeviceDescription></ProbeMatch>'''
[dhip]  # header lengths lie
malformed_header = true
[dhip.deviceInfo]
DeviceType = "EVIL"
[wsd]  # larger than the reply cap
types = "dn:NetworkVideoTransmitter"
scopes = ["onvif://www.onvif.org/name/EVIL"]
pad = 9000
""",
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    problem = lab_problem()
    if problem:
        pytest.skip(problem)
    root = tmp_path_factory.mktemp("discovery-lab")
    (root / "personas").mkdir()
    for name, text in PERSONAS.items():
        (root / "personas" / f"{name}.toml").write_text(text)
    (root / "discovery.toml").write_text(TOPOLOGY)
    with Lab(load_topology(root / "discovery.toml")) as running:
        yield running


def discover(lab: Lab, *prefix: str) -> tuple[dict[str, Any], float]:
    """Run one round in the scanner namespace; the parsed JSON and the wall time."""
    argv = [*prefix, sys.executable, "-m", "camscan.discovery.round", "--json", "--target", TARGETS]
    argv += ["--window", str(WINDOW), "--max-reply-bytes", str(MAX_REPLY)]
    began = time.monotonic()
    done = lab.run(argv, capture_output=True, text=True, env=lab.python_env(), timeout=60)
    elapsed = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout), elapsed


def by_ip(result: dict[str, Any], ip: str, channel: str) -> list[dict[str, Any]]:
    return [o for o in result["observations"] if o["ip"] == ip and o["channel"] == channel]


def field(result: dict[str, Any], ip: str, channel: str, key: str) -> str:
    values = {o["fields"].get(key) for o in by_ip(result, ip, channel)} - {None}
    assert len(values) == 1, (ip, channel, key, by_ip(result, ip, channel))
    return str(values.pop())


@pytest.fixture(scope="module")
def result(lab: Lab) -> dict[str, Any]:
    found, elapsed = discover(lab)
    assert elapsed < WINDOW + 3.0  # one bounded round, process start included
    return found


def test_hikvision_found_on_sadp_wsd_and_mdns(lab: Lab, result: dict[str, Any]) -> None:
    device = lab.device(HIK)
    assert field(result, HIK, ch.SADP_REPLY, ch.FIELD_MODEL) == "DS-2CD2385G1-I"
    serial = field(result, HIK, ch.SADP_REPLY, ch.FIELD_SERIAL)
    assert serial.startswith("DS-2CD2385G1-I20200414AAWR")
    assert field(result, HIK, ch.SADP_REPLY, ch.FIELD_FIRMWARE) == "V5.6.2build 190701"
    assert field(result, HIK, ch.SADP_REPLY, ch.FIELD_MAC) == device.mac
    assert field(result, HIK, ch.SADP_REPLY, ch.FIELD_ACTIVATED) == "true"
    assert field(result, HIK, ch.WSD_SCOPES, ch.FIELD_BADGE) == "HIKVISION"
    assert field(result, HIK, ch.WSD_SCOPES, ch.FIELD_MODEL) == "DS-2CD2385G1-I"
    assert field(result, HIK, ch.MDNS_INSTANCE, ch.FIELD_SERIAL) == serial


def test_dahua_found_on_dhip_dvrip_and_wsd(lab: Lab, result: dict[str, Any]) -> None:
    device = lab.device(DAHUA)
    assert field(result, DAHUA, ch.DHIP_REPLY, ch.FIELD_MODEL) == "IPC-HDW1431T1-S4"
    serial = field(result, DAHUA, ch.DHIP_REPLY, ch.FIELD_SERIAL)
    assert serial.startswith("6C01E93PAG")
    assert field(result, DAHUA, ch.DHIP_REPLY, ch.FIELD_FIRMWARE) == "2.800.0000000.13.R"
    assert field(result, DAHUA, ch.DHIP_REPLY, ch.FIELD_BADGE) == "Private"
    assert field(result, DAHUA, ch.DHIP_REPLY, ch.FIELD_MAC) == device.mac
    assert field(result, DAHUA, ch.DVRIP_REPLY, ch.FIELD_SERIAL) == serial
    assert field(result, DAHUA, ch.DVRIP_REPLY, ch.FIELD_MAC) == device.mac
    assert field(result, DAHUA, ch.WSD_SCOPES, ch.FIELD_BADGE) == "Dahua"


def test_oem_badges(lab: Lab, result: dict[str, Any]) -> None:
    assert field(result, EZVIZ, ch.SADP_REPLY, ch.FIELD_MODEL) == "CS-C6TC-32WFR"
    assert field(result, EZVIZ, ch.SADP_REPLY, ch.FIELD_ACTIVATED) == "false"
    assert field(result, EZVIZ, ch.SADP_REPLY, ch.FIELD_MAC) == lab.device(EZVIZ).mac
    assert field(result, INTELBRAS, ch.DHIP_REPLY, ch.FIELD_BADGE) == "Intelbras"
    assert field(result, INTELBRAS, ch.DHIP_REPLY, ch.FIELD_MODEL) == "SS 3530 MF FACE W"
    assert field(result, CPPLUS, ch.WSD_SCOPES, ch.FIELD_BADGE) == "CP_PLUS"
    assert field(result, CPPLUS, ch.WSD_SCOPES, ch.FIELD_MODEL) == "CP-UNC-TA21PL3-Y"


def test_ssdp_description_fetched_only_from_the_replying_in_target_device(
    result: dict[str, Any],
) -> None:
    assert field(result, UPNP, ch.UPNP_MANUFACTURER, ch.FIELD_BADGE) == "LOREX"
    assert field(result, UPNP, ch.UPNP_MODEL, ch.FIELD_MODEL) == "LNB4321B"
    # both answered M-SEARCH ...
    assert by_ip(result, REDIRECT, ch.SSDP_SERVER)
    assert by_ip(result, UPNP_OUT, ch.SSDP_SERVER)
    # ... but one's LOCATION names another host and the other lies outside the targets
    for ip in (REDIRECT, UPNP_OUT):
        assert not by_ip(result, ip, ch.UPNP_MANUFACTURER)
        assert not by_ip(result, ip, ch.UPNP_MODEL)


def test_hostile_replies_are_dropped_and_counted(result: dict[str, Any]) -> None:
    assert not [o for o in result["observations"] if o["ip"] == HOSTILE and o["probe"] != "ssdp"]
    for proto in ("sadp", "dhip", "wsd"):
        assert result["stats"].get(f"{proto}.dropped", 0) >= 1, result["stats"]
    assert result["errors"] == []


def test_runs_unprivileged(lab: Lab, result: dict[str, Any]) -> None:
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
    found, _ = discover(lab, *nobody)
    assert field(found, HIK, ch.SADP_REPLY, ch.FIELD_SERIAL)
    assert field(found, DAHUA, ch.DHIP_REPLY, ch.FIELD_SERIAL)
    assert field(found, DAHUA, ch.DVRIP_REPLY, ch.FIELD_SERIAL)
    assert field(found, HIK, ch.MDNS_INSTANCE, ch.FIELD_MODEL) == "DS-2CD2385G1-I"
    assert field(found, UPNP, ch.UPNP_MODEL, ch.FIELD_MODEL) == "LNB4321B"
    seen = {(o["probe"], o["ip"]) for o in found["observations"]}
    assert seen == {(o["probe"], o["ip"]) for o in result["observations"]}
