"""Packet pacing for every L3 probe: a global cap and a per-host cap, in packets per second.

Defaults follow runZero's documented ones: 1000 packets/s overall, 40 packets/s per host. Each
`await pacer.slot(host)` returns when one more packet to `host` keeps both caps.
"""

from __future__ import annotations

import asyncio

DEFAULT_RATE = 1000.0  # packets per second, all hosts together
DEFAULT_HOST_RATE = 40.0  # packets per second to any one host


class Pacer:
    def __init__(self, rate: float = DEFAULT_RATE, host_rate: float = DEFAULT_HOST_RATE) -> None:
        if rate <= 0 or host_rate <= 0:
            raise ValueError("packet rates must be positive")
        self.gap = 1.0 / rate
        self.host_gap = 1.0 / host_rate
        self._next = 0.0
        self._host_next: dict[str, float] = {}
        self.sent = 0

    def reserve(self, host: str, now: float) -> float:
        """The time at which one more packet to `host` may go; reserves it."""
        at = max(now, self._next, self._host_next.get(host, 0.0))
        self._next = at + self.gap
        self._host_next[host] = at + self.host_gap
        self.sent += 1
        return at

    async def slot(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        delay = self.reserve(host, now) - now
        if delay > 0:
            await asyncio.sleep(delay)
