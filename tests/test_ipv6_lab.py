"""IPv6 on an attached link (issue 28), in the "ipv6" lab: an IPv6-only Hikvision camera and a
dual-stack Hikvision recorder beside an IPv4-only workstation, on 198.18.70.0/24 and
2001:db8:70::/64. Every packet is sent from inside the lab's scanner namespace; the capture
checks that the IPv6 ones went only to the link's groups and the devices, within the rates.
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab, TopologyError, load_topology
from camscan.lab.topology import parse_topology
from camscan.macaddr import mac_from_eui64
from tests.labtools import (
    allowed,
    busiest,
    camscan_argv,
    guarded_env,
    outgoing_frames,
    run_camscan,
    scan_json,
)
from tests.test_exports import errors, schema

PREFIX = "2001:db8:70::/64"
LINK_ONLY = "fe80::ff:fe12:4632%eth0"  # hik-only-http-server: no global address (02:00:00:12:46:32)
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
    assert nvr["ipv6_reported"] == ["2001:db8:70::10"]  # its SADP reply (over IPv4) says so
    assert [d["ip"] for d in doc["devices"]] == [
        "198.18.70.10",
        "198.18.70.30",
        "2001:db8:70::20",
        "2001:db8:70::40",
        LINK_ONLY,
    ]
    assert devices["198.18.70.30"]["ipv6"] == []
    # mDNS (ff02::fb) and WS-Discovery (ff02::c) answered the camera's link-local address,
    # which neighbour discovery joined to it by its MAC
    over6 = {(o["probe"], o["ip"]) for o in camera["observations"]}
    assert {("mdns", link_local), ("wsd", link_local)} <= over6
    # the ONVIF-only IPv6-only camera: named by its WS-Discovery answer alone
    onvif = devices["2001:db8:70::40"]
    assert onvif["maker"] == "hikvision" and onvif["mac_source"] == "wire"
    heard = {o["probe"] for o in onvif["observations"] if o["channel"] != "banners.skipped"}
    assert heard == {"icmpv6", "wsd"}  # nothing else answers there (or was asked: ask less)
    assert all(o["ip"].startswith("fe80:") for o in onvif["observations"] if o["probe"] == "wsd")
    # the link-local-only camera: its banner read over fe80::...%eth0
    only = devices[LINK_ONLY]
    assert only["maker"] == "hikvision" and only["ipv6"] == [LINK_ONLY]
    assert {o["ip"] for o in only["observations"] if o["channel"] == "http.header.server"} == {
        LINK_ONLY
    }
    [v6] = [c for c in doc["run"]["coverage"] if c["target"] == PREFIX]
    assert (v6["method"], v6["interface"], v6["covered"], v6["answered"]) == (
        "icmpv6",
        "eth0",
        True,
        3,  # in the prefix: the link-local-only one is on the link, not in it
    )
    assert v6["probes"] == ["icmpv6", "wsd", "mdns", "banners"]
    assert not doc["run"]["partial"], doc["run"]["not_covered"]
    assert not errors(schema("result"), doc)  # the published schema takes IPv6 coverage


@pytest.mark.lab
def test_a_prefix_on_no_attached_link_is_refused_in_one_line(ipv6: Lab) -> None:
    done = run_camscan(ipv6, "scan", "2001:db8:99::/64")
    assert done.returncode == 2
    assert "2001:db8:99::/64 is on no attached link" in done.stderr
    assert "eth0 2001:db8:70::/64" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.lab
def test_unprivileged_echo_finds_them_without_neighbour_discovery(ipv6: Lab) -> None:
    """No CAP_NET_RAW: the ICMPv6 ping socket (the lab allows every group to open one), and the
    MACs from the EUI-64 interface ids, marked derived; mDNS and WS-Discovery over IPv6 are
    plain UDP sockets, unprivileged."""
    ipv6.run(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"], check=True)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
    argv = [*nobody, *camscan_argv("scan", PREFIX, "-f", "json", "--probes", "icmpv6,wsd,mdns")]
    done = ipv6.run(argv, capture_output=True, text=True, env=guarded_env(ipv6), timeout=120)
    assert done.returncode in (0, 1), done.stderr
    doc = json.loads(done.stdout)
    assert doc["run"]["privileged"] is False
    found = {d["ip"]: d for d in doc["devices"]}
    assert {"2001:db8:70::20", "2001:db8:70::10"} <= set(found)  # echo from the global source
    derived = {d["mac"] for d in found.values() if d["mac_source"] == "derived"}
    assert derived == {  # from the link-local ids
        "58:50:ed:12:46:14",
        "44:19:b6:12:46:0a",
        "02:00:00:12:46:28",
        "02:00:00:12:46:32",
    }
    heard = {(o["probe"], o["ip"]) for d in found.values() for o in d["observations"]}
    assert {p for p in heard if p[0] != "icmpv6"} == {
        ("wsd", "fe80::5a50:edff:fe12:4614%eth0"),
        ("mdns", "fe80::5a50:edff:fe12:4614%eth0"),
        ("wsd", "fe80::ff:fe12:4628%eth0"),
    }
    assert all(d["mac"] is None for ip, d in found.items() if not ip.startswith("fe80:"))
    assert not any(o["channel"] == "ndp.mac" for d in found.values() for o in d["observations"])


# Every IPv6 frame the scanner sends, by kind (ICMPv6 type, SYN) and destination.
CLASSIFY = """
SYNS = set()

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
        if not (flags & 0x02 and not flags & 0x10):
            return "tcp", dst
        # the kernel's retransmission of a SYN (same port and sequence): no new connection
        key = (dst, f[54:56], f[58:62])
        again = key in SYNS
        SYNS.add(key)
        return ("syn-again" if again else "syn"), dst
    return f"ipv6-{nxt}", dst

"""
RATE, HOST_RATE = 40, 10


def _solicited(addr: str) -> str:
    low = int(ipaddress.IPv6Address(addr.split("%")[0])) & 0xFFFFFF
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("ff02::1:ff00:0")) | low))


@pytest.mark.lab
def test_capture_ipv6_goes_only_to_the_links_groups_and_the_targets_within_the_rates(
    ipv6: Lab,
) -> None:
    rates = ("--rate", str(RATE), "--host-rate", str(HOST_RATE))
    with outgoing_frames(ipv6, ipv6.interfaces["link"], CLASSIFY) as frames:
        done = run_camscan(ipv6, "scan", PREFIX, *rates, "-q", "-f", "json")
    assert done.returncode in (0, 1), done.stderr
    devices = json.loads(done.stdout)["devices"]
    addresses = {a.split("%")[0] for d in devices for a in d["ipv6"]}
    assert addresses >= {"2001:db8:70::20", "2001:db8:70::10"}, [
        (d["ip"], d["ipv6"], d["mac"]) for d in devices
    ]
    # the link's groups: all-nodes (the echo), mDNS and WS-Discovery, the devices'
    # solicited-node groups, MLD reports (the kernel's, for the mDNS listener's group)
    groups = {"ff02::1", "ff02::fb", "ff02::c", "ff02::16"} | {_solicited(a) for a in addresses}
    strays = sorted({dst for _, _, dst in frames} - groups - addresses)
    assert strays == [], strays
    kinds: dict[str, int] = defaultdict(int)
    for _, kind, _ in frames:
        kinds[kind] += 1
    assert kinds["icmpv6-128"] == 4  # echo: link-local and global source, asked twice
    assert kinds["syn"] > 0  # banners over IPv6
    udp = {dst for _, kind, dst in frames if kind == "ipv6-17"}
    assert udp == {"ff02::fb", "ff02::c"}  # mDNS and WS-Discovery, to their groups only
    sent = [f for f in frames if f[1] in ("icmpv6-128", "icmpv6-135", "syn", "ipv6-17")]
    assert busiest([t for t, _, _ in sent]) <= allowed(RATE)
    by_host: dict[str, list[float]] = defaultdict(list)
    for t, _, dst in sent:
        if not dst.startswith("ff"):
            by_host[dst].append(t)
    over = {h: busiest(s) for h, s in by_host.items() if busiest(s) > allowed(HOST_RATE)}
    detail = sorted((round(t, 3), k, d) for t, k, d in sent if d in over)
    assert by_host and not over, (over, detail)
