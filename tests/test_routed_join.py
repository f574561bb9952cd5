"""A dual-stack device behind a router is one device: its IPv4 and IPv6 addresses join when
one router's tables (ARP and IPv6 neighbour rows of ipNetToPhysicalTable) give them the same
MAC on the same interface, and that MAC names one host there. The observations are made by the
snmp probe's own code (add_row, router_macs) from rows shaped as Debian's snmpd serves them;
the lab test is tests/test_routed6_lab.py."""

from __future__ import annotations

import ipaddress

from camscan import channels as ch
from camscan.discovery.base import ProbeOutcome
from camscan.discovery.snmp import IP_NET_TO_PHYSICAL, Table, add_row, router_macs
from camscan.model import Device, Observation, ScanRun
from camscan.pipeline import _attach, join_devices, merge_devices
from camscan.targets import TargetSet

ROUTER, OTHER_ROUTER = "198.18.66.254", "198.18.66.253"
DUAL_MAC, CAM_MAC = "3c:ef:8c:12:46:40", "58:50:ed:12:46:30"
V4, V6, CAM6 = "198.18.67.40", "2001:db8:67::40", "2001:db8:67::30"
TARGETS = TargetSet.parse(["198.18.67.0/24", "2001:db8:67::/120"], resolver=None)
CCTV = 3  # the router's ifIndex towards the cameras


def row(ifindex: int, ip: str, mac: str) -> tuple[tuple[int, ...], bytes]:
    """One ipNetToPhysicalPhysAddress varbind: ifIndex.addressType.length.address = MAC."""
    addr = ipaddress.ip_address(ip)
    kind = 1 if addr.version == 4 else 2
    oid = (*IP_NET_TO_PHYSICAL, ifindex, kind, len(addr.packed), *addr.packed)
    return oid, bytes.fromhex(mac.replace(":", ""))


def table(*rows: tuple[int, str, str]) -> Table:
    out: Table = {}
    for ifindex, ip, mac in rows:
        add_row(out, IP_NET_TO_PHYSICAL, *row(ifindex, ip, mac))
    return out


NORMAL = table((CCTV, V4, DUAL_MAC), (CCTV, V6, DUAL_MAC), (CCTV, CAM6, CAM_MAC))


def swept(*ips: str) -> list[Observation]:
    """What the routed sweep saw of each address: a refused connect."""
    return [Observation(ch.HOST_ALIVE, "tcp/80 refused", "l3", ip) for ip in ips]


def scan(tables: list[tuple[str, Table]], *extra: Observation) -> dict[str, Device]:
    found = swept(V4, V6, CAM6)
    devices = merge_devices([*found, *extra, *router_macs(tables, [V4, V6, CAM6])], TARGETS, [])
    return {d.ip: d for d in devices}


def test_one_routers_rows_with_one_mac_on_one_interface_make_one_device() -> None:
    by_ip = scan([(ROUTER, NORMAL)])
    assert set(by_ip) == {V4, CAM6}
    dual = by_ip[V4]
    assert (dual.mac, dual.mac_source, dual.ipv6, dual.in_scope) == (
        DUAL_MAC,
        "router",
        [V6],
        True,
    )
    assert {o.ip for o in dual.observations} == {V4, V6}
    links = {o.fields.get(ch.FIELD_ROUTER_LINK) for o in dual.observations if o.mac}
    assert links == {f"{ROUTER} ifIndex {CCTV}"}
    assert by_ip[CAM6].ipv6 == [CAM6] and by_ip[CAM6].mac == CAM_MAC


def test_the_scan_joins_them_once_snmp_has_given_the_macs_after_discovery() -> None:
    """snmp runs in the inspect phase: the devices exist before their router MACs arrive."""
    devices = merge_devices(swept(V4, V6, CAM6), TARGETS, [])
    assert len(devices) == 3
    run = ScanRun(targets=[], probes=[], started=0.0)
    _attach(ProbeOutcome(router_macs([(ROUTER, NORMAL)], [V4, V6, CAM6])), devices, run)
    joined = join_devices(devices)
    assert [(d.ip, d.ipv6) for d in joined] == [(V4, [V6]), (CAM6, [CAM6])]
    assert join_devices(joined) == joined  # again: the same


def test_a_mac_the_routers_table_gives_to_two_ipv4_addresses_joins_nothing() -> None:
    """A proxy-ARP box or a router answers for several IPv4 addresses with its MAC: even one
    not among the devices found (198.18.67.41) keeps the IPv6 address apart."""
    proxy = table((CCTV, V4, DUAL_MAC), (CCTV, "198.18.67.41", DUAL_MAC), (CCTV, V6, DUAL_MAC))
    by_ip = scan([(ROUTER, proxy)])
    assert set(by_ip) == {V4, V6, CAM6} and by_ip[V4].ipv6 == [] and by_ip[V6].ipv6 == [V6]
    assert by_ip[V4].mac == by_ip[V6].mac == DUAL_MAC  # both still named by it
    assert not any(
        ch.FIELD_ROUTER_LINK in o.fields
        for d in by_ip.values()
        for o in d.observations
        if o.mac == DUAL_MAC
    )


def test_the_routers_own_mac_or_one_on_two_of_its_interfaces_joins_nothing() -> None:
    own = table((CCTV, ROUTER, DUAL_MAC), (CCTV, V6, DUAL_MAC), (CCTV, V4, "00:11:22:33:44:55"))
    routers = {ROUTER: own}
    devices = merge_devices(
        [*swept(ROUTER, V6), *router_macs(list(routers.items()), [ROUTER, V6])], TARGETS, []
    )
    assert [d.ip for d in devices] == [ROUTER, V6]
    two_legs = table((CCTV, V4, DUAL_MAC), (CCTV + 1, V6, DUAL_MAC))
    assert set(scan([(ROUTER, two_legs)])) == {V4, V6, CAM6}


def test_two_routers_join_nothing_across_them_nor_where_they_disagree() -> None:
    v4_only, v6_only = table((CCTV, V4, DUAL_MAC)), table((CCTV, V6, DUAL_MAC))
    assert set(scan([(ROUTER, v4_only), (OTHER_ROUTER, v6_only)])) == {V4, V6, CAM6}
    disagrees = table((7, V6, "3c:ef:8c:99:99:99"))
    by_ip = scan([(ROUTER, NORMAL), (OTHER_ROUTER, disagrees)])
    assert set(by_ip) == {V4, V6, CAM6}
    assert by_ip[V6].mac == DUAL_MAC  # the first router listed gives it, as before
    agrees = table((7, V6, DUAL_MAC), (7, V4, DUAL_MAC))  # a second router on the same link
    assert set(scan([(ROUTER, NORMAL), (OTHER_ROUTER, agrees)])) == {V4, CAM6}


def test_a_payload_mac_or_one_read_in_another_place_joins_nothing() -> None:
    """A MAC an IPv4 reply's payload reports (SADP) joins neither the IPv6 address a router
    gives it nor one the link's neighbour discovery gives it; an IPv6 address with the link's
    MAC does not join an IPv4 one with the router's; a reported IPv6 MAC joins no ARP one."""
    fields = {ch.FIELD_MAC: DUAL_MAC}
    sadp = Observation(ch.SADP_REPLY, "<ProbeMatch/>", "sadp", V4, DUAL_MAC, fields)
    by_ip = scan([(ROUTER, table((CCTV, V6, DUAL_MAC)))], sadp)
    assert set(by_ip) == {V4, V6, CAM6} and by_ip[V4].mac_source == "reported"
    ndp = Observation(ch.NDP_MAC, DUAL_MAC, "icmpv6", V6, DUAL_MAC)
    assert [d.ip for d in merge_devices([sadp, ndp], TARGETS, [])] == [V4, V6]
    only_v4 = table((CCTV, V4, DUAL_MAC))
    devices = merge_devices([*swept(V4), ndp, *router_macs([(ROUTER, only_v4)], [V4])], TARGETS, [])
    assert [(d.ip, d.mac_source) for d in devices] == [(V4, "router"), (V6, "wire")]
    arp = Observation(ch.ARP_MAC, DUAL_MAC, "arp", V4, DUAL_MAC)
    onvif6 = Observation(ch.WSD_SCOPES, "onvif://www.onvif.org/MAC/x", "wsd", V6, DUAL_MAC, fields)
    devices = merge_devices([arp, onvif6], TARGETS, [])
    assert [(d.ip, d.ipv6) for d in devices] == [(V4, []), (V6, [V6])]
    assert [d.ip for d in merge_devices([arp, ndp], TARGETS, [])] == [V4]  # the link's: one
