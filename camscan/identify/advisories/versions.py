"""Firmware version strings as the two makers write them, parsed so that they can be compared.

Hikvision: a dotted version and a YYMMDD build date, "V5.5.0 build 170725" (SADP's
SoftwareVersion writes "V5.6.2build 190701"). Dahua: "2.800.0000000.29.R.210630": major, minor,
a seven-character variant (all digits for Dahua's own firmware, OEM letters such as "00AC000"
for Amcrest), a revision, a letter, and the build date, which a DHIP reply often leaves out
("2.800.0000000.13.R"); NVD sometimes writes the date with the century ("...r.20200217").

`parse` returns None for anything else, and `compare` returns None when two versions cannot be
ordered (another variant, or only a missing build date tells them apart): unknown is never a
match.
"""

from __future__ import annotations

import dataclasses
import enum
import re

MAX_VERSION_CHARS = 64  # longer is not a version string


class Scheme(enum.StrEnum):
    HIKVISION = "hikvision"
    DAHUA = "dahua"


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class HikVersion:
    numbers: tuple[int, int, int]
    build: int  # YYMMDD as a number: orders within 2000-2099


@dataclasses.dataclass(frozen=True, slots=True)
class DahuaVersion:
    major: int
    minor: int
    variant: str  # upper case
    revision: int
    date: int | None  # YYMMDD, None when the string stops at the letter


Version = HikVersion | DahuaVersion

_HIK = re.compile(r"V?(\d{1,3})\.(\d{1,4})\.(\d{1,4})[ _]*build[ _]*(\d{6})", re.IGNORECASE)
_DAHUA = re.compile(
    r"V?(\d{1,3})\.(\d{1,4})\.([0-9A-Z]{1,12})\.(\d{1,6})\.[A-Z](?:\.(\d{6}|\d{8}))?",
    re.IGNORECASE,
)


def parse(text: str | None, scheme: Scheme) -> Version | None:
    """The version in `text` under `scheme`, or None when `text` is not one (whole string)."""
    if text is None or len(text) > MAX_VERSION_CHARS:
        return None
    text = text.strip()
    if scheme is Scheme.HIKVISION:
        m = _HIK.fullmatch(text)
        if not m:
            return None
        build = int(m.group(4))
        if not _is_yymmdd(build):
            return None
        return HikVersion((int(m.group(1)), int(m.group(2)), int(m.group(3))), build)
    m = _DAHUA.fullmatch(text)
    if not m:
        return None
    date = None
    if m.group(5):
        date = int(m.group(5)[-6:])  # 20200217 -> 200217
        if not _is_yymmdd(date):
            return None
    return DahuaVersion(int(m.group(1)), int(m.group(2)), m.group(3).upper(), int(m.group(4)), date)


def _is_yymmdd(n: int) -> bool:
    month, day = n // 100 % 100, n % 100
    return 1 <= month <= 12 and 1 <= day <= 31


def _cmp(a: int, b: int) -> int:
    return (a > b) - (a < b)


def _cmp_seq(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return (a > b) - (a < b)


def compare(a: Version, b: Version) -> int | None:
    """-1, 0 or 1 as `a` is older than, the same as or newer than `b`; None: cannot tell."""
    if isinstance(a, HikVersion) and isinstance(b, HikVersion):
        return _cmp_seq(a.numbers, b.numbers) or _cmp(a.build, b.build)
    if isinstance(a, DahuaVersion) and isinstance(b, DahuaVersion):
        if c := _cmp(a.major, b.major) or _cmp(a.minor, b.minor):
            return c
        if a.variant != b.variant:
            if not (a.variant.isdigit() and b.variant.isdigit()):
                return None  # another OEM's variant: no order between them
            if c := _cmp(int(a.variant), int(b.variant)):
                return c
        if c := _cmp(a.revision, b.revision):
            return c
        if a.date is None or b.date is None:
            return 0 if a.date == b.date else None
        return _cmp(a.date, b.date)
    return None
