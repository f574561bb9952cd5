"""Dahua DVRIP discovery ("protocol v1"): a 32-byte `a3 01` request broadcast to UDP 5050.

Older Dahua firmware and NVRs answer with a `b3 00` reply: a 120-byte section 1 (device type,
IPv4 settings), section 2 (MAC text, optional model) and section 3 (`Key:Value` lines with the
serial). Layout from UniversalScanner `Dahua1.cs` (signatures.md 3.3).
"""

from __future__ import annotations

import re
import socket
import struct

from camscan import channels as ch
from camscan.discovery import registry
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import (
    LIMITED_BROADCAST,
    RAW_LIMIT,
    UdpPlan,
    clean_field,
    collect,
    ipv6_or_none,
)
from camscan.macaddr import normalise_mac
from camscan.model import Observation

NAME = "dvrip"
PORT = registry.udp(NAME).port  # asked by broadcast: no group
REQUEST = bytes.fromhex("a3010001" + "00" * 12 + "02" + "00" * 15)
SECTION1_SIZE = 120
MAC_TEXT_SIZE = 17  # "00:11:22:33:44:55"
_PRINTABLE_RUN = re.compile(rb"[\x20-\x7e\r\n]{4,}")

# section-3 key -> Observation.fields key
_KEYS = {
    "SerialNo": ch.FIELD_SERIAL,
    "Name": ch.FIELD_HOSTNAME,
    "Device": "device",
    "IPv6Addr": "ipv6",
}


def _cstring(raw: bytes) -> str | None:
    text = raw.split(b"\0", 1)[0].decode("ascii", errors="replace")
    return clean_field(text)


def _key_values(section: bytes) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in section.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition(":")
        cleaned = clean_field(value)
        if sep and key.strip() in _KEYS and cleaned:
            found.setdefault(_KEYS[key.strip()], cleaned)
    return found


def inquiries() -> list[bytes]:
    return [REQUEST]


def parse_dvrip(data: bytes, src_ip: str) -> list[Observation] | None:
    """A `b3 00` reply -> one dvrip.reply observation; [] for requests; None if malformed."""
    if data[:2] == REQUEST[:2]:
        return []  # another scanner's (or our own) request
    if len(data) < SECTION1_SIZE or data[:2] != b"\xb3\x00":
        return None
    (section2_len,) = struct.unpack_from("<H", data, 2)
    (section3_len,) = struct.unpack_from("<H", data, 0x14)
    end2 = SECTION1_SIZE + section2_len
    if end2 + section3_len > len(data):
        return None
    fields: dict[str, str] = {ch.FIELD_IP: src_ip}
    device_type = _cstring(data[0x28:0x38])  # a model on some firmware, a class ("IPC") on other
    if device_type:
        fields[ch.FIELD_DEVICE_TYPE] = device_type
    reported = socket.inet_ntoa(data[0x38:0x3C])
    if reported != "0.0.0.0":
        fields["reported_ip"] = reported
    section2 = data[SECTION1_SIZE:end2]
    mac = normalise_mac(section2[:MAC_TEXT_SIZE].decode("ascii", errors="replace"))
    if mac:
        fields[ch.FIELD_MAC] = mac
    fields.update(_key_values(data[end2 : end2 + section3_len]))
    if reported6 := ipv6_or_none(fields.pop("ipv6", None)):  # "IPv6Addr:::" when unset
        fields[ch.FIELD_REPORTED_IPV6] = reported6
    # most precise first: section 2's model text, section 3's Device line, section 1's type
    model = _cstring(section2[MAC_TEXT_SIZE:]) or fields.get("device") or device_type
    if model:
        fields[ch.FIELD_MODEL] = model
    text = b" ".join(_PRINTABLE_RUN.findall(data)).decode("ascii")
    return [Observation(ch.DVRIP_REPLY, text[:RAW_LIMIT], NAME, src_ip, mac, fields)]


class DvripProbe:
    name = NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        # The sender binds 5050 itself: devices may answer by broadcast to that port.
        plans = [
            UdpPlan(
                iface,
                [REQUEST],
                [(LIMITED_BROADCAST, PORT)],
                sender_port=PORT,
                repeat_after=ctx.settings.timeouts.window / 3,
            )
            for iface in ctx.interfaces
        ]
        return ProbeOutcome(*await collect(ctx, NAME, plans, parse_dvrip))
