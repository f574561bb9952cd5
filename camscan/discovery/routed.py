"""Discovery for targets no interface is attached to: L3 host sweep, then unicast discovery.

The part of the targets on an attached network gets ARP and the multicast round; the rest
(routed segments) gets this: a paced TCP-connect/ICMP sweep (`l3`) or nmap's host discovery and
port scan (`nmap_engine`), then the unicast inquiries (`unicast`) to every IPv4 host that
answered. Routed IPv6 prefixes (small enough to sweep: camscan/targets.py place_ipv6) get the
same TCP-connect sweep, also when nmap does the IPv4 part; a larger one, only at the addresses
the [snmp] routers' neighbour tables list inside it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from camscan.discovery import l3, registry
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.unicast import unicast_round
from camscan.model import Observation, ProbeError
from camscan.targets import TargetSet


async def discover_routed(
    ctx: ProbeContext,
    routed: TargetSet,
    probes: list[str],
    *,
    privileged: bool,
    engine: str = "camscan",
    timeout: float = 3.0,
    progress: Callable[[int, int], None] | None = None,
) -> ProbeOutcome:
    """Live hosts of `routed`, how each answered, and what they said to unicast discovery."""
    found: list[Observation] = []
    errors: list[ProbeError] = []
    hosts: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    if engine == "nmap" and routed.networks:
        from camscan.discovery.nmap_engine import nmap_discover

        found, errors = await nmap_discover(routed, ctx, privileged=privileged, timeout=timeout)
    else:
        hosts += routed.hosts()
    hosts += routed.hosts6()  # routed IPv6: camscan's own sweep, whatever the engine
    if routed.listed6:  # too large to sweep: the addresses the routers' neighbour tables list
        from camscan.discovery.snmp import neighbour_addresses

        room = ctx.settings.limits.max_hosts - len(hosts)
        listed, failed = await neighbour_addresses(ctx, routed.listed6, routed.excluded6, room)
        hosts += listed
        errors += failed
    if hosts:
        answers, stats = await l3.sweep(hosts, ctx.limiter, icmp=privileged, progress=progress)
        ctx.stats.update(stats)
        for ip, answer in answers.items():  # banners never open these again
            for port in answer.refused_ports:
                ctx.hints.refused(ip, port)
        found += l3.observations(answers)
    live = sorted({o.ip for o in found if o.ip}, key=l3.address_key)
    outcome = ProbeOutcome(found, errors)
    unicast = {s.name for s in registry.unicast_udp()}
    names = [p for p in probes if p in unicast]
    ipv4 = [ip for ip in live if ":" not in ip]  # the unicast inquiries are IPv4 datagrams
    if names and ipv4:
        more = await unicast_round(ctx, ipv4, names)
        outcome.observations += more.observations
        outcome.errors += more.errors
    ctx.stats["l3.alive"] = len(live)
    return outcome


class L3Probe:
    """The registry's "l3" probe: everything in ctx.targets outside the attached networks."""

    name = l3.NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        _, routed = ctx.targets.split([i.network for i in ctx.interfaces])
        if not routed:
            return ProbeOutcome()
        sub = ProbeContext(
            ctx.interfaces,
            routed,
            settings=ctx.settings,
            limiter=ctx.limiter,
            stats=ctx.stats,
            hints=ctx.hints,
            snmp=ctx.snmp,
        )
        return await discover_routed(
            sub,
            routed,
            list(ctx.settings.probes)
            if ctx.settings.probes
            else [s.name for s in registry.unicast_udp()],
            privileged=ctx.settings.privileged,
            engine=ctx.settings.engine,
            timeout=ctx.settings.timeouts.probe,
            progress=ctx.progress,
        )
