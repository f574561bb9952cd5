"""MAC OUI attribution: the IEEE assignments of Hikvision, Dahua, their subsidiaries and brands.

Data lives in oui/ (readable and editable): organizations.toml (which assignees belong to which
maker), assignments.csv (the matching IEEE MA-L/MA-M/MA-S blocks) and provenance.toml (where and
when the blocks came from). `camscan oui update` rebuilds assignments.csv from IEEE CSV files.
Every other vendor is named for display by netaddr's bundled IEEE copy.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from camscan.data import data_dir
from camscan.errors import DataError
from camscan.identify import makers
from camscan.identify.ieee_names import block_org
from camscan.macaddr import normalise_mac
from camscan.model import Evidence, Strength

_BITS = {"MA-L": 24, "MA-M": 28, "MA-S": 36, "IAB": 36}
_ASSIGNMENT_HEX = {24: 6, 28: 7, 36: 9}
STALE_AFTER_DAYS = 365


VOCAB = "the maker vocabulary (camscan/identify/makers.toml)"


class OuiDataError(DataError):
    """oui/ data or an IEEE CSV file is unreadable; the message is one line."""


@dataclasses.dataclass(frozen=True, slots=True)
class OrgRule:
    match: re.Pattern[str]
    maker: str
    strength: Strength
    badge: str | None
    why: str


@dataclasses.dataclass(frozen=True, slots=True)
class Assignment:
    registry: str  # MA-L, MA-M, MA-S
    prefix: str  # uppercase hex, 6/7/9 digits
    organization: str
    maker: str
    badge: str | None
    strength: Strength
    source: str


def load_rules(path: Path) -> list[OrgRule]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise OuiDataError(f"{path}: {e}") from None
    rules = []
    for n, r in enumerate(doc.get("rule", []), 1):
        try:
            rules.append(
                OrgRule(
                    re.compile(r["match"], re.IGNORECASE),
                    r["maker"],
                    Strength(r["strength"]),
                    r.get("badge") or None,
                    r.get("why", ""),
                )
            )
        except (KeyError, ValueError, re.error) as e:
            raise OuiDataError(f"{path}: rule {n}: bad or missing field: {e}") from None
        if not makers.is_known(rules[-1].maker):
            raise OuiDataError(f"{path}: rule {n}: maker {rules[-1].maker!r} is not in {VOCAB}")
    return rules


def classify_org(org: str, rules: list[OrgRule]) -> OrgRule | None:
    return next((r for r in rules if r.match.search(org)), None)


def read_ieee_csv(path: Path) -> Iterable[tuple[str, str, str]]:
    """(registry, assignment, organization) rows of an IEEE registry CSV (oui.csv, mam.csv, ...)."""
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            reader = csv.DictReader(f)
            need = {"Registry", "Assignment", "Organization Name"}
            if not reader.fieldnames or not need <= set(reader.fieldnames):
                raise OuiDataError(
                    f"{path}: not an IEEE registry CSV (needs columns {', '.join(sorted(need))})"
                )
            for row in reader:
                reg, asg = row["Registry"].strip().upper(), row["Assignment"].strip().upper()
                if reg in _BITS and re.fullmatch(r"[0-9A-F]{6,9}", asg):
                    yield reg, asg, row["Organization Name"].strip()
    except OSError as e:
        raise OuiDataError(f"{path}: {e.strerror or e}") from None


def select_assignments(
    rows: Iterable[tuple[str, str, str]], rules: list[OrgRule], source: str
) -> list[Assignment]:
    out = []
    for reg, asg, org in rows:
        rule = classify_org(org, rules)
        if rule:
            out.append(Assignment(reg, asg, org, rule.maker, rule.badge, rule.strength, source))
    return out


def write_assignments(path: Path, assignments: list[Assignment]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(
            ["registry", "assignment", "organization", "maker", "badge", "strength", "source"]
        )
        for a in sorted(assignments, key=lambda a: (a.maker, a.organization, a.prefix)):
            w.writerow(
                [a.registry, a.prefix, a.organization, a.maker, a.badge or "", a.strength, a.source]
            )


@dataclasses.dataclass(slots=True)
class OuiDB:
    by_prefix: dict[str, Assignment]
    generated: dt.date | None
    directory: Path

    @classmethod
    def load(cls, directory: Path | None = None) -> OuiDB:
        d = directory or data_dir("oui")
        path = d / "assignments.csv"
        by_prefix: dict[str, Assignment] = {}
        try:
            with path.open(encoding="utf-8", newline="") as f:
                for n, row in enumerate(csv.DictReader(f), 2):
                    try:
                        a = Assignment(
                            row["registry"],
                            row["assignment"].upper(),
                            row["organization"],
                            row["maker"],
                            row["badge"] or None,
                            Strength(row["strength"]),
                            row["source"],
                        )
                    except (KeyError, ValueError) as e:
                        raise OuiDataError(f"{path}:{n}: bad row: {e}") from None
                    if not makers.is_known(a.maker):
                        raise OuiDataError(f"{path}:{n}: maker {a.maker!r} is not in {VOCAB}")
                    by_prefix[a.prefix] = a
        except OSError as e:
            raise OuiDataError(f"{path}: {e.strerror or e}") from None
        return cls(by_prefix, _generated_date(d / "provenance.toml"), d)

    def lookup(self, mac: str) -> Assignment | None:
        """Longest-prefix match: MA-S (36 bits) before MA-M (28) before MA-L (24)."""
        norm = normalise_mac(mac)
        if norm is None:
            return None
        hexd = norm.replace(":", "").upper()
        for n in (9, 7, 6):
            a = self.by_prefix.get(hexd[:n])
            if a is not None:
                return a
        return None

    def evidence(self, mac: str) -> Evidence | None:
        a = self.lookup(mac)
        if a is None:
            return None
        norm = normalise_mac(mac) or mac
        return Evidence(
            signature_id=f"oui.{a.registry.lower()}.{a.prefix.lower()}",
            channel="arp.mac",
            raw=norm,
            maker=a.maker,
            strength=a.strength,
            badge=a.badge,
            description=f"MAC block {a.prefix} ({a.registry}) is assigned to {a.organization}",
            probe="oui",
        )

    def age_days(self, today: dt.date | None = None) -> int | None:
        if self.generated is None:
            return None
        return ((today or dt.date.today()) - self.generated).days

    def staleness_warning(self, today: dt.date | None = None) -> str | None:
        return staleness_warning(self.generated, today)


def staleness_warning(generated: dt.date | None, today: dt.date | None = None) -> str | None:
    """A one-line note when the OUI data is over a year old (None when fresh or undated)."""
    if generated is None:
        return None
    age = ((today or dt.date.today()) - generated).days
    if age <= STALE_AFTER_DAYS:
        return None
    return (
        f"OUI data is {age} days old; download the IEEE registry CSVs and run `camscan oui update`"
    )


def data_date(directory: Path | None = None) -> dt.date | None:
    """When the OUI data was generated, from provenance.toml alone (no need to load the table)."""
    return _generated_date((directory or data_dir("oui")) / "provenance.toml")


def _generated_date(path: Path) -> dt.date | None:
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("generated")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return value if isinstance(value, dt.date) else None


def display_vendor(mac: str) -> str | None:
    """The registry name of whoever holds the MAC's block, for any vendor (netaddr's copy)."""
    from netaddr import EUI, AddrFormatError

    try:
        eui = EUI(mac)
    except (AddrFormatError, ValueError, TypeError):
        return None  # display is best effort
    return block_org(eui.value >> (24 if eui.version == 48 else 40))
