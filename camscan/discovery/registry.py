"""The registry of probes: the only list of them. The CLI's --probes choices and help, the
config schema ([scan] probes), the pipeline's dispatch and the multicast round all read it.

Each entry declares what the probe needs from the host, so the pipeline can honour it (skip, or
run the probe's unprivileged way, and say so) without importing the probe: scapy and zeroconf
are slow to import, and `camscan --help` must stay fast. A new probe is one module with a class
implementing camscan.discovery.base.DiscoveryProbe, plus one entry here.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
from typing import TYPE_CHECKING

from camscan.errors import UsageError

if TYPE_CHECKING:
    from camscan.discovery.base import DiscoveryProbe


class Need(enum.StrEnum):
    """What a probe needs from the host or the network."""

    RAW_SOCKET = "raw-socket"  # CAP_NET_RAW (root, or camscan alone: README, What needs root)
    MULTICAST = "multicast"  # link-local multicast: reaches directly attached networks only
    UNICAST = "unicast"  # connects to addresses one by one (routed networks too)


class Phase(enum.StrEnum):
    DISCOVER = "discover"  # finds devices among the targets (ctx.targets)
    INSPECT = "inspect"  # reads more from the in-scope devices discovery found (ctx.hosts)


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

    def create(self) -> DiscoveryProbe:
        probe: DiscoveryProbe = getattr(importlib.import_module(self.module), self.cls)()
        return probe

    def runs_unprivileged(self) -> bool:
        return Need.RAW_SOCKET not in self.needs or self.unprivileged is not None


_M = frozenset({Need.MULTICAST})
REGISTRY: tuple[ProbeSpec, ...] = (
    ProbeSpec(
        "arp",
        "ARP sweep of directly attached target networks (MAC addresses)",
        "camscan.discovery.arp",
        "ArpProbe",
        frozenset({Need.RAW_SOCKET}),
        unprivileged="using the kernel neighbour table instead (slower, may miss devices)",
    ),
    ProbeSpec(
        "l3",
        "routed (off-link) targets: paced TCP-connect/ICMP host sweep (or nmap), then unicast "
        "WS-Discovery, SADP, DHIP, DVRIP and mDNS to each live host",
        "camscan.discovery.routed",
        "L3Probe",
        frozenset({Need.UNICAST}),
    ),
    ProbeSpec("wsd", "ONVIF WS-Discovery", "camscan.discovery.wsd", "WsdProbe", _M),
    ProbeSpec("mdns", "mDNS / DNS-SD services", "camscan.discovery.mdns", "MdnsProbe", _M),
    ProbeSpec("sadp", "Hikvision SADP discovery", "camscan.discovery.sadp", "SadpProbe", _M),
    ProbeSpec("dhip", "Dahua DHIP discovery", "camscan.discovery.dhip", "DhipProbe", _M),
    ProbeSpec("dvrip", "Dahua DVRIP discovery", "camscan.discovery.dvrip", "DvripProbe", _M),
    ProbeSpec("ssdp", "UPnP SSDP and descriptions", "camscan.discovery.ssdp", "SsdpProbe", _M),
    ProbeSpec(
        "banners",
        "read-only HTTP, HTTPS, RTSP and SDK-port banners of the devices found",
        "camscan.discovery.banners.probe",
        "BannerProbe",
        frozenset({Need.UNICAST}),
        phase=Phase.INSPECT,
    ),
)
NAMES: tuple[str, ...] = tuple(p.name for p in REGISTRY)


def get(name: str) -> ProbeSpec:
    for spec in REGISTRY:
        if spec.name == name:
            return spec
    raise UsageError(f"unknown probe {name!r} (known: {', '.join(NAMES)})")


def multicast() -> tuple[str, ...]:
    """The probes the multicast round runs together in one window."""
    return tuple(p.name for p in REGISTRY if Need.MULTICAST in p.needs)
