"""Dahua DVRIP discovery over UDP 5050 broadcast (signatures.md 3.3).

A request starting 0xa3 gets a reply starting 0xb3: a 0x78-byte section 1 (packet type 0x58 at
0x04, protocol 2 at 0x10, section lengths at 0x02 and 0x14, device type at 0x28, IPv4 / mask /
gateway / DNS at 0x38..0x44, web and DVRIP ports where mcw0 reads them), section 2 the MAC
string, section 3 `Key:Value\\r\\n` lines.

    [dvrip]
    device_type = "IPC-HDW1431T1-S4"
    lines = ["Name:${serial}", "Device:IPC-HDW1431T1-S4", "IPv6Addr:::", "SerialNo:${serial}"]
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

from camscan.discovery.registry import UdpProtocol
from camscan.lab.services.common import DeviceContext, Starter, text_list, udp_groups, udp_responder

SECTION1 = 0x78


def reply_bytes(ctx: DeviceContext, conf: dict[str, Any], prefixlen: int) -> bytes:
    mac = ctx.mac.encode("ascii")
    section3 = "".join(ctx.render(line) + "\r\n" for line in text_list(conf.get("lines")))
    tail = section3.encode("utf-8")
    head = bytearray(SECTION1)
    head[0] = 0xB3
    head[2] = len(mac)
    struct.pack_into("<I", head, 0x04, 0x58)
    struct.pack_into("<I", head, 0x10, 2)
    struct.pack_into("<H", head, 0x14, len(tail))
    kind = ctx.render(str(conf.get("device_type", ""))).encode("ascii", "replace")[:16]
    head[0x28 : 0x28 + len(kind)] = kind
    net = ipaddress.IPv4Network(f"{ctx.ip}/{prefixlen}", strict=False)
    head[0x38:0x3C] = socket.inet_aton(ctx.ip)
    head[0x3C:0x40] = net.netmask.packed
    struct.pack_into("<H", head, 0x20 + 62, int(conf.get("http_port", 80)))
    struct.pack_into("<H", head, 0x20 + 66, int(conf.get("tcp_port", 37777)))
    return bytes(head) + mac + tail


def start(ctx: DeviceContext, conf: dict[str, Any], udp: UdpProtocol) -> list[Starter]:
    """Answer on the port the probe registry declares (DVRIP is asked by broadcast)."""
    reply = reply_bytes(ctx, conf, ctx.prefixlen)

    def answer(data: bytes) -> bytes | None:
        return reply if data[:1] == b"\xa3" else None

    return [udp_responder(ctx, udp.port, udp_groups(udp), answer)]
