"""Policy: segment assignment, severities per zone, flagging, confidence floor, exceptions."""

from __future__ import annotations

import tomllib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camscan.config import parse_config
from camscan.model import (
    Device,
    Evidence,
    Finding,
    ScanResult,
    ScanRun,
    Segment,
    Severity,
    Strength,
    Verdict,
)
from camscan.policy import (
    ExceptionEntry,
    PolicySettings,
    assign_segment,
    evaluate,
    evaluate_result,
)

TODAY = date(2025, 6, 1)

SEGMENTS = [
    Segment("hq-core", ["198.18.0.0/24"], "core"),
    Segment("hq-server-room", ["198.18.0.128/25"], "sensitive"),  # more specific than hq-core
    Segment("lab", ["198.18.1.0/24", "198.18.2.0/24"], "sensitive"),
    Segment("car-park", ["198.18.3.0/24"], "general"),
    Segment("guest", ["198.18.4.0/24"], "guest-wifi"),
]

HIK_SERVER = Evidence(
    signature_id="hikvision.http.server.app-webs",
    channel="http.header.server",
    raw="App-webs/",
    maker="hikvision",
    strength=Strength.STRONG,
    probe="http:80",
)
HIK_REALM = Evidence(
    signature_id="hikvision.auth.realm.ip-camera",
    channel="rtsp.header.www-authenticate",
    raw='Digest realm="IP Camera(C2875)", nonce="938032d91ffc30ca80b5da94c18887ac", stale="FALSE"',
    maker="hikvision",
    strength=Strength.STRONG,
    probe="rtsp:554",
)
DAHUA_DHIP = Evidence(
    signature_id="dahua.dhip.notify",
    channel="dhip.reply",
    raw='{"method":"client.notifyDevInfo","params":{"deviceInfo":{"DeviceType":"SS 3530 MF FACE W",'
    '"SerialNo":"6C01E93PAG69A7D","Vendor":"Intelbras"}}}',
    maker="dahua",
    strength=Strength.STRONG,
    badge="Intelbras",
    captured={"model": "SS 3530 MF FACE W", "serial": "6C01E93PAG69A7D"},
    probe="dhip",
)


def hikvision(ip: str, mac: str = "44:19:b6:12:34:56", confidence: float = 0.95) -> Device:
    return Device(
        ip=ip,
        mac=mac,
        verdict=Verdict(
            maker="hikvision",
            model="DS-2CD2385G1-I",
            serial="DS-2CD2385G1-I20200414AAWRE33842150",
            confidence=confidence,
            confidence_label="high" if confidence >= 0.9 else "low",
            evidence=[HIK_SERVER, HIK_REALM],
            summary="Hikvision-made (high confidence: 2 strong)",
        ),
    )


def intelbras(ip: str) -> Device:
    return Device(
        ip=ip,
        mac="b4:4c:3b:f4:e3:01",
        verdict=Verdict(
            maker="dahua",
            badge="Intelbras",
            model="SS 3530 MF FACE W",
            serial="6C01E93PAG69A7D",
            confidence=0.92,
            confidence_label="high",
            evidence=[DAHUA_DHIP],
        ),
    )


def axis(ip: str) -> Device:
    ev = Evidence(
        "axis.auth.realm",
        "http.header.www-authenticate",
        'Digest realm="AXIS_ACCC8E"',
        "axis",
        Strength.STRONG,
    )
    return Device(
        ip=ip,
        mac="00:40:8c:01:02:03",
        verdict=Verdict(maker="axis", confidence=0.9, confidence_label="high", evidence=[ev]),
    )


def judge(
    device: Device,
    policy: PolicySettings | None = None,
    exceptions: list[ExceptionEntry] | None = None,
) -> Finding:
    [finding] = evaluate([device], SEGMENTS, policy or PolicySettings(), exceptions or [], TODAY)
    return finding


# --- segments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "segment"),
    [
        ("198.18.0.10", "hq-core"),
        ("198.18.0.200", "hq-server-room"),  # /25 beats /24
        ("198.18.2.7", "lab"),  # second CIDR of a segment
        ("198.18.3.1", "car-park"),
        ("198.19.9.9", None),
        ("not-an-ip", None),
        ("", None),
    ],
)
def test_assign_segment_most_specific_wins(ip: str, segment: str | None) -> None:
    found = assign_segment(ip, SEGMENTS)
    assert (found.name if found else None) == segment


def test_assign_segment_tie_goes_to_first_listed_and_bad_cidr_is_ignored() -> None:
    segs = [
        Segment("a", ["nonsense", "198.18.5.0/24"], "core"),
        Segment("b", ["198.18.5.0/24"], "general"),
    ]
    assert assign_segment("198.18.5.5", segs).name == "a"  # type: ignore[union-attr]


@given(st.ip_addresses(v=4))
def test_assign_segment_result_always_contains_ip(addr: object) -> None:
    import ipaddress

    seg = assign_segment(str(addr), SEGMENTS)
    if seg is not None:
        assert any(ipaddress.IPv4Address(str(addr)) in ipaddress.IPv4Network(c) for c in seg.cidrs)


# --- severities and flags -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "severity", "flagged", "words"),
    [
        ("198.18.0.10", Severity.CRITICAL, True, "must not be connected to the core network"),
        ("198.18.0.200", Severity.HIGH, True, "remove or replace at a sensitive site"),
        ("198.18.1.5", Severity.HIGH, True, "remove or replace at a sensitive site"),
        ("198.18.3.5", Severity.MEDIUM, False, "review"),
        ("198.18.4.5", Severity.MEDIUM, False, "review"),  # any other label is 'elsewhere'
        ("198.19.0.1", Severity.MEDIUM, False, "outside every configured segment"),
    ],
)
def test_listed_maker_severity_per_zone(
    ip: str, severity: Severity, flagged: bool, words: str
) -> None:
    f = judge(hikvision(ip))
    assert (f.severity, f.flagged) == (severity, flagged)
    assert words in f.rationale
    assert "Hikvision" in f.rationale
    assert "2 pieces of evidence" in f.rationale


def test_badge_and_zone_named_in_rationale() -> None:
    f = judge(intelbras("198.18.0.20"))
    assert f.severity is Severity.CRITICAL
    assert f.flagged
    assert f.maker == "dahua"
    assert "Dahua-made device, sold as Intelbras" in f.rationale
    assert "'hq-core' (zone core)" in f.rationale
    assert "1 piece of evidence" in f.rationale


def test_unlisted_and_unknown_makers_are_info_and_never_flagged() -> None:
    f = judge(axis("198.18.0.30"))
    assert (f.severity, f.flagged) == (Severity.INFO, False)
    assert "not a listed maker" in f.rationale
    unknown = judge(Device(ip="198.18.0.31", mac="02:00:00:00:00:01"))
    assert (unknown.severity, unknown.flagged, unknown.maker) == (Severity.INFO, False, None)
    assert "No maker identified" in unknown.rationale


def test_users_can_list_more_makers_and_change_severities() -> None:
    policy = PolicySettings(
        listed_makers=frozenset({"hikvision", "dahua", "axis"}),
        zone_severity={"core": Severity.CRITICAL, "general": Severity.HIGH},
    )
    assert judge(axis("198.18.0.30"), policy).severity is Severity.CRITICAL
    f = judge(hikvision("198.18.3.5"), policy)  # general zone raised to high, still not flagged
    assert (f.severity, f.flagged) == (Severity.HIGH, False)
    # 'elsewhere' is missing from this policy's table: other zones fall back to medium.
    assert judge(hikvision("198.18.4.5"), policy).severity is Severity.MEDIUM


def test_low_confidence_is_reviewed_not_flagged() -> None:
    f = judge(hikvision("198.18.0.10", confidence=0.3))
    assert (f.severity, f.flagged) == (Severity.MEDIUM, False)
    assert "below the 0.70 needed to flag" in f.rationale


def test_one_medium_hint_alone_is_not_flagged_by_default() -> None:
    # Issue 10: one medium signature (0.55, label "low") flagged a device CRITICAL at the old
    # default floor of 0.5; flagging now needs "medium" confidence (0.7) by default.
    f = judge(hikvision("198.18.0.10", confidence=0.55))
    assert (f.severity, f.flagged) == (Severity.MEDIUM, False)
    assert judge(hikvision("198.18.0.10", confidence=0.7)).flagged
    assert PolicySettings().min_confidence == parse_config({}).policy.min_confidence == 0.7


# --- exceptions -----------------------------------------------------------------------------


def test_valid_exception_by_mac_downgrades_to_accepted() -> None:
    entry = ExceptionEntry(
        reason="replacement ordered, PO 4471",
        accepted_by="CISO",
        expires=date(2025, 12, 31),
        mac="44-19-B6-12-34-56",
    )
    f = judge(hikvision("198.18.0.10"), exceptions=[entry])
    assert (f.severity, f.flagged, f.exception) == (
        Severity.ACCEPTED,
        False,
        "replacement ordered, PO 4471",
    )
    assert "Accepted by CISO until 2025-12-31" in f.rationale
    assert "Flagged." not in f.rationale


def test_exception_by_serial_matches_case_insensitively() -> None:
    entry = ExceptionEntry(
        reason="evidence store camera",
        accepted_by="J. Smith",
        expires=TODAY,
        serial="ds-2cd2385g1-i20200414aawre33842150",
    )
    assert judge(hikvision("198.18.1.9"), exceptions=[entry]).severity is Severity.ACCEPTED


def test_expired_exception_is_ignored_and_said_so() -> None:
    entry = ExceptionEntry(
        reason="pilot", accepted_by="CISO", expires=date(2025, 5, 31), mac="44:19:b6:12:34:56"
    )
    f = judge(hikvision("198.18.0.10"), exceptions=[entry])
    assert (f.severity, f.flagged, f.exception) == (Severity.CRITICAL, True, None)
    assert "expired on 2025-05-31" in f.rationale
    assert "Flagged." in f.rationale


def test_valid_exception_wins_over_expired_one_and_other_devices_unaffected() -> None:
    old = ExceptionEntry("pilot", "CISO", date(2024, 1, 1), mac="44:19:b6:12:34:56")
    new = ExceptionEntry("renewed", "CISO", date(2026, 1, 1), mac="44:19:b6:12:34:56")
    devices = [hikvision("198.18.0.10"), hikvision("198.18.0.11", mac="44:19:b6:00:00:02")]
    first, second = evaluate(devices, SEGMENTS, PolicySettings(), [old, new], TODAY)
    assert (first.severity, first.exception) == (Severity.ACCEPTED, "renewed")
    assert (second.severity, second.flagged) == (Severity.CRITICAL, True)


CONFIG = """
[[segment]]
name = "hq-core"
cidrs = ["198.18.0.0/24"]
zone = "core"

[[segment]]
name = "car-park"
cidrs = ["198.18.3.0/24"]
zone = "general"

[policy]
listed_makers = ["hikvision", "dahua", "uniview"]
min_confidence = 0.6
severity = { general = "high" }

[[exception]]
mac = "44:19:B6:12:34:56"
reason = "replacement ordered"
accepted_by = "CISO"
expires = 2025-12-31
"""


def test_evaluate_result_follows_the_users_config() -> None:
    config = parse_config(tomllib.loads(CONFIG))
    uniview = Device(
        ip="198.18.0.40",
        mac="48:ea:63:00:00:01",
        verdict=Verdict(
            maker="uniview",
            confidence=0.9,
            confidence_label="high",
            evidence=[
                Evidence(
                    "uniview.http.favicon",
                    "http.favicon.md5",
                    "1536f25632f78fb03babedcb156d3f69",
                    "uniview",
                    Strength.STRONG,
                )
            ],
        ),
    )
    devices = [
        hikvision("198.18.0.10"),  # excepted by MAC
        hikvision("198.18.0.11", mac="44:19:b6:00:00:02"),
        hikvision("198.18.0.12", mac="44:19:b6:00:00:03", confidence=0.55),  # under 0.6
        hikvision("198.18.3.5", mac="44:19:b6:00:00:04"),
        uniview,
    ]
    result = ScanResult(run=ScanRun(targets=[], probes=[], started=0.0), devices=devices)
    got = [(f.severity, f.flagged) for f in evaluate_result(result, config, TODAY)]
    assert got == [
        (Severity.ACCEPTED, False),
        (Severity.CRITICAL, True),
        (Severity.MEDIUM, False),
        (Severity.HIGH, False),
        (Severity.CRITICAL, True),  # uniview listed by the user
    ]
    later = evaluate_result(result, config, date(2026, 1, 1))
    assert later[0].severity is Severity.CRITICAL  # the exception has expired
    assert "expired on 2025-12-31" in later[0].rationale


def test_a_listed_maker_is_at_least_medium_and_its_exception_is_applied() -> None:
    # Issue 10: a zone severity of "info" made a flagged finding "info" and skipped exceptions.
    policy = PolicySettings(zone_severity={"core": Severity.INFO, "sensitive": Severity.HIGH})
    f = judge(hikvision("198.18.0.10"), policy)
    assert (f.severity, f.flagged) == (Severity.MEDIUM, True)
    entry = ExceptionEntry("door camera", "CISO", date(2025, 12, 31), mac="44:19:b6:12:34:56")
    accepted = judge(hikvision("198.18.0.10"), policy, exceptions=[entry])
    assert (accepted.severity, accepted.flagged) == (Severity.ACCEPTED, False)


@given(
    st.sampled_from([Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.INFO]),
    st.floats(0, 1),
    st.sampled_from(["198.18.0.10", "198.18.1.10", "198.18.3.10", "192.0.2.1"]),
)
def test_every_flagged_finding_is_at_least_medium(sev: Severity, conf: float, ip: str) -> None:
    policy = PolicySettings(zone_severity={"core": sev, "sensitive": sev, "elsewhere": sev})
    f = judge(hikvision(ip, confidence=conf), policy)
    assert f.severity in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM)
    if f.flagged:
        assert conf >= policy.min_confidence


def test_fixture_evidence_names_real_signatures() -> None:
    from camscan.identify.signatures import SignatureDB

    db = SignatureDB.load()
    ids = {s.id for s in db.signatures}
    devices = [hikvision("198.18.0.1"), intelbras("198.18.0.2"), axis("198.18.0.3")]
    for ev in (e for d in devices for e in d.verdict.evidence):
        assert ev.signature_id in ids, ev.signature_id
        [sig] = [s for s in db.signatures if s.id == ev.signature_id]
        assert (sig.maker, sig.strength) == (ev.maker, ev.strength), ev.signature_id
