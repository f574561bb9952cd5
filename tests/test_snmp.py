"""SNMP without a network: the ARP-table row parser, the device answers, the [snmp] table and
the credentials (never a default), and a router MAC's place in merging and identification.
The lab tests (tests/test_snmp_lab.py) run the probe against Debian's snmpd."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camscan import channels as ch
from camscan.config import ConfigError, parse_config
from camscan.discovery.base import ProbeContext
from camscan.discovery.snmp import (
    ENTERPRISE_FIELDS,
    IP_NET_TO_MEDIA,
    IP_NET_TO_PHYSICAL,
    SYS_DESCR,
    SYS_OBJECT_ID,
    SnmpProbe,
    device_observations,
    parse_arp_row,
)
from camscan.discovery.snmpconf import Credentials, SnmpSettings, credentials
from camscan.errors import ProbeKind
from camscan.identify.engine import identify_device
from camscan.identify.oui import OuiDB
from camscan.identify.signatures import SignatureDB
from camscan.model import Observation
from camscan.pipeline import merge_devices
from camscan.targets import TargetSet

HIK_MAC = bytes.fromhex("5850ed123456")


# -- the row parser ------------------------------------------------------------------------------


def test_rows_of_both_tables_give_the_address_and_the_mac() -> None:
    physical = (*IP_NET_TO_PHYSICAL, 3, 1, 4, 198, 18, 61, 7)
    assert parse_arp_row(IP_NET_TO_PHYSICAL, physical, HIK_MAC) == (
        "198.18.61.7",
        "58:50:ed:12:34:56",
    )
    media = (*IP_NET_TO_MEDIA, 3, 198, 18, 61, 7)
    assert parse_arp_row(IP_NET_TO_MEDIA, media, HIK_MAC) == ("198.18.61.7", "58:50:ed:12:34:56")


@pytest.mark.parametrize(
    ("oid", "value", "why"),
    [
        ((*IP_NET_TO_PHYSICAL, 3, 2, 16, *([0] * 16)), HIK_MAC, "IPv6 ::, no address"),
        ((*IP_NET_TO_PHYSICAL, 3, 2, 16, 0xFE, 0x80, *([0] * 13), 9), HIK_MAC, "link-local"),
        ((*IP_NET_TO_PHYSICAL, 3, 2, 16, 0xFF, 2, *([0] * 13), 1), HIK_MAC, "IPv6 multicast"),
        ((*IP_NET_TO_PHYSICAL, 3, 2, 16, 0x20, 1, 0xD, 0xB8, *([0] * 11)), HIK_MAC, "15 octets"),
        ((*IP_NET_TO_PHYSICAL, 3, 2, 4, 198, 18, 61, 7), HIK_MAC, "type ipv6, length 4"),
        ((*IP_NET_TO_PHYSICAL, 3, 4, 16, 0x20, 1, 0xD, 0xB8, *([0] * 12)), HIK_MAC, "ipv6z"),
        ((*IP_NET_TO_PHYSICAL, 3, 1, 4, 198, 18, 61), HIK_MAC, "a short index"),
        ((*IP_NET_TO_PHYSICAL, 3, 1, 4, 198, 18, 61, 300), HIK_MAC, "an octet over 255"),
        ((*IP_NET_TO_PHYSICAL, 3, 1, 4, 198, 18, 61, 7), b"", "an incomplete entry: no MAC"),
        ((*IP_NET_TO_PHYSICAL, 3, 1, 4, 198, 18, 61, 7), bytes(6), "an all-zero MAC"),
        ((*IP_NET_TO_PHYSICAL, 3, 1, 4, 198, 18, 61, 7), b"\x01\x00\x5e\x00\x00\x01", "multicast"),
        ((*IP_NET_TO_PHYSICAL, 3, 1, 4, 198, 18, 61, 7), HIK_MAC + b"\0", "seven octets"),
        ((1, 3, 6, 1, 2, 1, 4, 35, 1, 5, 3, 1, 4, 198, 18, 61, 7), HIK_MAC, "another column"),
    ],
)
def test_rows_that_name_no_unicast_address_and_mac_are_dropped(
    oid: tuple[int, ...], value: bytes, why: str
) -> None:
    assert parse_arp_row(IP_NET_TO_PHYSICAL, oid, value) is None, why


@given(
    column=st.sampled_from([IP_NET_TO_PHYSICAL, IP_NET_TO_MEDIA, (1, 3, 6)]),
    suffix=st.lists(st.integers(min_value=0, max_value=2**32), max_size=20),
    value=st.binary(max_size=12),
)
def test_the_row_parser_never_raises_and_gives_only_addresses_and_macs(
    column: tuple[int, ...], suffix: list[int], value: bytes
) -> None:
    oid = (*column, *suffix)
    row = parse_arp_row(column, oid, value)
    if row is not None:
        ip, mac = row
        addr = ipaddress.ip_address(ip)
        assert str(addr) == ip and not addr.is_multicast and not addr.is_link_local
        assert mac == value.hex(":") and not value[0] & 1


@given(octets=st.tuples(*[st.integers(0, 255)] * 4), mac=st.binary(min_size=6, max_size=6))
def test_every_ipv4_row_with_a_unicast_mac_round_trips(
    octets: tuple[int, int, int, int], mac: bytes
) -> None:
    oid = (*IP_NET_TO_PHYSICAL, 7, 1, 4, *octets)
    want = None if mac[0] & 1 or mac == bytes(6) else (".".join(map(str, octets)), mac.hex(":"))
    assert parse_arp_row(IP_NET_TO_PHYSICAL, oid, mac) == want


@given(address=st.integers(0, 2**128 - 1), mac=st.binary(min_size=6, max_size=6))
def test_every_ipv6_row_with_a_routable_address_and_a_unicast_mac_round_trips(
    address: int, mac: bytes
) -> None:
    """A router's IPv6 neighbours (ipNetToPhysicalTable, InetAddressType 2, 16 octets)."""
    addr = ipaddress.IPv6Address(address)
    oid = (*IP_NET_TO_PHYSICAL, 7, 2, 16, *addr.packed)
    bad_addr = addr.is_multicast or addr.is_link_local or addr.is_unspecified or addr.is_loopback
    bad_mac = mac[0] & 1 or mac == bytes(6)
    want = None if bad_addr or bad_mac else (str(addr), mac.hex(":"))
    assert parse_arp_row(IP_NET_TO_PHYSICAL, oid, mac) == want


def test_a_routers_ipv6_row_gives_the_neighbours_address_and_mac() -> None:
    oid = (*IP_NET_TO_PHYSICAL, 4, 2, 16, *ipaddress.IPv6Address("2001:db8:67::20").packed)
    assert parse_arp_row(IP_NET_TO_PHYSICAL, oid, HIK_MAC) == (
        "2001:db8:67::20",
        "58:50:ed:12:34:56",
    )


# -- device answers ------------------------------------------------------------------------------


def test_a_dahua_nvr_answer_is_strong_dahua_evidence_with_its_model_and_serial() -> None:
    # librenms tests/snmpsim/dahua-nvr.snmprec (a DH-NVR4108HS-8P-4KS2)
    answers: dict[tuple[int, ...], bytes | str] = {
        SYS_DESCR: b"DH-NVR4108HS-8P-4KS2",
        SYS_OBJECT_ID: "1.3.6.1.4.1.1004849.3.2.10",
        (1, 3, 6, 1, 4, 1, 1004849, 2, 1, 2, 4, 0): b"2M00D2APAZTL62J",
        (1, 3, 6, 1, 4, 1, 1004849, 2, 1, 2, 6, 0): b"DH-NVR4108HS-8P-4KS2",
    }
    dev = merge_devices(device_observations("198.18.61.9", answers), TargetSet([]), [])[0]
    verdict = identify_device(dev, SignatureDB.load(), OuiDB.load())
    assert verdict.maker == "dahua" and verdict.confidence_label == "high", verdict.summary
    assert verdict.model == "DH-NVR4108HS-8P-4KS2" and verdict.serial == "2M00D2APAZTL62J"


def test_a_linux_agent_names_no_maker_and_control_characters_are_made_harmless() -> None:
    answers: dict[tuple[int, ...], bytes | str] = {
        SYS_DESCR: b"Linux vm 6.1.0 #1 SMP\x1b[31m x86_64" + b"x" * 2000,
        SYS_OBJECT_ID: "1.3.6.1.4.1.8072.3.2.10",  # net-snmp on Linux (Debian's snmpd)
    }
    found = device_observations("198.18.61.9", answers)
    assert all(o.raw.isprintable() and len(o.raw) <= 512 for o in found)
    dev = merge_devices(found, TargetSet([]), [])[0]
    assert identify_device(dev, SignatureDB.load(), OuiDB.load()).maker is None


# -- a router's MAC in merging and identification --------------------------------------------------


def router_mac(ip: str, mac: str) -> Observation:
    fields = {ch.FIELD_MAC: mac, ch.FIELD_MAC_SOURCE: "router", ch.FIELD_ROUTER: "198.18.60.254"}
    return Observation(ch.SNMP_ROUTER_MAC, mac, "snmp", ip, mac, fields)


def test_a_router_mac_ranks_below_the_wire_and_above_a_reported_one() -> None:
    reported = Observation(ch.SADP_REPLY, "<x/>", "sadp", "198.18.61.7", "58:50:ed:00:00:09")
    (dev,) = merge_devices(
        [reported, router_mac("198.18.61.7", "58:50:ed:00:00:01")], TargetSet([]), []
    )
    assert (dev.mac, dev.mac_source) == ("58:50:ed:00:00:01", "router")
    wire = Observation(ch.ARP_MAC, "58:50:ed:00:00:02", "arp", "198.18.61.7", "58:50:ed:00:00:02")
    (dev,) = merge_devices(
        [router_mac("198.18.61.7", "58:50:ed:00:00:01"), wire], TargetSet([]), []
    )
    assert (dev.mac, dev.mac_source) == ("58:50:ed:00:00:02", "wire")


def test_an_oui_only_device_behind_a_router_is_named_one_strength_lower() -> None:
    host = Observation(ch.HOST_ALIVE, "tcp/80 refused", "l3", "198.18.61.7")
    (dev,) = merge_devices(
        [host, router_mac("198.18.61.7", "58:50:ed:00:00:01")], TargetSet([]), []
    )
    verdict = identify_device(dev, SignatureDB.load(), OuiDB.load())
    assert verdict.maker == "hikvision" and verdict.confidence_label == "low", verdict.summary
    (oui,) = [e for e in verdict.evidence if e.signature_id.startswith("oui")]
    assert oui.strength == "medium" and "ARP table of 198.18.60.254" in oui.description


# -- the [snmp] table ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"routers": ["198.18.0.1"], "community": "a", "user": "b"}, "not both"),
        ({"routers": ["198.18.0.0/24"]}, "is not an IPv4 address"),
        ({"routers": "198.18.0.1"}, "must be a list of strings"),
        ({}, "needs routers"),
        ({"routers": ["198.18.0.1"], "community": " "}, "community must not be empty"),
        ({"routers": ["198.18.0.1"], "auth_protocol": "sha"}, "auth_protocol needs user"),
        ({"routers": ["198.18.0.1"], "user": "u", "auth_protocol": "sha1"}, "not one of"),
        ({"routers": ["198.18.0.1"], "user": "u", "priv_protocol": "aes"}, "needs auth_protocol"),
        ({"routers": ["198.18.0.1"], "user": "u", "auth_key": "short"}, "at least 8"),
        ({"routers": ["198.18.0.1"], "timeout": 0}, "timeout must be between"),
        ({"routers": ["198.18.0.1"], "max_rows": 0}, "max_rows must be between"),
        ({"routers": ["198.18.0.1"], "devices": "yes"}, "devices must be bool"),
        ({"routers": ["198.18.0.1"], "comunity": "a"}, "unknown field 'comunity'"),
    ],
)
def test_a_bad_snmp_table_is_one_line(table: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        parse_config({"snmp": table}, "camscan.toml")
    assert str(caught.value).startswith("camscan.toml: [snmp]") and "\n" not in str(caught.value)


def test_a_good_snmp_table_turns_on_the_probe_unless_the_probes_are_listed() -> None:
    cfg = parse_config({"snmp": {"routers": ["198.18.60.254"], "community": "ro-lab"}})
    assert cfg.snmp == SnmpSettings(routers=("198.18.60.254",), community="ro-lab")
    assert "snmp" in cfg.scan.settings.probes
    assert "snmp" not in parse_config({}).scan.settings.probes
    listed = parse_config({"snmp": {"routers": ["198.18.0.1"]}, "scan": {"probes": ["l3"]}})
    assert listed.scan.settings.probes == ("l3",)


def test_credentials_come_from_the_config_then_the_environment_and_never_a_default() -> None:
    routers = SnmpSettings(routers=("198.18.0.1",))
    assert "never guesses" in str(credentials(routers, {}))
    assert credentials(routers, {"CAMSCAN_SNMP_COMMUNITY": "env-ro"}) == Credentials("env-ro")
    given_one = SnmpSettings(routers=("198.18.0.1",), community="cfg-ro")
    assert credentials(given_one, {"CAMSCAN_SNMP_COMMUNITY": "env-ro"}) == Credentials("cfg-ro")
    v3 = SnmpSettings(user="ro", auth_protocol="sha", priv_protocol="aes", devices=True)
    assert "no auth_key" in str(credentials(v3, {}))
    keys = {"CAMSCAN_SNMP_AUTH_KEY": "auth-key-1", "CAMSCAN_SNMP_PRIV_KEY": "priv-key-1"}
    got = credentials(v3, keys)
    assert isinstance(got, Credentials) and (got.auth_key, got.priv_key) == tuple(keys.values())
    assert got.version == "v3"


def test_without_credentials_or_a_table_nothing_is_sent_and_the_error_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CAMSCAN_SNMP_COMMUNITY", raising=False)
    for settings, says in (
        (SnmpSettings(routers=("198.18.60.254",)), "no SNMP credentials"),
        (None, "no [snmp] table"),
    ):
        ctx = ProbeContext([], TargetSet([]), hosts=("198.18.61.7",), snmp=settings)
        out = asyncio.run(SnmpProbe().run(ctx))
        (error,) = out.errors
        assert says in error.error and error.kind is ProbeKind.PERMISSION
        assert not out.observations and ctx.stats["snmp.requests"] == 0


@given(
    values=st.dictionaries(
        st.sampled_from([SYS_DESCR, SYS_OBJECT_ID, *ENTERPRISE_FIELDS]),
        st.one_of(st.binary(max_size=2048), st.text(max_size=2048)),
    )
)
def test_any_device_answer_gives_bounded_printable_observations(
    values: dict[tuple[int, ...], bytes | str],
) -> None:
    for obs in device_observations("198.18.61.9", values):
        assert obs.raw and obs.raw.isprintable() and len(obs.raw) <= 600
        assert obs.channel.startswith("snmp.") and obs.probe == "snmp"


def test_the_inspect_phase_router_mac_reaches_the_device_found_by_discovery() -> None:
    from camscan.discovery.base import ProbeOutcome
    from camscan.model import ScanRun
    from camscan.pipeline import _attach

    host = Observation(ch.HOST_ALIVE, "tcp/80 refused", "l3", "198.18.61.7")
    (dev,) = merge_devices([host], TargetSet([]), [])
    run = ScanRun(targets=[], probes=[], started=0.0)
    _attach(ProbeOutcome([router_mac("198.18.61.7", "58:50:ed:00:00:01")]), [dev], run)
    assert (dev.mac, dev.mac_source) == ("58:50:ed:00:00:01", "router")


def test_config_check_warns_of_readable_credentials_and_of_asking_devices(
    tmp_path: Path,
) -> None:
    from camscan.config import config_warnings, load_config

    path = tmp_path / "camscan.toml"
    path.write_text('[snmp]\nrouters = ["198.18.60.254"]\ncommunity = "ro-lab"\ndevices = true\n')
    path.chmod(0o644)
    warned = config_warnings(load_config(path))
    assert any("other users can read it" in w for w in warned)
    assert any("every device found" in w for w in warned)
    path.chmod(0o600)
    path.write_text('[snmp]\nrouters = ["198.18.60.254"]\ncommunity = "ro-lab"\n')
    assert config_warnings(load_config(path)) == []
