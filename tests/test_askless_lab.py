"""Ask less (issue 27), counted on the wire: a camera whose SADP/DHIP reply already says maker,
class, model and firmware with high confidence gets no TCP connection from banners, and its
evidence says what was not asked and why; `--ask-all` asks it everything again.

One small lab (a Hikvision and a Dahua camera, a workstation), two scans, each with a capture
of the TCP SYNs the scanner sends, counted per destination.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab
from tests.conftest import LabFactory
from tests.labtools import guarded_env, outgoing_frames, run_camscan, topology_toml

pytestmark = pytest.mark.lab

DEVICES = {
    "198.18.62.64": "hikvision-ipc",
    "198.18.62.108": "dahua-ipc",
    "198.18.62.20": "workstation",
}
SMALL = topology_toml(
    "askless",
    [{"name": "core", "cidr": "198.18.62.0/24", "scanner": "198.18.62.1"}],
    [{"persona": p, "network": "core", "addresses": [ip]} for ip, p in DEVICES.items()],
    description="a Hikvision and a Dahua camera that say who they are, and a workstation",
)

# A TCP SYN (not SYN-ACK, not TCP's own retry of the same port and sequence), by destination.
CLASSIFY = """
syns = set()

def classify(f):
    if f[12:14] != b"\\x08\\x00" or len(f) < 34 or f[23] != 6:
        return None
    ihl = (f[14] & 15) * 4
    tcp = f[14 + ihl:]
    if len(tcp) < 14 or not tcp[13] & 0x02 or tcp[13] & 0x10 or tcp[:8] in syns:
        return None
    syns.add(tcp[:8])
    return "syn", socket.inet_ntoa(f[30:34])
"""


def scanned(lab: Lab, *flags: str) -> tuple[dict[str, Any], collections.Counter[str]]:
    """`camscan scan` of the lab with FLAGS: its JSON and the SYNs it sent, per destination."""
    (iface,) = lab.interfaces.values()
    env = guarded_env(lab, CAMSCAN_CONFIG="", HOME="/nonexistent")  # defaults: no config file
    with outgoing_frames(lab, iface, CLASSIFY) as frames:
        done = run_camscan(lab, "scan", "198.18.62.0/24", *flags, "-q", "-f", "json", env=env)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout), collections.Counter(dst for _, _, dst in frames)


@pytest.fixture(scope="module")
def runs(
    lab_factory: LabFactory, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[dict[str, Any], collections.Counter[str]]]:
    topology: Path = tmp_path_factory.mktemp("askless") / "askless.toml"
    topology.write_text(SMALL)
    lab = lab_factory(topology)
    return {"default": scanned(lab), "ask-all": scanned(lab, "--ask-all")}


def by_ip(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["ip"]: d for d in doc["devices"]}


def skipped(device: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in device["observations"] if o["channel"] == "banners.skipped"]


def test_a_device_discovery_knows_gets_no_connection_and_says_why(runs: Any) -> None:
    doc, syns = runs["default"]
    devices = by_ip(doc)
    known = [ip for ip, p in DEVICES.items() if p != "workstation"]
    for ip in known:
        assert syns[ip] == 0, f"{DEVICES[ip]}: {syns[ip]} SYNs"
        (note,) = [o for o in skipped(devices[ip]) if "known from discovery" in o["raw"]]
        assert "http:80" in note["fields"]["probes"] and "rtsp:554" in note["fields"]["probes"]
        assert devices[ip]["confidence_label"] == "high" and devices[ip]["model"]
    assert devices["198.18.62.64"]["maker"] == "hikvision"
    assert devices["198.18.62.108"]["maker"] == "dahua"
    # a skip is evidence, not a failure: the run is complete
    assert doc["run"]["partial"] is False
    # the workstation said nothing to discovery: it is still asked, but no alternative web port
    assert syns["198.18.62.20"] > 0
    (alternative,) = skipped(devices["198.18.62.20"])
    assert alternative["fields"]["probes"] == "http:8080 http:81 http:88 https:8443"


def test_ask_all_asks_every_device_again(runs: Any) -> None:
    doc, syns = runs["ask-all"]
    devices = by_ip(doc)
    for ip in DEVICES:
        assert syns[ip] > 0, DEVICES[ip]
        assert not skipped(devices[ip]), DEVICES[ip]
    assert devices["198.18.62.64"]["maker"] == "hikvision"
    assert devices["198.18.62.108"]["maker"] == "dahua"
    # asked everything, the cameras took more connections than asked less
    fewer = runs["default"][1]
    assert sum(syns.values()) > sum(fewer.values())
