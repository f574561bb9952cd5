"""ONVIF WS-Discovery over UDP 3702 (signatures.md 2.5).

A Probe gets a ProbeMatch sent unicast to the sender, its RelatesTo echoing the probe's
MessageID. The persona gives the fields; `raw` replaces the whole envelope (hostile personas),
with ${relates_to} and ${message_id} available.

    [wsd]
    types = "dn:NetworkVideoTransmitter tds:Device"
    scopes = ["onvif://www.onvif.org/name/HIKVISION%20${model}", ...]
    xaddrs = "http://${ip}/onvif/device_service"
    epr = "urn:uuid:${uuid_mac}"
    metadata_version = 10
"""

from __future__ import annotations

import functools
import uuid
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET

from camscan.discovery.registry import UdpProtocol
from camscan.lab.services.common import (
    DeviceContext,
    Starter,
    pad,
    text_list,
    udp_responders,
)

ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" \
xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing" \
xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" \
xmlns:dn="http://www.onvif.org/ver10/network/wsdl" \
xmlns:tds="http://www.onvif.org/ver10/device/wsdl">\
<env:Header>\
<wsadis:MessageID>urn:uuid:{message_id}</wsadis:MessageID>\
<wsadis:RelatesTo>{relates_to}</wsadis:RelatesTo>\
<wsadis:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsadis:To>\
<wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action>\
</env:Header>\
<env:Body><d:ProbeMatches><d:ProbeMatch>\
<wsadis:EndpointReference><wsadis:Address>{epr}</wsadis:Address></wsadis:EndpointReference>\
<d:Types>{types}</d:Types>\
<d:Scopes>{scopes}</d:Scopes>\
<d:XAddrs>{xaddrs}</d:XAddrs>\
<d:MetadataVersion>{version}</d:MetadataVersion>\
</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"""


@functools.lru_cache(maxsize=64)  # one query reaches every device of a network: parse it once
def probe_message_id(data: bytes) -> str | None:
    """The MessageID of a WS-Discovery Probe, or None if `data` is not one."""
    try:
        root = SafeET.fromstring(data)
    except Exception:  # defusedxml raises several kinds for hostile or broken XML
        return None
    is_probe = any(el.tag.endswith("}Probe") or el.tag == "Probe" for el in root.iter())
    if not is_probe:
        return None
    for el in root.iter():
        if el.tag.endswith("}MessageID") or el.tag == "MessageID":
            return (el.text or "").strip()[:256]
    return ""


def answer(ctx: DeviceContext, conf: dict[str, Any]) -> Any:
    def reply(data: bytes) -> bytes | None:
        relates_to = probe_message_id(data)
        if relates_to is None:
            return None
        message_id = str(uuid.uuid4())
        if "raw" in conf:
            text = ctx.render(
                str(conf["raw"]), relates_to=escape(relates_to), message_id=message_id
            )
        else:
            text = ENVELOPE.format(
                message_id=message_id,
                relates_to=escape(relates_to),
                epr=escape(ctx.render(str(conf.get("epr", "urn:uuid:${uuid}")))),
                types=escape(ctx.render(" ".join(text_list(conf.get("types"))))),
                scopes=escape(ctx.render(" ".join(text_list(conf.get("scopes"))))),
                xaddrs=escape(ctx.render(" ".join(text_list(conf.get("xaddrs"))))),
                version=int(conf.get("metadata_version", 1)),
            )
        return pad(text.encode("utf-8"), conf)

    return reply


def start(ctx: DeviceContext, conf: dict[str, Any], udp: UdpProtocol) -> list[Starter]:
    """Answer on the port and groups (IPv4, and IPv6 where it runs it) the probe registry
    declares for this protocol."""
    return udp_responders(ctx, udp, answer(ctx, conf), conf)
