"""Evidence into verdicts: the decision rules, badges, facts, and identify_device end to end."""

from __future__ import annotations

import pytest

from camscan import channels
from camscan.identify.engine import identify_device
from camscan.identify.oui import OuiDB
from camscan.identify.signatures import SignatureDB
from camscan.identify.verdict import decide
from camscan.model import Device, Evidence, Observation, Strength

SIGS = SignatureDB.load()
OUIS = OuiDB.load()


def ev(
    maker: str | None,
    strength: str,
    channel: str = "c",
    probe: str = "p",
    badge: str | None = None,
    **captured: str,
) -> Evidence:
    return Evidence(
        f"t.{channel}.{maker}",
        channel,
        "raw",
        maker,
        Strength(strength),
        badge=badge,
        captured=captured,
        probe=probe,
    )


def test_no_evidence_gives_no_maker() -> None:
    v = decide([])
    assert (v.maker, v.confidence, v.confidence_label) == (None, 0.0, "none")
    assert v.summary == "Maker unknown (no identifying evidence)"


def test_one_strong_decides_with_high_confidence() -> None:
    v = decide([ev("hikvision", "strong")])
    assert v.maker == "hikvision"
    assert v.confidence >= 0.9
    assert v.confidence_label == "high"
    assert v.summary == "Hikvision-made (high confidence: 1 strong)"


def test_weak_alone_never_decides_however_many() -> None:
    v = decide([ev("hikvision", "weak", c) for c in ("a", "b", "c", "d")])
    assert (v.maker, v.confidence_label) == (None, "none")
    assert v.summary == "Maker unknown (only weak hints: Hikvision)"


def test_one_medium_names_maker_with_low_confidence() -> None:
    v = decide([ev("dahua", "medium")])
    assert (v.maker, v.confidence, v.confidence_label) == ("dahua", 0.55, "low")


def test_two_medium_decide_only_when_independent() -> None:
    same_reply = decide([ev("dahua", "medium", "http.body"), ev("dahua", "medium", "http.body")])
    assert same_reply.confidence_label == "low"
    two_channels = decide([ev("dahua", "medium", "http.title"), ev("dahua", "medium", "tcp.open")])
    assert (two_channels.maker, two_channels.confidence) == ("dahua", 0.8)
    two_probes = decide(
        [
            Evidence("a", "x", "raw", "dahua", Strength.MEDIUM, probe="http:80"),
            Evidence("b", "x", "raw", "dahua", Strength.MEDIUM, probe="http:8080"),
        ]
    )
    assert two_probes.confidence == 0.8


def test_one_signature_counts_once_however_many_replies_it_matched() -> None:
    # The same signature on two ports is one hint: it used to count as two independent sources.
    same_sig = decide(
        [ev("dahua", "medium", "x", "http:80"), ev("dahua", "medium", "x", "http:8080")]
    )
    assert (same_sig.confidence, same_sig.confidence_label) == (0.55, "low")


def test_web_service_title_on_four_paths_stays_one_low_hint() -> None:
    # Issue 10: "WEB SERVICE" served on four HTTP paths rose from 0.55 to 0.84.
    paths = ("/", "/doc/page/login.asp", "/index.html", "/cgi-bin/x")
    obs = [Observation(channels.HTTP_TITLE, "WEB SERVICE", f"http:80{p}") for p in paths]
    v = identify_device(Device("198.18.0.23", observations=obs), SIGS, None)
    assert v.maker == "dahua"
    assert (v.confidence, v.confidence_label) == (0.55, "low")
    assert "1 medium" in v.summary


def test_weak_corroborates_a_little() -> None:
    alone = decide([ev("dahua", "medium")]).confidence
    helped = decide([ev("dahua", "medium"), ev("dahua", "weak", "w")]).confidence
    assert alone < helped < 0.6


def test_generic_evidence_never_names_a_maker() -> None:
    v = decide([ev("generic", "weak"), ev(None, "weak", "x")])
    assert v.maker is None
    assert v.summary == "Maker unknown (only generic embedded-stack hints)"
    assert decide([ev("generic", "strong")]).maker is None


def test_conflicting_strong_evidence_is_listed_and_lowers_confidence() -> None:
    v = decide(
        [
            ev("hikvision", "strong", "a"),
            ev("hikvision", "strong", "b"),
            ev("dahua", "strong", "c"),
            ev("axis", "weak", "d"),
        ]
    )
    assert v.maker == "hikvision"
    assert v.conflicts == ["dahua"]
    assert v.confidence < 0.7
    assert v.confidence_label == "low"
    assert "conflicting evidence names Dahua" in v.summary
    mild = decide([ev("hikvision", "strong", "a"), ev("axis", "medium", "b")])
    assert mild.conflicts == ["axis"]
    assert 0.7 <= mild.confidence < 0.9


@pytest.mark.parametrize(
    ("badge", "shown"),
    [
        ("Intelbras", "Intelbras"),
        ("Private", None),
        ("General", None),
        ("Dahua", None),
        ("DAHUA", None),
        ("CPPLUS", "CP PLUS"),
        ("CP_PLUS", "CP PLUS"),
        ("  Lorex ", "Lorex"),
    ],
)
def test_badge_is_normalised_against_the_maker(badge: str, shown: str | None) -> None:
    assert decide([ev("dahua", "strong", badge=badge)]).badge == shown


def test_facts_prefer_stronger_evidence_and_ignore_other_makers() -> None:
    v = decide(
        [
            ev("dahua", "medium", "a", model="weaker"),
            ev("dahua", "strong", "b", model="IPC-HDW1431T1-S4", serial="6C01E93PAG69A7D"),
            ev("hikvision", "weak", "c", firmware="V5.6.2"),
            ev(None, "weak", "d", firmware="2.800.0000000.13.R"),
        ]
    )
    assert (v.model, v.serial, v.firmware) == (
        "IPC-HDW1431T1-S4",
        "6C01E93PAG69A7D",
        "2.800.0000000.13.R",
    )


# --- identify_device on real observations ------------------------------------------------------


def test_lorex_rtsp_realm_and_lorex_mac_read_as_dahua_sold_as_lorex() -> None:
    realm = 'Digest realm="Login to ND011811000000", nonce="ec3682ef24b2cd9cedefe5cc26110000"'
    device = Device(
        "198.18.0.20",
        mac="00:1f:54:12:34:56",
        observations=[
            Observation("rtsp.header.www-authenticate", realm, "rtsp:554"),
            Observation("rtsp.header.server", "Rtsp Server/3.0", "rtsp:554"),
        ],
    )
    v = identify_device(device, SIGS, OUIS)
    assert (v.maker, v.badge, v.serial) == ("dahua", "Lorex", "ND011811000000")
    assert v.confidence_label == "high"
    assert v.summary.startswith("Dahua-made, sold as Lorex (high confidence: 1 strong, 1 medium")
    assert {e.signature_id for e in v.evidence} >= {
        "dahua.auth.realm.login-to",
        "generic.rtsp.server",
        "oui.ma-l.001f54",
    }


def test_parser_fields_are_carried_with_the_observations_evidence() -> None:
    dhip = (
        '{"method":"client.notifyDevInfo","params":{"deviceInfo":'
        '{"DeviceType":"SS 3530 MF FACE W","Vendor":"Private"}}}'
    )
    device = Device(
        "198.18.0.21",
        observations=[
            Observation(
                channels.DHIP_REPLY,
                dhip,
                "dhip",
                fields={"model": "SS 3530 MF FACE W", "badge": "Intelbras", "serial": "ABC123456"},
            ),
            Observation(
                channels.UPNP_MODEL, "whatever", "ssdp", fields={"firmware": "2.000.00IB004.0.R"}
            ),
        ],
    )
    v = identify_device(device, SIGS, None)
    assert (v.maker, v.badge, v.model, v.serial) == (
        "dahua",
        "Intelbras",
        "SS 3530 MF FACE W",
        "ABC123456",
    )
    assert v.firmware == "2.000.00IB004.0.R"  # facts from an unmatched observation still count
    facts = [e for e in v.evidence if e.signature_id == "facts.upnp.model"]
    assert facts
    assert facts[0].maker is None
    assert facts[0].strength is Strength.WEAK


def test_webserver_header_alone_gives_no_verdict() -> None:
    device = Device(
        "198.18.0.22",
        mac="02:00:00:00:00:01",
        observations=[
            Observation("http.header.server", "webserver", "http:80"),
        ],
    )
    v = identify_device(device, SIGS, OUIS)
    assert v.maker is None
    assert v.confidence == 0.0
    assert len(v.evidence) == 1


def test_repeated_observation_counts_once() -> None:
    obs = Observation(channels.HTTP_TITLE, "WEB SERVICE", "http:80")
    v = identify_device(Device("198.18.0.23", observations=[obs, obs]), SIGS, None)
    assert len(v.evidence) == 1
    assert v.confidence_label == "low"


def test_hikvision_mac_and_sadp_are_hikvision_with_model() -> None:
    sadp = (
        "<ProbeMatch><Types>inquiry</Types><DeviceDescription>DS-2CD2385G1-I"
        "</DeviceDescription><SoftwareVersion>V5.6.2build 190701</SoftwareVersion>"
        "</ProbeMatch>"
    )
    device = Device(
        "198.18.0.24",
        mac="44:19:b6:00:00:01",
        observations=[Observation(channels.SADP_REPLY, sadp, "sadp")],
    )
    v = identify_device(device, SIGS, OUIS)
    assert (v.maker, v.model, v.firmware, v.badge) == (
        "hikvision",
        "DS-2CD2385G1-I",
        "V5.6.2build 190701",
        None,
    )
    assert v.summary == "Hikvision-made, model DS-2CD2385G1-I (high confidence: 2 strong)"


def test_tie_goes_to_the_configured_listed_makers_not_the_default_ones() -> None:
    """Equal evidence for two makers: the one [policy] listed_makers names wins, whatever the
    vocabulary's default list says (issue 20: the tie-break read only the default)."""
    tied = [ev("hikvision", "medium", "a"), ev("axis", "medium", "b")]
    assert decide(tied).maker == "hikvision"  # default listed: Hikvision, not Axis
    assert decide(tied, frozenset({"axis"})).maker == "axis"
    assert decide(tied, frozenset({"axis"})).conflicts == ["hikvision"]
    assert decide(tied, frozenset()).maker == "axis"  # nobody listed: by name


def test_a_device_answering_two_makers_discovery_is_a_conflict_not_a_maker() -> None:
    """Issue 25: the flooder answered SADP and DHIP and was named Dahua (low confidence). A real
    device speaks its own maker's discovery protocol: both claims are shown, no maker named."""
    sadp = next(s for s in SIGS.signatures if s.id == "hikvision.sadp.probematch").examples[0]
    dhip = next(s for s in SIGS.signatures if s.id == "dahua.dhip.notify").examples[0]
    both = Device(
        "198.18.60.32",
        observations=[
            Observation(channels.SADP_REPLY, sadp.value, "sadp"),
            Observation(channels.DHIP_REPLY, dhip.value, "dhip"),
        ],
    )
    v = identify_device(both, SIGS, None)
    assert v.maker is None and v.confidence == 0.0
    assert v.conflicts == ["dahua", "hikvision"]
    assert v.summary == (
        "Maker unknown: conflicting claims, it answers several makers' discovery: "
        "Dahua (dahua.dhip.notify); Hikvision (hikvision.sadp.probematch)"
    )
    assert v.model is None and v.serial is None  # no maker's facts are taken as the device's
    one = Device("198.18.60.12", observations=both.observations[:1])
    assert identify_device(one, SIGS, None).maker == "hikvision"
