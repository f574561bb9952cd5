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


def exposure_rank(device: dict[str, Any]) -> int:
    """0 for KEV-listed firmware, 1 for another known CVE, 2 otherwise: sorts within a severity."""
    status = (device.get("exposure") or {}).get("status")
    return {"kev": 0, "affected": 1}.get(status or "", 2)


def exposure_cell(device: dict[str, Any]) -> str:
    """The firmware verdict, short: "KEV: CVE-2021-36260", "CVE-...", "no advisory", "unknown"."""
    exp = device.get("exposure")
    if not exp:
        return ""
    cves = ", ".join(dict.fromkeys(c["cve"] for c in exp["cves"]))
    if exp["status"] == "kev":
        return f"KEV: {cves}"
    if exp["status"] == "affected":
        return cves
    return "no advisory" if exp["status"] == "none" else "version unknown"
