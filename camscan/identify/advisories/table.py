"""The advisory rows (signatures/advisories/*.toml) and the CVEs they name (cves.toml).

A row says: for this maker of record (not the badge) and model pattern, firmware in this range
is affected by these CVEs, per this source. Loading checks every row whole: known maker, a
compilable model pattern, bounds that parse under the row's scheme, CVEs present in cves.toml,
a source, and its examples (which must match) and counter-examples (which must not). A bad row
is a one-line AdvisoryError naming the file and the row.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from camscan.errors import DataError
from camscan.identify import makers
from camscan.identify.advisories.versions import Scheme, Version, compare, parse

CVE_RE = re.compile(r"CVE-\d{4}-\d{4,19}")
SEVERITIES = ("critical", "high", "medium", "low")
MAX_FILE_BYTES = 4 << 20


class AdvisoryError(DataError):
    """An advisory file or row is unusable; the message is one line."""


@dataclasses.dataclass(frozen=True, slots=True)
class Cve:
    id: str
    title: str
    severity: str
    cvss: float | None
    source: str


@dataclasses.dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    maker: str
    models: re.Pattern[str]
    scheme: Scheme
    cves: tuple[str, ...]
    source: str
    introduced: Version | None = None  # first affected, inclusive
    last_affected: Version | None = None  # inclusive
    fixed: Version | None = None  # first fixed, exclusive
    fixed_text: str = ""  # the fixed version as written, or what the source says instead
    build_before: int | None = None  # Hikvision: builds dated before this YYMMDD
    note: str = ""

    def applies_to(self, maker: str | None, model: str | None) -> bool | None:
        """Whether the row covers this device; None: the maker's, but no model was heard."""
        if maker != self.maker:
            return False
        if not model:
            return None
        return self.models.match(model.strip()) is not None

    def affects(self, version: Version) -> bool | None:
        """True/False, or None when the versions cannot be ordered (never a match)."""
        checks: list[bool | None] = []
        if self.introduced is not None:
            c = compare(version, self.introduced)
            checks.append(None if c is None else c >= 0)
        if self.last_affected is not None:
            c = compare(version, self.last_affected)
            checks.append(None if c is None else c <= 0)
        if self.fixed is not None:
            c = compare(version, self.fixed)
            checks.append(None if c is None else c < 0)
        if self.build_before is not None:
            build = getattr(version, "build", None)
            checks.append(None if build is None else build < self.build_before)
        if False in checks:
            return False
        return None if None in checks else True

    def matches(self, maker: str | None, model: str | None, version_text: str | None) -> bool:
        """The whole test, as examples state it: an unknown anywhere is not a match."""
        version = parse(version_text, self.scheme)
        return bool(version and self.applies_to(maker, model) and self.affects(version))


@dataclasses.dataclass(frozen=True, slots=True)
class AdvisoryTable:
    rows: tuple[Advisory, ...]
    cves: Mapping[str, Cve]
    files: tuple[str, ...] = ()

    def for_maker(self, maker: str | None) -> tuple[Advisory, ...]:
        return tuple(r for r in self.rows if r.maker == maker)


def load_table(directory: Path) -> AdvisoryTable:
    """Every advisories/*.toml under `directory`; cves.toml holds the CVE details."""
    cves = _load_cves(directory / "cves.toml")
    rows: list[Advisory] = []
    files = sorted(p for p in directory.glob("*.toml") if p.name != "cves.toml")
    for path in files:
        doc = _read_toml(path)
        for n, raw in enumerate(doc.get("advisory", []), 1):
            rows.append(_row(raw, cves, f"{path}: advisory {n}"))
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise AdvisoryError(f"{directory}: advisory id {row.id!r} appears twice")
        seen.add(row.id)
    return AdvisoryTable(tuple(rows), cves, tuple(p.name for p in files))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise AdvisoryError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        return tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise AdvisoryError(f"{path}: {' '.join(str(e).split())}") from None


def _text(raw: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise AdvisoryError(f"{where}: {key!r} must be a non-empty string")
    return value.strip()


def _load_cves(path: Path) -> dict[str, Cve]:
    doc = _read_toml(path)
    out: dict[str, Cve] = {}
    for n, raw in enumerate(doc.get("cve", []), 1):
        where = f"{path}: cve {n}"
        cid = _text(raw, "id", where)
        if not CVE_RE.fullmatch(cid):
            raise AdvisoryError(f"{where}: {cid!r} is not a CVE id")
        severity = _text(raw, "severity", where)
        if severity not in SEVERITIES:
            raise AdvisoryError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        cvss = raw.get("cvss")
        if cvss is not None and not (isinstance(cvss, int | float) and 0 <= cvss <= 10):
            raise AdvisoryError(f"{where}: cvss must be a number from 0 to 10")
        out[cid] = Cve(
            cid,
            _text(raw, "title", where),
            severity,
            float(cvss) if cvss is not None else None,
            _text(raw, "source", where),
        )
    return out


def _version(raw: Mapping[str, Any], key: str, scheme: Scheme, where: str) -> Version | None:
    text = raw.get(key)
    if text is None:
        return None
    version = parse(text if isinstance(text, str) else None, scheme)
    if version is None:
        raise AdvisoryError(f"{where}: {key} {text!r} is not a {scheme} version")
    return version


def _row(raw: Mapping[str, Any], cves: Mapping[str, Cve], where: str) -> Advisory:
    if not isinstance(raw, Mapping):
        raise AdvisoryError(f"{where}: not a table")
    rid = _text(raw, "id", where)
    where = f"{where} ({rid})"
    maker = _text(raw, "maker", where)
    if not makers.is_known(maker):
        raise AdvisoryError(f"{where}: maker {maker!r} is not in the maker vocabulary")
    try:
        models = re.compile(_text(raw, "models", where), re.IGNORECASE)
        scheme = Scheme(_text(raw, "scheme", where))
    except (re.error, ValueError) as e:
        raise AdvisoryError(f"{where}: {e}") from None
    ids = raw.get("cves")
    if not isinstance(ids, list) or not ids or not all(isinstance(c, str) for c in ids):
        raise AdvisoryError(f"{where}: 'cves' must be a non-empty list of CVE ids")
    for cid in ids:
        if cid not in cves:
            raise AdvisoryError(f"{where}: {cid} has no entry in cves.toml")
    build_before = raw.get("build_before")
    if build_before is not None:
        if scheme is not Scheme.HIKVISION or not re.fullmatch(r"\d{6}", str(build_before)):
            raise AdvisoryError(f"{where}: build_before is a YYMMDD date, Hikvision rows only")
        build_before = int(build_before)
    row = Advisory(
        id=rid,
        maker=maker,
        models=models,
        scheme=scheme,
        cves=tuple(ids),
        source=_text(raw, "source", where),
        introduced=_version(raw, "introduced", scheme, where),
        last_affected=_version(raw, "last_affected", scheme, where),
        fixed=_version(raw, "fixed", scheme, where),
        fixed_text=_fixed_text(raw),
        build_before=build_before,
        note=_text(raw, "note", where, required=False),
    )
    if row.last_affected is None and row.fixed is None and row.build_before is None:
        raise AdvisoryError(f"{where}: needs an upper bound: fixed, last_affected or build_before")
    _check_examples(row, raw, where)
    return row


def _fixed_text(raw: Mapping[str, Any]) -> str:
    if isinstance(raw.get("fixed"), str):
        return str(raw["fixed"])
    if raw.get("build_before") is not None:
        return f"a build dated {raw['build_before']} or later (per the source)"
    return f"not stated by the source (last affected: {raw.get('last_affected')})"


def _check_examples(row: Advisory, raw: Mapping[str, Any], where: str) -> None:
    examples, counter = raw.get("examples"), raw.get("counter_examples")
    if not examples or not counter:
        raise AdvisoryError(f"{where}: needs examples and counter_examples")
    for key, items, want in (("example", examples, True), ("counter-example", counter, False)):
        for item in items:
            if not isinstance(item, Mapping) or not isinstance(item.get("version"), str):
                raise AdvisoryError(f"{where}: each {key} is {{ model = ..., version = ... }}")
            model = item.get("model")
            got = row.matches(row.maker, model if isinstance(model, str) else None, item["version"])
            if got is not want:
                verb = "does not match" if want else "matches"
                raise AdvisoryError(f"{where}: {key} {model} {item['version']!r} {verb} the row")
