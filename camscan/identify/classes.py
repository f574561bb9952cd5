"""The equipment-class vocabulary (classes.toml beside this file, defined once).

A class says what kind of device it is (camera, recorder, ...), beside who made it. Signatures
and rules name classes from here; camscan.identify.equipment weighs their evidence; the policy's
core-network rule reads `surveillance()` of the decided class.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from camscan.errors import DataError
from camscan.identify.makers import SLUG_RE

VOCABULARY = Path(__file__).with_name("classes.toml")
UNKNOWN = "unknown"
YES, NO = "yes", "no"  # the surveillance flag; "unknown" otherwise


@dataclasses.dataclass(frozen=True, slots=True)
class EquipmentClass:
    slug: str
    name: str
    surveillance: bool | None  # True: visual surveillance equipment; False: something else
    specific: bool  # a kind of its own, preferred over a wider family when both decide


def parse_vocabulary(
    doc: dict[str, Any], where: str = "classes.toml"
) -> tuple[EquipmentClass, ...]:
    """The classes of a parsed classes.toml; DataError (one line) for any inconsistency."""
    found: list[EquipmentClass] = []
    for n, c in enumerate(doc.get("class", []), 1):
        if not isinstance(c, dict):
            raise DataError(f"{where}: class {n}: not a table")
        slug, name = c.get("slug"), c.get("name")
        surveillance, specific = c.get("surveillance"), c.get("specific", False)
        if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug):
            raise DataError(f"{where}: class {n}: slug must be a-z, 0-9 and -, got {slug!r}")
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"{where}: class {slug!r}: needs a name")
        if surveillance is not None and not isinstance(surveillance, bool):
            raise DataError(f"{where}: class {slug!r}: surveillance must be true or false")
        if not isinstance(specific, bool):
            raise DataError(f"{where}: class {slug!r}: specific must be true or false")
        if any(x.slug == slug for x in found):
            raise DataError(f"{where}: class {slug!r} is defined twice")
        found.append(EquipmentClass(slug, name, surveillance, specific))
    if not any(c.slug == UNKNOWN and c.surveillance is None for c in found):
        raise DataError(f"{where}: needs the class {UNKNOWN!r}, saying nothing of surveillance")
    return tuple(found)


def _load() -> tuple[EquipmentClass, ...]:
    try:
        doc = tomllib.loads(VOCABULARY.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DataError(f"{VOCABULARY}: cannot read the class vocabulary: {e}") from None
    return parse_vocabulary(doc, str(VOCABULARY))


_CLASSES = _load()
_BY_SLUG = {c.slug: c for c in _CLASSES}


def known() -> tuple[EquipmentClass, ...]:
    """Every class, in the vocabulary's order."""
    return _CLASSES


def is_known(slug: str) -> bool:
    return slug in _BY_SLUG


def get(slug: str) -> EquipmentClass | None:
    return _BY_SLUG.get(slug)


def display_name(slug: str | None) -> str:
    c = _BY_SLUG.get(slug or UNKNOWN)
    return c.name if c else str(slug)


def surveillance(slug: str | None) -> str:
    """ "yes", "no" or "unknown": whether the class is visual surveillance equipment."""
    c = _BY_SLUG.get(slug or UNKNOWN)
    if c is None or c.surveillance is None:
        return UNKNOWN
    return YES if c.surveillance else NO
