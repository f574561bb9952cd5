"""Dahua DHIP discovery over UDP 37810, multicast 239.255.255.251 and broadcast
(signatures.md 2.8 and 3.2).

A DHDiscover.search request gets a 32-byte header (0x20, "DHIP", body length twice, little
endian) and the JSON `client.notifyDevInfo` body with a `\\n\\0` tail, unicast to the sender.

    [dhip]
    [dhip.deviceInfo]          # emitted as JSON in this key order; strings are templates
    DeviceType = "IPC-HDW1431T1-S4"
    Vendor = "Private"
    # hostile: malformed_header = true (lengths lie); pad = N (oversized)
"""

from __future__ import annotations

import json
import struct
from typing import Any

from camscan.discovery.registry import UdpProtocol
from camscan.lab.services.common import DeviceContext, Starter, pad, udp_groups, udp_responder

MAGIC = b"DHIP"


def header(body_length: int) -> bytes:
    return struct.pack("<I4sIIIIII", 0x20, MAGIC, 0, 0, body_length, 0, body_length, 0)


def _render(ctx: DeviceContext, value: Any) -> Any:
    if isinstance(value, str):
        return ctx.render(value)
    if isinstance(value, dict):
        return {k: _render(ctx, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(ctx, v) for v in value]
    return value


def reply_bytes(ctx: DeviceContext, conf: dict[str, Any]) -> bytes:
    message = {
        "mac": ctx.mac,
        "method": "client.notifyDevInfo",
        "params": {"deviceInfo": _render(ctx, conf.get("deviceInfo", {}))},
    }
    body = pad(json.dumps(message, separators=(",", ":")).encode("utf-8"), conf) + b"\n\0"
    if conf.get("malformed_header"):
        return struct.pack("<I4sII", 0x20, MAGIC, 0, 0) + struct.pack("<I", 0x7FFFFFF0) + body
    return header(len(body)) + body


def answer(ctx: DeviceContext, conf: dict[str, Any]) -> Any:
    timeless = "date" not in json.dumps(conf)  # then the reply is the same every time: kept
    kept: list[bytes] = []

    def reply(data: bytes) -> bytes | None:
        if len(data) < 32 or data[4:8] != MAGIC or b"DHDiscover.search" not in data:
            return None
        if not timeless:
            return reply_bytes(ctx, conf)
        if not kept:
            kept.append(reply_bytes(ctx, conf))
        return kept[0]

    return reply


def start(ctx: DeviceContext, conf: dict[str, Any], udp: UdpProtocol) -> list[Starter]:
    """Answer on the port and group the probe registry declares for this protocol."""
    return [udp_responder(ctx, udp.port, udp_groups(udp), answer(ctx, conf), conf)]
