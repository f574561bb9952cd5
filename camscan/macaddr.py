"""MAC address text, as devices, registries and users write it, in one canonical form."""

from __future__ import annotations

import enum
import ipaddress
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


class MacSource(enum.StrEnum):
    """How a MAC was learned. One vocabulary for Device.mac_source and Observation.fields
    ["mac_source"]: a MAC seen on the wire (ARP, a frame's source) can be trusted as the
    device's own; one a device reports in a payload (SADP <MAC>, DHIP "mac", an ONVIF MAC/ scope)
    or one decoded from another value (a time-based UUID, an EUI-64 address) can be spoofed, so
    identification counts it one strength lower. A MAC a router's ARP table holds (read over
    SNMP) was seen on the wire by the router, not by camscan: it too counts one strength lower,
    and ranks below a wire MAC and above a reported one."""

    WIRE = "wire"
    ROUTER = "router"
    REPORTED = "reported"
    DERIVED = "derived"


def mac_from_eui64(address: str) -> str | None:
    """The MAC inside a modified EUI-64 interface identifier (`...:xxff:fexx:...`), or None
    (an IPv6 address given with its scope, `fe80::...%eth0`, too)."""
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return None
    iid = ip.packed[8:]
    if iid[3:5] != b"\xff\xfe":
        return None
    mac = bytes([iid[0] ^ 0x02, *iid[1:3], *iid[5:8]])
    return normalise_mac(mac.hex())
