"""Signatures as data: load the TOML files in signatures/, check them, match observations.

Each `[[signature]]` names a channel (or a glob over channels), a regex searched in the raw
value, optional `all_of` co-markers that must all match the same value, optional `capture`
regexes read only for their named groups, and what a hit says: maker, badge, strength. Every
signature carries examples that must match and counter-examples that must not; loading checks
them, so a bad edit fails at load with one line naming the file and the signature.
See signatures/README.md for the format.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import tomllib
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from camscan import channels
from camscan.data import data_dir
from camscan.errors import DataError
from camscan.identify import classes, makers
from camscan.identify.rules import Rule, RuleInvalid, check_examples, parse_rule
from camscan.model import Evidence, Observation, Strength

CAPTURE_NAMES = frozenset({"model", "firmware", "serial", "badge"})
MAX_SEARCH_CHARS = 65536  # regexes see at most this much of a raw value
MAX_EVIDENCE_RAW = 240  # evidence keeps this much of the raw value, around the match
MAX_CAPTURE_CHARS = 128
MAX_REMEMBERED = 65536  # distinct (channel, value) pairs whose hits a SignatureDB remembers,
MAX_REMEMBERED_CHARS = 4_000_000  # holding at most this many characters of values in all
NMAP_SERVICE = channels.NMAP_SERVICE

_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)+")
_SIGNATURE_KEYS = frozenset(
    {
        "id",
        "channel",
        "pattern",
        "all_of",
        "capture",
        "maker",
        "badge",
        "strength",
        "description",
        "source",
        "examples",
        "counter_examples",
        "class",
        "class_strength",
    }
)


class SignatureError(DataError):
    """One or more signature files are invalid; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def channel_is_known(spec: str) -> bool:
    """A channel camscan.channels defines (see channels.is_known)."""
    return channels.is_known(spec)


def channels_overlap(a: str, b: str) -> bool:
    """Whether two channel specs (names or globs) can see the same observation."""
    return a == b or fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a)


def same_claim(other: Signature, sig: Signature) -> bool:
    """Whether `other` says what `sig` says: the same maker; for a generic signature proving a
    class (its claim is the class alone), the same class. A vendor signature's counter-examples
    are about its maker ("Network Camera" is not Sony), not about the class it also proves."""
    if sig.equipment is not None and sig.maker == "generic":
        return other.equipment == sig.equipment
    return other.maker == sig.maker


@dataclasses.dataclass(frozen=True, slots=True)
class Example:
    value: str
    expect: dict[str, str]  # captures the example declares, checked exactly


@dataclasses.dataclass(frozen=True, slots=True)
class Signature:
    id: str
    channel: str
    pattern: re.Pattern[str]
    all_of: tuple[re.Pattern[str], ...]
    capture: tuple[re.Pattern[str], ...]
    maker: str
    strength: Strength
    badge: str | None
    description: str
    source: str
    examples: tuple[Example, ...]
    counter_examples: tuple[str, ...]
    file: Path
    equipment: str | None = None  # the class a hit proves (classes.toml), if any
    equipment_strength: Strength | None = None

    @property
    def says_maker(self) -> str | None:
        return None if self.maker == "generic" else self.maker

    def search(self, raw: str) -> tuple[re.Match[str], dict[str, str]] | None:
        """The main match and the captured fields, or None when the signature does not hit."""
        text = raw[:MAX_SEARCH_CHARS]
        first = self.pattern.search(text)
        if first is None:
            return None
        found: list[re.Match[str]] = [first]
        for extra in self.all_of:
            m = extra.search(text)
            if m is None:
                return None
            found.append(m)
        found.extend(m for p in self.capture if (m := p.search(text)) is not None)
        captured: dict[str, str] = {}
        for m in found:
            for name, value in m.groupdict().items():
                if name in CAPTURE_NAMES and value and name not in captured:
                    clean = _clean_capture(value)
                    if clean:
                        captured[name] = clean
        return first, captured

    def evidence(self, obs: Observation) -> Evidence | None:
        hit = self.search(obs.raw)
        if hit is None:
            return None
        match, captured = hit
        maker = self.says_maker
        badge = makers.normalise_badge(self.badge or captured.get("badge"), maker)
        return Evidence(
            signature_id=self.id,
            channel=obs.channel,
            raw=_bounded_raw(obs.raw, match),
            maker=maker,
            strength=self.strength,
            badge=badge,
            captured=captured,
            description=self.description,
            probe=obs.probe,
            equipment=self.equipment,
            equipment_strength=self.equipment_strength,
        )


def _clean_capture(value: str) -> str:
    text = value.strip()
    if "%" in text:
        text = urllib.parse.unquote(text, errors="replace")  # ONVIF scopes are URL-encoded
    return " ".join(text.split())[:MAX_CAPTURE_CHARS]


def _bounded_raw(raw: str, match: re.Match[str]) -> str:
    if len(raw) <= MAX_EVIDENCE_RAW:
        return raw
    start = max(0, min(match.start() - 40, len(raw) - MAX_EVIDENCE_RAW))
    piece = raw[start : start + MAX_EVIDENCE_RAW]
    return ("..." if start else "") + piece + ("..." if start + MAX_EVIDENCE_RAW < len(raw) else "")


class SignatureDB:
    def __init__(self, signatures: list[Signature], rules: list[Rule] | None = None) -> None:
        self.signatures = signatures
        self.rules = rules or []
        self._exact: dict[str, list[Signature]] = {}
        self._globs: list[Signature] = []
        for sig in signatures:
            if any(c in sig.channel for c in "*?["):
                self._globs.append(sig)
            else:
                self._exact.setdefault(sig.channel, []).append(sig)
        self._by_channel: dict[str, list[Signature]] = {}
        self._hits: dict[tuple[str, str], tuple[Signature, ...]] = {}  # (channel, raw) -> hits
        self._kept = 0  # characters of the values in _hits

    @classmethod
    def load(cls, dirs: list[Path] | None = None) -> SignatureDB:
        """Every *.toml in `dirs` (default: the packaged signatures/); raises SignatureError."""
        db, errors = cls.load_with_errors(dirs)
        if errors:
            raise SignatureError(errors)
        return db

    @classmethod
    def load_with_errors(cls, dirs: list[Path] | None = None) -> tuple[SignatureDB, list[str]]:
        """The valid signatures, and one line per problem (bad signatures are left out)."""
        errors: list[str] = []
        files: list[Path] = []
        for d in dirs if dirs is not None else [data_dir("signatures")]:
            if d.is_file():
                files.append(d)
            elif d.is_dir():
                files.extend(sorted(d.glob("*.toml")))
            else:
                errors.append(f"{d}: no such signature file or directory")
        docs = [(f, _read_toml(f, errors)) for f in files]
        known_makers = {m.slug for m in makers.known()}
        for f, doc in docs:
            if doc is not None:  # an analyst's own file may bring a maker camscan does not know
                known_makers.update(_read_makers(f, doc, errors))
        seen: dict[str, Path] = {}  # signature and rule ids share one namespace
        sigs: list[Signature] = _unique(docs, "signature", _build, known_makers, seen, errors)
        rules: list[Rule] = _unique(docs, "rule", _build_rule, known_makers, seen, errors)
        db = cls(sigs, rules)
        for sig in sigs:
            errors.extend(f"{sig.file}: {sig.id}: {p}" for p in db.counter_example_clashes(sig))
        return db, errors

    def for_channel(self, channel: str) -> list[Signature]:
        found = self._by_channel.get(channel)
        if found is None:
            found = self._exact.get(channel, []) + [
                s for s in self._globs if fnmatch.fnmatchcase(channel, s.channel)
            ]
            if len(self._by_channel) < 4096:  # channel names come from devices: bound the cache
                self._by_channel[channel] = found
        return found

    def match(self, obs: Observation) -> list[Evidence]:
        sigs = self.for_channel(obs.channel)
        if not sigs:
            return []
        key = (obs.channel, obs.raw)
        hits = self._hits.get(key)
        if hits is None:
            # Most signatures miss: try each one's main pattern on one bounded copy of the
            # value, and build evidence (which searches again) only for those that hit. Which
            # ones hit depends on the value alone, and many devices send the same values
            # (statuses, lengths, one firmware's pages): asked once per distinct value.
            text = obs.raw[:MAX_SEARCH_CHARS]
            hits = tuple(sig for sig in sigs if sig.pattern.search(text))
            size = len(obs.raw)  # a long session must not keep values it has let go of
            if len(self._hits) < MAX_REMEMBERED and self._kept + size <= MAX_REMEMBERED_CHARS:
                self._hits[key] = hits
                self._kept += size
        return [ev for sig in hits if (ev := sig.evidence(obs)) is not None]

    def match_rules(self, observations: list[Observation]) -> list[Evidence]:
        """Evidence from the rules over one device's observations."""
        return [ev for rule in self.rules if (ev := rule.evidence(observations))]

    def counter_example_clashes(self, sig: Signature) -> list[str]:
        """Counter-examples of `sig` that a signature naming the same maker matches, or, for a
        signature proving a class, one proving the same class (look-alikes stay look-alikes)."""
        problems: list[str] = []
        same_maker = [
            s
            for s in self.signatures
            if same_claim(s, sig) and channels_overlap(s.channel, sig.channel)
        ]
        for value in sig.counter_examples:
            problems.extend(
                f"counter_example {value[:60]!r} matches {other.id}"
                for other in same_maker
                if other is not sig and other.search(value) is not None
            )
        return problems


def _read_toml(path: Path, errors: list[str]) -> dict[str, Any] | None:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        errors.append(f"{path}: cannot read: {e.strerror or e}")
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        errors.append(f"{path}: not valid TOML: {' '.join(str(e).split())}")
        return None
    unknown = set(doc) - {"signature", "rule", "makers"}
    if unknown:
        errors.append(f"{path}: unknown top-level keys: {', '.join(sorted(unknown))}")
    for key in ("signature", "rule"):
        if not isinstance(doc.get(key, []), list):
            errors.append(f"{path}: '{key}' must be an array of tables ([[{key}]])")
            return None
    return doc


def added_makers(dirs: list[Path] | None = None) -> set[str]:
    """The makers the signature files in `dirs` (default: the packaged ones) add with
    `[makers]`; files that do not read are left to SignatureDB.load to report."""
    found: set[str] = set()
    for d in dirs if dirs is not None else [data_dir("signatures")]:
        for f in [d] if d.is_file() else sorted(d.glob("*.toml")) if d.is_dir() else []:
            doc = _read_toml(f, [])
            if doc is not None:
                found |= _read_makers(f, doc, [])
    return found


def _read_makers(path: Path, doc: dict[str, Any], errors: list[str]) -> set[str]:
    """Slugs of the makers a signature file adds (`[makers] acme = "Acme Cameras"`). A maker
    the vocabulary (camscan/identify/makers.toml) already defines must not be defined again."""
    table = doc.get("makers", {})
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and makers.SLUG_RE.fullmatch(k) and isinstance(v, str) and v
        for k, v in table.items()
    ):
        errors.append(f"{path}: [makers] must map slugs (a-z, 0-9, -) to display names")
        return set()
    twice = sorted(k for k in table if makers.is_known(k))
    if twice:
        errors.append(f"{path}: [makers]: {twice[0]!r} is already defined in {makers.VOCABULARY}")
    return set(table)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_Item = TypeVar("_Item", bound=_HasId)


def _unique(
    docs: list[tuple[Path, dict[str, Any] | None]],
    key: str,
    build: Callable[[Path, int, object, set[str], list[str]], _Item | None],
    known_makers: set[str],
    seen: dict[str, Path],
    errors: list[str],
) -> list[_Item]:
    """Build every `[[key]]` table of every file; a bad one or a repeated id is an error line."""
    items: list[_Item] = []
    for f, doc in docs:
        for n, table in enumerate(doc.get(key, []) if doc else [], 1):
            item = build(f, n, table, known_makers, errors)
            if item is None:
                continue
            if item.id in seen:
                errors.append(f"{f}: {item.id}: duplicate id (first in {seen[item.id].name})")
                continue
            seen[item.id] = f
            items.append(item)
    return items


def _build(
    path: Path, n: int, table: object, known_makers: set[str], errors: list[str]
) -> Signature | None:
    if not isinstance(table, dict):
        errors.append(f"{path}: signature #{n}: not a table")
        return None
    sid = table.get("id")
    label = f"{path}: {sid}" if isinstance(sid, str) and sid else f"{path}: signature #{n}"
    problems: list[str] = []
    try:
        sig = _parse(path, table, known_makers, problems)
    except _Invalid as e:
        problems.append(str(e))
        sig = None
    if sig is not None:
        problems.extend(_check_examples(sig))
    errors.extend(f"{label}: {p}" for p in problems)
    return sig if not problems else None


class _Invalid(Exception):
    pass


def _build_rule(
    path: Path, n: int, table: object, known_makers: set[str], errors: list[str]
) -> Rule | None:
    if not isinstance(table, dict):
        errors.append(f"{path}: rule #{n}: not a table")
        return None
    rid = table.get("id")
    label = f"{path}: {rid}" if isinstance(rid, str) and rid else f"{path}: rule #{n}"
    if isinstance(rid, str) and not _ID_RE.fullmatch(rid):
        errors.append(f"{label}: 'id' must be dotted lowercase words, e.g. dahua.http.rule.x")
        return None
    try:
        rule = parse_rule(path, table, known_makers, _regex, channel_is_known, parse_class)
    except (RuleInvalid, _Invalid) as e:
        errors.append(f"{label}: {e}")
        return None
    problems = list(check_examples(rule))
    errors.extend(f"{label}: {p}" for p in problems)
    return rule if not problems else None


def _text(table: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"'{key}' must be a non-empty string")
    return value


def _regex(value: object, key: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"'{key}' must be a non-empty string (a Python regex)")
    try:
        compiled = re.compile(value)
    except re.error as e:
        raise _Invalid(f"'{key}' is not a valid regex: {e}") from None
    bad = set(compiled.groupindex) - CAPTURE_NAMES
    if bad:
        raise _Invalid(
            f"'{key}' has unknown capture names {sorted(bad)} "
            f"(use {', '.join(sorted(CAPTURE_NAMES))})"
        )
    return compiled


def _regex_list(table: dict[str, Any], key: str) -> tuple[re.Pattern[str], ...]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise _Invalid(f"'{key}' must be a list of regexes")
    return tuple(_regex(v, f"{key}[{i}]") for i, v in enumerate(value))


def _parse(
    path: Path, table: dict[str, Any], known_makers: set[str], problems: list[str]
) -> Signature:
    unknown = set(table) - _SIGNATURE_KEYS
    if unknown:
        raise _Invalid(f"unknown keys: {', '.join(sorted(unknown))}")
    sid = _text(table, "id") or ""
    if not _ID_RE.fullmatch(sid):
        raise _Invalid("'id' must be dotted lowercase words, e.g. hikvision.http.server.webs")
    channel = _text(table, "channel") or ""
    if not channel_is_known(channel):
        raise _Invalid(f"unknown channel {channel!r} (see camscan/channels.py)")
    maker = _text(table, "maker") or ""
    if maker not in known_makers:
        raise _Invalid(
            f"unknown maker {maker!r} (add it to camscan/identify/makers.toml, or to [makers] "
            "in your own signature file)"
        )
    strength_text = _text(table, "strength") or ""
    try:
        strength = Strength(strength_text)
    except ValueError:
        raise _Invalid(f"unknown strength {strength_text!r} (strong, medium or weak)") from None
    equipment, equipment_strength = parse_class(table, strength)
    return Signature(
        id=sid,
        channel=channel,
        pattern=_regex(table.get("pattern"), "pattern"),
        all_of=_regex_list(table, "all_of"),
        capture=_regex_list(table, "capture"),
        maker=maker,
        strength=strength,
        badge=_text(table, "badge", required=False),
        description=_text(table, "description") or "",
        source=_text(table, "source") or "",
        examples=_examples(table.get("examples")),
        counter_examples=_strings(table.get("counter_examples", []), "counter_examples"),
        file=path,
        equipment=equipment,
        equipment_strength=equipment_strength,
    )


def parse_class(table: dict[str, Any], strength: Strength) -> tuple[str | None, Strength | None]:
    """`class` (a slug of camscan/identify/classes.toml) and `class_strength` (default: the
    signature's strength); (None, None) when the table names no class."""
    slug = table.get("class")
    if slug is None:
        if "class_strength" in table:
            raise _Invalid("'class_strength' needs a 'class'")
        return None, None
    if not isinstance(slug, str) or not classes.is_known(slug) or slug == classes.UNKNOWN:
        raise _Invalid(f"unknown class {slug!r} (see camscan/identify/classes.toml)")
    text = table.get("class_strength", strength.value)
    try:
        return slug, Strength(text)
    except ValueError:
        raise _Invalid(f"unknown class_strength {text!r} (strong, medium or weak)") from None


def _strings(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"'{key}' must be a list of strings")
    return tuple(value)


def _examples(value: object) -> tuple[Example, ...]:
    if not isinstance(value, list) or not value:
        raise _Invalid("'examples' must be a non-empty list (real raw values that must match)")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append(Example(item, {}))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise _Invalid(f"examples[{i}] must be a string or a table with a 'value' string")
        expect = {k: v for k, v in item.items() if k != "value"}
        if set(expect) - CAPTURE_NAMES or not all(isinstance(v, str) for v in expect.values()):
            raise _Invalid(
                f"examples[{i}] may only declare string captures {', '.join(sorted(CAPTURE_NAMES))}"
            )
        out.append(Example(item["value"], expect))
    return tuple(out)


def _check_examples(sig: Signature) -> Iterable[str]:
    for ex in sig.examples:
        hit = sig.search(ex.value)
        if hit is None:
            yield f"example {ex.value[:60]!r} does not match"
            continue
        for name, want in ex.expect.items():
            got = hit[1].get(name)
            if got != want:
                yield f"example {ex.value[:60]!r} captures {name}={got!r}, expected {want!r}"
    for value in sig.counter_examples:
        if sig.search(value) is not None:
            yield f"counter_example {value[:60]!r} matches"


def main(argv: list[str] | None = None) -> int:
    """`python -m camscan.identify.signatures [DIR_OR_FILE ...]`: check signature files."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    db, errors = SignatureDB.load_with_errors([Path(a) for a in args] or None)
    for line in errors:
        print(line, file=sys.stderr)
    valid = f"{len(db.signatures)} signatures and {len(db.rules)} rules valid"
    print(f"{valid}, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
