"""Ask less (issue 27), counted on the wire: a camera whose SADP/DHIP reply already says maker,
class, model and firmware with high confidence gets no TCP connection from banners, and its
evidence says what was not asked and why; a camera whose maker alone discovery gave with high
confidence is not asked on another maker's SDK port; `--ask-all` asks everything again.

One small lab (a Hikvision and a Dahua camera, an Axis, a HiLook and a Hanwha camera, a
workstation), two scans, each with a capture of the TCP SYNs the scanner sends, counted per
destination and port.
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
    "198.18.62.30": "axis",  # maker from discovery (mDNS, SSDP, WS-Discovery), no firmware
    "198.18.62.40": "hilook",  # a Hikvision badged HiLook: maker hikvision, no firmware
    "198.18.62.50": "hanwha",  # its maker from its OUI alone (the ARP sweep's answer)
}
KNOWN = ("198.18.62.64", "198.18.62.108")  # maker, class, model and firmware from discovery
SDK_PORTS = {8000: "Hikvision", 37777: "Dahua"}  # each maker's SDK port (makers.toml)
SMALL = topology_toml(
    "askless",
    [{"name": "core", "cidr": "198.18.62.0/24", "scanner": "198.18.62.1"}],
    [{"persona": p, "network": "core", "addresses": [ip]} for ip, p in DEVICES.items()],
    description="cameras that say who they are, two that say their maker, and a workstation",
)

# A TCP SYN (not SYN-ACK, not TCP's own retry of the same port and sequence), by destination
# address and port.
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
    return "syn", f"{socket.inet_ntoa(f[30:34])}:{int.from_bytes(tcp[2:4], 'big')}"
"""


def scanned(lab: Lab, *flags: str) -> tuple[dict[str, Any], collections.Counter[str]]:
    """`camscan scan` of the lab with FLAGS: its JSON and the SYNs it sent, per destination
    ("ip:port"; `per_host` adds them up per address)."""
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


def per_host(syns: collections.Counter[str]) -> collections.Counter[str]:
    out: collections.Counter[str] = collections.Counter()
    for dst, n in syns.items():
        out[dst.rpartition(":")[0]] += n
    return out


def by_ip(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["ip"]: d for d in doc["devices"]}


def skipped(device: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in device["observations"] if o["channel"] == "banners.skipped"]


def test_a_device_discovery_knows_gets_no_connection_and_says_why(runs: Any) -> None:
    doc, by_port = runs["default"]
    syns = per_host(by_port)
    devices = by_ip(doc)
    for ip in KNOWN:
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


def test_a_maker_discovery_gave_is_not_asked_on_other_makers_sdk_ports(runs: Any) -> None:
    doc, syns = runs["default"]
    devices = by_ip(doc)
    axis, hilook = devices["198.18.62.30"], devices["198.18.62.40"]
    assert axis["maker"] == "axis" and hilook["maker"] == "hikvision"
    assert devices["198.18.62.50"]["maker"] == "hanwha"
    assert hilook["brand"] == "HiLook"
    # Axis: neither Hikvision's nor Dahua's SDK port; HiLook (Hikvision hardware): not
    # Dahua's, but its own maker's port 8000 is still asked
    for ip, maker, asked, not_asked in (
        ("198.18.62.30", "Axis", (), (8000, 37777)),
        ("198.18.62.40", "Hikvision", (8000,), (37777,)),
        ("198.18.62.50", "Hanwha Vision", (), (8000, 37777)),
    ):
        for port in not_asked:
            assert syns[f"{ip}:{port}"] == 0, f"{DEVICES[ip]} asked on {port}"
            (note,) = [o for o in skipped(devices[ip]) if f"tcp:{port}" in o["fields"]["probes"]]
            assert f"{SDK_PORTS[port]}'s SDK port" in note["fields"]["reason"]
            assert f"maker {maker}" in note["fields"]["reason"]
            assert "high confidence" in note["fields"]["reason"]
        for port in asked:
            assert syns[f"{ip}:{port}"] > 0, f"{DEVICES[ip]} not asked on its own {port}"
        if ip == "198.18.62.50":  # the maker its OUI names, heard as the ARP sweep went
            assert "(arp:raw)" in note["fields"]["reason"]
        # HTTP, RTSP and TLS are still asked: a maker conflict still shows there
        assert syns[f"{ip}:80"] > 0
        assert not any("known from discovery" in o["raw"] for o in skipped(devices[ip]))
    assert doc["run"]["partial"] is False


def test_ask_all_asks_every_device_again(runs: Any) -> None:
    doc, by_port = runs["ask-all"]
    syns = per_host(by_port)
    devices = by_ip(doc)
    for ip in DEVICES:
        assert syns[ip] > 0, DEVICES[ip]
        assert not skipped(devices[ip]), DEVICES[ip]
    for ip in ("198.18.62.30", "198.18.62.40", "198.18.62.50"):  # every SDK port again
        assert by_port[f"{ip}:8000"] > 0 and by_port[f"{ip}:37777"] > 0, DEVICES[ip]
    assert devices["198.18.62.64"]["maker"] == "hikvision"
    assert devices["198.18.62.108"]["maker"] == "dahua"
    # asked everything, the cameras took more connections than asked less
    fewer = per_host(runs["default"][1])
    assert sum(syns.values()) > sum(fewer.values())
