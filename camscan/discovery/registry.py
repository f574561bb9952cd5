"""The registry of probes: the only list of them. The CLI's --probes choices and help, the
config schema ([scan] probes), the pipeline's dispatch and order, coverage, the multicast round,
the unicast round and the lab emulator all read it; nothing else spells a probe's name.

Each entry declares what the probe needs from the host, so the pipeline can honour it (skip, or
run the probe's unprivileged way, and say so) without importing the probe: scapy and zeroconf
are slow to import, and `camscan --help` must stay fast. A new probe is one module with a class
implementing camscan.discovery.base.DiscoveryProbe, plus one entry here.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from camscan.errors import UsageError

if TYPE_CHECKING:
    from camscan.discovery.base import DiscoveryProbe
    from camscan.model import Observation

Parser = Callable[[bytes, str], "list[Observation] | None"]


class Need(enum.StrEnum):
    """What a probe needs from the host, and the transports it uses on the network."""

    RAW_SOCKET = "raw-socket"  # CAP_NET_RAW (root, or camscan alone: README, What needs root)
    L2 = "l2"  # link-layer frames (ARP): directly attached networks only
    MULTICAST = "multicast"  # link-local multicast: reaches directly attached networks only
    UNICAST = "unicast"  # connects to addresses one by one (routed networks too)
    IPV6 = "ipv6"  # works on IPv6 prefixes of attached links only (never on IPv4 parts)


class Reach(enum.StrEnum):
    """The parts of the targets a probe can work on (camscan/coverage.py plans by them)."""

    ATTACHED = "attached"  # on a network one of the scanner's interfaces is attached to
    ROUTED = "routed"  # behind a router: unicast only
    LINK6 = "ipv6-link"  # an IPv6 prefix on an attached link: asked on the link, never swept


class Phase(enum.StrEnum):
    DISCOVER = "discover"  # finds devices among the targets (ctx.targets)
    INSPECT = "inspect"  # reads more from the in-scope devices discovery found (ctx.hosts)


@dataclasses.dataclass(frozen=True, slots=True)
class UdpProtocol:
    """A UDP discovery protocol, declared once: the multicast round asks `group` (or the
    broadcast address) on `port`, the unicast round each routed host on `port`, and the lab
    emulator answers on them. `payloads` and `parser` name functions in the probe's module:
    `payloads() -> list[bytes]` (the inquiries sent to one host), `parser(data, src_ip) ->
    list[Observation] | None` (None: malformed)."""

    port: int
    group: str | None  # the multicast group; None: asked by broadcast
    payloads: str | None  # None: never asked unicast (the unicast round leaves it out)
    parser: str
    heard: str | None = None  # parser of traffic heard unasked (passive); None: `parser`
    # its link-scope IPv6 group (ff02::...): also asked on the links of IPv6 targets, from the
    # link-local address (None: IPv4 only)
    group6: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeSpec:
    name: str  # on the command line and in the config; also ProbeError.probe's prefix
    summary: str  # one line for help texts and docs
    module: str  # where the probe class lives; imported only when the probe runs
    cls: str
    needs: frozenset[Need]
    phase: Phase = Phase.DISCOVER
    # Without a RAW_SOCKET need met: what the probe does instead (None: it is skipped).
    unprivileged: str | None = None
    # A part of the targets it ran on without failing counts as covered (discovery probes);
    # False: it only reads more from devices found (banners), which covers nothing new.
    counts_for_coverage: bool = True
    # It asks every address of the parts it reaches, one by one (so `probed` = `planned` in
    # coverage), and only those: ARP the attached networks, l3 the routed ones. Sweeps run one
    # after another, in registry order: one sender at a time keeps the rate cap global.
    sweeps: Reach | None = None
    udp: UdpProtocol | None = None  # for a UDP discovery protocol
    # Not among the default probes: it runs when named (--probes, [scan] probes) or when its
    # config table is given (snmp: [snmp], with the credentials it needs).
    opt_in: bool = False

    def create(self) -> DiscoveryProbe:
        probe: DiscoveryProbe = getattr(importlib.import_module(self.module), self.cls)()
        return probe

    def runs_unprivileged(self) -> bool:
        return Need.RAW_SOCKET not in self.needs or self.unprivileged is not None

    def reaches(self, reach: Reach) -> bool:
        """Whether it works on that part of the targets: a sweep on its own only; otherwise
        anything works on an attached network, and only unicast crosses a router."""
        if self.sweeps is not None:
            return self.sweeps is reach
        if reach is Reach.LINK6:  # the IPv6 probes, and what inspects the devices they find
            asks_link6 = self.udp is not None and self.udp.group6 is not None
            return Need.IPV6 in self.needs or self.phase is Phase.INSPECT or asks_link6
        if Need.IPV6 in self.needs:
            return False
        return reach is Reach.ATTACHED or Need.UNICAST in self.needs

    def payloads(self) -> list[bytes]:
        """The UDP inquiries sent to one host (its unicast form)."""
        assert self.udp is not None, self.name
        assert self.udp.payloads is not None, self.name
        made: list[bytes] = getattr(importlib.import_module(self.module), self.udp.payloads)()
        return made

    def parser(self) -> Parser:
        assert self.udp is not None, self.name
        parse: Parser = getattr(importlib.import_module(self.module), self.udp.parser)
        return parse

    def heard_parser(self) -> Parser:
        """The parser of this protocol's traffic heard unasked (camscan listen, a capture)."""
        assert self.udp is not None, self.name
        name = self.udp.heard or self.udp.parser
        parse: Parser = getattr(importlib.import_module(self.module), name)
        return parse


_M = frozenset({Need.MULTICAST})
_SSDP_GROUP = "239.255.255.250"  # SSDP's, which WS-Discovery and SADP share
REGISTRY: tuple[ProbeSpec, ...] = (
    ProbeSpec(
        "arp",
        "ARP sweep of directly attached target networks (MAC addresses)",
        "camscan.discovery.arp",
        "ArpProbe",
        frozenset({Need.RAW_SOCKET, Need.L2}),
        unprivileged="using the kernel neighbour table instead (slower, may miss devices)",
        sweeps=Reach.ATTACHED,
    ),
    ProbeSpec(
        "l3",
        "routed (off-link) targets: paced TCP-connect/ICMP host sweep (or nmap), then unicast "
        "WS-Discovery, SADP, DHIP, DVRIP and mDNS to each live host",
        "camscan.discovery.routed",
        "L3Probe",
        frozenset({Need.UNICAST}),
        sweeps=Reach.ROUTED,
    ),
    ProbeSpec(
        "icmpv6",
        "IPv6 prefixes on attached links: ICMPv6 echo to all-nodes (ff02::1), then neighbour "
        "solicitation of each address that answered (its MAC)",
        "camscan.discovery.icmpv6",
        "Ipv6Probe",
        frozenset({Need.RAW_SOCKET, Need.L2, Need.IPV6}),
        unprivileged="echo through an unprivileged ICMPv6 ping socket where the system allows "
        "it (net.ipv4.ping_group_range); no neighbour discovery: MACs only from EUI-64 addresses",
    ),
    ProbeSpec(
        "wsd",
        "ONVIF WS-Discovery (on IPv6 target links too, ff02::c)",
        "camscan.discovery.wsd",
        "WsdProbe",
        _M,
        udp=UdpProtocol(
            3702, _SSDP_GROUP, "inquiries", "parse_wsd", heard="parse_heard", group6="ff02::c"
        ),
    ),
    ProbeSpec(
        "mdns",
        "mDNS / DNS-SD services (on IPv6 target links too, ff02::fb)",
        "camscan.discovery.mdns",
        "MdnsProbe",
        _M,
        udp=UdpProtocol(5353, "224.0.0.251", "inquiries", "parse_mdns", group6="ff02::fb"),
    ),
    ProbeSpec(
        "sadp",
        "Hikvision SADP discovery",
        "camscan.discovery.sadp",
        "SadpProbe",
        _M,
        udp=UdpProtocol(37020, _SSDP_GROUP, "inquiries", "parse_sadp"),
    ),
    ProbeSpec(
        "dhip",
        "Dahua DHIP discovery",
        "camscan.discovery.dhip",
        "DhipProbe",
        _M,
        udp=UdpProtocol(37810, "239.255.255.251", "inquiries", "parse_dhip"),
    ),
    ProbeSpec(
        "dvrip",
        "Dahua DVRIP discovery",
        "camscan.discovery.dvrip",
        "DvripProbe",
        _M,
        udp=UdpProtocol(5050, None, "inquiries", "parse_dvrip"),
    ),
    ProbeSpec(
        "ssdp",
        "UPnP SSDP and descriptions",
        "camscan.discovery.ssdp",
        "SsdpProbe",
        _M,
        udp=UdpProtocol(1900, _SSDP_GROUP, None, "parse_ssdp", heard="parse_notify"),
    ),
    ProbeSpec(
        "banners",
        "read-only HTTP, HTTPS, RTSP and SDK-port banners of the devices found",
        "camscan.discovery.banners.probe",
        "BannerProbe",
        frozenset({Need.UNICAST}),
        phase=Phase.INSPECT,
        counts_for_coverage=False,
    ),
    ProbeSpec(
        "snmp",
        "read-only SNMP with the configured credentials ([snmp]): routers' ARP tables give the "
        "MACs of off-link devices; devices that answer give their system and maker OIDs",
        "camscan.discovery.snmp",
        "SnmpProbe",
        frozenset({Need.UNICAST}),
        phase=Phase.INSPECT,
        counts_for_coverage=False,
        opt_in=True,
    ),
)
NAMES: tuple[str, ...] = tuple(p.name for p in REGISTRY)


def names() -> tuple[str, ...]:
    """Every probe's name, in registry order (read at call time: a test may register one)."""
    return tuple(p.name for p in REGISTRY)


def defaults() -> tuple[str, ...]:
    """The probes a scan runs when none are named: every one but the opt-in ones."""
    return tuple(p.name for p in REGISTRY if not p.opt_in)


def get(name: str) -> ProbeSpec:
    for spec in REGISTRY:
        if spec.name == name:
            return spec
    raise UsageError(f"unknown probe {name!r} (known: {', '.join(names())})")


def multicast() -> tuple[str, ...]:
    """The probes the multicast round runs together in one window."""
    return tuple(p.name for p in REGISTRY if Need.MULTICAST in p.needs)


def sweep(reach: Reach) -> str | None:
    """The name of the probe that sweeps `reach` address by address (arp, l3), if any."""
    return next((s.name for s in REGISTRY if s.sweeps is reach), None)


def ipv6() -> tuple[str, ...]:
    """The probes that discover IPv6 prefixes on attached links."""
    return tuple(p.name for p in REGISTRY if Need.IPV6 in p.needs)


def group6(name: str) -> str | None:
    """The link-scope IPv6 group of probe `name`'s UDP protocol (None: asked over IPv4 only)."""
    return udp(name).group6


def unicast_udp() -> tuple[ProbeSpec, ...]:
    """The UDP discovery protocols the unicast round (l3) asks each routed host."""
    return tuple(p for p in REGISTRY if p.udp is not None and p.udp.payloads is not None)


def udp(name: str) -> UdpProtocol:
    """The UDP protocol of probe `name` (its module reads its port and group here)."""
    protocol = get(name).udp
    assert protocol is not None, f"{name} declares no UDP protocol"
    return protocol


def group(name: str) -> str:
    """The multicast group of probe `name`'s UDP protocol."""
    joined = udp(name).group
    assert joined is not None, f"{name} is asked by broadcast, not on a group"
    return joined
