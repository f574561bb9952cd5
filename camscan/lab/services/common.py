"""What every emulated service shares: the device it plays, templates, and its sockets.

Sockets are created while the emulator thread sits in the device's namespace and are bound to
the device's macvlan (SO_BINDTODEVICE): that gives each reply the device's own source MAC and IP
even though all devices of a network share one namespace and routing table.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import http
import socket
import string
import struct
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from camscan.discovery.registry import UdpProtocol

IP_MULTICAST_ALL = 49  # linux/in.h; not exported by the socket module
MAX_REQUEST = 16384  # bytes of a request head we read before giving up on a client
IDLE_TIMEOUT = 15.0  # seconds a connection may sit silent
RENDERED_KEPT = 256  # rendered texts a device keeps (DeviceContext.render)

Starter = Coroutine[Any, Any, object]
StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclasses.dataclass(slots=True)
class DeviceContext:
    ip: str
    ifname: str
    ifindex: int
    mac: str
    persona: str
    vars: dict[str, str]
    tls_cert: str | None = None
    tls_key: str | None = None
    prefixlen: int = 24  # of the device's network (DVRIP replies carry the netmask)
    ip6: str | None = None  # its global IPv6 address, if its network runs IPv6
    ipv4: bool = True  # False: IPv6 only (`ip` is never configured)
    link6: str | None = None  # its EUI-64 link-local address, when it runs IPv6
    # texts already rendered (with their extras): a text that names no date renders the same
    # every time, and a big lab renders the same reply for thousands of queries
    rendered: dict[tuple[str, tuple[tuple[str, str], ...]], str] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    def render(self, text: str, **extra: str) -> str:
        """Expand ${var} placeholders; ${date} is the current HTTP date, ${ip6} its IPv6 one."""
        if "date" in text:  # may name ${date}: the time now, never kept
            return self._substitute(text, extra, email.utils.formatdate(usegmt=True))
        key = (text, tuple(extra.items()))
        done = self.rendered.get(key)
        if done is None:
            if len(self.rendered) >= RENDERED_KEPT:  # extras such as a probe's id vary
                self.rendered.clear()
            done = self.rendered[key] = self._substitute(text, extra, "")
        return done

    def _substitute(self, text: str, extra: dict[str, str], date: str) -> str:
        values = {
            **self.vars,
            "ip6": self.ip6 or "::",  # its global IPv6 address; "::" is SADP's "none" (2.7)
            "date": date,
            **extra,
        }
        return string.Template(text).safe_substitute(values)


def text_list(value: Any) -> list[str]:
    """A TOML string or list of strings as a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def header_pairs(value: Any) -> list[tuple[str, str]]:
    """Headers as ordered [name, value] pairs, exactly as a persona spells them."""
    pairs: list[tuple[str, str]] = []
    for item in value or []:
        if isinstance(item, list) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
    return pairs


def payload(conf: dict[str, Any], ctx: DeviceContext, text_key: str, hex_key: str) -> bytes:
    """Bytes from `<hex_key>` (hex) followed by `<text_key>` (template)."""
    data = bytes.fromhex(str(conf.get(hex_key, "")).replace(" ", ""))
    if text_key in conf:
        data += ctx.render(str(conf[text_key])).encode("utf-8")
    return data


def status_phrase(status: int) -> str:
    """The standard reason phrase of an HTTP/RTSP status code, "Unknown" for any other."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def response_head(lines: list[str]) -> bytes:
    """A status line and header lines as sent: CRLF after each, a blank line to end the head;
    a character latin-1 cannot carry becomes "?" rather than an error."""
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def tcp_listener(ctx: DeviceContext, port: int, ip: str | None = None) -> socket.socket:
    address = ip or ctx.ip
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ctx.ifname.encode())
    if address.startswith("fe80:"):  # a link-local address is bound with its link
        sock.bind((address, port, 0, ctx.ifindex))
    else:
        sock.bind((address, port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


def tcp_addresses(ctx: DeviceContext) -> list[str]:
    """Where its TCP services listen: its IPv4 address and its global IPv6 one, as it has; a
    device with neither, its link-local one."""
    found = [a for a in (ctx.ip if ctx.ipv4 else None, ctx.ip6) if a]
    return found or ([ctx.link6] if ctx.link6 else [])


def udp_listener(ctx: DeviceContext, port: int, groups: list[str]) -> socket.socket:
    """Bound to 0.0.0.0:port on the device only (so multicast and broadcast arrive too)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ctx.ifname.encode())
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
    mreqn_if = struct.pack("4s4si", b"\0" * 4, socket.inet_aton(ctx.ip), ctx.ifindex)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn_if)
    sock.bind(("", port))
    for group in groups:  # join by interface index (ip_mreqn), not by address
        mreqn = struct.pack("4s4si", socket.inet_aton(group), b"\0" * 4, ctx.ifindex)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    sock.setblocking(False)
    return sock


IPV6_MULTICAST_ALL = 29  # linux/in6.h


def udp_listener6(ctx: DeviceContext, port: int, group: str) -> socket.socket:
    """Bound to [::]:port on the device only, joined to its link-scope IPv6 `group`."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ctx.ifname.encode())
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ctx.ifindex)
    sock.bind(("::", port))
    mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", ctx.ifindex)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    sock.setblocking(False)
    return sock


def udp_responders(
    ctx: DeviceContext, udp: UdpProtocol, answer: Any, conf: dict[str, Any] | None = None
) -> list[Starter]:
    """The responders of one UDP protocol: on its IPv4 port and group where the device has
    IPv4, on its IPv6 group where it runs IPv6 and the protocol has one."""
    starters = [udp_responder(ctx, udp.port, udp_groups(udp), answer, conf)] if ctx.ipv4 else []
    if ctx.link6 and udp.group6:
        sock = udp_listener6(ctx, udp.port, udp.group6)
        flood = int((conf or {}).get("flood", 1))
        loop = asyncio.get_running_loop()
        made = loop.create_datagram_endpoint(lambda: ReplyProtocol(answer, flood), sock=sock)
        starters.append(made)
    return starters


def udp_groups(udp: UdpProtocol) -> list[str]:
    """The multicast groups a responder for `udp` joins (none for a broadcast protocol)."""
    return [udp.group] if udp.group else []


def distinct_tail(n: int) -> bytes:
    """Trailing whitespace that spells `n` in binary (space 0, tab 1): every reply of a flood
    differs byte-wise, yet each still parses as the same reply (XML, JSON body, SSDP head)."""
    return b"\n" + bytes(9 if n >> bit & 1 else 32 for bit in range(17))


class ReplyProtocol(asyncio.DatagramProtocol):
    """A UDP responder: `answer(datagram)` gives the reply (or None) sent back to the sender.

    Hostile option `flood = N` (in the service's table): each answer is sent N times, each copy
    made distinct by `distinct_tail`, as one host flooding a discovery round would."""

    def __init__(self, answer: Any, flood: int = 1) -> None:
        self.answer = answer
        self.flood = max(1, min(flood, 100_000))
        self.floods: set[asyncio.Task[None]] = set()  # strong references while they run
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            reply = self.answer(data)
        except Exception:  # a hostile probe must not take the emulator down
            return
        if reply and self.transport is not None:
            if self.flood == 1:
                self.transport.sendto(reply, addr)
                return
            task = asyncio.get_running_loop().create_task(self._flood(reply, addr))
            self.floods.add(task)
            task.add_done_callback(self.floods.discard)

    async def _flood(self, reply: bytes, addr: tuple[str | Any, int]) -> None:
        """In batches, yielding between them: the other emulated devices keep answering."""
        for n in range(self.flood):
            if self.transport is None or self.transport.is_closing():
                return
            self.transport.sendto(reply + distinct_tail(n), addr)
            if n % 256 == 255:
                await asyncio.sleep(0.001)

    def error_received(self, exc: Exception) -> None:
        return  # e.g. ICMP unreachable from a scanner that closed its socket


def udp_responder(
    ctx: DeviceContext,
    port: int,
    groups: list[str],
    answer: Any,
    conf: dict[str, Any] | None = None,
) -> Starter:
    sock = udp_listener(ctx, port, groups)
    loop = asyncio.get_running_loop()
    flood = int((conf or {}).get("flood", 1))
    return loop.create_datagram_endpoint(lambda: ReplyProtocol(answer, flood), sock=sock)


async def read_head(reader: asyncio.StreamReader) -> bytes | None:
    """A request head up to the blank line, or None on timeout, EOF or oversize."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        return None


async def close_writer(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2.0)
    except (TimeoutError, OSError, ConnectionError):
        pass


def closing(serve: StreamHandler) -> StreamHandler:
    """`serve` as a connection handler: a client that times out, resets or vanishes mid-reply
    ends it quietly, and the connection is closed whatever happened."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve(reader, writer)
        except (TimeoutError, OSError, ConnectionError):
            pass
        finally:
            await close_writer(writer)

    return handle


def tcp_servers(
    ctx: DeviceContext,
    conf: dict[str, Any],
    handler: Callable[[DeviceContext, dict[str, Any]], StreamHandler],
    **server_options: Any,
) -> list[Starter]:
    """One stream server per `[service.<port>]` table of `conf`, each with its own handler."""
    return [
        asyncio.start_server(
            handler(ctx, port_conf), sock=tcp_listener(ctx, int(port), ip), **server_options
        )
        for port, port_conf in conf.items()
        for ip in tcp_addresses(ctx)
    ]


def pad(data: bytes, conf: dict[str, Any]) -> bytes:
    """Hostile option `pad = N`: grow a UDP reply to N bytes (oversized replies)."""
    size = int(conf.get("pad", 0))
    return data + b" " * max(0, min(size, 65000) - len(data))
