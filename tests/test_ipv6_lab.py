"""IPv6 on an attached link (issue 28), in the "ipv6" lab: an IPv6-only Hikvision camera and a
dual-stack Hikvision recorder beside an IPv4-only workstation, on 198.18.70.0/24 and
2001:db8:70::/64. Every packet is sent from inside the lab's scanner namespace; the capture
checks that the IPv6 ones went only to the link's groups and the devices, within the rates.
"""

from __future__ import annotations

import ipaddress
import json
import math
import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab, TopologyError, load_topology
from camscan.lab.topology import parse_topology
from camscan.macaddr import mac_from_eui64
from tests.labtools import camscan_argv, guarded_env, run_camscan, scan_json

PREFIX = "2001:db8:70::/64"
CONFIG = """
[[segment]]
name = "cctv6"
zone = "sensitive"
cidrs = ["2001:db8:70::/96"]
[[segment]]
name = "office"
zone = "core"
cidrs = ["198.18.70.0/26"]
"""


@pytest.fixture(scope="module")
def ipv6(lab_factory: Callable[[str], Lab]) -> Lab:
    return lab_factory("ipv6")


# -- the topology file (no privileges) ------------------------------------------------------


def test_topology_has_an_ipv6_only_camera_and_a_dual_stack_recorder() -> None:
    topo = load_topology("ipv6")
    by_persona = {d.persona: d for d in topo.devices}
    camera, nvr = by_persona["hikvision-ipc"], by_persona["hikvision-nvr"]
    assert (camera.ipv4, camera.address) == (False, "2001:db8:70::20")
    assert (nvr.ipv4, nvr.ip6, nvr.address) == (True, "2001:db8:70::10", "198.18.70.10")


@pytest.mark.parametrize(
    ("network", "group", "message"),
    [
        ({"cidr6": "2001:db9::/64"}, {}, "outside 2001:db8::/32"),
        ({}, {"ipv6": ["2001:db8:70::9"]}, "has no cidr6"),
        ({"cidr6": PREFIX}, {"ipv4": False}, "needs ipv6 addresses"),
        ({"cidr6": PREFIX}, {"ipv6": ["2001:db8:71::9"]}, "is not in"),
    ],
)
def test_bad_ipv6_topologies_are_refused(
    network: dict[str, str], group: dict[str, Any], message: str
) -> None:
    net = {"name": "a", "cidr": "198.18.9.0/24", "scanner": "198.18.9.1", **network}
    g = {"persona": "workstation", "network": "a", "count": 1, **group}
    with pytest.raises(TopologyError, match=message):
        parse_topology({"network": [net], "group": [g]}, "t.toml", [])


# -- the built lab -------------------------------------------------------------------------


def _scan(lab: Lab, tmp_path: Path, *targets: str) -> dict[str, Any]:
    cfg = tmp_path / "camscan.toml"
    cfg.write_text(CONFIG)
    return scan_json(lab, *targets, "-c", str(cfg))


@pytest.mark.lab
def test_both_found_and_identified_the_dual_stack_one_once_zoned_by_ipv6(
    ipv6: Lab, tmp_path: Path
) -> None:
    doc = _scan(ipv6, tmp_path, PREFIX, "198.18.70.0/24")
    devices = {d["ip"]: d for d in doc["devices"]}
    camera, nvr = devices["2001:db8:70::20"], devices["198.18.70.10"]
    # the IPv6-only camera: found on the link, its MAC from neighbour discovery, read over IPv6
    assert camera["maker"] == "hikvision" and camera["confidence_label"] == "high"
    assert (camera["mac"], camera["mac_source"]) == ("58:50:ed:12:46:14", "wire")
    assert camera["ipv6"][0] == "2001:db8:70::20"
    [link_local] = [a for a in camera["ipv6"] if a.startswith("fe80:")]
    assert link_local.endswith("%eth0") and mac_from_eui64(link_local) == camera["mac"]
    assert {o["channel"] for o in camera["observations"]} >= {"ndp.mac", "http.header.server"}
    assert (camera["segment"], camera["zone"], camera["segment_by"]) == (
        "cctv6",
        "sensitive",
        "address",
    )
    # the dual-stack recorder: one device, both addresses, banners read over both
    assert nvr["maker"] == "hikvision" and nvr["model"] == "DS-7608NI-K2"
    assert nvr["ipv6"][0] == "2001:db8:70::10" and len(nvr["ipv6"]) == 2
    assert {o["ip"] for o in nvr["observations"] if o["channel"] == "http.status"} == {
        "198.18.70.10",
        "2001:db8:70::10",
    }
    assert (nvr["segment"], nvr["zone"]) == ("office", "core")
    assert [d["ip"] for d in doc["devices"]] == ["198.18.70.10", "198.18.70.30", "2001:db8:70::20"]
    assert devices["198.18.70.30"]["ipv6"] == []
    [v6] = [c for c in doc["run"]["coverage"] if c["target"] == PREFIX]
    assert (v6["method"], v6["interface"], v6["covered"], v6["answered"]) == (
        "icmpv6",
        "eth0",
        True,
        2,
    )
    assert not doc["run"]["partial"], doc["run"]["not_covered"]


@pytest.mark.lab
def test_a_prefix_on_no_attached_link_is_refused_in_one_line(ipv6: Lab) -> None:
    done = run_camscan(ipv6, "scan", "2001:db8:99::/64")
    assert done.returncode == 2
    assert "2001:db8:99::/64 is on no attached link" in done.stderr
    assert "eth0 2001:db8:70::/64" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.lab
def test_unprivileged_echo_finds_them_without_neighbour_discovery(ipv6: Lab) -> None:
    """No CAP_NET_RAW: the ICMPv6 ping socket (the lab allows every group to open one), and the
    MACs from the EUI-64 interface ids, marked derived."""
    ipv6.run(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"], check=True)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
    argv = [*nobody, *camscan_argv("scan", PREFIX, "-f", "json", "--probes", "icmpv6")]
    done = ipv6.run(argv, capture_output=True, text=True, env=guarded_env(ipv6), timeout=120)
    assert done.returncode in (0, 1), done.stderr
    doc = json.loads(done.stdout)
    assert doc["run"]["privileged"] is False
    found = {d["ip"]: d for d in doc["devices"]}
    assert {"2001:db8:70::20", "2001:db8:70::10"} <= set(found)  # echo from the global source
    derived = {d["mac"] for d in found.values() if d["mac_source"] == "derived"}
    assert derived == {"58:50:ed:12:46:14", "44:19:b6:12:46:0a"}  # from the link-local ids
    assert all(d["mac"] is None for ip, d in found.items() if not ip.startswith("fe80:"))
    assert not any(o["channel"] == "ndp.mac" for d in found.values() for o in d["observations"])


# Runs in the scanner's namespace: every IPv6 frame the scanner sends, classified.
CAPTURE = """
import ipaddress, json, select, socket, struct, sys
ETH_P_ALL, PACKET_OUTGOING, SO_TIMESTAMPNS = 0x0003, 4, 35
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.bind((sys.argv[1], 0))
print("ready", flush=True)
frames = []

def classify(f):
    if f[12:14] != b"\\x86\\xdd" or len(f) < 54:
        return None
    nxt, dst = f[20], str(ipaddress.IPv6Address(f[38:54]))
    if nxt == 0 and len(f) > 62:  # hop-by-hop options (MLD reports): what follows
        nxt = f[54]
    if nxt == 58:
        return f"icmpv6-{f[54]}", dst
    if nxt == 6:
        flags = f[54 + 13]
        return ("syn" if flags & 0x02 and not flags & 0x10 else "tcp"), dst
    return f"ipv6-{nxt}", dst

def drain():
    while True:
        try:
            data, anc, _, addr = s.recvmsg(65535, 64, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        if addr[2] != PACKET_OUTGOING:
            continue
        got = classify(data)
        stamp = next((struct.unpack("qq", d[:16]) for l, t, d in anc if t == SO_TIMESTAMPNS), None)
        if got and stamp:
            frames.append((stamp[0] + stamp[1] / 1e9, *got))

while True:
    ready, _, _ = select.select([s, sys.stdin], [], [])
    if s in ready:
        drain()
    if sys.stdin in ready and not sys.stdin.read():
        drain()
        break
for frame in frames:
    print(json.dumps(frame))
"""
RATE, HOST_RATE, WINDOW = 40, 10, 0.1


def _busiest(stamps: list[float]) -> int:
    stamps, most, first = sorted(stamps), 0, 0
    for last, t in enumerate(stamps):
        while t - stamps[first] >= WINDOW:
            first += 1
        most = max(most, last - first + 1)
    return most


def _allowed(rate: float) -> int:  # the README's promise: a tenth, rounded up, plus 10%
    return math.floor(math.ceil(rate * WINDOW) * 1.1)


def _solicited(addr: str) -> str:
    low = int(ipaddress.IPv6Address(addr.split("%")[0])) & 0xFFFFFF
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("ff02::1:ff00:0")) | low))


@pytest.mark.lab
def test_capture_ipv6_goes_only_to_the_links_groups_and_the_targets_within_the_rates(
    ipv6: Lab,
) -> None:
    argv = [sys.executable, "-c", textwrap.dedent(CAPTURE), ipv6.interfaces["link"]]
    cap = subprocess.Popen(
        ["ip", "netns", "exec", ipv6.scanner_ns, *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert cap.stdout is not None and cap.stdout.readline().strip() == "ready"
        rates = ("--rate", str(RATE), "--host-rate", str(HOST_RATE))
        done = run_camscan(ipv6, "scan", PREFIX, *rates, "-q", "-f", "json")
    finally:
        out, err = cap.communicate("", timeout=60)
    assert cap.returncode == 0, err
    assert done.returncode in (0, 1), done.stderr
    frames = [json.loads(line) for line in out.splitlines()]
    devices = json.loads(done.stdout)["devices"]
    addresses = {a.split("%")[0] for d in devices for a in d["ipv6"]}
    assert addresses >= {"2001:db8:70::20", "2001:db8:70::10"}, [
        (d["ip"], d["ipv6"], d["mac"]) for d in devices
    ]
    # the link's groups: all-nodes (the echo), the devices' solicited-node groups, MLD reports
    groups = {"ff02::1", "ff02::16"} | {_solicited(a) for a in addresses}
    strays = sorted({dst for _, _, dst in frames} - groups - addresses)
    assert strays == [], strays
    kinds: dict[str, int] = defaultdict(int)
    for _, kind, _ in frames:
        kinds[kind] += 1
    assert kinds["icmpv6-128"] == 4  # echo: link-local and global source, asked twice
    assert kinds["syn"] > 0  # banners over IPv6
    sent = [f for f in frames if f[1] in ("icmpv6-128", "icmpv6-135", "syn", "ipv6-17")]
    assert _busiest([t for t, _, _ in sent]) <= _allowed(RATE)
    by_host: dict[str, list[float]] = defaultdict(list)
    for t, _, dst in sent:
        if not dst.startswith("ff"):
            by_host[dst].append(t)
    assert by_host and all(_busiest(s) <= _allowed(HOST_RATE) for s in by_host.values())
