"""Hikvision SADP over UDP 37020 (signatures.md 2.7 and 3.1).

A datagram holding `<Probe>` and `<Types>inquiry</Types>` gets the persona's ProbeMatch XML,
sent unicast to the sender's address and port (hiktools reads replies on its sending socket).

    [sadp]
    reply = '''<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>...</ProbeMatch>'''
    # ${probe_uuid} is the Uuid of the probe; `pad = N` grows the reply (hostile)
"""

from __future__ import annotations

import re
from typing import Any

from camscan.discovery.registry import UdpProtocol
from camscan.lab.services.common import DeviceContext, Starter, pad, udp_groups, udp_responder

_UUID = re.compile(rb"<Uuid>([^<]{1,64})</Uuid>")


def answer(ctx: DeviceContext, conf: dict[str, Any]) -> Any:
    template = str(conf.get("reply", ""))

    def reply(data: bytes) -> bytes | None:
        if b"<Probe>" not in data or b"inquiry" not in data:
            return None
        m = _UUID.search(data)
        probe_uuid = m.group(1).decode("ascii", "replace") if m else ""
        return pad(ctx.render(template, probe_uuid=probe_uuid).encode("utf-8"), conf)

    return reply


def start(ctx: DeviceContext, conf: dict[str, Any], udp: UdpProtocol) -> list[Starter]:
    """Answer on the port and group the probe registry declares for this protocol."""
    return [udp_responder(ctx, udp.port, udp_groups(udp), answer(ctx, conf), conf)]
