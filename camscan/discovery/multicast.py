"""Shared plumbing for the unprivileged multicast/broadcast discovery probes.

One `UdpPlan` per interface says what to send where and which group ports to listen on;
`udp_round` opens the sockets, sends, listens for the window and hands back the datagrams;
`collect` does the same but parses each reply as it arrives, inside the window.
Also the small parsing helpers the reply parsers share (safe XML, MAC form, bounded text).

Budgets are per sender (`SenderBudget`): one host that floods the round with distinct replies
has the rest of its replies ignored (and is named in one ProbeError) while every other host's
replies still count; repeats of one reply are folded. The round as a whole is bounded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import ipaddress
import socket
import struct
import time
import xml.etree.ElementTree as ET  # only the ParseError type and Element; parsing is defused
from collections.abc import Callable
from typing import Any

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from camscan import channels
from camscan.discovery.backlog import drain_round, stamp_arrivals
from camscan.discovery.base import ProbeContext
from camscan.errors import ProbeKind, kind_of
from camscan.model import Observation, ProbeError
from camscan.netif import Interface, list_interfaces6

LIMITED_BROADCAST = "255.255.255.255"
MAX_DATAGRAMS_PER_SENDER = 32  # distinct replies one host may have parsed per probe round
MAX_SENDERS = 4096  # distinct source addresses per probe round; more is a spoofed-source flood
MAX_ROUND_BYTES = 16 << 20  # reply bytes accepted per probe round, all senders together
MAX_OBSERVATIONS_PER_SENDER = 64  # observations kept per host per probe round
MAX_RAW_PER_SENDER = 65536  # characters of Observation.raw kept per host per probe round
RAW_LIMIT = 8192  # characters of a reply kept in Observation.raw
FIELD_LIMIT = 256  # characters of one structured field value
_RCVBUF = 1 << 20  # many devices answer within milliseconds of each other
_RCVBUF_FLOOD = 8 << 20  # with CAP_NET_ADMIN: room for a flood (20,000 replies in a burst)
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # past rmem_max; needs CAP_NET_ADMIN
_SO_MEMINFO = 55  # Linux: the socket's memory counters, SK_MEMINFO_DROPS among them
_SK_MEMINFO_DROPS = 8
_SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
_IPV6_MULTICAST_ALL = 29  # linux/in6.h; not exported by the socket module


@dataclasses.dataclass(frozen=True, slots=True)
class Link6:
    """One IPv6 link an IPv6 target is on, asked from its link-local address (a node answers
    a link-local source from its own link-local address: RFC 6724 source selection)."""

    name: str
    index: int
    address: ipaddress.IPv6Address
    own: frozenset[str] = frozenset()  # every address the scanner has on the link

    def scope(self) -> int:
        return self.index if self.address.is_link_local else 0


def links6(ctx: ProbeContext) -> list[Link6]:
    """The links of the IPv6 targets (ctx.targets.links), each with the source to ask from: its
    link-local address, else the first of the scanner's addresses inside the target prefixes.
    A link with neither is left out (the icmpv6 probe reports it)."""
    if not ctx.targets.v6 or not ctx.targets.links:
        return []
    mine = list_interfaces6(list(ctx.targets.links))
    found = []
    for name in ctx.targets.links:
        here = [i for i in mine if i.name == name]
        local = [i for i in here if i.link_local]
        inside = [i for i in here if not i.link_local and i.address in ctx.targets]
        if chosen := (local or inside)[:1]:
            own = frozenset(str(i.address) for i in here)
            found.append(Link6(name, chosen[0].index, chosen[0].address, own))
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class Datagram:
    data: bytes
    src_ip: str
    src_port: int
    iface: str


@dataclasses.dataclass(slots=True)
class UdpPlan:
    """What one probe does on one interface."""

    iface: Interface | Link6  # an IPv4 interface, or an IPv6 link and its source address
    payloads: list[bytes]  # each sent to every destination
    destinations: list[tuple[str, int]]  # multicast groups and broadcast addresses only
    sender_port: int = 0  # 0: ephemeral; DVRIP binds 5050 because replies may go to that port
    groups: list[tuple[str, int]] = dataclasses.field(default_factory=list)  # join and listen
    repeat_after: float | None = None  # resend once after this many seconds (UDP is lossy)


def link_plans(
    ctx: ProbeContext,
    payloads: list[bytes],
    group6: str | None,
    port: int,
    *,
    listen: bool = False,
    repeat_after: float | None = None,
) -> list[UdpPlan]:
    """The IPv6 form of a probe's round: `payloads` to `group6` on every link an IPv6 target is
    on (none when the protocol has no IPv6 group or no IPv6 target is given); `listen`: also
    join the group there, for answers sent to it."""
    if group6 is None:
        return []
    return [
        UdpPlan(
            link,
            list(payloads),
            [(group6, port)],
            groups=[(group6, port)] if listen else [],
            repeat_after=repeat_after,
        )
        for link in links6(ctx)
    ]


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
    size_for_flood(sock)
    return sock


def size_for_flood(sock: socket.socket) -> None:
    """A receive buffer with room for a burst: a flood fills a small one in milliseconds, and
    the kernel drops what follows (kernel_drops counts it). Each datagram is stamped on arrival,
    so what is still queued when the window closes is read if it came in time (backlog.py)."""
    stamp_arrivals(sock)
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RCVBUF_FLOOD)
    except OSError:
        with contextlib.suppress(OSError):  # capped at rmem_max without the capability
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)


def kernel_drops(sock: socket.socket) -> int:
    """Datagrams the kernel dropped for this socket because its receive buffer was full (the
    count SO_RXQ_OVFL reports with each datagram, read at once via SO_MEMINFO; no privilege
    needed). 0 when the kernel cannot say."""
    try:
        info = sock.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, 4 * (_SK_MEMINFO_DROPS + 1))
    except OSError:
        return 0
    if len(info) < 4 * (_SK_MEMINFO_DROPS + 1):
        return 0
    return int(struct.unpack_from("@I", info, 4 * _SK_MEMINFO_DROPS)[0])


def dropped_errors(name: str, sockets: list[tuple[socket.socket, str]]) -> list[ProbeError]:
    """One error per interface whose sockets lost replies in the kernel: those replies were
    never seen, so the probe's coverage of that interface is partial, and says why."""
    lost: dict[str, int] = {}
    for sock, iface in sockets:
        if (n := kernel_drops(sock)) > 0:
            lost[iface] = lost.get(iface, 0) + n
    return [
        ProbeError(
            name,
            iface,
            f"the kernel dropped {n} replies on {iface}: the receive buffer overflowed (a reply "
            "flood?); devices whose replies were among them may be missing",
            ProbeKind.OVERFLOW,
        )
        for iface, n in lost.items()
    ]


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


def open_sender6(link: Link6) -> socket.socket:
    """An IPv6 socket bound to `link`'s source address (with its scope), sending to the link's
    groups out of that interface only; replies come back to it."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setblocking(False)
        size_for_flood(sock)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, link.index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)  # never leave it
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        with contextlib.suppress(OSError):  # unprivileged before Linux 5.7: the scope suffices
            sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, link.name.encode() + b"\0")
        sock.bind((str(link.address), 0, 0, link.scope()))
    except OSError:
        sock.close()
        raise
    return sock


def open_group_listener6(link: Link6, group: str, port: int) -> socket.socket:
    """A socket on [group]:port joined on `link` only (answers sent to the group)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        size_for_flood(sock)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_MULTICAST_ALL, 0)  # only groups joined here
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, link.name.encode() + b"\0")
        sock.bind((group, port, 0, link.index))
        mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", link.index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
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


def address6(text: str, link: str) -> str:
    """An IPv6 sender as the icmpv6 probe keys it: compressed, a link-local one with its link
    (`fe80::1%eth0`), so both probes' observations of one address meet in one device."""
    bare = ipaddress.IPv6Address(text.split("%")[0])
    return f"{bare}%{link}" if bare.is_link_local else str(bare)


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self, iface: str, sink: Callable[[Datagram], None], ctx: ProbeContext, name: str):
        self.iface = iface
        self.sink = sink
        self.ctx = ctx
        self.name = name

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if len(data) > self.ctx.settings.limits.max_reply_bytes:
            self.ctx.stats[f"{self.name}.dropped"] += 1
            return
        src_ip, src_port = str(addr[0]), int(str(addr[1]))
        if ":" in src_ip:
            src_ip = address6(src_ip, self.iface)
        self.sink(Datagram(data, src_ip, src_port, self.iface))

    def error_received(self, exc: Exception) -> None:
        self.ctx.stats[f"{self.name}.socket_errors"] += 1  # e.g. ICMP unreachable; harmless


@dataclasses.dataclass(slots=True)
class _Sender:
    datagrams: int = 0
    digests: set[bytes] = dataclasses.field(default_factory=set)
    over: bool = False


class SenderBudget:
    """Which datagrams of one probe round get looked at: per sender, then for the round."""

    def __init__(self, ctx: ProbeContext, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.senders: dict[str, _Sender] = {}
        self.bytes = 0
        self.round_spent = False

    def admit(self, d: Datagram) -> bool:
        sender = self.senders.get(d.src_ip)
        if sender is None:
            if len(self.senders) >= MAX_SENDERS:
                self.ctx.stats[f"{self.name}.flood"] += 1
                self.round_spent = True
                return False
            sender = self.senders[d.src_ip] = _Sender()
        if sender.over:
            self.ctx.stats[f"{self.name}.flood"] += 1
            return False
        digest = hashlib.blake2b(d.data, digest_size=16).digest()
        if digest in sender.digests:
            self.ctx.stats[f"{self.name}.duplicates"] += 1  # UDP repeats, our own resend
            return False
        if sender.datagrams >= MAX_DATAGRAMS_PER_SENDER:
            sender.over = True
            sender.digests.clear()  # nothing more is compared against them
            self.ctx.stats[f"{self.name}.flood"] += 1
            return False
        if self.bytes + len(d.data) > MAX_ROUND_BYTES:
            self.ctx.stats[f"{self.name}.flood"] += 1
            self.round_spent = True
            return False
        sender.digests.add(digest)
        sender.datagrams += 1
        self.bytes += len(d.data)
        return True

    def errors(self) -> list[ProbeError]:
        """One line per flooding sender (bounded: a spoofed flood is one line for the round)."""
        found = [
            ProbeError(
                self.name,
                ip,
                f"sent more than {MAX_DATAGRAMS_PER_SENDER} distinct replies in one round; "
                "the rest were ignored",
                ProbeKind.OVERFLOW,
            )
            for ip, sender in self.senders.items()
            if sender.over
        ][:64]
        if self.round_spent:
            error = "reply flood: the round's budget was spent, later replies were ignored"
            found.append(ProbeError(self.name, None, error, ProbeKind.OVERFLOW))
        return found


def _open_sender_any_port(plan: UdpPlan) -> socket.socket:
    if isinstance(plan.iface, Link6):
        return open_sender6(plan.iface)
    try:
        return open_sender(plan.iface, plan.sender_port)
    except OSError:
        if plan.sender_port == 0:
            raise
        return open_sender(plan.iface, 0)  # fixed port taken: replies sent to it are lost


def _is_group_or_broadcast(host: str, iface: Interface | Link6) -> bool:
    if isinstance(iface, Link6):  # a link-scope group only: ff02::/16
        return ipaddress.IPv6Address(host) in ipaddress.IPv6Network("ff02::/16")
    addr = ipaddress.IPv4Address(host)
    directed = iface.network.prefixlen < 31 and addr == iface.broadcast  # /31: a real host
    return addr.is_multicast or host == LIMITED_BROADCAST or directed


async def _send_all(ctx: ProbeContext, sock: socket.socket, plan: UdpPlan) -> list[str]:
    """Every payload to every destination, each datagram drawn from the run's rate limiter
    (the global cap: a group or broadcast address is no one host)."""
    failures = []
    for payload in plan.payloads:
        for dest in plan.destinations:
            if not _is_group_or_broadcast(dest[0], plan.iface):  # unicast goes through targets
                failures.append(f"refused to send to unicast {dest[0]} on {plan.iface.name}")
                continue
            to = (*dest, 0, plan.iface.index) if isinstance(plan.iface, Link6) else dest
            await ctx.limiter.slot()  # then sent at once: no await in between
            try:
                sock.sendto(payload, to)
                ctx.limiter.went()
            except OSError as exc:
                failures.append(f"send to {dest[0]}:{dest[1]} on {plan.iface.name}: {exc}")
    return failures


async def udp_round(
    ctx: ProbeContext,
    name: str,
    plans: list[UdpPlan],
    on_datagram: Callable[[Datagram], None] | None = None,
    *,
    keep: bool = True,
) -> tuple[list[Datagram], list[ProbeError]]:
    """Send every plan, listen the window's seconds, return the datagrams from other hosts that
    fit the per-sender budget (none when `keep` is False: `on_datagram` then sees them all)."""
    loop = asyncio.get_running_loop()
    own = {str(p.iface.address) for p in plans} | {str(i.address) for i in ctx.interfaces}
    own |= {a for p in plans if isinstance(p.iface, Link6) for a in p.iface.own}
    received: list[Datagram] = []
    errors: list[ProbeError] = []
    transports: list[asyncio.DatagramTransport] = []
    senders: list[tuple[socket.socket, UdpPlan]] = []
    budget = SenderBudget(ctx, name)

    def sink(d: Datagram) -> None:
        if d.src_ip.split("%")[0] in own:
            return  # our own broadcast looped back
        if not budget.admit(d):
            return
        if keep:
            received.append(d)
        if on_datagram is not None:
            try:
                on_datagram(d)
            except Exception:  # a raise here would close the socket: one reply must not
                ctx.stats[f"{name}.parser_errors"] += 1

    watched: list[tuple[socket.socket, str]] = []
    inboxes: list[tuple[socket.socket, str, Callable[[bytes, Any], None]]] = []

    async def attach(sock: socket.socket, iface: Interface | Link6) -> None:
        try:
            transport, inbox = await loop.create_datagram_endpoint(
                lambda: _Inbox(iface.name, sink, ctx, name), sock=sock
            )
        except BaseException:
            sock.close()
            raise
        transports.append(transport)
        watched.append((sock, iface.name))
        inboxes.append((sock, iface.name, inbox.datagram_received))

    try:
        for plan in plans:
            for group, port in plan.groups:
                try:
                    listener = (
                        open_group_listener6(plan.iface, group, port)
                        if isinstance(plan.iface, Link6)
                        else open_group_listener(plan.iface, group, port)
                    )
                    await attach(listener, plan.iface)
                except OSError as exc:  # port taken by a non-sharing socket: sender still works
                    error = f"listen {group}:{port}: {exc}"
                    errors.append(ProbeError(name, plan.iface.name, error, kind_of(exc)))
            try:
                sock = _open_sender_any_port(plan)
                await attach(sock, plan.iface)
            except OSError as exc:
                error = f"socket setup failed: {exc}"
                errors.append(ProbeError(name, plan.iface.name, error, kind_of(exc)))
                continue
            senders.append((sock, plan))
        for sock, plan in senders:
            failed = await _send_all(ctx, sock, plan)
            errors += [ProbeError(name, plan.iface.name, e) for e in failed]
        repeats = sorted({p.repeat_after for _, p in senders if p.repeat_after is not None})
        elapsed = 0.0
        for at in repeats:
            if at >= ctx.settings.timeouts.window:
                break
            if await _listen(ctx, at - elapsed):
                break
            elapsed = at
            for sock, plan in senders:
                if plan.repeat_after == at:
                    await _send_all(ctx, sock, plan)  # failures were reported on the first send
        await _listen(ctx, ctx.settings.timeouts.window - elapsed)
        closed_at = time.time()  # the arrival stamps' clock; nothing reads between
        errors += dropped_errors(name, watched)  # drops up to the window's end
        addresses = ctx.targets.size()
        drained = drain_round(
            ctx.stats, name, inboxes, transports, closed_at, addresses, stop=ctx.stop
        )
        errors += await drained
    finally:
        for t in transports:
            t.close()
    return received, errors + budget.errors()


async def _listen(ctx: ProbeContext, seconds: float) -> bool:
    """Let replies come in for `seconds`; True when SIGINT/SIGTERM asked to stop (the round
    then ends at once with what it heard, instead of being cancelled and losing it)."""
    end = asyncio.get_running_loop().time() + max(0.0, seconds)
    while not ctx.stop.is_set():
        left = end - asyncio.get_running_loop().time()
        if left <= 0:
            return False
        await asyncio.sleep(min(left, 0.1))
    return True


class Collector:
    """Observations parsed as replies arrive, deduplicated, within a per-sender budget."""

    def __init__(self, ctx: ProbeContext, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.found: list[Observation] = []
        self.seen: set[tuple[str, str | None, str]] = set()
        self.kept: dict[str, tuple[int, int]] = {}  # sender -> (observations, raw characters)

    def add(self, sender: str, observations: list[Observation]) -> None:
        count, chars = self.kept.get(sender, (0, 0))
        added = len(self.found)
        for o in observations:
            key = (o.channel, o.ip, o.raw)
            if key in self.seen:
                continue
            if count >= MAX_OBSERVATIONS_PER_SENDER or chars + len(o.raw) > MAX_RAW_PER_SENDER:
                self.ctx.stats[f"{self.name}.over_budget"] += 1
                continue
            self.seen.add(key)
            self.found.append(o)
            count, chars = count + 1, chars + len(o.raw)
        self.kept[sender] = (count, chars)
        if len(self.found) > added:  # inspection, already under way, may ask this host less
            self.ctx.hints.heard(self.found[added:])


async def collect(
    ctx: ProbeContext,
    name: str,
    plans: list[UdpPlan],
    parser: Callable[[bytes, str], list[Observation] | None],
    on_datagram: Callable[[Datagram], None] | None = None,
) -> tuple[list[Observation], list[ProbeError]]:
    """`udp_round` that parses each admitted reply on arrival; None from `parser` is counted
    as dropped. Memory and work per sender are bounded by the budgets above."""
    collector = Collector(ctx, name)

    def on_reply(d: Datagram) -> None:
        if on_datagram is not None:
            on_datagram(d)
        observations = parser(d.data, d.src_ip)
        if observations is None:
            ctx.stats[f"{name}.dropped"] += 1
        else:
            if ":" in d.src_ip:  # an IPv6 sender is on no attached IPv4 network: its link
                for o in observations:
                    o.fields.setdefault(channels.FIELD_INTERFACE, d.iface)
            collector.add(d.src_ip, observations)

    _, errors = await udp_round(ctx, name, plans, on_reply, keep=False)
    return collector.found, errors


# --- parsing helpers shared by the reply parsers ---------------------------------------------


def ipv4_or_none(text: str | None) -> str | None:
    try:
        return str(ipaddress.IPv4Address((text or "").strip()))
    except ValueError:
        return None


def ipv6_or_none(text: str | None) -> str | None:
    """A unicast IPv6 address a reply states (`2001:db8::5/64`: the prefix length dropped), in
    compressed form; None for an unset one (`::`, `/0`), multicast, loopback or not an address."""
    bare = (text or "").strip().split("/", 1)[0].split("%", 1)[0]
    try:
        addr = ipaddress.IPv6Address(bare)
    except ValueError:
        return None
    if addr.is_unspecified or addr.is_multicast or addr.is_loopback or addr.ipv4_mapped:
        return None
    return str(addr)


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
    collector = Collector(ctx, name)
    for d in datagrams:
        observations = parser(d.data, d.src_ip)
        if observations is None:
            ctx.stats[f"{name}.dropped"] += 1
        else:
            for o in observations:
                o.fields.setdefault(channels.FIELD_INTERFACE, d.iface)  # zone by interface
            collector.add(d.src_ip, observations)
    return collector.found
