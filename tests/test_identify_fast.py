"""identify's fast paths give what the plain ones give (issue 27): SignatureDB.match, which
tries main patterns inline and remembers hits per (channel, value), against every signature's
own evidence(); badge normalisation, which reads views built once per vocabulary, against the
plain reading of the vocabulary."""

from __future__ import annotations

import dataclasses
import fnmatch
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from camscan import channels
from camscan.identify import makers
from camscan.identify.signatures import SignatureDB
from camscan.model import Evidence, Observation

DB = SignatureDB.load()
_EXACT, _PREFIXES = channels._vocabulary()
_NAMES = sorted(_EXACT) + [p + "x" for p in _PREFIXES]


def _plain(db: SignatureDB, obs: Observation) -> list[Evidence]:
    """What match() gave before it was made fast: every signature's evidence(), in order."""
    return [ev for sig in db.for_channel(obs.channel) if (ev := sig.evidence(obs)) is not None]


def _channels(spec: str) -> list[str]:
    """The channel itself, or for a glob the known channels it covers (at most three)."""
    if not any(c in spec for c in "*?["):
        return [spec]
    return [n for n in _NAMES if fnmatch.fnmatchcase(n, spec)][:3]


def _values() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for sig in DB.signatures:
        for channel in _channels(sig.channel):
            out += [(channel, ex.value) for ex in sig.examples]
            out += [(channel, value) for value in sig.counter_examples]
    return out


def test_match_gives_every_signatures_own_evidence_first_time_and_remembered() -> None:
    db = SignatureDB.load()  # its own memo, filled here
    values = _values()
    assert len(values) > 400  # every example and counter-example
    for channel, raw in values:
        obs = Observation(channel, raw, "http:80", "198.18.0.1")
        want = _plain(db, obs)
        assert db.match(obs) == want, (channel, raw[:60])
        assert db.match(obs) == want  # from the memo
        # the memo is keyed by channel and value only: probe and address still come from obs
        other = dataclasses.replace(obs, probe="rtsp:554", ip="198.18.0.2")
        assert db.match(other) == _plain(db, other)
    assert db._hits  # the memo was used


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted({c for c, _ in _values()})),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
)
def test_match_equals_the_plain_evidence_on_any_value(channel: str, raw: str) -> None:
    obs = Observation(channel, raw, "http:80", "198.18.0.1")
    assert DB.match(obs) == _plain(DB, obs)
    assert DB.match(obs) == _plain(DB, obs)


def _plain_badge(badge: str | None, maker: str | None) -> str | None:
    """normalise_badge as it read the vocabulary on every call."""

    def key(text: str) -> str:
        return re.sub(r"[^0-9a-z]", "", text.lower())

    if badge is None:
        return None
    text = " ".join(badge.split())[:64]
    k = key(text)
    if k in makers._NOT_BADGES:
        return None
    names = {m.slug: m.name for m in makers.known()}
    if maker is not None and k in {key(maker), key(names.get(maker, maker))}:
        return None
    if k in {key(m.slug) for m in makers.known()}:
        return None
    return makers._BADGE_SPELLINGS.get(k, text)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.sampled_from(["HIKVISION", "Dahua", "EZVIZ", "hi look", "Private", " Axis ", "CP-PLUS"]),
        st.text(max_size=20),
    ),
    st.one_of(st.none(), st.sampled_from([m.slug for m in makers.known()] + ["acme-cams"])),
)
def test_badges_read_as_before(badge: str | None, maker: str | None) -> None:
    assert makers.normalise_badge(badge, maker) == _plain_badge(badge, maker)
