"""Shared plumbing for the unprivileged multicast/broadcast discovery probes.

One `UdpPlan` per interface says what to send where and which group ports to listen on;
`udp_round` opens the sockets, sends, listens for the window and hands back every datagram.
Also the small parsing helpers the reply parsers share (safe XML, MAC form, bounded text).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
import struct
import xml.etree.ElementTree as ET  # only the ParseError type and Element; parsing is defused
from collections.abc import Callable

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from camscan.discovery.base import ProbeContext
from camscan.model import Observation, ProbeError
from camscan.netif import Interface

LIMITED_BROADCAST = "255.255.255.255"
MAX_DATAGRAMS_PER_SOCKET = 4096  # a flood of replies stops being recorded, not the round
RAW_LIMIT = 8192  # characters of a reply kept in Observation.raw
FIELD_LIMIT = 256  # characters of one structured field value
_RCVBUF = 1 << 20  # many devices answer within milliseconds of each other
_SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


@dataclasses.dataclass(frozen=True, slots=True)
class Datagram:
    data: bytes
    src_ip: str
    src_port: int
    iface: str


@dataclasses.dataclass(slots=True)
class UdpPlan:
    """What one probe does on one interface."""

    iface: Interface
    payloads: list[bytes]  # each sent to every destination
    destinations: list[tuple[str, int]]  # multicast groups and broadcast addresses only
    sender_port: int = 0  # 0: ephemeral; DVRIP binds 5050 because replies may go to that port
    groups: list[tuple[str, int]] = dataclasses.field(default_factory=list)  # join and listen
    repeat_after: float | None = None  # resend once after this many seconds (UDP is lossy)


def _bind_to_device(sock: socket.socket, iface: Interface) -> bool:
    """SO_BINDTODEVICE; unprivileged since Linux 5.7, needs CAP_NET_RAW before."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, iface.name.encode() + b"\0")
    except OSError:
        return False
    return True


def _udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with contextlib.suppress(OSError):  # capped at rmem_max; the default suits small LANs
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
    return sock


def open_sender(iface: Interface, port: int = 0) -> socket.socket:
    """A socket that sends multicast and broadcast out of `iface` and receives the replies.

    Bound to the device when permitted (then broadcast replies to `port` arrive too),
    otherwise to the interface address, which still routes multicast and 255.255.255.255
    out of that interface without a default route.
    """
    sock = _udp_socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(
            socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(str(iface.address))
        )
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)  # never leave the link
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)  # not our own probes
        if _bind_to_device(sock, iface):
            sock.bind(("0.0.0.0", port))
        else:
            sock.bind((str(iface.address), port))
    except OSError:
        sock.close()
        raise
    return sock


def open_group_listener(iface: Interface, group: str, port: int) -> socket.socket:
    """A socket on `group:port` joined on `iface` only, for devices that reply to the group."""
    sock = _udp_socket()
    try:
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)  # only groups joined here
        _bind_to_device(sock, iface)
        sock.bind((group, port))  # the group address filters out other traffic to this port
        mreqn = socket.inet_aton(group) + socket.inet_aton(str(iface.address))
        mreqn += struct.pack("@i", iface.index)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    except OSError:
        sock.close()
        raise
    return sock


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self, iface: str, sink: Callable[[Datagram], None], ctx: ProbeContext, name: str):
        self.iface = iface
        self.sink = sink
        self.ctx = ctx
        self.name = name
        self.count = 0

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.count += 1
        if self.count > MAX_DATAGRAMS_PER_SOCKET:
            self.ctx.stats[f"{self.name}.flood"] += 1
            return
        if len(data) > self.ctx.max_reply_bytes:
            self.ctx.stats[f"{self.name}.dropped"] += 1
            return
        src_ip, src_port = str(addr[0]), int(str(addr[1]))
        self.sink(Datagram(data, src_ip, src_port, self.iface))

    def error_received(self, exc: Exception) -> None:
        self.ctx.stats[f"{self.name}.socket_errors"] += 1  # e.g. ICMP unreachable; harmless


def _open_sender_any_port(plan: UdpPlan) -> socket.socket:
    try:
        return open_sender(plan.iface, plan.sender_port)
    except OSError:
        if plan.sender_port == 0:
            raise
        return open_sender(plan.iface, 0)  # fixed port taken: replies sent to it are lost


def _is_group_or_broadcast(host: str, iface: Interface) -> bool:
    addr = ipaddress.IPv4Address(host)
    directed = iface.network.prefixlen < 31 and addr == iface.broadcast  # /31: a real host
    return addr.is_multicast or host == LIMITED_BROADCAST or directed


def _send_all(sock: socket.socket, plan: UdpPlan) -> list[str]:
    failures = []
    for payload in plan.payloads:
        for dest in plan.destinations:
            if not _is_group_or_broadcast(dest[0], plan.iface):  # unicast goes through targets
                failures.append(f"refused to send to unicast {dest[0]} on {plan.iface.name}")
                continue
            try:
                sock.sendto(payload, dest)
            except OSError as exc:
                failures.append(f"send to {dest[0]}:{dest[1]} on {plan.iface.name}: {exc}")
    return failures


async def udp_round(
    ctx: ProbeContext,
    name: str,
    plans: list[UdpPlan],
    on_datagram: Callable[[Datagram], None] | None = None,
) -> tuple[list[Datagram], list[ProbeError]]:
    """Send every plan, listen ctx.window seconds, return the datagrams from other hosts."""
    loop = asyncio.get_running_loop()
    own = {str(p.iface.address) for p in plans} | {str(i.address) for i in ctx.interfaces}
    received: list[Datagram] = []
    errors: list[ProbeError] = []
    transports: list[asyncio.DatagramTransport] = []
    senders: list[tuple[socket.socket, UdpPlan]] = []

    def sink(d: Datagram) -> None:
        if d.src_ip in own:
            return  # our own broadcast looped back
        received.append(d)
        if on_datagram is not None:
            on_datagram(d)

    async def attach(sock: socket.socket, iface: Interface) -> None:
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Inbox(iface.name, sink, ctx, name), sock=sock
            )
        except BaseException:
            sock.close()
            raise
        transports.append(transport)

    try:
        for plan in plans:
            for group, port in plan.groups:
                try:
                    listener = open_group_listener(plan.iface, group, port)
                    await attach(listener, plan.iface)
                except OSError as exc:  # port taken by a non-sharing socket: sender still works
                    error = f"listen {group}:{port}: {exc}"
                    errors.append(ProbeError(name, plan.iface.name, error))
            try:
                sock = _open_sender_any_port(plan)
                await attach(sock, plan.iface)
            except OSError as exc:
                errors.append(ProbeError(name, plan.iface.name, f"socket setup failed: {exc}"))
                continue
            senders.append((sock, plan))
        for sock, plan in senders:
            errors += [ProbeError(name, plan.iface.name, e) for e in _send_all(sock, plan)]
        repeats = sorted({p.repeat_after for _, p in senders if p.repeat_after is not None})
        elapsed = 0.0
        for at in repeats:
            if at >= ctx.window:
                break
            await asyncio.sleep(at - elapsed)
            elapsed = at
            for sock, plan in senders:
                if plan.repeat_after == at:
                    _send_all(sock, plan)  # failures were reported on the first send
        await asyncio.sleep(max(0.0, ctx.window - elapsed))
    finally:
        for t in transports:
            t.close()
    return received, errors


# --- parsing helpers shared by the reply parsers ---------------------------------------------


def ipv4_or_none(text: str | None) -> str | None:
    try:
        return str(ipaddress.IPv4Address((text or "").strip()))
    except ValueError:
        return None


def clean_field(value: object) -> str | None:
    """A structured value as bounded printable text, or None when it is not a plain scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        return None
    text = "".join(c for c in value if c.isprintable()).strip()
    return text[:FIELD_LIMIT] or None


def bounded_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")[:RAW_LIMIT]


def parse_xml(data: bytes) -> ET.Element | None:
    """Parse untrusted XML; None for malformed XML, any DTD, entity or external reference."""
    try:
        root: ET.Element = DET.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError, LookupError, RecursionError):
        return None
    return root


def local_name(tag: str) -> str:
    """'{http://...}Scopes' -> 'Scopes'."""
    return tag.rsplit("}", 1)[-1]


def find_text(root: ET.Element, name: str) -> str | None:
    """Text of the first descendant whose local name is `name`, namespace-agnostic."""
    for el in root.iter():
        if isinstance(el.tag, str) and local_name(el.tag) == name:
            return (el.text or "").strip()
    return None


def parse_datagrams(
    ctx: ProbeContext,
    name: str,
    datagrams: list[Datagram],
    parser: Callable[[bytes, str], list[Observation] | None],
) -> list[Observation]:
    """Run `parser` over every datagram; count malformed ones, drop repeats of one reply."""
    seen: set[tuple[str, str | None, str]] = set()
    found: list[Observation] = []
    for d in datagrams:
        observations = parser(d.data, d.src_ip)
        if observations is None:
            ctx.stats[f"{name}.dropped"] += 1
            continue
        for o in observations:
            key = (o.channel, o.ip, o.raw)
            if key not in seen:
                seen.add(key)
                found.append(o)
    return found
