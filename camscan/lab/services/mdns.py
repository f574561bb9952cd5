"""mDNS services through python-zeroconf, one responder per device and IP version it runs (IPv4,
and IPv6 on its link-local address where it runs IPv6: ff02::fb).

    [[mdns]]
    type = "_CGI._tcp.local."
    name = "HIKVISION ${model} - ${serial9}"    # instance label (signatures.md 2.6)
    port = 80
    server = "${serial}.local."
    properties = { path = "/" }
    address = "198.18.50.20"   # hostile: the A record names another host (default: own IP)

The responder is created inside the device's namespace (its sockets keep it); registrations are
gathered, not awaited one by one (each waits for its own probe round: ~1 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable
from typing import Any

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from camscan.discovery.registry import UdpProtocol
from camscan.lab.services.common import (
    IP_MULTICAST_ALL,
    IPV6_MULTICAST_ALL,
    DeviceContext,
    Starter,
)

# Responders opened by start(), in this process: registered once every socket is open
# (register_all), closed with goodbyes at the end (close_all).
RESPONDERS: list[tuple[AsyncZeroconf, list[ServiceInfo]]] = []


def _pin_sockets(zc: AsyncZeroconf, ifname: str) -> None:
    """Keep this responder to its own device (all devices share one namespace).

    Best effort on zeroconf's private attributes: without it every responder also hears the
    queries arriving on its neighbours' interfaces, which costs CPU but still answers right.
    """
    engine = zc.zeroconf.engine
    sockets = [getattr(engine, "_listen_socket", None), *getattr(engine, "_respond_sockets", [])]
    for sock in sockets:
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
                if sock.family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
                else:
                    sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)


def open_responder(
    ctx: DeviceContext, entries: list[dict[str, Any]], v6: bool = False
) -> tuple[AsyncZeroconf, list[ServiceInfo]]:
    """IPv4 on its address, or (v6) IPv6 on its link-local address, its records AAAA then."""
    if v6:
        assert ctx.link6 is not None
        zc = AsyncZeroconf(interfaces=[ctx.link6], ip_version=IPVersion.V6Only)
    else:
        zc = AsyncZeroconf(interfaces=[ctx.ip], ip_version=IPVersion.V4Only)
    _pin_sockets(zc, ctx.ifname)
    infos = []
    own = (ctx.ip6 or ctx.link6 or ctx.ip) if v6 else ctx.ip
    for entry in entries:
        kind = str(entry["type"])
        props = {str(k): ctx.render(str(v)) for k, v in dict(entry.get("properties", {})).items()}
        infos.append(
            ServiceInfo(
                kind,
                f"{ctx.render(str(entry['name']))}.{kind}",
                parsed_addresses=[ctx.render(str(entry.get("address", own)))],
                port=int(entry.get("port", 80)),
                properties=props,
                server=ctx.render(
                    str(entry.get("server", f"{ctx.persona}-{ctx.vars['hex8']}.local."))
                ),
            )
        )
    return zc, infos


async def register(zc: AsyncZeroconf, info: ServiceInfo) -> None:
    pending: Awaitable[Any] = await zc.async_register_service(info)
    await pending


def start(ctx: DeviceContext, conf: Any, udp: UdpProtocol) -> list[Starter]:
    """Open the device's responder now (inside its namespace); zeroconf itself answers on
    the registry's port and group (udp: 5353, 224.0.0.251), so `udp` is not needed to bind."""
    assert (udp.port, udp.group, udp.group6) == (5353, "224.0.0.251", "ff02::fb"), "mDNS only"
    if conf and ctx.ipv4:
        RESPONDERS.append(open_responder(ctx, list(conf)))
    if conf and ctx.link6:
        RESPONDERS.append(open_responder(ctx, list(conf), v6=True))
    return []


async def register_all() -> None:
    await asyncio.gather(*(register(zc, info) for zc, infos in RESPONDERS for info in infos))


async def close_all() -> None:
    await asyncio.gather(*(zc.async_close() for zc, _ in RESPONDERS), return_exceptions=True)
