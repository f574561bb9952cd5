"""The shipped signatures check themselves; bad signature files fail with one-line errors."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan import channels
from camscan.data import data_dir
from camscan.identify import makers
from camscan.identify.rules import Rule
from camscan.identify.signatures import (
    MAX_EVIDENCE_RAW,
    Signature,
    SignatureDB,
    SignatureError,
    channels_overlap,
    same_claim,
)
from camscan.model import Observation, Strength

# Loading checks every example and counter-example itself and leaves out signatures that fail;
# the first test shows those failures, one line each naming the file and the signature.
DB, LOAD_ERRORS = SignatureDB.load_with_errors()
SIGS = DB.signatures


def _id(sig: Signature) -> str:
    return sig.id


# What the files say, read as plain TOML: the tests below check it, not only what the loader
# accepted (a loader that silently dropped a signature would otherwise pass every test).
RAW = [
    (path.name, table)
    for path in sorted(data_dir("signatures").glob("*.toml"))
    for table in tomllib.loads(path.read_text(encoding="utf-8")).get("signature", [])
]
BY_ID = {sig.id: sig for sig in SIGS}


def test_packaged_signatures_load_without_errors() -> None:
    assert LOAD_ERRORS == []
    assert len(SIGS) >= 80
    assert data_dir("signatures") == Path(__file__).resolve().parents[1] / "signatures"


def test_every_signature_in_the_files_is_loaded_once() -> None:
    ids = [table.get("id") for _, table in RAW]
    assert len(ids) >= 80
    assert len(set(ids)) == len(ids)
    assert sorted(ids) == sorted(BY_ID), "the loader dropped or invented signatures"


@pytest.mark.parametrize(("file", "table"), RAW, ids=[f"{f}:{t.get('id')}" for f, t in RAW])
def test_every_example_written_in_the_files_matches(file: str, table: dict[str, Any]) -> None:
    sig = BY_ID.get(table.get("id", ""))
    assert sig is not None, f"{file}: {table.get('id')} was not loaded"
    examples = table.get("examples", [])
    assert examples, f"{file}: {sig.id}: no examples"
    for ex in examples:
        value = ex if isinstance(ex, str) else ex["value"]
        hit = sig.search(value)
        assert hit is not None, f"{file}: {sig.id}: example does not match: {value!r}"
        for name, want in ({} if isinstance(ex, str) else ex).items():
            if name != "value":
                assert hit[1].get(name) == want, f"{file}: {sig.id}: {name} from {value!r}"
    for value in table.get("counter_examples", []):
        assert sig.search(value) is None, f"{file}: {sig.id}: counter-example matches {value!r}"
    assert table.get("maker") in makers.display_names(), f"{file}: {sig.id}: unknown maker"


@pytest.mark.parametrize("sig", SIGS, ids=_id)
def test_examples_match_their_signature_with_declared_captures(sig: Signature) -> None:
    for ex in sig.examples:
        hit = sig.search(ex.value)
        assert hit is not None, f"{sig.id}: example does not match: {ex.value!r}"
        for name, want in ex.expect.items():
            assert hit[1].get(name) == want, f"{sig.id}: {name} from {ex.value!r}"


@pytest.mark.parametrize("sig", [s for s in SIGS if s.counter_examples], ids=_id)
def test_counter_examples_match_no_signature_of_that_maker(sig: Signature) -> None:
    # Of that maker, or for a class signature of that class (a printer stays a look-alike).
    rivals = [s for s in SIGS if same_claim(s, sig) and channels_overlap(s.channel, sig.channel)]
    assert sig in rivals
    for value in sig.counter_examples:
        hits = [s.id for s in rivals if s.search(value) is not None]
        assert hits == [], f"{sig.id}: counter-example {value!r} matched {hits}"


def test_every_maker_is_known_and_generic_is_always_weak() -> None:
    for sig in SIGS:
        assert sig.maker in makers.display_names(), sig.id
        assert sig.id.count(".") >= 2, sig.id
        if sig.maker == "generic":
            assert sig.strength is Strength.WEAK, sig.id


# Every channel signatures.md documents for the two makers has a signature for each.
HIKVISION_CHANNELS = [
    "http.header.server",
    "http.header.www-authenticate",
    "rtsp.header.www-authenticate",
    "http.headers",
    "http.body",
    "http.title",
    "http.favicon.md5",
    "tls.subject",
    "rtsp.sdp",
    "rtsp.header.date",
    "rtsp.header.public",
    "wsd.scopes",
    "mdns.instance",
    "mdns.server",
    "sadp.reply",
    "tcp.banner.8000",
    "nmap.service",
]
DAHUA_CHANNELS = [
    "http.header.server",
    "http.header.www-authenticate",
    "rtsp.header.www-authenticate",
    "http.headers",
    "http.body",
    "http.title",
    "http.favicon.md5",
    "tls.subject",
    "rtsp.sdp",
    "rtsp.header.server",
    "wsd.scopes",
    "dhip.reply",
    "dvrip.reply",
    "tcp.open",
    "nmap.service",
]


@pytest.mark.parametrize(
    ("maker", "channel"),
    [("hikvision", c) for c in HIKVISION_CHANNELS] + [("dahua", c) for c in DAHUA_CHANNELS],
)
def test_maker_has_a_signature_on_channel(maker: str, channel: str) -> None:
    assert any(s.maker == maker for s in DB.for_channel(channel))


@pytest.mark.parametrize(
    "maker",
    [
        "axis",
        "hanwha",
        "bosch",
        "uniview",
        "xiongmai",
        "hisilicon-dvr",
        "hipcam",
        "vivotek",
        "avigilon",
        "sony",
    ],
)
def test_lookalike_makers_are_covered(maker: str) -> None:
    assert any(s.maker == maker and s.strength is Strength.STRONG for s in SIGS)


def _obs(channel: str, raw: str, probe: str = "test") -> Observation:
    return Observation(channel, raw, probe)


def test_glob_channel_matches_rtsp_and_http_realms() -> None:
    raw = 'Digest realm="Login to 4M0747EPAA1D284", nonce="745449738fdf77164f570c37c9186b52"'
    for channel in ("rtsp.header.www-authenticate", "http.header.www-authenticate"):
        [ev] = DB.match(_obs(channel, raw, "rtsp:554"))
        assert (ev.maker, ev.strength, ev.channel) == ("dahua", Strength.STRONG, channel)
        assert ev.captured == {"serial": "4M0747EPAA1D284"}
        assert ev.probe == "rtsp:554"
    assert DB.match(_obs("http.header.server", raw)) == []


def test_onvif_captures_are_url_decoded_and_badges_normalised() -> None:
    scopes = (
        "onvif://www.onvif.org/location/country/India onvif://www.onvif.org/name/CP_PLUS "
        "onvif://www.onvif.org/hardware/CP-UNC-TA21PL3 "
        "onvif://www.onvif.org/type/Network_Video_Transmitter "
        "onvif://www.onvif.org/extension/unique_identifier/1"
    )
    [ev] = [e for e in DB.match(_obs(channels.WSD_SCOPES, scopes)) if e.maker]
    assert (ev.maker, ev.badge, ev.captured["model"]) == ("dahua", "CP PLUS", "CP-UNC-TA21PL3")
    hik = DB.match(_obs(channels.WSD_SCOPES, "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2"))
    assert [(e.signature_id, e.captured, e.badge) for e in hik] == [
        ("hikvision.wsd.scopes.name", {"model": "DS-2CD2"}, None)
    ]


def test_weak_generic_server_names_no_maker() -> None:
    [ev] = DB.match(_obs("http.header.server", "webserver"))
    assert (ev.maker, ev.strength) == (None, Strength.WEAK)


def test_sadp_badge_is_ezviz_only_for_cs_models() -> None:
    def badges(model: str) -> set[str | None]:
        xml = f"<ProbeMatch><Types>inquiry</Types><DeviceDescription>{model}</DeviceDescription>"
        return {ev.badge for ev in DB.match(_obs(channels.SADP_REPLY, xml + "</ProbeMatch>"))}

    assert badges("CS-C6TC-32WFR") == {None, "EZVIZ"}
    assert badges("DS-2CD2385G1-I") == {None}


def test_long_raw_is_bounded_around_the_match() -> None:
    body = "x" * 5000 + "doc/page/login.asp" + "y" * 5000
    [ev] = DB.match(_obs(channels.HTTP_BODY, body))
    assert "doc/page/login.asp" in ev.raw
    assert len(ev.raw) <= MAX_EVIDENCE_RAW + 6


CHANNEL_NAMES = st.sampled_from(
    sorted(
        {s.channel.replace("*", "http") for s in SIGS}
        | {"tcp.banner.8000", "rtsp.header.server", "x.y"}
    )
)


@settings(max_examples=300, deadline=None)
@given(channel=st.one_of(CHANNEL_NAMES, st.text(max_size=30)), raw=st.text(max_size=2000))
def test_random_observations_never_crash_match(channel: str, raw: str) -> None:
    for ev in DB.match(_obs(channel, raw)):
        assert ev.channel == channel
        assert len(ev.raw) <= MAX_EVIDENCE_RAW + 6
        assert set(ev.captured) <= {"model", "firmware", "serial", "badge"}


# --- bad files -------------------------------------------------------------------------------

GOOD = """
[[signature]]
id = "acme.http.server.x"
channel = "http.header.server"
pattern = '^Acme'
maker = "hikvision"
strength = "weak"
description = "d"
source = "s"
examples = ["Acme/1"]
"""


def _errors(tmp_path: Path, text: str, name: str = "bad.toml") -> list[str]:
    (tmp_path / name).write_text(text, encoding="utf-8")
    _, errors = SignatureDB.load_with_errors([tmp_path])
    return errors


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("^Acme'", "^Acme('"), "not a valid regex"),
        (('"weak"', '"sure"'), "unknown strength 'sure'"),
        (('["Acme/1"]', '["Other/1"]'), "example 'Other/1' does not match"),
        (('"http.header.server"', '"telepathy.mind"'), "unknown channel"),
        (('"hikvision"', '"hikvison"'), "unknown maker 'hikvison'"),
        (("'^Acme'", "'^(?P<colour>Acme)'"), "unknown capture names ['colour']"),
        (('["Acme/1"]', '[{ value = "Acme/1", model = "X" }]'), "captures model=None"),
        (('examples = ["Acme/1"]', "examples = []"), "'examples' must be a non-empty list"),
        (
            ('examples = ["Acme/1"]', 'examples = ["Acme/1"]\ncounter_examples = ["Acme/2"]'),
            "counter_example 'Acme/2' matches",
        ),
        (('source = "s"', 'source = "s"\nsorce = "t"'), "unknown keys: sorce"),
        (('id = "acme.http.server.x"', 'id = "Acme Server"'), "'id' must be dotted"),
    ],
)
def test_bad_signature_gives_one_line_naming_file_and_id(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    errors = _errors(tmp_path, GOOD.replace(*change))
    assert len(errors) == 1, errors
    assert "\n" not in errors[0]
    assert errors[0].startswith(str(tmp_path / "bad.toml"))
    assert message in errors[0]
    if "'id' must" not in message:
        assert "acme.http.server.x" in errors[0]


def test_duplicate_id_and_bad_toml_and_load_raises(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD, encoding="utf-8")
    assert _errors(tmp_path, GOOD, "b.toml") == [
        f"{tmp_path / 'b.toml'}: acme.http.server.x: duplicate id (first in a.toml)"
    ]
    errors = _errors(tmp_path, "[[signature]\nid = ", "b.toml")
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'b.toml'}: not valid TOML")
    with pytest.raises(SignatureError) as caught:
        SignatureDB.load([tmp_path])
    assert caught.value.errors == errors
    assert "no such" in SignatureDB.load_with_errors([tmp_path / "missing"])[1][0]


def test_vendor_signature_matching_another_signatures_counter_example_fails(
    tmp_path: Path,
) -> None:
    # A vendor file that claims "Webs" for Hikvision clashes with the shipped counter-examples.
    clash = GOOD.replace("'^Acme'", "'^Webs$'").replace('["Acme/1"]', '["Webs"]')
    errors = _errors(tmp_path, clash, "zz.toml")
    db, all_errors = SignatureDB.load_with_errors([data_dir("signatures"), tmp_path])
    assert errors == []  # alone it is consistent
    assert any(
        "hikvision.http.server.webs: counter_example 'Webs' matches acme" in e for e in all_errors
    )
    assert all("acme" not in s.id or s.maker == "hikvision" for s in db.signatures)


def test_analyst_file_can_add_a_maker_and_signatures(tmp_path: Path) -> None:
    text = '[makers]\nacme = "Acme Cameras"\n' + GOOD.replace('"hikvision"', '"acme"')
    (tmp_path / "acme.toml").write_text(text, encoding="utf-8")
    db = SignatureDB.load([data_dir("signatures"), tmp_path])
    [ev] = db.match(_obs("http.header.server", "Acme/2"))
    assert (ev.maker, ev.signature_id) == ("acme", "acme.http.server.x")
    assert len(db.signatures) == len(SIGS) + 1


def _family_clashes(sig: Signature, sigs: list[Signature] = SIGS) -> list[str]:
    """Signatures of another maker that one of `sig`'s examples also matches."""
    clashes: list[str] = []
    for ex in sig.examples:
        clashes.extend(
            f"{ex.value[:60]!r} also matches {other.id} ({other.maker})"
            for other in sigs
            if other.maker not in (sig.maker, "generic")
            and channels_overlap(other.channel, sig.channel)
            and other.search(ex.value) is not None
        )
    return clashes


@pytest.mark.parametrize("sig", [s for s in SIGS if s.maker != "generic"], ids=_id)
def test_every_example_matches_only_its_own_makers_signatures(sig: Signature) -> None:
    # recog's self-test idea: a real value of one maker that another maker's signature also
    # claims is a false positive waiting to happen on the network.
    assert _family_clashes(sig) == []


@pytest.mark.parametrize("rule", DB.rules, ids=lambda r: r.id)
def test_every_rule_example_is_claimed_only_by_its_own_maker(rule: Rule) -> None:
    for ex in rule.examples:
        makers_seen = {ev.maker for obs in ex for ev in DB.match(obs)}
        makers_seen |= {ev.maker for ev in DB.match_rules(list(ex))}
        assert makers_seen <= {rule.maker, None}, (rule.id, makers_seen)


def test_the_family_check_catches_a_value_two_makers_claim(tmp_path: Path) -> None:
    path = tmp_path / "clash.toml"
    path.write_text(
        '[[signature]]\nid = "axis.http.server.clash"\nchannel = "http.header.server"\n'
        'pattern = \'Webs$\'\nmaker = "axis"\nstrength = "weak"\ndescription = "d"\n'
        'source = "s"\nexamples = ["Hikvision-Webs"]\n'
    )
    db = SignatureDB.load([data_dir("signatures"), path])
    clash = next(s for s in db.signatures if s.id == "axis.http.server.clash")
    hik = next(s for s in db.signatures if s.id == "hikvision.http.server.webs")
    assert any("hikvision.http.server.webs" in c for c in _family_clashes(clash, db.signatures))
    assert any("axis.http.server.clash" in c for c in _family_clashes(hik, db.signatures))


# --- the file format's JSON Schema (camscan/schemas/signatures.schema.json) -------------------
SIGNATURE_SCHEMA = Path(__file__).parents[1] / "camscan" / "schemas" / "signatures.schema.json"


def _signature_validator() -> jsonschema.Draft202012Validator:
    doc = json.loads(SIGNATURE_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(doc)
    return jsonschema.Draft202012Validator(doc)


def test_every_signature_file_matches_the_schema() -> None:
    validator = _signature_validator()
    files = sorted(data_dir("signatures").glob("*.toml"))
    assert len(files) >= 8
    for path in files:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        problems = [f"{path.name}: {e.json_path}: {e.message}" for e in validator.iter_errors(doc)]
        assert problems == []


GOOD_SIGNATURE = {
    "id": "acme.http.server",
    "channel": "http.header.server",
    "pattern": "^Acme$",
    "maker": "hikvision",
    "strength": "strong",
    "description": "d",
    "source": "s",
    "examples": ["Acme"],
}


@pytest.mark.parametrize(
    ("change", "remove"),
    [
        ({"strength": "certain"}, None),  # not a strength
        ({"colour": "red"}, None),  # not a key
        ({"id": "NoDots"}, None),  # ids are dotted lowercase words
        ({"examples": []}, None),  # a signature shows what it matches
        ({"examples": [{"value": "Acme", "vendor": "x"}]}, None),  # not a capture
        ({}, "source"),  # every fact is sourced
        ({"class_strength": "strong"}, None),  # a class strength needs a class
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(
    tmp_path: Path, change: dict[str, Any], remove: str | None
) -> None:
    """The schema and the loader agree on the file's shape: each of these is a load error
    too (the schema is for editors and other tools; loading checks regexes and examples)."""
    sig = {k: v for k, v in {**GOOD_SIGNATURE, **change}.items() if k != remove}
    assert list(_signature_validator().iter_errors({"signature": [GOOD_SIGNATURE]})) == []
    assert list(_signature_validator().iter_errors({"signature": [sig]})) != []
    path = tmp_path / "bad.toml"
    lines = ["[[signature]]"] + [f"{k} = {json.dumps(v)}" for k, v in sig.items()]
    path.write_text(
        "\n".join(
            line.replace('{"value": "Acme", "vendor": "x"}', '{ value = "Acme", vendor = "x" }')
            for line in lines
        )
        + "\n"
    )
    _, errors = SignatureDB.load_with_errors([path])
    assert errors, sig
