"""Device text made safe to show: control characters visible instead of acted on."""

from __future__ import annotations

import re
from typing import Any

# C0, DEL, C1 controls and the bidi overrides used to make text display differently than it reads.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(value: Any, keep: str = "") -> str:
    """Control characters (except those in `keep`) shown as \\xNN instead of acted on."""
    if value is None:
        return "-"
    text = str(value)
    if _UNSAFE.search(text) is None:  # the usual case; a report calls this ~75 times a device
        return text
    return _UNSAFE.sub(
        lambda m: m.group() if m.group() in keep else f"\\x{ord(m.group()):02x}", text
    )
