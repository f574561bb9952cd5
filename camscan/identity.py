"""A device's identity across runs: the same camera keeps its id when it changes address.

Strongest first: its MAC (on the wire or reported by the device), then its serial, else its
address plus maker (the weakest: a device that moves without a MAC or serial looks new).
Ids are readable text, bounded and printable, so hostile serials cannot smuggle anything.
"""

from __future__ import annotations

from camscan.macaddr import normalise_mac

MAX_SERIAL = 64
BROADCAST_OR_EMPTY = {"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"}


def _clean_serial(serial: str | None) -> str | None:
    if not serial:
        return None
    text = "".join(ch for ch in serial.strip() if ch.isprintable() and not ch.isspace())
    return text[:MAX_SERIAL] or None


def device_key(ip: str, mac: str | None, serial: str | None, maker: str | None) -> str:
    """'mac:44:19:b6:00:00:01', 'serial:DS-2CD...', or 'ip:198.18.1.5/hikvision'."""
    norm = normalise_mac(mac)
    if norm and norm not in BROADCAST_OR_EMPTY:
        return f"mac:{norm}"
    clean = _clean_serial(serial)
    if clean:
        return f"serial:{clean}"
    return f"ip:{ip}/{maker or 'unknown'}"
