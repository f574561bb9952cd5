"""The one rate limiter of a run: every packet and every new connection camscan sends draws from it.

One instance per run (the pipeline makes it and hands it down in ProbeContext.limiter): ARP
requests, multicast and broadcast queries, unicast UDP queries, L3 probes (ICMP echo, TCP
connects) and each banner or description connection. `--rate` caps them all together and
`--host-rate` caps those that go to any one host, whichever stages overlap.

The promise (README "Rates"): on average at most `rate` packets a second, and in any 100 ms
window at most a tenth of it, rounded up, plus 10%; the same per host with `host_rate`. Each
cap is a token bucket (in its GCRA form: `tat` is when the bucket is full again) holding
`rate/100` packets, at least one, so a sender whose sleep overran catches up by that much and
no more; packets are spaced 2% wider than 1/rate, so one that leaves a little after its turn
does not fill a window past the cap.

The first IP packet to a host costs one more, the kernel's ARP request for it, unless the
limiter's `neighbours` (camscan/discovery/neigh.py) hands the kernel the MAC the ARP sweep heard
just before it goes: then the kernel sends none.

Safe from threads (the unprivileged ARP sweep) and from the event loop at once. A waiter first
books its turn (one booking per packet, so hundreds of waiters sleep once each, in order, not
in a herd), then, when it wakes, takes the packet from the caps as they stand at that instant:
a waiter that woke late never goes out bunched with the ones after it.

A sender that does work between its turn and its send (pysnmp encodes the message; a busy
machine may preempt it) calls `went()` right after the send: its packets then count from when
they left, so one that left late does not bunch with the next turn (CI saw 6 SNMP datagrams in
98 ms at --rate 50 before). TCP connects need no call: the SYN leaves in the same step.
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
import threading
import time

from camscan.discovery.neigh import Neighbours
from camscan.settings import Limits

DEFAULT_RATE = Limits().rate  # packets per second, all hosts together (runZero's default)
DEFAULT_HOST_RATE = Limits().host_rate  # packets per second to any one host (runZero's)
WINDOW = 0.1  # seconds: the window the promise is made over
SPACING = 1.02  # packets go 2% further apart than 1/rate: room for a packet sent a little late
# Where the window's cap is a handful of packets (--host-rate 20: 2 per 100 ms), 2% is 2 ms, less
# than the event loop's lateness between a packet's turn and its send; so cap+1 packets span at
# least WINDOW plus this much, whatever the rate.
JITTER = 0.01
_PRUNE_EVERY = 4096  # host entries added between sweeps of the full (idle) ones


class _Bucket:
    """One cap, `rate` packets a second with `burst` back to back, for any number of keys."""

    def __init__(self, rate: float) -> None:
        cap = math.floor(math.ceil(rate * WINDOW) * 1.1)  # the promise's packets per window
        self.gap = max(SPACING / rate, (WINDOW + JITTER) / cap)
        self.tolerance = max(1, int(rate * WINDOW / 10)) * self.gap  # rate/100 packets
        self.tat: dict[str | None, float] = {}
        self.added = 0

    def wait(self, key: str | None, n: int, now: float) -> float:
        """Seconds until `n` packets for `key` fit (0: now)."""
        return max(0.0, self.tat.get(key, 0.0) - self.tolerance + n * self.gap - now)

    def take(self, key: str | None, n: int, now: float) -> float:
        """Take `n` packets at `now` or as soon as they fit; returns when they may go."""
        at = now + self.wait(key, n, now)
        self.tat[key] = max(self.tat.get(key, 0.0), at) + n * self.gap
        self.added += 1
        if self.added >= _PRUNE_EVERY:  # a full bucket is the same as none: forget it
            self.added = 0
            self.tat = {k: t for k, t in self.tat.items() if t > now}
        return at

    def left(self, key: str | None, n: int, now: float) -> None:
        """`n` packets taken earlier for `key` left only at `now`: count them from then (the
        same as taking them at `now`, since `now` is no earlier than when they were taken)."""
        self.tat[key] = max(self.tat.get(key, 0.0), now + n * self.gap)


@dataclasses.dataclass(slots=True)
class _Ticket:
    host: str | None
    n: int  # packets it books
    resolves: bool  # an IP packet to `host`: the first of them to go costs one more
    host_at: float | None = None  # its turn among the packets to its host
    at: float | None = None  # its turn among all packets
    sent: int = 0  # packets let go, once it went


# The last turn this task or thread was given, until `went()` says its packets left.
_GRANTED: contextvars.ContextVar[tuple[RateLimiter, _Ticket] | None] = contextvars.ContextVar(
    "camscan_rate_granted", default=None
)


class RateLimiter:
    """`rate` packets a second overall and `host_rate` to any one host (see the module doc)."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        host_rate: float = DEFAULT_HOST_RATE,
        neighbours: Neighbours | None = None,
    ) -> None:
        if not (rate > 0 and host_rate > 0):  # also refuses NaN
            raise ValueError("packet rates must be positive")
        self.rate = rate
        self.host_rate = host_rate
        self._lock = threading.Lock()
        self._booked = _Bucket(rate)  # turns handed out, all hosts (key None)
        self._booked_host = _Bucket(host_rate)
        self._sent = _Bucket(rate)  # packets actually let go, at the time they went
        self._sent_host = _Bucket(host_rate)
        self._resolved: set[str] = set()
        # MACs the ARP sweep heard, handed to the kernel before a host's first IP packet (None:
        # never): the kernel then sends no ARP request for it, and none is counted
        self.neighbours = neighbours
        self.sent = 0  # packets let go

    def _ticket(self, host: str | None, arp: bool, cost: int) -> _Ticket:
        return _Ticket(host, cost, resolves=host is not None and not arp)

    def _step(self, t: _Ticket, now: float) -> float:
        """Seconds `t` must still wait; 0 when its packets were taken and may go now."""
        with self._lock:
            if t.host is not None:
                if t.host_at is None:
                    t.host_at = self._booked_host.take(t.host, t.n, now)
                if now < t.host_at:
                    return t.host_at - now
            if t.at is None:
                t.at = self._booked.take(None, t.n, now)
            if now < t.at:
                return t.at - now
            # the first IP packet to a host that goes: the kernel's ARP request for it goes first,
            # unless the kernel was just handed the MAC the sweep heard (neigh.py)
            n = t.n + (t.resolves and t.host not in self._resolved and not self._primed(t.host))
            wait = self._sent.wait(None, n, now)
            if t.host is not None:
                wait = max(wait, self._sent_host.wait(t.host, n, now))
            if wait > 0:  # woke late, or another packet to its host went first: a little more
                return wait
            self._sent.take(None, n, now)
            if t.host is not None:
                self._sent_host.take(t.host, n, now)
                if t.resolves:
                    self._resolved.add(t.host)
            self.sent += n
            t.sent = n
            _GRANTED.set((self, t))
            return 0.0

    def went(self, now: float | None = None) -> None:
        """The packets this task's (or thread's) last turn let go have just left: they count
        from now (`now`: that moment, on the limiter's clock). Call it right after the send;
        a second call, or one with no turn, does nothing."""
        granted = _GRANTED.get()
        if granted is None or granted[0] is not self:
            return
        _GRANTED.set(None)
        t, now = granted[1], time.monotonic() if now is None else now
        with self._lock:
            self._sent.left(None, t.sent, now)
            if t.host is not None:
                self._sent_host.left(t.host, t.sent, now)

    def _primed(self, host: str | None) -> bool:
        return host is not None and self.neighbours is not None and self.neighbours.prime(host)

    async def slot(self, host: str | None = None, *, arp: bool = False, cost: int = 1) -> None:
        """Return when `cost` packets (to `host`; None: multicast or broadcast, the global cap
        only) may go; send them at once, before the next await. The first IP packet to a host
        counts one more: the kernel's ARP request for its address goes out first (`arp`: the
        packet is that request itself), unless `neighbours` handed the kernel its MAC just now."""
        import asyncio  # here: the CLI imports this module's defaults before any event loop

        t = self._ticket(host, arp, cost)
        while (wait := self._step(t, time.monotonic())) > 0:
            await asyncio.sleep(wait)

    def wait(
        self,
        host: str | None = None,
        stop: threading.Event | None = None,
        *,
        arp: bool = False,
        cost: int = 1,
    ) -> bool:
        """`slot` for a thread; False when `stop` was set meanwhile (then nothing was taken)."""
        t = self._ticket(host, arp, cost)
        while (wait := self._step(t, time.monotonic())) > 0:
            if stop is None:
                time.sleep(wait)
            elif stop.wait(wait):
                return False
        return True
