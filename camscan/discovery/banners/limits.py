"""Bounds on banner grabbing: how long, how much and how many at once.

Every number here caps what one hostile or broken device can cost: a slow, endless or huge reply
is cut at these limits and reported as a ProbeError; it never holds up other hosts.
"""

from __future__ import annotations

import dataclasses

from camscan.settings import Limits as RunLimits
from camscan.settings import Timeouts

_RUN, _WAIT = RunLimits(), Timeouts()  # the scan's defaults, declared in camscan/settings.py


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    connect_timeout: float = 1.5  # seconds for the TCP handshake
    read_timeout: float = _WAIT.read  # seconds of silence tolerated between reads
    deadline: float = _WAIT.probe  # seconds one request may take, connect to last byte
    # seconds of wall-clock time one host's requests may take from its first request (queueing
    # before it not counted): its follow-up requests run alongside the first, so one request's
    # deadline is what an honest slow camera needs (2.5 s per answer: about 3.5 s), and all a
    # hostile one gets
    host_deadline: float = _WAIT.probe
    max_head_bytes: int = 65536  # status line + headers
    max_body_bytes: int = 16384  # body bytes kept (and read) per reply
    max_favicon_bytes: int = 65536  # favicons are hashed whole, so they get a larger bound
    # seconds a port's next request waits for the one before it to be answered, so it can go on
    # the same connection (keep-alive); past it, the port's remaining requests go side by side
    # on new connections, so a slow camera costs one answer's time, not one per request
    reuse_wait: float = 0.5
    banner_wait: float = 1.0  # seconds to wait for bytes a port sends unprompted
    max_banner_bytes: int = 256
    concurrency: int = _RUN.concurrency  # connections open at once, all hosts together
    per_host: int = 6  # connections open at once to one host (as many as a web browser opens)
    # new connections per second: the run's rate limiter (camscan/discovery/rate.py), not here

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value <= 0:
                raise ValueError(f"Limits.{field.name} must be positive, got {value!r}")
