"""The one interface every probe implements (ARP, the multicast probes, banners).

A probe is handed the interfaces to work on, the targets it may touch, and a time window. It
returns what it observed and what went wrong; it never raises for bad replies (hostile devices
are expected): it drops them and counts them in `stats`. What a probe needs from the host
(raw sockets, multicast) is declared in its registry entry (camscan/discovery/registry.py).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import threading
from collections.abc import Callable
from typing import Protocol

from camscan.discovery.rate import RateLimiter
from camscan.model import Observation, ProbeError
from camscan.netif import Interface
from camscan.targets import TargetSet


@dataclasses.dataclass(slots=True)
class ProbeContext:
    interfaces: list[Interface]
    targets: TargetSet
    window: float = 1.5  # seconds a multicast round listens for replies
    # The run's one rate limiter: every packet and new connection of every probe draws from it
    limiter: RateLimiter = dataclasses.field(default_factory=RateLimiter)
    max_reply_bytes: int = 65536
    stats: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    privileged: bool = True  # False: no CAP_NET_RAW; raw-socket probes run their fallback
    progress: Callable[[int, int], None] | None = None  # (done, total), for a progress bar
    hosts: tuple[str, ...] = ()  # inspect-phase probes: the in-scope devices discovery found
    timeout: float = 4.0  # inspect-phase probes: seconds per request, connect to last byte
    read_timeout: float = 3.0  # inspect-phase probes: seconds of silence tolerated per read
    concurrency: int = 128  # inspect-phase probes: connections in flight
    engine: str = "camscan"  # L3 host discovery and port scan: "camscan" or "nmap"
    probes: tuple[str, ...] = ()  # the chosen probes (l3 sends the unicast forms of these)
    # Discovery probes call on_host(ip) the moment a host answers (in the event loop's thread),
    # so inspect-phase probes, handed the same hosts through `feed`, start on it at once.
    on_host: Callable[[str], None] | None = None
    feed: HostFeed | None = None  # inspect-phase probes: hosts as found (instead of `hosts`)
    # Set on SIGINT/SIGTERM: probes working in threads (ARP) poll it to end within a second.
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)


class HostFeed:
    """In-scope hosts handed from discovery to an inspect-phase probe as they are found.

    Each host is handed out once, to one of any number of consumers; `close()` (discovery is
    over) makes every consumer's `get()` return None once the queue is empty."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.seen: dict[str, None] = {}  # every host put, in order
        self.closed = False

    def put(self, ip: str) -> None:
        if not self.closed and ip not in self.seen:
            self.seen[ip] = None
            self._queue.put_nowait(ip)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    async def get(self) -> str | None:
        ip = await self._queue.get()
        if ip is None:
            self._queue.put_nowait(None)  # the end, for the next consumer too
        return ip


@dataclasses.dataclass(slots=True)
class ProbeOutcome:
    observations: list[Observation] = dataclasses.field(default_factory=list)
    errors: list[ProbeError] = dataclasses.field(default_factory=list)


class DiscoveryProbe(Protocol):
    name: str  # its registry name: "arp", "wsd", "mdns", "sadp", "dhip", "dvrip", "ssdp", ...

    async def run(self, ctx: ProbeContext) -> ProbeOutcome: ...
