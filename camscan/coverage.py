"""Coverage: for each target, what was planned, probed and answered, and by which probes.

`plan` splits every target network by how camscan can reach it before any packet is sent;
`finish` says what each part got once the stages have run. A part not covered (no interface is
attached to it, a probe stage failed there, a stop by signal) is a gap: camscan/status.py lists
it in `ScanRun.not_covered` and makes the run partial. A compliance report that silently covered
less than it was asked to would read as a false "clean".
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence

from camscan.discovery import registry
from camscan.discovery.registry import Reach
from camscan.model import Coverage, Device, ProbeError, Segment
from camscan.netif import Interface
from camscan.targets import TargetSet, count6

# Which probes work on a part, which count for coverage and which sweep it address by address
# is the registry's to say (ProbeSpec.reaches, counts_for_coverage, sweeps). Off-link, the
# routed sweep finds hosts and sends the unicast forms of the UDP discovery protocols itself;
# inspect-phase probes then run on what it found. Multicast and link-layer frames do not cross
# a router. A part's `method` is the name of the sweep that reaches it ("nmap" when nmap does
# the routed one; "none": nothing can reach it).
NONE = "none"
NO_ROUTE = "no interface is attached to it and the l3 probe (routed targets) was not chosen"
NO_IPV6 = "no probe that discovers IPv6 on its link was chosen"
# A routed IPv6 prefix too large to sweep, asked only where the routers' tables list hosts
NEIGHBOURS_ONLY = (
    "routed IPv6 prefix too large to sweep: asked only at the addresses the [snmp] routers' "
    "neighbour tables list; a host none of them knows was not asked"
)
NMAP = "nmap"  # the engine, not a probe: --engine nmap does the routed host discovery
# Off-link, silence proves nothing: an ACL or firewall between the scanner and the segment drops
# every probe exactly as an empty segment would stay quiet. ARP on the wire has no such doubt.
SILENT_ROUTED = (
    "off-link and no address answered any probe: the range is empty, or a router or firewall "
    "drops this scanner's probes; nothing in it was assessed"
)

Net = ipaddress.IPv4Network


def _host_count(part: Net, iface: Interface | None) -> int:
    """Addresses a sweep of `part` would probe: not the interface's own, network or broadcast."""
    if iface is None:
        return part.num_addresses
    special = {iface.address, iface.network.network_address, iface.broadcast}
    return part.num_addresses - sum(1 for a in special if a in part)


def _segments_in(part: Net | ipaddress.IPv6Network, segments: list[Segment]) -> list[str]:
    return [s.name for s in segments if any(_overlaps(part, c) for c in s.cidrs)]


def _overlaps(part: ipaddress.IPv4Network | ipaddress.IPv6Network, cidr: str) -> bool:
    net = ipaddress.ip_network(cidr)
    return net.version == part.version and part.overlaps(net)


def _split(target: Net, interfaces: list[Interface]) -> list[tuple[Net, Interface | None]]:
    """`target` cut into the parts each interface reaches directly, and the unattached rest."""
    rest = [target]
    parts: list[tuple[Net, Interface | None]] = []
    # Most specific interface network first, as netif.interface_for decides.
    for iface in sorted(interfaces, key=lambda i: -i.network.prefixlen):
        remaining: list[Net] = []
        for r in rest:
            if r.subnet_of(iface.network):
                parts.append((r, iface))
            elif iface.network.subnet_of(r):
                parts.append((iface.network, iface))
                remaining.extend(r.address_exclude(iface.network))
            else:
                remaining.append(r)
        rest = remaining
    parts.extend((r, None) for r in ipaddress.collapse_addresses(rest))
    return sorted(parts, key=lambda p: (int(p[0].network_address), p[0].prefixlen))


def _sweep(reach: Reach) -> str:
    """The name of the registry's sweep of `reach` (the coverage method of such a part)."""
    return registry.sweep(reach) or NONE


def _routed_methods() -> tuple[str, ...]:
    return (_sweep(Reach.ROUTED), NMAP)


def _reaching(probes: Sequence[str], reach: Reach) -> list[str]:
    return [p for p in probes if registry.get(p).reaches(reach)]


def plan(
    targets: TargetSet,
    interfaces: list[Interface],
    segments: list[Segment],
    probes: Sequence[str],
    engine: str = "camscan",
) -> list[Coverage]:
    """One entry per part of each target: attached (the attached sweep's name, "arp"), routed
    (the routed sweep's, "l3", or "nmap" when nmap does the routed host discovery; when that
    sweep is chosen) or unreachable ("none", not covered)."""
    planned: list[Coverage] = []
    routed_sweep = _sweep(Reach.ROUTED)
    routed = routed_sweep in probes
    routed_method = NMAP if engine == NMAP else routed_sweep
    for target in targets.networks:
        for part, iface in _split(target, interfaces):
            if iface is not None:
                method, chosen = _sweep(Reach.ATTACHED), _reaching(probes, Reach.ATTACHED)
            elif routed:
                method, chosen = routed_method, _reaching(probes, Reach.ROUTED)
            else:
                method, chosen = NONE, []
            entry = Coverage(
                target=str(target),
                network=str(part),
                method=method,
                interface=iface.name if iface else None,
                segments=_segments_in(part, segments),
                planned=_host_count(part, iface) if method != NONE else 0,
                probes=chosen,
            )
            if method == NONE:
                entry.note = NO_ROUTE
            planned.append(entry)
    for net6 in targets.routed6:  # routed IPv6, small enough to sweep: camscan's own l3 sweep
        chosen = _reaching(probes, Reach.ROUTED) if routed else []
        entry = Coverage(
            target=str(net6),
            network=str(net6),
            method=routed_sweep if routed else NONE,
            segments=_segments_in(net6, segments),
            planned=count6(net6, targets.excluded6),
            probes=chosen,
        )
        if not routed:
            entry.note = NO_ROUTE
        planned.append(entry)
    for net6 in targets.listed6:  # larger: the routers' neighbours only, so never covered whole
        entry = Coverage(
            target=str(net6),
            network=str(net6),
            method=routed_sweep if routed else NONE,
            segments=_segments_in(net6, segments),
            probes=_reaching(probes, Reach.ROUTED) if routed else [],
            note=NEIGHBOURS_ONLY if routed else NO_ROUTE,
        )
        planned.append(entry)
    return planned + _plan6(targets, segments, probes)


def _plan6(targets: TargetSet, segments: list[Segment], probes: Sequence[str]) -> list[Coverage]:
    """One entry per IPv6 target and link it is on: asked on the link as a whole, so nothing is
    planned address by address; covered when an IPv6 discovery probe ran there."""
    chosen = _reaching(probes, Reach.LINK6)
    # icmpv6 when chosen, else the first multicast protocol asked on the link (mdns, wsd)
    asking = [p for p in chosen if registry.get(p).counts_for_coverage]
    method = next((p for p in asking if p in registry.ipv6()), asking[0] if asking else NONE)
    planned = []
    for target in targets.v6:
        for link in targets.links or (None,):
            entry = Coverage(
                target=str(target),
                network=str(target),
                method=method,
                interface=link,
                segments=_segments_in(target, segments),
                probes=chosen if method != NONE else [],
            )
            if method == NONE:
                entry.note = NO_IPV6
            planned.append(entry)
    return planned


def _failures(errors: Sequence[ProbeError], entry: Coverage) -> list[str]:
    """Run-level probe errors that hit this part: those on its interface, and stage-wide ones."""
    return [
        f"{e.probe}: {e.error}"
        for e in errors
        if e.target is None or (entry.interface is not None and e.target == entry.interface)
    ]


def _failed_probe(line: str) -> str:
    return line.split(":", 1)[0].split(".", 1)[0]


def _silent_routed(coverage: list[Coverage]) -> None:
    """Routed parts swept without one device answering are not covered. Judged per configured
    segment (a CCTV VLAN that gave nothing is suspect even when the office VLAN answered), and
    for parts in no segment, over all of them: a quiet corner of a range that answered
    elsewhere is just empty."""
    routed = _routed_methods()
    answered: dict[tuple[str, ...], int] = {}
    for c in coverage:
        if c.method in routed and c.covered:
            key = tuple(c.segments)
            answered[key] = answered.get(key, 0) + c.answered
    for c in coverage:
        if c.method in routed and c.covered and answered[tuple(c.segments)] == 0:
            c.covered = False
            c.note = SILENT_ROUTED


def _addresses(device: Device) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """A device's addresses (its IPv6 ones without their scope)."""
    texts = [device.ip, *device.ipv6]
    return [ipaddress.ip_address(t.split("%")[0]) for t in dict.fromkeys(texts)]


def finish(
    planned: Sequence[Coverage],
    errors: Sequence[ProbeError],
    stopped: str | None,
    devices: Sequence[Device],
) -> list[Coverage]:
    """What each planned part got: probed, answered, failed, covered (new entries; `planned`
    is left as it was). camscan/status.py turns the parts not covered into the run's gaps."""
    in_scope = [ip for d in devices if d.in_scope for ip in _addresses(d)]
    finished = []
    for planned_entry in planned:
        entry = dataclasses.replace(
            planned_entry,
            segments=list(planned_entry.segments),
            probes=list(planned_entry.probes),
            failed=[],
        )
        part = ipaddress.ip_network(entry.network)
        entry.answered = sum(1 for ip in in_scope if ip.version == part.version and ip in part)
        finished.append(entry)
        if entry.method == NONE:
            entry.covered = False
            entry.probes = []
            continue
        entry.failed = _failures(errors, entry)
        if stopped:
            entry.failed.append(f"stopped: {stopped}")
        failed = {_failed_probe(f) for f in entry.failed}
        entry.probes = [p for p in entry.probes if p not in failed]
        # The sweeps (ARP on-link, l3 routed) ask every address; multicast asks the link as a
        # whole, so probed stays 0 without them.
        specs = [registry.get(p) for p in entry.probes]
        entry.probed = entry.planned if any(s.sweeps is not None for s in specs) else 0
        entry.covered = not entry.failed and any(s.counts_for_coverage for s in specs)
        if not entry.covered and not entry.failed:
            entry.note = "no discovery probe ran on it"
        if planned_entry.note == NEIGHBOURS_ONLY:
            entry.covered, entry.note = False, NEIGHBOURS_ONLY
    _silent_routed(finished)
    return finished
