"""Routed IPv6 (issue 28): a prefix behind the lab router, small enough to sweep, is swept
address by address through the route (TCP connects, every one through the run's limiter), the
cameras found are identified by their banners read over IPv6, and the router's IPv6 neighbour
rows (ipNetToPhysicalTable, InetAddressType 2, read from Debian's snmpd) give MACs, naming the
camera only its MAC names, and with its ARP rows join the dual-stack camera's two addresses
into one device (one MAC on one router interface). A prefix too large to sweep is refused with a hint. One lab build
("routed6"); every packet is sent from the lab's scanner namespace to 198.18.0.0/15 and
2001:db8::/32.
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab
from camscan.lab.snmpd import Agent, router_agent
from tests.labtools import allowed, busiest, guarded_env, outgoing_frames, run_camscan, snmpd_lab

pytestmark = pytest.mark.lab

PREFIX = "2001:db8:67::/122"  # 64 addresses behind the router: the cameras at ::20 and ::30
COMMUNITY = "ro-lab-6d2e"
RATE, HOST_RATE = 200, 10


@pytest.fixture(scope="module")
def lab(lab_factory: Any) -> Lab:
    return snmpd_lab(lab_factory, "routed6")


@pytest.fixture(scope="module")
def agent(lab: Lab) -> Iterator[Agent]:
    with router_agent(lab, community=COMMUNITY) as running:
        yield running


def _device(lab: Lab, persona: str) -> Any:
    return next(d for d in lab.devices if d.persona == persona)


def _scan(lab: Lab, *args: str) -> tuple[int, dict[str, Any], str]:
    done = run_camscan(lab, "scan", *args, "-q", "-f", "json", env=guarded_env(lab))
    assert done.returncode in (0, 1, 3), done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, doc, done.stderr


CLASSIFY = """
def classify(f):
    kind = f[12:14]
    if kind == b"\\x86\\xdd" and len(f) >= 54:
        nxt, dst, at = f[20], str(ipaddress.IPv6Address(f[38:54])), 54
        if nxt == 0 and len(f) > 62:  # hop-by-hop options (MLD reports): what follows
            nxt, at = f[54], 54 + (f[55] + 1) * 8
        if nxt == 58 and len(f) > at:
            return f"icmpv6-{f[at]}", dst
        if nxt == 6:
            flags = f[at + 13]
            return ("syn" if flags & 0x02 and not flags & 0x10 else "tcp6"), dst
        if nxt == 17 and f[at + 2:at + 4] == b"\\x00\\xa1":
            return "snmp6", dst
        return f"ipv6-{nxt}", dst
    if kind == b"\\x08\\x00" and len(f) >= 34:
        ihl = (f[14] & 15) * 4
        dst = socket.inet_ntoa(f[30:34])
        if f[23] == 17 and f[14 + ihl + 2:14 + ihl + 4] == b"\\x00\\xa1":
            return "snmp", dst
        return f"ipv4-{f[23]}", dst
    return None
"""


def test_a_routed_ipv6_prefix_is_swept_identified_and_named_through_the_routers_table(
    lab: Lab, agent: Agent, tmp_path: Path
) -> None:
    """One paced scan, captured: the camera with banners identified over the route, the
    OUI-only ones named by the router's neighbour and ARP rows, and on the wire IPv6 only to
    the target prefix (and the router's solicited-node group), SNMP only to the router, at
    the configured rates."""
    cfg = tmp_path / "snmp.toml"
    cfg.write_text(
        f'[snmp]\nrouters = ["{agent.address}"]\ncommunity = "{COMMUNITY}"\ndevices = true\n'
    )
    cfg.chmod(0o600)
    cam, silent6, dual = (
        _device(lab, p) for p in ("hikvision-ipc", "hik-oui-silent", "dahua-oui-silent")
    )
    rates = ("--rate", str(RATE), "--host-rate", str(HOST_RATE))
    targets = (PREFIX, str(dual.ip6), f"{dual.ip}/32")
    with outgoing_frames(lab, lab.interfaces["admin"], CLASSIFY) as frames:
        code, doc, err = _scan(lab, "-c", str(cfg), *targets, *rates)
    assert code in (0, 1) and not doc["run"]["partial"], (err, doc["run"]["not_covered"])
    by_ip = {d["ip"]: d for d in doc["devices"]}
    # the camera behind the router, IPv6 only: identified by what it said over the route
    found = by_ip[cam.ip6]
    assert found["maker"] == "hikvision" and found["confidence"] >= 0.9, found
    assert {e["channel"].split(".")[0] for e in found["evidence"]} & {"http", "rtsp", "tls"}
    # MACs from the router's IPv6 neighbour rows (and its ARP rows for the dual-stack one),
    # one strength below the wire: the OUI-only cameras named, not flagged
    for dev, ip in ((cam, cam.ip6), (silent6, silent6.ip6), (dual, dual.ip)):
        got = by_ip[ip]
        assert (got["mac"], got["mac_source"]) == (dev.mac, "router"), ip
    assert by_ip[silent6.ip6]["maker"] == "hikvision" and by_ip[silent6.ip6]["confidence"] < 0.7
    # the dual-stack camera is one device: the router's ARP and neighbour rows give its two
    # addresses one MAC on one interface; the IPv6-only cameras stay apart
    assert sorted(by_ip) == sorted([cam.ip6, silent6.ip6, dual.ip]), sorted(by_ip)
    assert [by_ip[ip]["ipv6"] for ip in (dual.ip, cam.ip6, silent6.ip6)] == [
        [dual.ip6],
        [cam.ip6],
        [silent6.ip6],
    ]
    assert by_ip[dual.ip]["maker"] == "dahua"
    summary = doc["summary"]  # the counts an estate's figures are made of: one camera, once
    assert (summary["devices"], summary["by_maker"]) == (3, {"hikvision": 2, "dahua": 1})
    links = {
        o["ip"]: o["fields"].get("router_link")
        for o in by_ip[dual.ip]["observations"]
        if o["channel"] == "snmp.router_mac"
    }
    assert links.keys() == {dual.ip, dual.ip6} and len(set(links.values())) == 1, links
    assert str(links[dual.ip]).startswith(f"{agent.address} ifIndex "), links
    # coverage: the routed prefix swept address by address, by l3
    (entry,) = [c for c in doc["run"]["coverage"] if c["target"] == PREFIX]
    assert (entry["method"], entry["planned"], entry["answered"], entry["covered"]) == (
        "l3",
        64,
        2,
        True,
    )
    stats = doc["run"]["stats"]
    assert stats["l3.hosts"] == 66 and stats["snmp.router_macs"] == 4
    # on the wire: IPv6 to the targets, the router's address and the groups NDP and MLD use
    inside = ipaddress.IPv6Network(PREFIX)
    router6 = str(lab.topology.network("admin").router6)
    for _, kind, dst in frames:
        if ":" not in dst:
            assert (kind == "snmp" and dst in (agent.address, dual.ip)) or (
                kind in ("ipv4-1", "ipv4-6", "ipv4-17") and dst == dual.ip  # echo, TCP, UDP
            ), (kind, dst)
        elif dst.startswith("ff02:"):  # RS, NS, MLDv2 reports
            assert kind in ("icmpv6-133", "icmpv6-135", "icmpv6-143"), (kind, dst)
        elif kind in ("syn", "tcp6"):
            assert ipaddress.IPv6Address(dst) in inside or dst == dual.ip6, dst
        elif kind == "snmp6":  # devices = true: a GET to each device found, over IPv6 too
            assert dst in {cam.ip6, silent6.ip6, dual.ip6}, dst
        else:
            near = dst == router6 or dst.startswith("fe80:")  # the router's NDP
            assert near and kind in ("icmpv6-135", "icmpv6-136"), (kind, dst)
    syns = [f for f in frames if f[1] == "syn"]
    assert {dst for _, _, dst in syns} >= {cam.ip6, silent6.ip6, dual.ip6}
    assert len({dst for _, _, dst in syns}) == 66 - 1  # every address asked; not the IPv4 one
    assert {dst for _, kind, dst in frames if kind == "snmp"} == {agent.address, dual.ip}
    assert {dst for _, kind, dst in frames if kind == "snmp6"} == {cam.ip6, silent6.ip6, dual.ip6}
    # at the configured rates: overall (connects and SNMP requests), and per host
    sent = [f for f in frames if f[1] in ("syn", "snmp", "snmp6", "ipv4-1", "ipv4-6", "ipv4-17")]
    assert busiest([t for t, _, _ in sent]) <= allowed(RATE)
    per_host: dict[str, list[float]] = defaultdict(list)
    for t, _, dst in sent:
        per_host[dst].append(t)
    over = {h for h, s in per_host.items() if busiest(s) > allowed(HOST_RATE)}
    detail = sorted((round(t, 3), k, d) for t, k, d in sent if d in over)
    assert not over, detail


def test_without_snmp_the_banners_still_name_the_camera_but_not_the_silent_one(lab: Lab) -> None:
    """Single routed IPv6 addresses are targets too; without the router's table the camera
    that answers only TCP resets has no MAC, so nothing names it."""
    cam, silent6 = _device(lab, "hikvision-ipc"), _device(lab, "hik-oui-silent")
    code, doc, err = _scan(lab, str(cam.ip6), str(silent6.ip6))
    assert code in (0, 1), err
    by_ip = {d["ip"]: d for d in doc["devices"]}
    assert by_ip[cam.ip6]["maker"] == "hikvision" and by_ip[cam.ip6].get("mac") is None
    assert by_ip[silent6.ip6].get("maker") is None and by_ip[silent6.ip6].get("mac") is None
    assert [c["method"] for c in doc["run"]["coverage"]] == ["l3", "l3"]


def test_a_prefix_too_large_to_sweep_is_asked_at_the_routers_neighbours(
    lab: Lab, agent: Agent, tmp_path: Path
) -> None:
    """With [snmp] routers, a routed /64 is not refused: the addresses the router's neighbour
    table lists inside it are asked, and nothing else; coverage says the prefix was asked only
    there (not covered whole: the run is partial)."""
    cam, silent6 = _device(lab, "hikvision-ipc"), _device(lab, "hik-oui-silent")
    _scan(lab, PREFIX)  # traffic through the router fills its neighbour table, as live use does
    cfg = tmp_path / "snmp.toml"
    cfg.write_text(f'[snmp]\nrouters = ["{agent.address}"]\ncommunity = "{COMMUNITY}"\n')
    cfg.chmod(0o600)
    code, doc, err = _scan(lab, "-c", str(cfg), "2001:db8:67::/64")
    assert code == 3, err  # partial: the /64 was asked only at the listed addresses
    by_ip = {d["ip"]: d for d in doc["devices"]}
    assert by_ip[cam.ip6]["maker"] == "hikvision" and by_ip[cam.ip6]["mac_source"] == "router"
    assert by_ip[silent6.ip6]["maker"] == "hikvision"
    stats = doc["run"]["stats"]
    listed = stats["snmp.neighbours_listed"]
    assert listed >= 2 and stats["l3.hosts"] == listed  # only those addresses were asked
    (entry,) = doc["run"]["coverage"]
    assert (entry["method"], entry["covered"]) == ("l3", False) and entry["answered"] >= 2
    assert "neighbour tables" in entry["note"]
    assert any("neighbour tables" in line for line in doc["run"]["not_covered"])


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("2001:db8:67::/64", "is routed and has 18446744073709551616 addresses"),
        ("2001:db8:67::/111", "more than the 65536 --max-hosts 65536 leaves"),
        ("2001:db8:99::/120", "no route to it"),
    ],
)
def test_a_routed_prefix_too_large_or_unrouted_is_refused_in_one_line(
    lab: Lab, target: str, says: str
) -> None:
    done = run_camscan(lab, "scan", target, "-q", "-f", "json")
    assert done.returncode == 2 and not done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert says in line and ("/112 or smaller" in line or "no route" in line), line
