"""Registry names of MAC blocks, for display: read from netaddr's bundled IEEE copy.

netaddr's own lookup (`OUI(n).registration().org`) loads its whole index on first use, 35,000
rows parsed one by one (~0.15 s of every scan that shows a MAC's vendor). This reads the same
two files, oui.idx ("block,offset,size" rows, decimal) and oui.txt, for only the blocks asked
about, and reads a record's name as netaddr does; tests/test_ieee_names.py checks that the two
agree.
"""

from __future__ import annotations

import functools
from importlib import resources

_PACKAGE = "netaddr.eui"  # where netaddr keeps oui.idx and oui.txt


@functools.cache
def _index() -> bytes:
    """oui.idx with a newline in front, so every row, the first included, follows one."""
    return b"\n" + resources.files(_PACKAGE).joinpath("oui.idx").read_bytes()


def _org(record: str) -> str:
    """The organisation of one oui.txt record: the name after "(hex)" (the last such line,
    "" when none), as netaddr's OUI._parse_data reads it."""
    org = ""
    for line in record.split("\n"):
        line = line.strip()
        if "(hex)" in line:
            org = line.split(None, 2)[2]
    return org


@functools.lru_cache(maxsize=4096)
def block_org(oui: int) -> str | None:
    """The name registered for the 24-bit block `oui` (its first registration), None when the
    block is not registered or its record does not read."""
    if not 0 <= oui <= 0xFFFFFF:
        return None
    index = _index()
    at = index.find(b"\n%d," % oui)
    if at < 0:
        return None
    end = index.find(b"\n", at + 1)
    try:
        _, offset, size = (int(x) for x in index[at + 1 : end if end >= 0 else None].split(b","))
        with resources.files(_PACKAGE).joinpath("oui.txt").open("rb") as registry:
            registry.seek(offset)
            return _org(registry.read(size).decode("utf-8"))
    except (ValueError, IndexError, OSError):
        return None
