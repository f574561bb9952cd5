"""mDNS and WS-Discovery on IPv6 links (issue 28): the registry's IPv6 groups, what coverage
says they asked, the senders keyed as the icmpv6 probe keys them, replies over IPv6 parsed by
the same parsers (an IPv4 address named over IPv6 is no claim about another host)."""

from __future__ import annotations

import ipaddress
import socket

from hypothesis import given, settings
from hypothesis import strategies as st
from zeroconf import DNSAddress, DNSOutgoing, DNSPointer, DNSService, const

from camscan import channels as ch
from camscan import coverage
from camscan.discovery import mdns, registry, wsd
from camscan.discovery.multicast import Link6, _is_group_or_broadcast, address6
from camscan.discovery.registry import Reach
from camscan.netif import Interface6
from camscan.targets import TargetSet, place_ipv6
from tests.test_discovery_parsers import WSD_HIK

LINK = Link6("eth0", 7, ipaddress.IPv6Address("fe80::1"))
MINE = [
    Interface6("eth0", 7, None, ipaddress.IPv6Address(a), ipaddress.IPv6Network(n))
    for a, n in (("2001:db8:1::1", "2001:db8:1::/64"), ("fe80::1", "fe80::/64"))
]


def test_mdns_and_wsd_ask_their_ipv6_groups_on_target_links() -> None:
    assert registry.group6("mdns") == "ff02::fb"  # RFC 6762 3
    assert registry.group6("wsd") == "ff02::c"  # WS-Discovery 1.1 3.1.1
    assert all(registry.group6(n) is None for n in ("sadp", "dhip", "ssdp"))
    assert registry.get("mdns").reaches(Reach.LINK6) and registry.get("wsd").reaches(Reach.LINK6)
    assert not registry.get("sadp").reaches(Reach.LINK6)


def test_coverage_of_an_ipv6_link_names_what_was_asked_there() -> None:
    ts = place_ipv6(TargetSet.parse(["2001:db8:1::/64"], resolver=None), mine=MINE)
    [entry] = coverage.plan(ts, [], [], ["icmpv6", "wsd", "mdns", "sadp", "banners"])
    assert (entry.method, entry.interface) == ("icmpv6", "eth0")
    assert entry.probes == ["icmpv6", "wsd", "mdns", "banners"]  # not sadp: IPv4 only
    # without icmpv6 the multicast protocols still ask the link: covered by them
    [entry] = coverage.plan(ts, [], [], ["wsd", "mdns"])
    assert (entry.method, entry.probes, entry.note) == ("wsd", ["wsd", "mdns"], "")
    [entry] = coverage.plan(ts, [], [], ["sadp", "banners"])
    assert (entry.method, entry.note) == ("none", coverage.NO_IPV6)


def test_only_link_scope_groups_are_destinations_on_an_ipv6_link() -> None:
    for group in ("ff02::fb", "ff02::c", "ff02::1"):
        assert _is_group_or_broadcast(group, LINK), group
    for host in ("ff05::c", "ff0e::fb", "fe80::20", "2001:db8:1::20", "ff01::1"):
        assert not _is_group_or_broadcast(host, LINK), host


@given(st.ip_addresses(v=6))
def test_senders_are_keyed_as_the_icmpv6_probe_keys_them(addr: ipaddress.IPv6Address) -> None:
    key = address6(f"{addr}%7", "eth0")
    if addr.is_link_local:
        assert key == f"{addr}%eth0"
    else:
        assert key == str(addr)
    assert address6(key, "eth0") == key


def _reply(*addresses: str) -> bytes:
    """A Hikvision _CGI._tcp answer whose host name has these A/AAAA records."""
    out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
    stype = "_CGI._tcp.local."
    instance = f"HIKVISION DS-2CD2385G1-I - 733050075.{stype}"
    server = "DS-2CD2385G1-I20200414AAWRE733050075.local."
    out.add_answer_at_time(DNSPointer(stype, const._TYPE_PTR, const._CLASS_IN, 4500, instance), 0)
    srv = DNSService(instance, const._TYPE_SRV, const._CLASS_IN, 120, 0, 0, 80, server)
    out.add_answer_at_time(srv, 0)
    for a in addresses:
        family = socket.AF_INET6 if ":" in a else socket.AF_INET
        kind = const._TYPE_AAAA if ":" in a else const._TYPE_A
        packed = socket.inet_pton(family, a)
        out.add_answer_at_time(DNSAddress(server, kind, const._CLASS_IN, 120, packed), 0)
    return out.packets()[0]


def test_an_mdns_reply_over_ipv6_is_the_senders_unless_its_aaaa_names_another() -> None:
    sender = "fe80::5a50:edff:fe12:4614%eth0"
    # a dual-stack device answering over IPv6 with its IPv4 address: its own, reported_ip kept
    found = mdns.parse_mdns(_reply("198.18.70.20"), sender)
    assert found and {o.channel for o in found} >= {ch.MDNS_INSTANCE, ch.MDNS_SERVER}
    assert all(o.ip == sender and o.fields["reported_ip"] == "198.18.70.20" for o in found)
    # its own link-local address in AAAA (scope-less): its own, nothing reported
    found = mdns.parse_mdns(_reply("fe80::5a50:edff:fe12:4614", "198.18.70.20"), sender)
    assert found and all(
        o.channel != ch.MDNS_CLAIM and "reported_ip" not in o.fields for o in found
    )
    # only another host's IPv6 address: a claim, evidence about no one
    found = mdns.parse_mdns(_reply("2001:db8:70::99"), sender)
    assert found and [o.channel for o in found] == [ch.MDNS_CLAIM]
    assert found[0].fields["reported_ip"] == "2001:db8:70::99"
    # IPv4 unchanged: an A record naming another host is a claim
    found = mdns.parse_mdns(_reply("198.18.70.99", "2001:db8:70::20"), "198.18.70.20")
    assert found and [o.channel for o in found] == [ch.MDNS_CLAIM]


def test_a_wsd_answer_over_ipv6_is_the_senders() -> None:
    found = wsd.parse_wsd(WSD_HIK, "2001:db8:70::40")
    assert found and all(o.ip == "2001:db8:70::40" for o in found)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=1500),
    parser=st.sampled_from([mdns.parse_mdns, wsd.parse_wsd]),
    sender=st.ip_addresses(v=6).map(lambda a: address6(str(a), "eth0")),
)
def test_random_replies_over_ipv6_never_raise(data: bytes, parser: object, sender: str) -> None:
    assert callable(parser)
    result = parser(data, sender)
    assert result is None or all(o.ip == sender for o in result)
