"""IPv6 addresses that SADP, DHIP and DVRIP replies state (issue 28): read from real reply
layouts, kept on the device as reported (devices[].ipv6_reported), never joining devices."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from camscan import channels as ch
from camscan.discovery import dhip, dvrip, sadp
from camscan.discovery.multicast import ipv6_or_none
from camscan.model import Observation
from camscan.pipeline import merge_devices
from camscan.targets import TargetSet
from tests.test_discovery_parsers import (
    DHIP_DAHUA_INFO,
    DVRIP_NVR,
    SADP_HIK,
    dhip_reply,
    dvrip_reply,
)

# A real Intelbras (Dahua OEM) DHIP reply's IPv6Address object, with a global address (index id
# 2658589927), and a Dahua IPC's with none set, "/0" (index id 28488762960; signatures.md 2.8)
INTELBRAS_V6 = {
    "DefaultGateway": "fe80::1272:23ff:fe4c:1d5a",
    "DhcpEnable": True,
    "IPAddress": "2804:7f4:5380:8bc5:5810:8cff:fe4d:3bfa/64",
    "LinkLocalAddress": "fe80::5a10:8cff:fe4d:3bfa/64",
}
DAHUA_V6 = {
    "DefaultGateway": None,
    "DhcpEnable": False,
    "IPAddress": "/0",
    "LinkLocalAddress": "fe80::0aed:edff:fe87:427a/64",
}


def _stated(observations: list[Observation] | None) -> str | None:
    assert observations
    return observations[0].fields.get(ch.FIELD_REPORTED_IPV6)


def test_dhip_states_its_global_and_link_local_addresses() -> None:
    reply = dhip_reply("58:10:8c:4d:3b:fa", {**DHIP_DAHUA_INFO, "IPv6Address": INTELBRAS_V6})
    found = _stated(dhip.parse_dhip(reply, "198.18.1.30"))
    assert found == "2804:7f4:5380:8bc5:5810:8cff:fe4d:3bfa fe80::5a10:8cff:fe4d:3bfa"
    reply = dhip_reply("08:ed:ed:87:42:7a", {**DHIP_DAHUA_INFO, "IPv6Address": DAHUA_V6})
    assert _stated(dhip.parse_dhip(reply, "198.18.1.30")) == "fe80::aed:edff:fe87:427a"
    # the gateway is not the device's; an unset IPv6 block says nothing
    reply = dhip_reply("08:ed:ed:87:42:7a", DHIP_DAHUA_INFO)
    assert _stated(dhip.parse_dhip(reply, "198.18.1.30")) is None


def test_sadp_and_dvrip_state_theirs_and_unset_is_nothing() -> None:
    assert _stated(sadp.parse_sadp(SADP_HIK, "198.18.1.20")) is None  # <IPv6Address>::
    set6 = SADP_HIK.replace(b"<IPv6Address>::<", b"<IPv6Address>2001:db8:70::10<")
    assert _stated(sadp.parse_sadp(set6, "198.18.1.20")) == "2001:db8:70::10"
    assert _stated(dvrip.parse_dvrip(DVRIP_NVR, "198.18.1.50")) is None  # IPv6Addr:::
    reply = dvrip_reply(
        "DHI-NVR4104HS", "198.18.1.50", "3C:EF:8C:12:34:56", {"IPv6Addr": "2001:db8::50"}
    )
    observations = dvrip.parse_dvrip(reply, "198.18.1.50")
    assert _stated(observations) == "2001:db8::50"
    assert observations and "ipv6" not in observations[0].fields


@given(st.ip_addresses(v=6), st.integers(0, 128))
def test_a_stated_address_is_read_with_or_without_its_prefix_length(
    addr: ipaddress.IPv6Address, plen: int
) -> None:
    unset = addr.is_unspecified or addr.is_multicast or addr.is_loopback or addr.ipv4_mapped
    expected = None if unset else str(addr)
    assert ipv6_or_none(f"{addr.exploded}/{plen}") == expected
    assert ipv6_or_none(f" {addr} ") == expected


@given(st.text(max_size=80))
def test_any_stated_text_is_an_address_or_nothing(text: str) -> None:
    found = ipv6_or_none(text)
    assert found is None or ipaddress.IPv6Address(found).compressed == found


def test_a_reported_address_joins_no_device() -> None:
    """The recorder's SADP reply (over IPv4) states 2001:db8:70::10; a host that answered
    neighbour discovery from that address with another MAC stays its own device."""
    cam = "58:50:ed:12:46:14"
    nvr = "44:19:b6:12:46:0a"
    fields = {
        ch.FIELD_MAC: nvr,
        ch.FIELD_REPORTED_IPV6: "2001:db8:70::10 fe80::4619:b6ff:fe12:460a",
    }
    reply = Observation(ch.SADP_REPLY, "<ProbeMatch/>", "sadp", "198.18.70.10", nvr, fields)
    ndp = Observation(
        ch.NDP_MAC,
        cam,
        "icmpv6",
        "2001:db8:70::10",
        cam,
        {ch.FIELD_MAC: cam, ch.FIELD_MAC_SOURCE: "wire", ch.FIELD_INTERFACE: "eth0"},
    )
    targets = TargetSet.parse(["198.18.70.0/24", "2001:db8:70::/64"], resolver=None)
    devices = merge_devices([reply, ndp], targets.with_links(["eth0"]), [])
    by_ip = {d.ip: d for d in devices}
    assert set(by_ip) == {"198.18.70.10", "2001:db8:70::10"}
    recorder = by_ip["198.18.70.10"]
    assert recorder.ipv6 == []
    assert recorder.ipv6_reported == ["2001:db8:70::10", "fe80::4619:b6ff:fe12:460a"]
    assert by_ip["2001:db8:70::10"].ipv6_reported == []
