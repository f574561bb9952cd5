"""A scan's settings: one frozen value, built once at the edge and handed down whole.

camscan/config.py reads `[scan]` into a `ScanSettings`; camscan/service.py lays the command-line
flags and the environment (raw-socket privilege) over it, checks them against the same bounds,
and hands the result to the pipeline, which hands it to every probe in its `ProbeContext`. Nothing
copies a setting field by field on the way (httpx's `Timeout` and `Limits` are the model), and
each default below is declared here only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """How much a scan may send and hold."""

    rate: float = 1000.0  # packets/s overall: ARP frames, L3 probes, new connections (runZero's)
    host_rate: float = 40.0  # packets/s (and new connections) to any one host: runZero's default
    concurrency: int = 128  # banner connections in flight
    max_hosts: int = 65536  # addresses one run may target, after exclusions
    max_reply_bytes: int = 65536  # a discovery reply larger than this is dropped


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """How long a scan waits."""

    window: float = 1.5  # seconds the multicast round listens for replies ([scan] discovery_window)
    probe: float = 4.0  # seconds per banner request, connect to last byte ([scan] timeout)
    read: float = 3.0  # seconds of silence a banner read tolerates; a 2.5 s camera passes


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScanSettings:
    limits: Limits = Limits()
    timeouts: Timeouts = Timeouts()
    probes: tuple[str, ...] = ()  # the chosen probes (config and --probes: every probe by default)
    engine: str = "camscan"  # routed host discovery and port scan: "camscan" or "nmap"
    privileged: bool = True  # False: no CAP_NET_RAW; raw-socket probes run their fallback
    # a device discovery already knows (maker, class, model, firmware; high confidence) is asked
    # nothing by banners, and a host with no sign of a camera no alternative web ports
    # ([scan] ask_less; --ask-all turns it off)
    ask_less: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class Bound:
    """A [scan] setting with a range: where it lives, its bounds, and the flag that overrides it."""

    group: str  # "limits" or "timeouts"
    field: str
    low: float
    high: float
    unit: str
    flag: str


# One table for the config's [scan] keys, the flags over them, their help and their checks.
BOUNDS: dict[str, Bound] = {
    "rate": Bound("limits", "rate", 1, 100_000, "packets/s", "--rate"),
    "host_rate": Bound("limits", "host_rate", 1, 10_000, "packets/s", "--host-rate"),
    "discovery_window": Bound("timeouts", "window", 0.1, 60, "s", "--window"),
    "timeout": Bound("timeouts", "probe", 0.1, 120, "s", "--timeout"),
    # used as min(read_timeout, timeout)
    "read_timeout": Bound("timeouts", "read", 0.1, 120, "s", "--read-timeout"),
    "concurrency": Bound("limits", "concurrency", 1, 4096, "connections", "--concurrency"),
    "max_hosts": Bound("limits", "max_hosts", 1, 1 << 24, "addresses", "--max-hosts"),
}


def value(settings: ScanSettings, key: str) -> float:
    """The [scan] setting `key` (a BOUNDS key) of `settings`."""
    b = BOUNDS[key]
    return getattr(getattr(settings, b.group), b.field)  # type: ignore[no-any-return]


def default(key: str) -> float:
    return value(ScanSettings(), key)


def bound_problem(key: str, given: float) -> str | None:
    """Why `given` is out of bounds for [scan] `key` ("must be between ..."), or None.

    NaN and infinities are out of bounds too: `not lo <= nan <= hi`."""
    b = BOUNDS[key]
    if isinstance(given, bool) or not b.low <= given <= b.high:
        return f"must be between {b.low:g} and {b.high:g} {b.unit}, got {given!r}"
    return None


def with_values(settings: ScanSettings, values: Mapping[str, float]) -> ScanSettings:
    """`settings` with the [scan] values given (BOUNDS keys), already checked, in place."""
    groups: dict[str, dict[str, float]] = {}
    for key, given in values.items():
        b = BOUNDS[key]
        groups.setdefault(b.group, {})[b.field] = int(given) if b.unit in _WHOLE else given
    replaced = {g: dataclasses.replace(getattr(settings, g), **f) for g, f in groups.items()}
    return dataclasses.replace(settings, **replaced)


_WHOLE = {"connections", "addresses"}  # counted, not measured
