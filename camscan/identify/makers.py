"""The maker vocabulary (makers.toml beside this file, defined once), and badges.

A maker is who built the hardware; a badge is the brand on the box (EZVIZ, Lorex, CP PLUS...).
Everything that names makers reads them here: signatures and OUI rules are checked against
`known()`, the policy's default comes from `default_listed()`, its presets from `presets()`, the
JSON contract's `vendor` values are `default_listed()`, and reports show `display_name()`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from pathlib import Path
from typing import Any

from camscan.errors import DataError

VOCABULARY = Path(__file__).with_name("makers.toml")
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclasses.dataclass(frozen=True, slots=True)
class Maker:
    slug: str  # "hikvision": what signatures, OUI rules, configs and the JSON contract use
    name: str  # "Hikvision": for people
    presets: frozenset[str] = frozenset()  # the named sets it belongs to ("uk", "nil", ...)
    sdk_ports: tuple[int, ...] = ()  # TCP ports of its own SDK protocol (8000: Hikvision's)


@dataclasses.dataclass(frozen=True, slots=True)
class Vocabulary:
    makers: tuple[Maker, ...]
    presets: dict[str, str]  # preset name -> what it stands for
    default_preset: str


def parse_vocabulary(doc: dict[str, Any], where: str = "makers.toml") -> Vocabulary:
    """The vocabulary from a parsed makers.toml; DataError (one line) for any inconsistency."""
    presets: dict[str, str] = {}
    for n, p in enumerate(doc.get("preset", []), 1):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p.get("about"):
            raise DataError(f"{where}: preset {n}: needs a name and an about text")
        presets[p["name"]] = str(p["about"])
    makers: list[Maker] = []
    owners: dict[int, str] = {}
    for n, m in enumerate(doc.get("maker", []), 1):
        slug, name, member_of = (m.get(k) for k in ("slug", "name", "presets"))
        if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug):
            raise DataError(f"{where}: maker {n}: slug must be a-z, 0-9 and -, got {slug!r}")
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"{where}: maker {slug!r}: needs a name")
        if any(x.slug == slug for x in makers):
            raise DataError(f"{where}: maker {slug!r} is defined twice")
        member_of = member_of if member_of is not None else []
        if not isinstance(member_of, list) or not set(member_of) <= set(presets):
            raise DataError(f"{where}: maker {slug!r}: presets must be among {sorted(presets)}")
        ports = _sdk_ports(m, f"{where}: maker {slug!r}")
        for port in ports:
            if owners.setdefault(port, slug) != slug:
                raise DataError(f"{where}: maker {slug!r}: SDK port {port} is {owners[port]}'s")
        makers.append(Maker(slug, name, frozenset(member_of), ports))
    default = doc.get("default_preset")
    if default not in presets:
        raise DataError(f"{where}: default_preset {default!r} is not a preset")
    return Vocabulary(tuple(makers), presets, str(default))


def _sdk_ports(m: dict[str, Any], where: str) -> tuple[int, ...]:
    ports = m.get("sdk_ports", [])
    if not isinstance(ports, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports
    ):
        raise DataError(f"{where}: sdk_ports must be a list of TCP ports, got {ports!r}")
    if ports and not str(m.get("sdk_source", "")).strip():
        raise DataError(f"{where}: sdk_ports needs an sdk_source saying where that is stated")
    return tuple(ports)


def _load() -> Vocabulary:
    try:
        doc = tomllib.loads(VOCABULARY.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise DataError(f"{VOCABULARY}: cannot read the maker vocabulary: {e}") from None
    return parse_vocabulary(doc, str(VOCABULARY))


@functools.cache
def vocabulary() -> Vocabulary:
    """The vocabulary, read on first use (not on import: a mistake in makers.toml is then one
    line from the command that needs it, and `camscan --help` still works)."""
    return _load()


def known() -> tuple[Maker, ...]:
    """Every maker camscan can name, in the vocabulary's order."""
    return vocabulary().makers


def get(slug: str) -> Maker | None:
    return next((m for m in vocabulary().makers if m.slug == slug), None)


def is_known(slug: str) -> bool:
    return get(slug) is not None


def preset(name: str) -> tuple[str, ...]:
    """The maker slugs of a preset, in vocabulary order."""
    return tuple(m.slug for m in vocabulary().makers if name in m.presets)


def sdk_port_owners() -> dict[int, str]:
    """TCP port -> the maker whose own SDK protocol it carries ({8000: "hikvision", ...})."""
    return {port: m.slug for m in vocabulary().makers for port in m.sdk_ports}


def default_listed() -> tuple[str, ...]:
    """The makers the policy lists when a config names none: ("hikvision", "dahua")."""
    return preset(vocabulary().default_preset)


# Derived views, for readers that want sets and maps.
def display_names() -> dict[str, str]:
    return dict(_views().names)


@dataclasses.dataclass(frozen=True, slots=True)
class _Views:
    """What badge normalisation reads for every value (19,000 times for 1,000 devices), built
    once per vocabulary rather than per call."""

    of: Vocabulary
    names: dict[str, str]  # slug -> display name
    slug_keys: frozenset[str]  # every maker's slug as _key() spells it


_views_cache: list[_Views] = []


def _views() -> _Views:
    vocab = vocabulary()
    if not _views_cache or _views_cache[0].of is not vocab:
        names = {m.slug: m.name for m in vocab.makers}
        _views_cache[:] = [_Views(vocab, names, frozenset(_key(m.slug) for m in vocab.makers))]
    return _views_cache[0]


def prc_makers() -> frozenset[str]:
    """The makers subject to the PRC's National Intelligence Law (the "nil" preset)."""
    return frozenset(preset("nil"))


def presets() -> dict[str, frozenset[str]]:
    """`listed_makers = "<preset>"` in [policy]: named sets of makers one rule covers."""
    return {name: frozenset(preset(name)) for name in vocabulary().presets}


def expand_listed(names: str | list[str]) -> list[str]:
    """Maker slugs for a [policy] listed_makers value: a preset name, or a list of maker slugs
    and preset names ("ndaa889", "uniview"). Order kept, repeats dropped; names that are not
    presets pass through unchanged (validating maker names is the caller's job)."""
    out: list[str] = []
    named = presets()
    for name in [names] if isinstance(names, str) else names:
        key = name.strip().lower()
        for slug in sorted(named[key]) if key in named else [key]:
            if slug not in out:
                out.append(slug)
    return out


# Brand spellings seen on the wire, keyed by their letters and digits only, lowercased.
_BADGE_SPELLINGS: dict[str, str] = {
    "ezviz": "EZVIZ",
    "hilook": "HiLook",
    "hiwatch": "HiWatch",
    "lorex": "Lorex",
    "amcrest": "Amcrest",
    "intelbras": "Intelbras",
    "cpplus": "CP PLUS",
    "imou": "Imou",
    "lechange": "Lechange",
    "interlogix": "Interlogix",
    "empiretech": "EmpireTech",
}

# Placeholders devices report instead of a brand (DHIP "Vendor":"Private"/"General").
# Placeholders and device-class words that devices put where a brand would go (ONVIF name/IPC).
_NOT_BADGES = frozenset(
    {
        "",
        "private",
        "general",
        "generic",
        "none",
        "null",
        "unknown",
        "onvif",
        "ipc",
        "nvr",
        "dvr",
        "xvr",
        "ipcamera",
        "camera",
        "networkcamera",
        "webcam",
        "ptz",
    }
)


def display_name(maker: str | None) -> str:
    if maker is None:
        return "unknown maker"
    return _views().names.get(maker, maker.replace("-", " ").title())


_NOT_KEY = re.compile(r"[^0-9a-z]")


def _key(text: str) -> str:
    return _NOT_KEY.sub("", text.lower())


def normalise_badge(badge: str | None, maker: str | None) -> str | None:
    """The brand to show beside `maker`, or None when `badge` is empty, a placeholder, or just
    the maker's own name ("HIKVISION" on a Hikvision, "Dahua" on a Dahua)."""
    if badge is None:
        return None
    text = " ".join(badge.split())[:64]
    key = _key(text)
    if key in _NOT_BADGES:
        return None
    if maker is not None and key in {_key(maker), _key(display_name(maker))}:
        return None
    if key in _views().slug_keys:
        return None  # another maker's name is a maker, not a badge; signatures say so instead
    return _BADGE_SPELLINGS.get(key, text)
