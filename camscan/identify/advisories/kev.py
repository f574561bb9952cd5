"""CISA's Known Exploited Vulnerabilities catalogue: read a downloaded copy, check it, keep it.

camscan never downloads it. `camscan advisories update FILE` reads the JSON a user downloaded
(https://www.cisa.gov/known-exploited-vulnerabilities-catalog, public domain), bounded before
parsing, checks every entry against the catalogue's published schema (required fields, CVE and
date formats) and that `count` matches the entries (a truncated file fails), then writes it to
the user data directory (DATA/kev) with its catalogue version and release date. Until then,
and whenever the shipped extract is newer, camscan reads the extract that ships beside the
advisories (signatures/advisories/kev.json: the camera makers' entries).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from camscan.data import shipped_data_dir, user_data_dir
from camscan.errors import DataError

MAX_KEV_BYTES = 32 << 20  # the whole catalogue was 1.3 MB for 1,404 entries (2025-08)
MAX_ENTRIES = 100_000
MAX_FIELD_CHARS = 4096
STALE_AFTER_DAYS = 90  # CISA updates the catalogue on most weekdays
CATALOGUE = "known_exploited_vulnerabilities.json"
_CVE = re.compile(r"CVE-\d{4}-\d{4,19}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_REQUIRED = (
    "cveID",
    "vendorProject",
    "product",
    "vulnerabilityName",
    "dateAdded",
    "shortDescription",
    "requiredAction",
    "dueDate",
)


class KevError(DataError):
    """A KEV catalogue file is unusable; the message is one line."""


@dataclasses.dataclass(frozen=True, slots=True)
class KevEntry:
    cve: str
    vendor: str
    product: str
    name: str
    added: str
    due: str
    action: str


@dataclasses.dataclass(frozen=True, slots=True)
class KevCatalogue:
    version: str
    released: dt.date
    entries: Mapping[str, KevEntry]
    path: Path
    shipped: bool  # True: the extract shipped with camscan

    def age_days(self, today: dt.date | None = None) -> int:
        return ((today or dt.date.today()) - self.released).days

    def staleness_warning(self, today: dt.date | None = None) -> str | None:
        age = self.age_days(today)
        if age <= STALE_AFTER_DAYS:
            return None
        return (
            f"KEV catalogue {self.version} is {age} days old; download CISA's "
            f"{CATALOGUE} and run `camscan advisories update FILE`"
        )


def _read_bounded(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            if os.fstat(f.fileno()).st_size > MAX_KEV_BYTES:  # refused unread
                data = b""
                too_big = True
            else:  # a pipe or a file still growing: read at most one byte past the bound
                data = f.read(MAX_KEV_BYTES + 1)
                too_big = len(data) > MAX_KEV_BYTES
    except OSError as e:
        raise KevError(f"{path}: {e.strerror or e}") from None
    if too_big:
        raise KevError(f"{path}: larger than {MAX_KEV_BYTES >> 20} MiB; not a KEV catalogue")
    return data


def read_catalogue(path: Path, shipped: bool = False) -> KevCatalogue:
    """Parse and check one catalogue file; KevError (one line) when it is not one."""
    return parse_catalogue(_read_bounded(path), path, shipped)


def parse_catalogue(data: bytes, path: Path, shipped: bool = False) -> KevCatalogue:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise KevError(f"{path}: not valid JSON ({' '.join(str(e).split())}); truncated?") from None
    except RecursionError:
        raise KevError(f"{path}: JSON nested too deeply; not a KEV catalogue") from None
    return _catalogue(doc, path, shipped)


def _catalogue(doc: Any, path: Path, shipped: bool) -> KevCatalogue:
    if not isinstance(doc, dict):
        raise KevError(f"{path}: not a KEV catalogue (expected a JSON object)")
    version, released, count, vulns = (
        doc.get(k) for k in ("catalogVersion", "dateReleased", "count", "vulnerabilities")
    )
    if not isinstance(version, str) or not isinstance(released, str) or not isinstance(vulns, list):
        raise KevError(
            f"{path}: not a KEV catalogue (needs catalogVersion, dateReleased and vulnerabilities)"
        )
    if not isinstance(count, int) or isinstance(count, bool) or count != len(vulns):
        raise KevError(
            f"{path}: count {count!r} but {len(vulns)} vulnerabilities; truncated or edited?"
        )
    if len(vulns) > MAX_ENTRIES:
        raise KevError(f"{path}: more than {MAX_ENTRIES} entries; not a KEV catalogue")
    try:
        day = dt.date.fromisoformat(released[:10])
    except ValueError:
        raise KevError(f"{path}: dateReleased {released[:40]!r} is not a date") from None
    entries: dict[str, KevEntry] = {}
    for n, v in enumerate(vulns, 1):
        entry = _entry(v, f"{path}: vulnerability {n}")
        entries[entry.cve] = entry
    return KevCatalogue(version[:64], day, entries, path, shipped)


def _entry(v: Any, where: str) -> KevEntry:
    if not isinstance(v, dict):
        raise KevError(f"{where}: not an object")
    for key in _REQUIRED:
        value = v.get(key)
        if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
            raise KevError(f"{where}: field {key!r} missing or not a string (of a bounded size)")
    if not _CVE.fullmatch(v["cveID"]):
        raise KevError(f"{where}: cveID {v['cveID'][:40]!r} is not a CVE id")
    for key in ("dateAdded", "dueDate"):
        if not _DATE.fullmatch(v[key]):
            raise KevError(f"{where}: {key} {v[key][:40]!r} is not YYYY-MM-DD")
    return KevEntry(
        v["cveID"],
        v["vendorProject"],
        v["product"],
        v["vulnerabilityName"],
        v["dateAdded"],
        v["dueDate"],
        v["requiredAction"],
    )


def shipped_path() -> Path:
    return shipped_data_dir("signatures") / "advisories" / "kev.json"


def user_path() -> Path:
    return user_data_dir() / "kev" / CATALOGUE


def load_catalogue() -> KevCatalogue:
    """The user's updated copy when it is at least as new as the shipped extract, else the
    extract. A damaged or unreadable user copy is ignored (update checked it before writing)."""
    shipped = read_catalogue(shipped_path(), shipped=True)
    mine_path = user_path()
    try:  # a data dir this user cannot search (root's, via sudo without -H) is no copy at all
        if not mine_path.is_file():
            return shipped
        mine = read_catalogue(mine_path)
    except (KevError, OSError):
        return shipped
    return mine if mine.released >= shipped.released else shipped


def install(source: Path, directory: Path | None = None) -> KevCatalogue:
    """Check `source`, then copy it into DATA/kev (or `directory`) atomically: a file that
    fails the checks leaves the previous copy as it was."""
    data = _read_bounded(source)
    catalogue = parse_catalogue(data, source)
    out_dir = directory or user_path().parent
    target = out_dir / CATALOGUE
    tmp = out_dir / f".{CATALOGUE}.tmp"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, target)
        (out_dir / "provenance.toml").write_text(
            f'catalogVersion = "{_toml_safe(catalogue.version)}"\n'
            f"dateReleased = {catalogue.released.isoformat()}\n"
            f'input = "{_toml_safe(source.name)}"\n'
            f"imported = {dt.date.today().isoformat()}\n",
            encoding="utf-8",
        )
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise KevError(f"cannot write {out_dir}: {e.strerror or e}") from None
    return dataclasses.replace(catalogue, path=target)


def _toml_safe(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and c not in '"\\')[:200]
