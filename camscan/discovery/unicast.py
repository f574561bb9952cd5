"""Unicast discovery: the multicast round's inquiries sent to each live off-link host itself.

Multicast does not cross routers, but cameras answer the same inquiries sent to their own
address: a WS-Discovery Probe to 3702, an SADP inquiry to 37020, a DHIP search to 37810, a
DVRIP request to 5050 and an mDNS (legacy unicast) query to 5353. The packet builders, reply
parsers and per-sender budgets are the multicast probes' own (camscan/discovery/*.py,
multicast.SenderBudget): the same bytes go out, the same bounds apply to what comes back.
Replies are accepted only from the hosts asked; every packet is paced by the L3 `Pacer`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
from collections.abc import Callable

from camscan.discovery import dhip, dvrip, mdns, sadp, wsd
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import (
    Datagram,
    SenderBudget,
    _Collector,
)
from camscan.discovery.rate import Pacer
from camscan.model import Observation, ProbeError

Parser = Callable[[bytes, str], list[Observation] | None]
MDNS_QUERY_TYPES = [t for t in mdns.BROWSE_TYPES if t != mdns.SERVICES_META]


def mdns_query(types: list[str] | None = None) -> list[bytes]:
    """DNS-SD PTR queries for `types`, built by the multicast probe's own builder. Sent from an
    ephemeral port they are one-shot (legacy unicast) queries, RFC 6762 6.7: the responder
    answers to that port, directly."""
    return mdns.build_queries([(t, 12) for t in (types or MDNS_QUERY_TYPES)])  # 12: PTR


@dataclasses.dataclass(frozen=True, slots=True)
class UnicastProbe:
    name: str  # the multicast probe of the same name: same channels, same parser
    port: int
    payloads: Callable[[], list[bytes]]
    parser: Parser


PROBES: dict[str, UnicastProbe] = {
    "wsd": UnicastProbe(
        "wsd",
        wsd.PORT,
        lambda: [wsd.build_probe(wsd.NVT_TYPES), wsd.build_probe(None)],
        wsd.parse_wsd,
    ),
    "sadp": UnicastProbe("sadp", sadp.PORT, lambda: [sadp.build_probe()], sadp.parse_sadp),
    "dhip": UnicastProbe("dhip", dhip.PORT, lambda: [dhip.build_search()], dhip.parse_dhip),
    "dvrip": UnicastProbe("dvrip", dvrip.PORT, lambda: [dvrip.REQUEST], dvrip.parse_dvrip),
    "mdns": UnicastProbe("mdns", mdns.PORT, mdns_query, mdns.parse_mdns),
}


class _Replies(asyncio.DatagramProtocol):
    """Replies to one probe: from asked hosts only, within the sender budget, parsed on arrival."""

    def __init__(self, ctx: ProbeContext, probe: UnicastProbe, asked: set[str]) -> None:
        self.ctx = ctx
        self.probe = probe
        self.asked = asked
        self.budget = SenderBudget(ctx, probe.name)
        self.collector = _Collector(ctx, probe.name)
        self.answered: set[str] = set()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        name = self.probe.name
        src_ip = str(addr[0])
        if src_ip not in self.asked:
            self.ctx.stats[f"{name}.unsolicited"] += 1  # nobody asked it: not looked at
            return
        if len(data) > self.ctx.max_reply_bytes:
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


async def unicast_round(
    ctx: ProbeContext,
    hosts: list[str],
    names: list[str],
    pacer: Pacer,
    probes: dict[str, UnicastProbe] | None = None,
) -> ProbeOutcome:
    """Ask every host with every named probe; listen ctx.window seconds after the last send.
    `probes` replaces the table of PROBES (tests point them at other ports)."""
    table = PROBES if probes is None else probes
    loop = asyncio.get_running_loop()
    asked = [h for h in hosts if h in ctx.targets]  # never a host outside the targets
    asked_set = set(asked)
    outcome = ProbeOutcome()
    endpoints: list[tuple[UnicastProbe, asyncio.DatagramTransport, _Replies, list[bytes]]] = []
    try:
        for name in names:
            probe = table[name]
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda p=probe: _Replies(ctx, p, asked_set),  # type: ignore[misc]
                    local_addr=("0.0.0.0", 0),
                    family=socket.AF_INET,
                )
            except OSError as exc:
                outcome.errors.append(ProbeError(name, None, f"socket setup failed: {exc}"))
                continue
            endpoints.append((probe, transport, protocol, probe.payloads()))

        async def ask_one(host: str) -> None:
            for probe, transport, _, payloads in endpoints:
                for payload in payloads:
                    await pacer.slot(host)
                    transport.sendto(payload, (host, probe.port))
                    ctx.stats[f"{probe.name}.unicast_sent"] += 1

        async def ask(targets: list[str]) -> None:
            # hosts in parallel: the per-host cap spaces one host's packets, not everyone's
            await asyncio.gather(*(ask_one(h) for h in targets))

        await ask(asked)
        await asyncio.sleep(ctx.window / 2)
        quiet = [h for h in asked if not any(h in r.answered for _, _, r, _ in endpoints)]
        await ask(quiet)  # UDP is lossy: once more to those that said nothing at all
        await asyncio.sleep(ctx.window / 2)
    finally:
        for _, transport, _, _ in endpoints:
            transport.close()
    for _, _, replies, _ in endpoints:
        outcome.observations += replies.collector.found
        outcome.errors += replies.budget.errors()
    return outcome


def sort_hosts(hosts: list[str]) -> list[str]:
    return sorted(hosts, key=ipaddress.IPv4Address)
