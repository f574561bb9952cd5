"""IPv6 on attached links: ICMPv6 echo to all-nodes, then neighbour discovery for the MACs.

An IPv6 prefix cannot be swept (a /64 holds 2^64 addresses), so a target prefix on an attached
link (ctx.targets.links, set where the targets were placed) is asked as a whole, the way nmap's
targets-ipv6-multicast-echo does (research/frontier.md S27, RFC 7707): one echo request to
ff02::1 from the link-local address, and one from each of the scanner's addresses inside the
target prefixes. Every node answers from the address that matches the request's source (RFC
6724 source selection), so the first gives link-local addresses and the others global ones.
Each address that answers gets one neighbour solicitation to its solicited-node group; the
advertisement's target link-layer address option is its MAC on the wire (RFC 4861 4.4), as ARP's
reply is for IPv4.

A raw ICMPv6 socket needs CAP_NET_RAW. Without it the echo goes through an unprivileged ICMPv6
"ping" socket where the system allows one (net.ipv4.ping_group_range covers the user; the kernel
then sets the echo identifier itself), and no solicitation is sent: a MAC then comes only from an
EUI-64 interface id (marked derived). Where neither socket may be opened, the probe records a
permission error and the run is partial. Every packet draws from ctx.limiter (multicast: the
global cap; a solicitation: the host's too), and the probe listens for the discovery window.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import struct
import time

from camscan import channels
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.errors import ProbeKind
from camscan.macaddr import MacSource, mac_from_eui64, normalise_mac
from camscan.model import Observation, ProbeError
from camscan.netif import Interface6, list_interfaces6

NAME = "icmpv6"
ALL_NODES = "ff02::1"
ECHO_REQUEST, ECHO_REPLY = 128, 129
SOLICIT, ADVERT = 135, 136
OPT_SOURCE_LL, OPT_TARGET_LL = 1, 2
PAYLOAD = b"camscan"
ND_HOPS = 255  # RFC 4861 7.1.2: neighbour discovery messages with any other hop limit are dropped
MAX_RESPONDERS = 4096  # per link: a flooding neighbour cannot grow memory without bound


def echo_request(ident: int, seq: int) -> bytes:
    """An ICMPv6 echo request; the kernel fills in the checksum of a raw ICMPv6 socket."""
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq) + PAYLOAD


def solicited_node(addr: ipaddress.IPv6Address) -> ipaddress.IPv6Address:
    """ff02::1:ffXX:XXXX, the group a node joins for each of its addresses (RFC 4291 2.7.1)."""
    return ipaddress.IPv6Address(
        int(ipaddress.IPv6Address("ff02::1:ff00:0")) | int(addr) & 0xFFFFFF
    )


def solicitation(target: ipaddress.IPv6Address, mac: str | None) -> bytes:
    """A neighbour solicitation for `target`, with our link-layer address when we know it."""
    msg = struct.pack("!BBHI", SOLICIT, 0, 0, 0) + target.packed
    if mac:
        msg += bytes([OPT_SOURCE_LL, 1]) + bytes.fromhex(mac.replace(":", ""))
    return msg


def parse_reply(data: bytes, ident: int | None) -> tuple[str, str | None] | None:
    """("echo", None) for our echo reply, ("advert", "<target>=<mac>") for an advertisement that
    names a link-layer address; None for anything else (malformed or not ours). `ident` None: a
    ping socket, whose replies the kernel already matched."""
    if len(data) < 8:
        return None
    kind = data[0]
    if kind == ECHO_REPLY:
        their = struct.unpack("!H", data[4:6])[0]
        ours = ident is None or their == ident
        return ("echo", None) if ours and data[8:] == PAYLOAD else None
    if kind != ADVERT or len(data) < 24:
        return None
    target = ipaddress.IPv6Address(data[8:24])
    options = data[24:]
    while len(options) >= 8:
        otype, olen = options[0], options[1] * 8
        if olen == 0 or olen > len(options):
            return None
        if otype == OPT_TARGET_LL and olen == 8:
            mac = normalise_mac(options[2:8].hex(":"))
            return ("advert", f"{target}={mac}") if mac else None
        options = options[olen:]
    return None


def _pktinfo(source: ipaddress.IPv6Address, index: int) -> list[tuple[int, int, bytes]]:
    return [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, source.packed + struct.pack("I", index))]


class _Link:
    """One link's exchange: the sockets, the sources, what answered."""

    def __init__(
        self, ctx: ProbeContext, name: str, mine: list[Interface6], raw: bool = True
    ) -> None:
        self.ctx, self.name = ctx, name
        self.index = mine[0].index
        self.mac = mine[0].mac
        self.local = next((i.address for i in mine if i.link_local), None)
        self.globals = [i.address for i in mine if not i.link_local and i.address in ctx.targets]
        self.own = {i.address for i in mine}
        self.raw = raw
        # a ping socket's echo identifier is the kernel's (its "port"), and it only hands the
        # socket replies to it: no identifier of ours to check
        self.ident: int | None = os.getpid() & 0xFFFF if raw else None
        self.answered: dict[str, None] = {}  # address (link-local with its scope), in order
        self.macs: dict[str, str] = {}  # bare address -> MAC from its advertisement
        self.pending: set[asyncio.Task[None]] = set()
        self.handed: set[str] = set()  # addresses given to on_host (the banners)
        # raw: one socket, the source chosen per packet (IPV6_PKTINFO); a ping socket takes the
        # source it is bound to, so one per source
        sources = self.sources() if not raw else [None]
        self.socks: dict[ipaddress.IPv6Address | None, socket.socket] = {}
        try:
            for source in sources:
                self.socks[source] = self._open(source)
        except OSError:
            self.close()
            raise

    def _open(self, source: ipaddress.IPv6Address | None) -> socket.socket:
        kind = socket.SOCK_RAW if self.raw else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET6, kind, socket.IPPROTO_ICMPV6)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.name.encode())
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ND_HOPS)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ND_HOPS)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            if source is not None:
                scope = self.index if source.is_link_local else 0
                sock.bind((str(source), 0, 0, scope))
        except OSError:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        for sock in self.socks.values():
            with contextlib.suppress(OSError):
                sock.close()

    def sources(self) -> list[ipaddress.IPv6Address]:
        return [a for a in (self.local, *self.globals) if a is not None]

    async def send(
        self, data: bytes, dest: str, source: ipaddress.IPv6Address, host: str | None
    ) -> None:
        await self.ctx.limiter.slot(host)
        to = (dest, 0, 0, self.index)
        try:
            if self.raw:
                self.socks[None].sendmsg([data], _pktinfo(source, self.index), 0, to)
            else:
                self.socks[source].sendto(data, to)
            self.ctx.limiter.went()
            self.ctx.stats["icmpv6.sent"] += 1
        except OSError as exc:  # a source address gone, a full queue: counted, not fatal
            self.ctx.stats[f"icmpv6.send_failed.{exc.errno}"] += 1

    async def ask(self, seq: int) -> None:
        for source in self.sources():
            await self.send(echo_request(self.ident or 0, seq), ALL_NODES, source, None)

    async def solicit(self, address: str) -> None:
        bare = ipaddress.IPv6Address(address.split("%")[0])
        source = self.local if bare.is_link_local or not self.globals else self.globals[0]
        if source is None:
            return
        group = str(solicited_node(bare))
        await self.send(solicitation(bare, self.mac), group, source, address)

    def hand(self, address: str) -> None:
        """A global address to the banners, once: after its advertisement (raw), so their
        connections, which share its host rate, never hold the solicitation back."""
        if address in self.handed or ":" not in address or address.startswith("fe80:"):
            return
        if address in self.answered and self.ctx.on_host is not None:
            self.handed.add(address)
            self.ctx.on_host(address)

    def readable(self, sock: socket.socket) -> None:
        for _ in range(256):  # then let the loop breathe; the rest is read on the next turn
            try:
                data, addr = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error queued on the socket: counted
                self.ctx.stats[f"icmpv6.recv_failed.{exc.errno}"] += 1
                return
            self.heard(data, str(addr[0]))

    def heard(self, data: bytes, sender: str) -> None:
        parsed = parse_reply(data, self.ident)
        bare = ipaddress.IPv6Address(sender.split("%")[0])
        if parsed is None or bare in self.own:
            self.ctx.stats["icmpv6.ignored"] += 1
            return
        kind, value = parsed
        if kind == "advert" and value is not None:
            target, mac = value.split("=", 1)
            self.macs.setdefault(target, mac)
            self.hand(target)
            return
        address = f"{bare}%{self.name}" if bare.is_link_local else str(bare)
        if address in self.answered or len(self.answered) >= MAX_RESPONDERS:
            return
        self.answered[address] = None
        if not self.raw:  # no neighbour solicitation without a raw socket
            self.hand(address)
            return
        task = asyncio.ensure_future(self.solicit(address))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        window = self.ctx.settings.timeouts.window
        deadline = time.monotonic() + window
        for sock in self.socks.values():
            loop.add_reader(sock.fileno(), self.readable, sock)
        try:
            await self.ask(1)
            await self._wait(time.monotonic() + window / 2)
            await self.ask(2)  # multicast is lossy: ask once more, halfway
            await self._wait(deadline)
        finally:
            for sock in self.socks.values():
                loop.remove_reader(sock.fileno())
            for task in self.pending:
                task.cancel()
            for address in list(self.answered):  # no advertisement came: the banners still ask
                self.hand(address)

    async def _wait(self, until: float) -> None:
        while (left := until - time.monotonic()) > 0 and not self.ctx.stop.is_set():
            await asyncio.sleep(min(left, 0.1))  # the stop event is polled, as ARP's sweep does

    def observations(self) -> list[Observation]:
        out = []
        for address in self.answered:
            bare = address.split("%")[0]
            fields = {channels.FIELD_INTERFACE: self.name}
            mac = self.macs.get(bare)
            if mac is None:  # no advertisement: an EUI-64 interface id still names the MAC
                derived = mac_from_eui64(bare)
                if derived:
                    fields |= {
                        channels.FIELD_MAC: derived,
                        channels.FIELD_MAC_SOURCE: MacSource.DERIVED,
                    }
                alive = Observation(
                    channels.HOST_ALIVE, "icmpv6 echo-reply", NAME, address, None, fields
                )
                out.append(alive)
                continue
            fields |= {channels.FIELD_MAC: mac, channels.FIELD_MAC_SOURCE: MacSource.WIRE}
            out.append(Observation(channels.NDP_MAC, mac, NAME, address, mac, fields))
        return out


class Ipv6Probe:
    name = NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        out = ProbeOutcome()
        targets = ctx.targets
        if not targets.v6 or not targets.links:
            return out
        mine = list_interfaces6(list(targets.links))
        links = []
        for name in targets.links:
            here = [i for i in mine if i.name == name]
            if not here:
                out.errors.append(
                    ProbeError(NAME, name, "no IPv6 address on this interface", ProbeKind.OTHER)
                )
                continue
            privileged = ctx.settings.privileged
            try:
                link = _Link(ctx, name, here, raw=privileged)
            except PermissionError as exc:
                what = "raw ICMPv6 socket" if privileged else "ICMPv6 ping socket"
                why = (
                    "needs CAP_NET_RAW"
                    if privileged
                    else "net.ipv4.ping_group_range excludes this user; CAP_NET_RAW lifts it"
                )
                error = f"{what}: {exc.strerror}; {why}"
                out.errors.append(ProbeError(NAME, name, error, ProbeKind.PERMISSION))
                continue
            except OSError as exc:
                out.errors.append(ProbeError.caught(NAME, name, exc))
                continue
            links.append(link)
        try:
            await asyncio.gather(*(link.run() for link in links))
        finally:
            for link in links:
                link.close()
        for link in links:
            found = link.observations()
            out.observations += found
            ctx.stats["icmpv6.answered"] += len(found)
            if ctx.on_host is not None:  # link-local only: a node with no global address here
                with_global = {o.mac for o in found if o.mac and "%" not in (o.ip or "")}
                # (a derived MAC cannot join a link-local address to a global one: asked too)
                for o in found:
                    if o.ip and "%" in o.ip and (o.mac is None or o.mac not in with_global):
                        ctx.on_host(o.ip)
        return out
