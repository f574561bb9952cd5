"""A TCP connect whose SYN leaves in the caller's step, right after its rate-limiter turn.

`asyncio.open_connection` connects before its first real await for an address literal, so the
limiter's turn and the SYN are one step (README "Rates": TCP needs no `went()`). Not for an IPv6
address with a zone ("fe80::1%eth0"): asyncio hands any address with a zone to getaddrinfo in
its thread pool first, and the SYN leaves whenever that thread has run, late after its turn and
bunched with the next one (measured: two SYNs 94 ms apart at --host-rate 10, 110 ms promised,
on a loaded machine). Such an address is connected here with its zone as an interface index.
"""

from __future__ import annotations

import asyncio
import socket


async def open_now(ip: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio.open_connection(ip, port), its SYN sent before this returns to the loop."""
    bare, _, zone = ip.partition("%")
    if not zone:
        return await asyncio.open_connection(ip, port)
    socket.inet_pton(socket.AF_INET6, bare)  # OSError unless IPv6: only IPv6 has zones
    index = int(zone) if zone.isdigit() else socket.if_nametoindex(zone)  # OSError: no such link
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (bare, port, 0, index))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)
