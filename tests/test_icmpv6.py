"""The icmpv6 probe's packets and parser, and how IPv6 addresses join devices (no packets)."""

from __future__ import annotations

import ipaddress
import struct

from hypothesis import given
from hypothesis import strategies as st

from camscan import channels
from camscan.discovery.icmpv6 import (
    ADVERT,
    ECHO_REPLY,
    PAYLOAD,
    echo_request,
    parse_reply,
    solicitation,
    solicited_node,
)
from camscan.model import Observation
from camscan.pipeline import merge_devices
from camscan.targets import TargetSet


def _advert(target: str, mac: bytes | None) -> bytes:
    msg = struct.pack("!BBHI", ADVERT, 0, 0, 0x60000000) + ipaddress.IPv6Address(target).packed
    return msg + (bytes([2, 1]) + mac if mac else b"")


def test_packets_as_rfc_4861_and_4443_lay_them_out() -> None:
    assert echo_request(0x1234, 1) == bytes.fromhex("80000000 12340001") + PAYLOAD
    assert str(solicited_node(ipaddress.IPv6Address("2001:db8:70::12:3456"))) == "ff02::1:ff12:3456"
    ns = solicitation(ipaddress.IPv6Address("fe80::1"), "02:00:00:00:00:01")
    assert ns[0] == 135 and ns[8:24] == ipaddress.IPv6Address("fe80::1").packed
    assert ns[24:] == bytes([1, 1, 2, 0, 0, 0, 0, 1])  # source link-layer address option


def test_replies_parsed_and_strangers_dropped() -> None:
    reply = struct.pack("!BBHHH", ECHO_REPLY, 0, 0, 7, 1) + PAYLOAD
    assert parse_reply(reply, 7) == ("echo", None)
    assert parse_reply(reply, 8) is None  # another process's echo
    assert parse_reply(reply, None) == ("echo", None)  # a ping socket: the kernel matched it
    assert parse_reply(reply[:-1] + b"X", 7) is None
    mac = bytes.fromhex("5850ed124614")
    assert parse_reply(_advert("2001:db8:70::20", mac), 7) == (
        "advert",
        "2001:db8:70::20=58:50:ed:12:46:14",
    )
    assert parse_reply(_advert("2001:db8:70::20", None), 7) is None  # no link-layer address
    bad_option = _advert("2001:db8:70::20", None) + bytes([2, 0, 0, 0, 0, 0, 0, 0])
    assert parse_reply(bad_option, 7) is None  # a zero-length option ends the walk


@given(st.binary(max_size=96), st.one_of(st.none(), st.integers(0, 0xFFFF)))
def test_any_bytes_parse_or_are_dropped(data: bytes, ident: int | None) -> None:
    got = parse_reply(data, ident)
    assert got is None or got[0] in ("echo", "advert")


def _obs(ip: str, mac: str | None, channel: str, source: str | None = None) -> Observation:
    fields = {channels.FIELD_INTERFACE: "eth0"}
    if mac and source:
        fields |= {channels.FIELD_MAC: mac, channels.FIELD_MAC_SOURCE: source}
    return Observation(
        channel, mac or "x", "t", ip, mac if channel != "host.alive" else None, fields
    )


TARGETS = TargetSet.parse(["198.18.70.0/24", "2001:db8:70::/64"], resolver=None).with_links(
    ["eth0"]
)
NVR = "44:19:b6:12:46:0a"


def test_a_dual_stack_device_is_one_device_keyed_by_its_wire_mac() -> None:
    found = merge_devices(
        [
            _obs("198.18.70.10", NVR, channels.ARP_MAC),
            _obs("2001:db8:70::10", NVR, channels.NDP_MAC, "wire"),
            _obs("fe80::4619:b6ff:fe12:460a%eth0", NVR, channels.NDP_MAC, "wire"),
            _obs("2001:db8:70::10", None, channels.HTTP_STATUS),
        ],
        TARGETS,
        [],
    )
    [nvr] = found
    assert (nvr.ip, nvr.mac, nvr.in_scope) == ("198.18.70.10", NVR, True)
    assert nvr.ipv6 == ["2001:db8:70::10", "fe80::4619:b6ff:fe12:460a%eth0"]
    assert {o.channel for o in nvr.observations} >= {channels.HTTP_STATUS, channels.NDP_MAC}


def test_an_ipv6_only_device_goes_by_its_global_address() -> None:
    cam = "58:50:ed:12:46:14"
    [dev] = merge_devices(
        [
            _obs("fe80::5a50:edff:fe12:4614%eth0", cam, channels.NDP_MAC, "wire"),
            _obs("2001:db8:70::20", cam, channels.NDP_MAC, "wire"),
        ],
        TARGETS,
        [],
    )
    assert (dev.ip, dev.ipv6[0], dev.mac_source) == ("2001:db8:70::20", "2001:db8:70::20", "wire")


def test_a_reported_mac_joins_nothing_and_two_ipv4_addresses_stay_apart() -> None:
    found = merge_devices(
        [
            _obs("198.18.70.10", NVR, channels.ARP_MAC),
            _obs("198.18.70.11", NVR, channels.ARP_MAC),
            _obs("2001:db8:70::10", NVR, channels.NDP_MAC, "wire"),
            _obs("2001:db8:70::99", NVR, channels.SADP_REPLY, "reported"),
        ],
        TARGETS,
        [],
    )
    assert [d.ip for d in found] == [
        "198.18.70.10",
        "198.18.70.11",
        "2001:db8:70::10",
        "2001:db8:70::99",
    ]
    assert [d.ipv6 for d in found][2:] == [["2001:db8:70::10"], ["2001:db8:70::99"]]
