"""Derived observations: facts read out of raw values, and what identification makes of them.

Raw values are from the captures signatures.md cites (Hikvision ProbeMatch, Dahua/CP PLUS ONVIF
scopes, hikvision-mdns answers); look-alikes are the lab's Uniview and Axis personas.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camscan import channels
from camscan.identify.derive import DECODERS, Kind, derive, mac_from_uuid
from camscan.identify.engine import identify_device
from camscan.identify.oui import OuiDB
from camscan.identify.signatures import SignatureDB
from camscan.macaddr import MacSource, mac_from_eui64
from camscan.model import Device, Observation, Strength

SIGS = SignatureDB.load()
OUIS = OuiDB.load()
NEUTRAL = "02:00:00:00:00:07"  # locally administered: says nothing of the maker

HIK_EPR = "urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385"  # ProbeMatch, search-index 28488762960
HIK_XADDRS = (
    "http://192.168.124.40/onvif/device_service "
    "http://[fe80::5a50:edff:fe1f:e385]/onvif/device_service"
)
DAHUA_SCOPES = (
    "onvif://www.onvif.org/location/country/china onvif://www.onvif.org/name/Dahua "
    "onvif://www.onvif.org/hardware/DH-IPC-HDW1230T2 "
    "onvif://www.onvif.org/Profile/Streaming "
    "onvif://www.onvif.org/type/Network_Video_Transmitter"
)
UNIVIEW_SCOPES = (
    "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/IPC "
    "onvif://www.onvif.org/hardware/IPC2124LR3-PF40 "
    "onvif://www.onvif.org/location/country/china"
)

macs = st.integers(min_value=0, max_value=2**48 - 1).map(lambda n: n & ~(1 << 40))  # unicast


def device(*obs: Observation, mac: str | None = NEUTRAL) -> Device:
    return Device(ip="198.18.40.9", mac=mac, mac_source=MacSource.WIRE, observations=list(obs))


def wsd(channel: str, raw: str) -> Observation:
    return Observation(channel, raw, "wsd", ip="198.18.40.9")


def test_mac_from_the_real_hikvision_endpoint_uuid() -> None:
    assert mac_from_uuid(HIK_EPR.removeprefix("urn:uuid:")) == "58:50:ed:1f:e3:85"
    assert mac_from_eui64("fe80::5a50:edff:fe1f:e385") == "58:50:ed:1f:e3:85"


def test_random_and_multicast_node_uuids_carry_no_mac() -> None:
    assert mac_from_uuid("e8ecfe09-90e4-44c0-842b-703f46b58c81") is None  # SADP's v4 Uuid
    assert mac_from_uuid(str(uuid.uuid1(node=0x0150ED1FE385))) is None  # multicast bit: random
    assert mac_from_uuid("not a uuid") is None
    assert mac_from_eui64("fe80::1") is None


@given(macs)
def test_uuid_v1_node_round_trips(node: int) -> None:
    mac = ":".join(f"{node:012x}"[i : i + 2] for i in range(0, 12, 2))
    assert mac_from_uuid(str(uuid.uuid1(node=node))) == mac


@given(macs)
def test_eui64_round_trips(node: int) -> None:
    b = node.to_bytes(6, "big")
    iid = bytes([b[0] ^ 2, b[1], b[2], 0xFF, 0xFE, b[3], b[4], b[5]])
    addr = "fe80::" + ":".join(iid[i : i + 2].hex() for i in range(0, 8, 2))
    assert mac_from_eui64(addr) == ":".join(f"{x:02x}" for x in b)


@given(
    st.sampled_from(sorted({c for d in DECODERS for c in d.channels})),
    st.text(max_size=3000),
    st.dictionaries(
        st.sampled_from(["mac", "model", "serial", "udn", "vendor"]),
        st.text(max_size=80),
        max_size=4,
    ),
)
def test_decoders_never_raise_and_stay_bounded(
    channel: str, raw: str, fields: dict[str, str]
) -> None:
    facts = derive(Observation(channel, raw, "x", fields=fields))
    assert len(facts) <= 40
    for fact in facts:
        assert fact.value and len(fact.value) <= 64
        assert fact.how


def test_decoders_are_listed_once_with_unique_names() -> None:
    names = [d.name for d in DECODERS]
    assert len(names) == len(set(names))


def test_endpoint_uuid_mac_behind_a_neutral_mac_names_hikvision_one_strength_lower() -> None:
    v = identify_device(device(wsd(channels.WSD_EPR, HIK_EPR)), SIGS, OUIS)
    assert v.maker == "hikvision"
    (ev,) = [e for e in v.evidence if e.maker]
    assert ev.strength is Strength.MEDIUM  # the 5850ED block is strong on the wire
    assert ev.channel == channels.WSD_EPR and ev.raw == HIK_EPR
    assert "58:50:ed:1f:e3:85 read from the ONVIF endpoint UUID" in ev.description
    assert "Hikvision" in ev.description


def test_one_mac_in_several_values_counts_once() -> None:
    v = identify_device(
        device(wsd(channels.WSD_EPR, HIK_EPR), wsd(channels.WSD_XADDRS, HIK_XADDRS)), SIGS, OUIS
    )
    assert len([e for e in v.evidence if e.signature_id.startswith("oui.")]) == 1


def test_reported_mac_equal_to_the_wire_mac_adds_nothing() -> None:
    wire = device(mac="58:50:ed:1f:e3:85")
    both = device(wsd(channels.WSD_EPR, HIK_EPR), mac="58:50:ed:1f:e3:85")
    assert [e.signature_id for e in identify_device(both, SIGS, OUIS).evidence] == [
        e.signature_id for e in identify_device(wire, SIGS, OUIS).evidence
    ]


def test_a_reported_mac_without_a_wire_mac_is_not_taken_for_one() -> None:
    obs = Observation(
        channels.DHIP_REPLY,
        '{"mac":"08:ed:ed:87:42:7a"}',
        "dhip",
        mac="08:ed:ed:87:42:7a",
        fields={"mac": "08:ed:ed:87:42:7a"},
    )
    dev = Device(
        ip="198.18.40.9", mac="08:ed:ed:87:42:7a", mac_source=MacSource.REPORTED, observations=[obs]
    )
    v = identify_device(dev, SIGS, OUIS)
    (ev,) = [e for e in v.evidence if e.signature_id.startswith("oui.")]
    assert ev.strength is Strength.MEDIUM and "reported by the device" in ev.description


@pytest.mark.parametrize(
    ("scopes", "maker", "badge", "model"),
    [
        (
            "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/hardware/IPC-HDW1431T1-S4",
            "dahua",
            None,
            "IPC-HDW1431T1-S4",
        ),
        (
            "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/HiWatch",
            "hikvision",
            "HiWatch",
            None,
        ),
        (
            "onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/hardware/CP-UNC-TA21PL3",
            "dahua",
            "CP PLUS",
            "CP-UNC-TA21PL3",
        ),
        (UNIVIEW_SCOPES, "uniview", None, "IPC2124LR3-PF40"),
    ],
)
def test_a_model_or_badge_in_a_scope_names_the_maker(
    scopes: str, maker: str, badge: str | None, model: str | None
) -> None:
    v = identify_device(device(wsd(channels.WSD_SCOPES, scopes)), SIGS, OUIS)
    assert (v.maker, v.badge, v.model) == (maker, badge, model)
    assert any("read from the ONVIF" in e.description for e in v.evidence if e.maker == maker)


def test_full_serial_in_an_mdns_target_names_hikvision() -> None:
    obs = Observation(channels.MDNS_SERVER, "DS-2CD2722FWD-IZS20170321BBWR733050075.local.", "mdns")
    v = identify_device(device(obs), SIGS, OUIS)
    assert v.maker == "hikvision" and v.confidence_label == "high"
    assert any("read from the mDNS SRV target" in e.description for e in v.evidence)
    assert v.model == "DS-2CD2722FWD-IZS"


def test_the_dahua_scope_facts_stay_dahua() -> None:
    v = identify_device(device(wsd(channels.WSD_SCOPES, DAHUA_SCOPES)), SIGS, OUIS)
    assert v.maker == "dahua" and v.conflicts == []


@pytest.mark.parametrize(
    "obs",
    [
        wsd(channels.WSD_SCOPES, UNIVIEW_SCOPES),
        Observation(
            channels.MDNS_INSTANCE, "AXIS M3045-V - ACCC8E123456._axis-video._tcp.local.", "mdns"
        ),
        Observation(channels.HTTP_TITLE, "Web Client", "http:80"),
        Observation(channels.SSDP_USN, f"uuid:{uuid.uuid4()}::upnp:rootdevice", "ssdp"),
    ],
)
def test_look_alikes_are_not_hikvision_or_dahua(obs: Observation) -> None:
    v = identify_device(device(obs), SIGS, OUIS)
    assert v.maker not in ("hikvision", "dahua"), v.evidence


def test_reolink_and_uniview_are_named_without_their_wire_mac() -> None:
    # off-link (issue 12): no ARP, so no OUI; what is left names the maker, with low confidence
    body = Observation(channels.HTTP_BODY, '<img src="/skin/default_1/images/logo.png">', "http:80")
    uniview = identify_device(
        device(wsd(channels.WSD_SCOPES, UNIVIEW_SCOPES), body, mac=None), SIGS, OUIS
    )
    assert (uniview.maker, uniview.confidence_label) == ("uniview", "low"), uniview.summary
    assert {e.signature_id for e in uniview.evidence if e.maker} == {
        "uniview.model.ipc",
        "uniview.http.body.skin-path",
    }
    reolink = identify_device(
        device(Observation(channels.HTTP_TITLE, "Reolink", "http:80"), mac=None), SIGS, OUIS
    )
    assert (reolink.maker, reolink.confidence_label) == ("reolink", "low"), reolink.summary
    # the skin path alone only corroborates; a page merely naming Reolink is not one
    assert identify_device(device(body, mac=None), SIGS, OUIS).maker is None
    other = Observation(channels.HTTP_TITLE, "chibasys by reolink", "http:80")
    assert identify_device(device(other, mac=None), SIGS, OUIS).maker is None


def test_derived_kinds_are_reported_by_the_decoders() -> None:
    kinds = {f.kind for f in derive(wsd(channels.WSD_SCOPES, DAHUA_SCOPES))}
    assert kinds == {Kind.MODEL, Kind.BADGE}


def test_macs_reported_in_mdns_names_and_txt_records() -> None:
    inst = Observation(
        channels.MDNS_INSTANCE, "AXIS M3045-V - ACCC8E123456._axis-video._tcp.local.", "mdns"
    )
    txt = Observation(channels.MDNS_TXT, "macaddress=ACCC8E123456 path=/", "mdns")
    assert [f.value for f in derive(inst) if f.kind is Kind.MAC] == ["ac:cc:8e:12:34:56"]
    assert [f.value for f in derive(txt) if f.kind is Kind.MAC] == ["ac:cc:8e:12:34:56"]
    v = identify_device(device(inst, txt), SIGS, OUIS)  # Axis's own block ACCC8E
    assert v.maker == "axis"
    assert len([e for e in v.evidence if e.signature_id.startswith("oui.")]) == 1


def test_a_dahua_serial_alone_only_corroborates() -> None:
    obs = Observation(channels.UPNP_MODEL, "NVR", "ssdp", fields={"serial": "6C01E93PAG69A7D"})
    v = identify_device(device(obs), SIGS, OUIS)
    assert v.maker is None
    assert [e.strength for e in v.evidence if e.maker == "dahua"] == [Strength.WEAK]


def test_a_model_only_mentioned_in_free_text_counts_one_strength_lower() -> None:
    # a HomeKit bridge may advertise the camera it proxies under the camera's name
    obs = Observation(channels.MDNS_INSTANCE, "Hikvision DS-2CD2385G1-I._hap._tcp.local.", "mdns")
    v = identify_device(device(obs), SIGS, OUIS)
    assert v.confidence_label != "high"
    assert {e.strength for e in v.evidence if e.maker} <= {Strength.MEDIUM, Strength.WEAK}
    assert any("named in free text" in e.description for e in v.evidence)
    title = Observation(channels.HTTP_TITLE, "DS-2CD2385G1-I", "http:80")
    assert [e.strength for e in identify_device(device(title), SIGS, OUIS).evidence if e.maker] == [
        Strength.MEDIUM
    ]


def test_a_value_full_of_uuids_yields_a_bounded_number_of_macs() -> None:
    raw = " ".join(str(uuid.uuid1(node=0x5850ED000000 + n)) for n in range(100))
    facts = derive(Observation(channels.WSD_EPR, raw, "wsd"))
    assert 1 <= len(facts) <= 8
