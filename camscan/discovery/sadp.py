"""Hikvision SADP over UDP: one XML `inquiry` probe to 239.255.255.250:37020.

Hikvision and its badges (EZVIZ, HiLook, HiWatch, OEM "-Webs" firmware) answer with a
`<ProbeMatch>` carrying model, full serial, firmware, MAC and activation state
(signatures.md 2.7, 3.1). Only `inquiry` is ever sent: `Update` and the password-reset
types change the device.
"""

from __future__ import annotations

import uuid

from camscan import channels as ch
from camscan.discovery import registry
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import (
    UdpPlan,
    bounded_text,
    clean_field,
    collect,
    find_text,
    ipv4_or_none,
    ipv6_or_none,
    local_name,
    parse_xml,
)
from camscan.macaddr import normalise_mac
from camscan.model import Observation

NAME = "sadp"
PORT, GROUP = registry.udp(NAME).port, registry.group(NAME)  # declared in the registry

# ProbeMatch element -> Observation.fields key
_FIELDS = {
    "DeviceDescription": ch.FIELD_MODEL,
    "DeviceSN": ch.FIELD_SERIAL,
    "SoftwareVersion": ch.FIELD_FIRMWARE,
    "DeviceType": ch.FIELD_DEVICE_TYPE,
    "CommandPort": ch.FIELD_PORT,
    "HttpPort": "http_port",
    "DSPVersion": "dsp_version",
    "DetailOEMCode": "oem_code",
}


def build_probe(probe_id: uuid.UUID | None = None) -> bytes:
    """The inquiry, byte for byte as UniversalScanner sends it (no trailing newline)."""
    guid = str(probe_id or uuid.uuid4()).upper()
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Probe><Uuid>{guid}</Uuid><Types>inquiry</Types></Probe>"
    ).encode()


def inquiries() -> list[bytes]:
    return [build_probe()]


def parse_sadp(data: bytes, src_ip: str) -> list[Observation] | None:
    """A ProbeMatch -> one sadp.reply observation; [] for other SADP traffic; None if malformed."""
    root = parse_xml(data)
    if root is None:
        return None
    if not isinstance(root.tag, str) or local_name(root.tag) != "ProbeMatch":
        return []  # someone else's Probe on the group, not a device reply
    if (find_text(root, "Types") or "").lower() != "inquiry":
        return []
    fields: dict[str, str] = {ch.FIELD_IP: src_ip}
    for element, key in _FIELDS.items():
        value = clean_field(find_text(root, element))
        if value:
            fields[key] = value
    mac = normalise_mac(find_text(root, "MAC"))
    if mac:
        fields[ch.FIELD_MAC] = mac
    reported = ipv4_or_none(find_text(root, "IPv4Address"))
    if reported:
        fields["reported_ip"] = reported
    reported6 = ipv6_or_none(find_text(root, "IPv6Address"))  # "::" when unset (2.7)
    if reported6:
        fields[ch.FIELD_REPORTED_IPV6] = reported6
    activated = (find_text(root, "Activated") or "").lower()
    if activated in ("true", "false"):
        fields[ch.FIELD_ACTIVATED] = activated
    return [Observation(ch.SADP_REPLY, bounded_text(data), NAME, src_ip, mac, fields)]


class SadpProbe:
    name = NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        probe = build_probe()
        plans = [
            UdpPlan(
                iface,
                [probe],
                [(GROUP, PORT)],
                groups=[(GROUP, PORT)],  # devices may answer to the group port
                repeat_after=ctx.settings.timeouts.window / 3,
            )
            for iface in ctx.interfaces
        ]
        return ProbeOutcome(*await collect(ctx, NAME, plans, parse_sadp))
