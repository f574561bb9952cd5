"""SSDP M-SEARCH on UDP 1900, multicast 239.255.255.250: answer with SERVER, LOCATION, USN.

[ssdp]
server = "Linux/2.6 UPnP/1.0 ..."
location = "http://${ip}:49152/description.xml"   # serve it from an [http.*] path
usn = "uuid:${uuid}"
st = "upnp:rootdevice"
"""

from __future__ import annotations

from typing import Any

from camscan.discovery.registry import UdpProtocol
from camscan.lab.services.common import DeviceContext, Starter, udp_groups, udp_responder


def answer(ctx: DeviceContext, conf: dict[str, Any]) -> Any:
    own_st = ctx.render(str(conf.get("st", "upnp:rootdevice")))
    usn = ctx.render(str(conf.get("usn", "uuid:${uuid}")))

    def reply(data: bytes) -> bytes | None:
        if not data.startswith(b"M-SEARCH"):
            return None
        wanted = ""
        for line in data.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "st":
                wanted = value.strip()
        if wanted not in ("ssdp:all", "upnp:rootdevice", own_st):
            return None
        st = own_st if wanted == "ssdp:all" else wanted
        lines = [
            "HTTP/1.1 200 OK",
            "CACHE-CONTROL: max-age=1800",
            "EXT:",
            f"LOCATION: {ctx.render(str(conf.get('location', '')))}",
            f"SERVER: {ctx.render(str(conf.get('server', '')))}",
            f"ST: {st}",
            f"USN: {usn}::{st}" if st != usn else f"USN: {usn}",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    return reply


def start(ctx: DeviceContext, conf: dict[str, Any], udp: UdpProtocol) -> list[Starter]:
    """Answer on the port and group the probe registry declares for this protocol."""
    return [udp_responder(ctx, udp.port, udp_groups(udp), answer(ctx, conf), conf)]
