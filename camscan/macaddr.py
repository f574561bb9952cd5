"""MAC address text, as devices, registries and users write it, in one canonical form."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[-:.\s]")
_MAC_HEX = re.compile(r"[0-9a-f]{12}")


def normalise_mac(text: str | None) -> str | None:
    """'58-50-ED-1F-E3-85', '5850.ed1f.e385', '5850ed1fe385' -> '58:50:ed:1f:e3:85'; else None."""
    if not text:
        return None
    digits = _SEPARATORS.sub("", text.strip()).lower()
    if not _MAC_HEX.fullmatch(digits):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
