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
from collections.abc import Callable, Iterable
from typing import Protocol

from camscan import channels
from camscan.discovery.rate import RateLimiter
from camscan.discovery.snmpconf import SnmpSettings
from camscan.model import Observation, ProbeError
from camscan.netif import Interface
from camscan.settings import ScanSettings
from camscan.targets import TargetSet


@dataclasses.dataclass(frozen=True, slots=True)
class Judged:
    """Identify's verdict on what discovery heard from one host, as inspection uses it."""

    # its maker, with high confidence and no other maker named: banners then open no other
    # maker's SDK port (makers.toml sdk_ports), and say why with `maker_why`
    maker: str | None = None
    maker_why: str = ""  # "maker Axis, high confidence (mdns, ssdp, wsd)"
    # why it needs asking nothing more (maker, class, model and firmware known), or None
    known: str | None = None


# Judges what discovery heard from one host (None: nothing sure). The pipeline's, from identify.
Judge = Callable[[str, list[Observation]], Judged | None]
# Judgements per host. A host is judged when inspection asks about it, on every reply heard by
# then, and again only after more came: a camera's replies (one per discovery protocol, six of
# them) arrive together; a flooder sending thousands of distinct ones costs no more CPU than this
# (each judgement blocks the event loop for a millisecond or more), and then keeps no maker.
MAX_JUDGED = 8


class Hints:
    """What discovery has learnt about each host, so inspection asks less (issue 27): the ports
    it showed closed (never opened again), the hosts that answered a discovery inquiry, the
    hosts already known, which inspection then asks nothing at all, and the hosts whose maker
    is known, which are not asked on another maker's SDK port (all only with `ask_less`).

    Discovery probes report as replies arrive (`heard`, `refused`); inspection of a host waits
    until `settle_at` (time.monotonic()) so the first replies can arrive before it asks."""

    def __init__(self, judge: Judge | None = None, *, ask_less: bool = True) -> None:
        self.judge = judge
        self.ask_less = ask_less
        self.settle_at = 0.0
        self.closed: dict[str, set[int]] = {}
        self.answered: set[str] = set()
        self._known: dict[str, str] = {}
        self._maker: dict[str, tuple[str, str]] = {}
        self._heard: dict[str, list[Observation]] = {}
        self._judged: collections.Counter[str] = collections.Counter()
        self._unjudged: set[str] = set()  # hosts heard from since they were last judged

    def heard(self, observations: Iterable[Observation]) -> None:
        """Discovery replies, as they arrive: kept, and their host judged when inspection next
        asks about it (`known`, `maker`), once for every reply heard since, not once per reply:
        judging costs far more than reading a reply, and replies come in bursts (1,000 devices:
        ~2,000 of them still queued at the window's end when each was judged as it came)."""
        for o in observations:
            if not o.ip:
                continue
            self.answered.add(o.ip)
            self._heard.setdefault(o.ip, []).append(o)
            self._unjudged.add(o.ip)

    def linked(self, ip: str, mac: str, probe: str) -> None:
        """The ARP sweep's answer from `ip`: its MAC (its OUI may name its maker). Not a reply
        to a camera inquiry: every host on the link answers ARP (`answered` is left as it is)."""
        fields = {channels.FIELD_MAC: mac}
        self._heard.setdefault(ip, []).append(
            Observation(channels.ARP_MAC, mac, probe, ip=ip, mac=mac, fields=fields)
        )
        self._unjudged.add(ip)

    def _current(self, ip: str) -> None:
        """Judge `ip` on what was heard since it was last judged, within MAX_JUDGED; past it the
        host keeps no maker (every port is asked) and is never known."""
        if ip not in self._unjudged or ip in self._known or self.judge is None:
            return
        self._unjudged.discard(ip)
        if self._judged[ip] >= MAX_JUDGED:
            self._maker.pop(ip, None)
            return
        self._judged[ip] += 1
        verdict = self.judge(ip, self._heard[ip]) or Judged()
        if verdict.known:
            self._known[ip] = verdict.known
        if verdict.maker:
            self._maker[ip] = (verdict.maker, verdict.maker_why)
        else:  # a later reply named another maker, or lowered the confidence
            self._maker.pop(ip, None)

    def refused(self, ip: str, port: int) -> None:
        """Discovery's connection to `port` was refused: the port is closed."""
        self.closed.setdefault(ip, set()).add(port)

    def known(self, ip: str) -> str | None:
        """Why `ip` is asked nothing more, or None (also when ask_less is off)."""
        if not self.ask_less:
            return None
        self._current(ip)
        return self._known.get(ip)

    def maker(self, ip: str) -> tuple[str, str] | None:
        """(maker slug, why) when discovery gave `ip`'s maker with high confidence, else None
        (also when ask_less is off), judged on every reply heard from it so far."""
        if not self.ask_less:
            return None
        self._current(ip)
        return self._maker.get(ip)


@dataclasses.dataclass(slots=True)
class ProbeContext:
    """What a probe is handed: where to work, the run's settings whole, and where to report."""

    interfaces: list[Interface]
    targets: TargetSet
    _: dataclasses.KW_ONLY
    # rate, timeouts, probes, engine, privilege: the run's frozen settings, whole
    settings: ScanSettings = dataclasses.field(default_factory=ScanSettings)
    # The run's one rate limiter: every packet and new connection of every probe draws from it
    limiter: RateLimiter = dataclasses.field(default_factory=RateLimiter)
    stats: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    progress: Callable[[int, int], None] | None = None  # (done, total), for a progress bar
    hosts: tuple[str, ...] = ()  # inspect-phase probes: the in-scope devices discovery found
    # Discovery probes call on_host(ip) the moment a host answers (in the event loop's thread),
    # so inspect-phase probes, handed the same hosts through `feed`, start on it at once.
    on_host: Callable[[str], None] | None = None
    feed: HostFeed | None = None  # inspect-phase probes: hosts as found (instead of `hosts`)
    snmp: SnmpSettings | None = None  # the config's [snmp] (None: not configured, none sent)
    hints: Hints = dataclasses.field(default_factory=Hints)  # discovery -> inspection (above)
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
