"""Dahua DHIP discovery: `DHDiscover.search` to 239.255.255.251:37810 and broadcast.

Dahua and its OEMs (Imou, Lorex, Amcrest, Intelbras, CP PLUS...) answer
`client.notifyDevInfo` with model, serial, firmware, MAC and the vendor label they are sold
under (signatures.md 2.8, 3.2). Only the search is sent: never `DHDiscover.setConfig`,
`DevInit.*` or `PasswdFind.*`, which change the device or start password recovery.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from camscan import channels as ch
from camscan.discovery import registry
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import (
    LIMITED_BROADCAST,
    RAW_LIMIT,
    UdpPlan,
    clean_field,
    collect,
    ipv4_or_none,
    ipv6_or_none,
)
from camscan.macaddr import normalise_mac
from camscan.model import Observation

NAME = "dhip"
PORT, GROUP = registry.udp(NAME).port, registry.group(NAME)  # declared in the registry
HEADER_SIZE = 0x20
MAGIC = b"DHIP"
MAX_BODY = 16384  # real replies are under 1 KiB
SEARCH_BODY = b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}'

# deviceInfo key -> Observation.fields key
_FIELDS = {
    "DeviceType": ch.FIELD_MODEL,
    "SerialNo": ch.FIELD_SERIAL,
    "Version": ch.FIELD_FIRMWARE,
    "DeviceClass": ch.FIELD_DEVICE_TYPE,
    "MachineName": ch.FIELD_HOSTNAME,
    "Port": ch.FIELD_PORT,
    "HttpPort": "http_port",
    "Manufacturer": "manufacturer",
    "Vendor": "vendor",
}


def build_header(body_len: int) -> bytes:
    """Header size, magic, session 0, id 0, body length twice (little-endian u32s)."""
    return struct.pack("<I4sIIIIII", HEADER_SIZE, MAGIC, 0, 0, body_len, 0, body_len, 0)


def build_search() -> bytes:
    return build_header(len(SEARCH_BODY)) + SEARCH_BODY


def inquiries() -> list[bytes]:
    return [build_search()]


def _body(data: bytes) -> bytes | None:
    if len(data) < HEADER_SIZE or data[4:8] != MAGIC:
        return None
    header_size, _, _, _, body_len, _, _, _ = struct.unpack_from("<I4sIIIIII", data)
    if header_size != HEADER_SIZE or body_len > MAX_BODY or HEADER_SIZE + body_len > len(data):
        return None
    return data[HEADER_SIZE : HEADER_SIZE + body_len].rstrip(b"\0\r\n ")


def parse_dhip(data: bytes, src_ip: str) -> list[Observation] | None:
    """A notifyDevInfo reply -> one dhip.reply observation; [] for searches; None if malformed."""
    body = _body(data)
    if body is None:
        return None
    try:
        message: Any = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(message, dict):
        return None
    if message.get("method") != "client.notifyDevInfo":
        return []  # another scanner's search on the group
    params = message.get("params")
    info = params.get("deviceInfo") if isinstance(params, dict) else None
    if not isinstance(info, dict):
        return None
    fields: dict[str, str] = {ch.FIELD_IP: src_ip}
    for key, field in _FIELDS.items():
        value = clean_field(info.get(key))
        if value:
            fields[field] = value
    badge = fields.get("vendor") or fields.get("manufacturer")
    if badge:
        fields[ch.FIELD_BADGE] = badge
    mac = normalise_mac(clean_field(message.get("mac")))
    if mac:
        fields[ch.FIELD_MAC] = mac
    ipv4 = info.get("IPv4Address")
    reported = ipv4_or_none(clean_field(ipv4.get("IPAddress"))) if isinstance(ipv4, dict) else None
    if reported:
        fields["reported_ip"] = reported
    # {"IPAddress": "2804:...:3bfa/64" or "/0" unset, "LinkLocalAddress": "fe80::.../64"} (2.8)
    ipv6 = info.get("IPv6Address")
    if isinstance(ipv6, dict):
        stated = [ipv6_or_none(clean_field(ipv6.get(k))) for k in ("IPAddress", "LinkLocalAddress")]
        if found := [a for a in stated if a]:
            fields[ch.FIELD_REPORTED_IPV6] = " ".join(found)
    raw = body.decode("utf-8", errors="replace")
    return [Observation(ch.DHIP_REPLY, raw[:RAW_LIMIT], NAME, src_ip, mac, fields)]


class DhipProbe:
    name = NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        search = build_search()
        # Broadcast goes to 255.255.255.255 out of each interface rather than the subnet's
        # broadcast address: it also reaches devices still on a factory subnet.
        dests = [(GROUP, PORT), (LIMITED_BROADCAST, PORT)]
        plans = [
            UdpPlan(
                iface,
                [search],
                dests,
                groups=[(GROUP, PORT)],
                repeat_after=ctx.settings.timeouts.window / 3,
            )
            for iface in ctx.interfaces
        ]
        return ProbeOutcome(*await collect(ctx, NAME, plans, parse_dhip))
