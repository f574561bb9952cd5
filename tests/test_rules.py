"""Rules across observations of one device (signatures/rules.toml): format, checks, verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camscan import channels
from camscan.data import data_dir
from camscan.identify.engine import identify_device
from camscan.identify.signatures import SignatureDB
from camscan.model import Device, Observation, Strength, Verdict

DB = SignatureDB.load()
RULE = "dahua.http.rule.page-without-server"
BODY = '<html><head><title>WEB SERVICE</title></head><body><input id="t_username"/></body></html>'


def http(port: int, *pairs: tuple[str, str]) -> list[Observation]:
    return [Observation(ch, raw, f"http:{port}", ip="198.18.40.9") for ch, raw in pairs]


def verdict(obs: list[Observation]) -> Verdict:
    return identify_device(Device(ip="198.18.40.9", observations=obs), DB, None)


def test_packaged_rules_load_and_cover_all_three_operators() -> None:
    rule = next(r for r in DB.rules if r.id == RULE)
    assert rule.all_of and rule.any_of and rule.none_of and rule.source


def test_dahua_page_without_server_header_is_strong_evidence() -> None:
    v = verdict(http(80, ("http.title", "WEB SERVICE"), ("http.body", BODY)))
    assert v.maker == "dahua" and v.confidence_label == "high"
    (ev,) = [e for e in v.evidence if e.signature_id == RULE]
    assert ev.strength is Strength.STRONG and ev.channel == "http.title" and ev.probe == "http:80"
    assert "no http.header.server" in ev.description


def test_a_server_header_on_the_same_port_stops_the_rule() -> None:
    v = verdict(
        http(
            80,
            ("http.title", "WEB SERVICE"),
            ("http.body", BODY),
            ("http.header.server", "lighttpd/1.4.35"),
        )
    )
    assert RULE not in [e.signature_id for e in v.evidence]
    assert v.confidence_label != "high"


def test_same_probe_rules_do_not_mix_ports() -> None:
    obs = http(80, ("http.title", "WEB SERVICE")) + http(8080, ("http.body", BODY))
    assert RULE not in [e.signature_id for e in verdict(obs).evidence]
    # ...while a Server header on another port does not stop the port that has none
    obs = http(80, ("http.title", "WEB SERVICE"), ("http.body", BODY)) + http(
        8080, ("http.header.server", "nginx")
    )
    assert RULE in [e.signature_id for e in verdict(obs).evidence]


BAD_RULES = {
    "no all_of": (
        '[[rule]]\nid = "x.http.rule.a"\nmaker = "dahua"\nstrength = "weak"\n'
        'description = "d"\nsource = "s"\nnone_of = [{ channel = "http.title", '
        'pattern = \'a\' }]\nexamples = [{ "http.title" = "b" }]\n',
        "x.http.rule.a: 'all_of' must name at least one condition",
    ),
    "unknown channel": (
        '[[rule]]\nid = "x.http.rule.b"\nmaker = "dahua"\nstrength = "weak"\n'
        'description = "d"\nsource = "s"\nall_of = [{ channel = "nope.x", '
        'pattern = \'a\' }]\nexamples = [{ "nope.x" = "a" }]\n',
        "x.http.rule.b: unknown channel 'nope.x'",
    ),
    "example fails": (
        '[[rule]]\nid = "x.http.rule.c"\nmaker = "dahua"\nstrength = "weak"\n'
        'description = "d"\nsource = "s"\nall_of = [{ channel = "http.title", '
        'pattern = \'^A$\' }]\nexamples = [{ "http.title" = "B" }]\n',
        "x.http.rule.c: example #1 (http.title) does not match",
    ),
    "counter matches": (
        '[[rule]]\nid = "x.http.rule.d"\nmaker = "dahua"\nstrength = "weak"\n'
        'description = "d"\nsource = "s"\nall_of = [{ channel = "http.title", '
        'pattern = \'A\' }]\nexamples = [{ "http.title" = "A" }]\n'
        'counter_examples = [{ "http.title" = "AB" }]\n',
        "x.http.rule.d: counter_example #1 (http.title) matches",
    ),
    "bad regex": (
        '[[rule]]\nid = "x.http.rule.e"\nmaker = "dahua"\nstrength = "weak"\n'
        'description = "d"\nsource = "s"\nall_of = [{ channel = "http.title", '
        'pattern = \'(\' }]\nexamples = [{ "http.title" = "A" }]\n',
        "x.http.rule.e: 'all_of[0].pattern' is not a valid regex",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_a_bad_rule_is_one_line_naming_file_and_rule(case: str, tmp_path: Path) -> None:
    text, expected = BAD_RULES[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    db, errors = SignatureDB.load_with_errors([data_dir("signatures"), path])
    assert len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith(f"{path}: ") and expected in errors[0]
    assert len(db.rules) == len(DB.rules)


def test_rules_see_only_the_observations_they_name() -> None:
    # a UPnP or mDNS value reading "WEB SERVICE" is not an HTTP title
    obs = [
        Observation(channels.UPNP_MODEL, "WEB SERVICE", "ssdp"),
        Observation(channels.HTTP_BODY, BODY, "http:80"),
    ]
    assert RULE not in [e.signature_id for e in verdict(obs).evidence]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "http.title",
                    "http.body",
                    "http.header.server",
                    "rtsp.header.server",
                    "wsd.scopes",
                ]
            ),
            st.one_of(
                st.text(max_size=200), st.sampled_from(["WEB SERVICE", BODY, "lighttpd", ""])
            ),
            st.sampled_from(["http:80", "http:8080"]),
        ),
        max_size=8,
    )
)
def test_rules_never_raise_and_none_of_always_holds(items: list[tuple[str, str, str]]) -> None:
    obs = [Observation(ch, raw, probe) for ch, raw, probe in items]
    for ev in DB.match_rules(obs):
        rule = next(r for r in DB.rules if r.id == ev.signature_id)
        group = [o for o in obs if o.probe == ev.probe] if rule.same_probe else obs
        assert not any(c.matches(o) for c in rule.none_of for o in group)
