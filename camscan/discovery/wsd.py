"""ONVIF WS-Discovery: SOAP Probes to 239.255.255.250:3702, ProbeMatches back; on the links of
IPv6 targets also to [ff02::c]:3702 from the link-local address, answers keyed by their sender.

Two probes per round: one for dn:NetworkVideoTransmitter (what ONVIF cameras must answer) and
one without Types (NVRs and devices that only match a general probe). The scopes carry the
brand (`name/`), model (`hardware/`) and often the MAC (signatures.md 2.5).
"""

from __future__ import annotations

import urllib.parse
import uuid

from camscan import channels as ch
from camscan.discovery import registry
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import (
    RAW_LIMIT,
    UdpPlan,
    clean_field,
    collect,
    find_text,
    ipv4_or_none,
    link_plans,
    local_name,
    parse_xml,
)
from camscan.macaddr import normalise_mac
from camscan.model import Observation

NAME = "wsd"
PORT, GROUP = registry.udp(NAME).port, registry.group(NAME)  # declared in the registry
GROUP6 = registry.group6(NAME)
NVT_TYPES = "dn:NetworkVideoTransmitter"
_SCOPE_PREFIX = "onvif://www.onvif.org/"

_PROBE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"'
    ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
    "<s:Header>"
    '<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>'
    "<a:MessageID>urn:uuid:{message_id}</a:MessageID>"
    "<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
    "</a:Address></a:ReplyTo>"
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
    "</s:Header>"
    "<s:Body><d:Probe>{types}</d:Probe></s:Body>"
    "</s:Envelope>"
)


def build_probe(types: str | None = NVT_TYPES, message_id: uuid.UUID | None = None) -> bytes:
    """A Probe with a fresh MessageID; `types=None` gives the general probe (matches all)."""
    types_xml = f"<d:Types>{types}</d:Types>" if types else ""
    return _PROBE.format(message_id=message_id or uuid.uuid4(), types=types_xml).encode()


def inquiries() -> list[bytes]:
    """Sent to one host (the unicast round): the NVT probe, and the general one."""
    return [build_probe(NVT_TYPES), build_probe(None)]


def scope_fields(scopes: list[str]) -> dict[str, str]:
    """Model, badge and MAC as the ONVIF scopes state them."""
    fields: dict[str, str] = {}
    for scope in scopes:
        if not scope.lower().startswith(_SCOPE_PREFIX):
            continue
        kind, _, value = scope[len(_SCOPE_PREFIX) :].partition("/")
        text = clean_field(urllib.parse.unquote(value))
        if not text:
            continue
        kind = kind.lower()
        if kind == "hardware":
            fields.setdefault(ch.FIELD_MODEL, text)
        elif kind == "name":
            fields.setdefault("onvif_name", text)
        elif kind == "mac":
            mac = normalise_mac(text)
            if mac:
                fields.setdefault(ch.FIELD_MAC, mac)
    name = fields.get("onvif_name")
    if name:
        # "HIKVISION DS-2CD2385G1-I" names brand then model; "Dahua", "CPPLUS" name the brand
        model = fields.get(ch.FIELD_MODEL)
        brand = name[: -len(model)].strip() if model and name.endswith(model) else name
        fields[ch.FIELD_BADGE] = brand or name
    return fields


def _xaddr_host(xaddrs: str) -> str | None:
    for url in xaddrs.split():
        try:
            host = urllib.parse.urlsplit(url).hostname
        except ValueError:
            continue
        ip = ipv4_or_none(host)
        if ip:
            return ip
    return None


def parse_wsd(
    data: bytes, src_ip: str, kinds: tuple[str, ...] = ("ProbeMatch",)
) -> list[Observation] | None:
    """A ProbeMatch -> observations on wsd.types/scopes/epr/xaddrs; [] for other SOAP.
    `kinds`: the messages read (passive listening also reads a device's own Hello)."""
    root = parse_xml(data)
    if root is None:
        return None
    if not isinstance(root.tag, str) or local_name(root.tag) != "Envelope":
        return None
    matches = [el for el in root.iter() if isinstance(el.tag, str)]
    match = next((el for el in matches if local_name(el.tag) in kinds), None)
    if match is None:
        return []  # a Probe, Hello or Bye: not an answer to us
    types = " ".join((find_text(match, "Types") or "").split())
    scopes_text = " ".join((find_text(match, "Scopes") or "").split())
    xaddrs = " ".join((find_text(match, "XAddrs") or "").split())
    epr = (find_text(match, "Address") or "").strip()
    fields = {ch.FIELD_IP: src_ip, **scope_fields(scopes_text.split())}
    reported = _xaddr_host(xaddrs)
    if reported:
        fields["reported_ip"] = reported
    mac = fields.get(ch.FIELD_MAC)
    observations = []
    for channel, raw in (
        (ch.WSD_TYPES, types),
        (ch.WSD_SCOPES, scopes_text),
        (ch.WSD_EPR, epr),
        (ch.WSD_XADDRS, xaddrs),
    ):
        if raw:
            bounded = raw[:RAW_LIMIT]
            observations.append(Observation(channel, bounded, NAME, src_ip, mac, dict(fields)))
    return observations


class WsdProbe:
    name = NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        plans = [
            # the repeat reuses the MessageIDs (SOAP-over-UDP retransmission): answered once
            UdpPlan(
                iface,
                [build_probe(NVT_TYPES), build_probe(None)],
                [(GROUP, PORT)],
                repeat_after=ctx.settings.timeouts.window / 3,
            )
            for iface in ctx.interfaces
        ]
        # and ff02::c on the links of IPv6 targets (WS-Discovery 1.1 3.1.1; ONVIF Core 7.3)
        probes = [build_probe(NVT_TYPES), build_probe(None)]
        repeat = ctx.settings.timeouts.window / 3
        plans += link_plans(ctx, probes, GROUP6, PORT, repeat_after=repeat)
        return ProbeOutcome(*await collect(ctx, NAME, plans, parse_wsd))


def parse_heard(data: bytes, src_ip: str) -> list[Observation] | None:
    """A WS-Discovery message heard unasked: ProbeMatches to others, and Hello announcements."""
    return parse_wsd(data, src_ip, ("ProbeMatch", "Hello"))
