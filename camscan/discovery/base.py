"""The one interface every discovery probe implements.

A probe is handed the interfaces to work on, the targets it may touch, and a time window. It
returns what it observed and what went wrong; it never raises for bad replies (hostile devices
are expected): it drops them and counts them in `stats`.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Protocol

from camscan.model import Observation, ProbeError
from camscan.netif import Interface
from camscan.targets import TargetSet


@dataclasses.dataclass(slots=True)
class ProbeContext:
    interfaces: list[Interface]
    targets: TargetSet
    window: float = 1.5  # seconds a multicast round listens for replies
    rate: float = 1000.0  # packets per second, global bound for unicast sweeps
    max_reply_bytes: int = 65536
    stats: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


@dataclasses.dataclass(slots=True)
class ProbeOutcome:
    observations: list[Observation] = dataclasses.field(default_factory=list)
    errors: list[ProbeError] = dataclasses.field(default_factory=list)


class DiscoveryProbe(Protocol):
    name: str  # "arp", "wsd", "mdns", "sadp", "dhip", "dvrip", "ssdp"
    needs_raw_socket: bool  # True only where CAP_NET_RAW is required (ARP)

    async def run(self, ctx: ProbeContext) -> ProbeOutcome: ...
