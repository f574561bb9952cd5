"""Unicast discovery: the multicast round's inquiries sent to each live off-link host itself.

Multicast does not cross routers, but cameras answer the same inquiries sent to their own
address (WS-Discovery, SADP, DHIP, DVRIP, mDNS as legacy unicast queries). Which protocols,
their ports, inquiries and reply parsers are the registry's UDP declarations
(camscan/discovery/registry.py, `unicast_udp()`); the builders, parsers and per-sender budgets
are the multicast probes' own (multicast.SenderBudget, multicast.Collector): the same bytes go
out, the same bounds apply to what comes back.
Replies are accepted only from the hosts asked; every packet is drawn from the run's rate
limiter (ctx.limiter: the global and the per-host cap).

UDP is lossy, so a host that has answered nothing after half the window is asked once more
(SOAP-over-UDP's UNICAST_UDP_REPEAT: one retransmission). Not where its own kernel has already
answered "port unreachable": that ICMP proves the inquiry arrived and nothing listens, so
resending it would only double the traffic to every non-camera. The ICMP errors are read from
the socket's error queue (Linux IP_RECVERR, no privileges needed); where there is none, or a
firewall drops the ICMP, the host is asked again as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator

from camscan.discovery import registry
from camscan.discovery.backlog import drain_round
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import (
    Collector,
    Datagram,
    SenderBudget,
    dropped_errors,
    size_for_flood,
)
from camscan.model import Observation, ProbeError

Parser = Callable[[bytes, str], list[Observation] | None]
# Linux ABI (<linux/in.h>, <linux/errqueue.h>); Python 3.11's socket module has no names for them
IP_RECVERR = 11
SO_EE_ORIGIN_ICMP = 2
ICMP_DEST_UNREACH = 3
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_SEND_TRIES = 3


@dataclasses.dataclass(frozen=True, slots=True)
class UnicastProbe:
    name: str  # the multicast probe of the same name: same channels, same parser
    port: int
    payloads: Callable[[], list[bytes]]
    parser: Parser


def probes(names: list[str] | None = None) -> dict[str, UnicastProbe]:
    """The registry's unicast UDP protocols (those among `names`, when given)."""
    return {
        spec.name: UnicastProbe(spec.name, spec.udp.port, spec.payloads, spec.parser())
        for spec in registry.unicast_udp()
        if spec.udp is not None and (names is None or spec.name in names)
    }


def probe_socket() -> socket.socket:
    """A non-blocking UDP socket on an ephemeral port that queues the ICMP errors its datagrams
    cause (where the platform can)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        size_for_flood(sock)
        if sys.platform == "linux":
            sock.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
        sock.setblocking(False)
        sock.bind(("0.0.0.0", 0))
    except OSError:
        sock.close()
        raise
    return sock


def unreachable_hosts(sock: socket.socket) -> Iterator[str]:
    """Empty the socket's error queue; yield the destination of each datagram that an ICMP
    destination unreachable came back for. The queue is bounded by the socket's buffer."""
    while True:
        try:
            _, ancdata, _, addr = sock.recvmsg(1, 256, socket.MSG_ERRQUEUE)
        except OSError:  # BlockingIOError: empty; anything else: nothing more to read
            return
        for level, kind, data in ancdata:
            if level != socket.SOL_IP or kind != IP_RECVERR or len(data) < _EXTENDED_ERR.size:
                continue
            _, origin, icmp_type, *_ = _EXTENDED_ERR.unpack_from(data)
            icmp_unreachable = origin == SO_EE_ORIGIN_ICMP and icmp_type == ICMP_DEST_UNREACH
            if icmp_unreachable and isinstance(addr, tuple) and addr:
                yield str(addr[0])


class _Replies(asyncio.DatagramProtocol):
    """Replies to one probe: from asked hosts only, within the sender budget, parsed on arrival;
    and which asked hosts' kernels said nothing listens on the probe's port."""

    def __init__(
        self, ctx: ProbeContext, probe: UnicastProbe, asked: set[str], sock: socket.socket
    ) -> None:
        self.ctx = ctx
        self.probe = probe
        self.asked = asked
        self.sock = sock
        self.transport: asyncio.DatagramTransport | None = None
        self.budget = SenderBudget(ctx, probe.name)
        self.collector = Collector(ctx, probe.name)
        self.answered: set[str] = set()
        self.closed: set[str] = set()  # ICMP destination unreachable: the inquiry arrived

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.DatagramTransport):
            self.transport = transport

    def send(self, payload: bytes, host: str) -> bool:
        """Send one inquiry. An ICMP error pending from an earlier datagram fails the next send
        on an IP_RECVERR socket (and is used up by it): read it, then try again."""
        for _ in range(_SEND_TRIES):
            try:
                self.sock.sendto(payload, (host, self.probe.port))
            except BlockingIOError:  # the socket buffer is full: the transport queues it
                if self.transport is None:
                    break
                self.transport.sendto(payload, (host, self.probe.port))
                return True
            except OSError:
                self.read_errors()
                continue
            return True
        self.ctx.stats[f"{self.probe.name}.send_errors"] += 1
        return False

    def read_errors(self) -> None:
        for host in unreachable_hosts(self.sock):
            if host in self.asked and host not in self.closed:
                self.closed.add(host)
                self.ctx.stats[f"{self.probe.name}.port_unreachable"] += 1

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        name = self.probe.name
        src_ip = str(addr[0])
        if src_ip not in self.asked:
            self.ctx.stats[f"{name}.unsolicited"] += 1  # nobody asked it: not looked at
            return
        if len(data) > self.ctx.settings.limits.max_reply_bytes:
            self.ctx.stats[f"{name}.dropped"] += 1
            return
        if not self.budget.admit(Datagram(data, src_ip, int(str(addr[1])), "")):
            return
        try:
            found = self.probe.parser(data, src_ip)
        except Exception:  # a parser bug must not close the socket for the other hosts
            self.ctx.stats[f"{name}.parser_errors"] += 1
            return
        if found is None:
            self.ctx.stats[f"{name}.dropped"] += 1
            return
        self.answered.add(src_ip)
        self.collector.add(src_ip, found)

    def error_received(self, exc: Exception) -> None:
        self.ctx.stats[f"{self.probe.name}.socket_errors"] += 1  # port unreachable: no service
        self.read_errors()


async def unicast_round(
    ctx: ProbeContext,
    hosts: list[str],
    names: list[str],
    table: dict[str, UnicastProbe] | None = None,
) -> ProbeOutcome:
    """Ask every host with every named probe; listen the window's seconds after the last send.
    `table` replaces the registry's protocols (tests point them at other ports)."""
    table = probes(names) if table is None else table
    loop = asyncio.get_running_loop()
    asked = [h for h in hosts if h in ctx.targets]  # never a host outside the targets
    asked_set = set(asked)
    outcome = ProbeOutcome()
    endpoints: list[tuple[UnicastProbe, asyncio.DatagramTransport, _Replies, list[bytes]]] = []
    try:
        for name in names:
            probe = table[name]
            try:
                sock = probe_socket()
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda p=probe, s=sock: _Replies(ctx, p, asked_set, s),  # type: ignore[misc]
                    sock=sock,
                )
            except OSError as exc:
                outcome.errors.append(ProbeError(name, None, f"socket setup failed: {exc}"))
                continue
            endpoints.append((probe, transport, protocol, probe.payloads()))

        async def ask_one(host: str, again: bool) -> None:
            for probe, _, replies, payloads in endpoints:
                if again and host in replies.closed:
                    ctx.stats[f"{probe.name}.resend_skipped"] += 1
                    continue
                for payload in payloads:
                    await ctx.limiter.slot(host)  # then sent at once: no await in between
                    if not replies.send(payload, host):
                        continue
                    ctx.limiter.went()
                    ctx.stats[f"{probe.name}.unicast_sent"] += 1
                    if again:
                        ctx.stats[f"{probe.name}.unicast_resent"] += 1

        async def ask(targets: list[str], again: bool = False) -> None:
            # hosts in parallel: the per-host cap spaces one host's packets, not everyone's
            await asyncio.gather(*(ask_one(h, again) for h in targets))

        await ask(asked)
        await asyncio.sleep(ctx.settings.timeouts.window / 2)
        for _, _, replies, _ in endpoints:
            replies.read_errors()
        quiet = [h for h in asked if not any(h in r.answered for _, _, r, _ in endpoints)]
        # UDP is lossy: once more to those that said nothing at all, except on the ports their
        # kernel has answered "unreachable" for
        await ask(quiet, again=True)
        await asyncio.sleep(ctx.settings.timeouts.window / 2)
        closed_at = time.time()  # the arrival stamps' clock; nothing reads between
        for probe, _, replies, _ in endpoints:
            outcome.errors += dropped_errors(probe.name, [(replies.sock, "unicast")])
        # together: each takes its socket over and closes its transport before any reads on
        drained = await asyncio.gather(
            *(
                drain_round(
                    ctx.stats,
                    probe.name,
                    [(replies.sock, "unicast", replies.datagram_received)],
                    [transport],
                    closed_at,
                    len(asked),
                    stop=ctx.stop,
                )
                for probe, transport, replies, _ in endpoints
            )
        )
        outcome.errors += [e for errors in drained for e in errors]
    finally:
        for _, transport, _, _ in endpoints:
            transport.close()
    for _, _, replies, _ in endpoints:
        outcome.observations += replies.collector.found
        outcome.errors += replies.budget.errors()
    return outcome


def sort_hosts(hosts: list[str]) -> list[str]:
    return sorted(hosts, key=ipaddress.IPv4Address)
