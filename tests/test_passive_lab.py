"""Passive discovery against the lab: a mirror port on the lab's bridge (hub mode: every frame
floods to every port), a stand-in recorder (tests/passive_vms.py, not camscan) searching and
talking to the cameras, and camscan hearing it, live (`listen`) and from a capture (`import`).
Every packet stays inside the lab's namespaces; camscan itself sends nothing, and a capture on
the hub side of its port proves it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab, netns
from tests.labtools import camscan_argv, guarded_env, scan_json

pytestmark = pytest.mark.lab

VMS = Path(__file__).with_name("passive_vms.py")
DUMPCAP = "/usr/bin/dumpcap"
MIRROR_IF, HUB_PORT = "mon0", "monp"


@pytest.fixture(scope="module")
def mirror(lab: Lab) -> Iterator[str]:
    """A namespace with no address whose only interface is a port of the lab's bridge, the
    bridge turned into a hub (ageing 0, no learning on that port) so it hears every frame."""
    layout = lab.layout
    assert layout is not None
    mon = f"{layout.prefix}mon"
    netns.add(mon)
    try:
        netns.sysctl(mon, {"net.ipv6.conf.all.disable_ipv6": "1"})
        netns.sysctl(mon, {"net.ipv6.conf.default.disable_ipv6": "1"})
        netns.ip_batch(
            [
                f"link add {HUB_PORT} type veth peer name {MIRROR_IF} netns {mon}",
                f"link set {HUB_PORT} master br0 up",
                "link set br0 type bridge ageing_time 0",
            ],
            namespace=layout.hub_ns,
        )
        netns.ip("link", "set", MIRROR_IF, "up", namespace=mon)
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                layout.hub_ns,
                "bridge",
                "link",
                "set",
                "dev",
                HUB_PORT,
                "learning",
                "off",
                "flood",
                "on",
            ],
            check=True,
        )
        yield mon
    finally:
        netns.ip(
            "link", "set", "br0", "type", "bridge", "ageing_time", "30000", namespace=layout.hub_ns
        )
        netns.delete(mon)


def _dumpcap(ns: str, iface: str, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, DUMPCAP, "-q", "-i", iface, "-w", str(out), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    return proc


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def heard(lab: Lab, mirror: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One recorder session heard three ways at once: camscan listen on the mirror port,
    dumpcap on the same port (for import), and dumpcap on the hub side of it (what it sent)."""
    layout = lab.layout
    assert layout is not None
    tmp = tmp_path_factory.mktemp("passive")
    capture, sent = tmp / "lab.pcapng", tmp / "sent.pcap"
    recorder = _dumpcap(mirror, MIRROR_IF, capture)
    outbound = _dumpcap(layout.hub_ns, HUB_PORT, sent, "-P", "-f", "inbound")
    listener = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            mirror,
            *camscan_argv("listen", "-i", MIRROR_IF, "-f", "json", "-o", str(tmp / "live.json")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=guarded_env(lab),
    )
    time.sleep(2.0)  # camscan (and scapy-free imports) up before the traffic starts
    devices = [d.ip for d in lab.devices]
    scanner_ip = "198.18.40.1"
    vms = lab.run(
        [sys.executable, str(VMS), scanner_ip, *devices],
        capture_output=True,
        text=True,
        env=lab.python_env(),
        timeout=600,
    )
    assert vms.returncode == 0, vms.stderr
    time.sleep(1.0)
    listener.send_signal(signal.SIGINT)
    _, listen_err = listener.communicate(timeout=120)
    _stop(recorder)
    _stop(outbound)
    imported = subprocess.run(
        camscan_argv("import", str(capture), "-f", "json"),
        capture_output=True,
        text=True,
        env=lab.python_env(),
        timeout=300,
        check=False,
    )
    (tmp / "active.json").write_text(json.dumps(active := scan_json(lab, "198.18.40.0/24")))
    return {
        "listen_code": listener.returncode,
        "listen_err": listen_err,
        "live": json.loads((tmp / "live.json").read_text()),
        "import_code": imported.returncode,
        "import_err": imported.stderr,
        "imported": json.loads(imported.stdout),
        "sent": sent,
        "active": active,
    }


def _makers(doc: dict[str, Any]) -> dict[str, str | None]:
    return {d["ip"]: d["maker"] for d in doc["devices"]}


def _evidence_ips(doc: dict[str, Any]) -> set[str]:
    return {d["ip"] for d in doc["devices"] if any(e["maker"] for e in d["evidence"])}


@pytest.mark.parametrize("way", ["imported", "live"])
def test_passive_names_the_same_makers_as_an_active_scan(heard: dict[str, Any], way: str) -> None:
    active, passive = _makers(heard["active"]), _makers(heard[way])
    identified = {ip: m for ip, m in active.items() if m}
    assert len(identified) >= 25
    # every device whose traffic carried evidence: the same maker as the active scan
    for ip in _evidence_ips(heard[way]):
        assert passive[ip] == active.get(ip), (ip, passive[ip], active.get(ip))
    # the recorder's traffic carries evidence for every camera the active scan named
    missed = sorted(set(identified) - {ip for ip, m in passive.items() if m})
    assert missed == []


def test_passive_result_is_never_clean(heard: dict[str, Any]) -> None:
    for way, code in (("imported", "import_code"), ("live", "listen_code")):
        doc = heard[way]
        assert heard[code] in (1, 3), heard[way + "_err" if way == "live" else "import_err"]
        assert doc["run"]["partial"] is True
        assert doc["verdict"]["status"] in ("action", "partial")
        assert all(c["method"] == "passive" and not c["covered"] for c in doc["run"]["coverage"])
        assert any("passive: not exhaustive" in line for line in doc["run"]["not_covered"])
    assert "on interface mon0" in heard["live"]["run"]["not_covered"][0]


def test_listen_sent_nothing(heard: dict[str, Any]) -> None:
    """The hub side of the listener's port captured every frame that came out of it: none."""
    data = heard["sent"].read_bytes()
    assert len(data) == 24, f"{(len(data) - 24)} bytes of frames left the listening port"
