"""The application service between the CLI and the pipeline: plan a command, then run it.

The CLI parses options into plain values and calls these functions; they load and check
everything a run needs (config, data, makers, settings, targets, interfaces) before any
packet, raise a CamscanError with one line when something is wrong, and return values the
CLI prints. The settings of a run are built here, once, from the config, the flags and the
environment (camscan/settings.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from camscan.config import ENGINES, Config
from camscan.discovery import registry as probe_registry
from camscan.errors import RunError, UsageError
from camscan.settings import BOUNDS, ScanSettings, bound_problem, with_values


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Flags:
    """What the command line says over the config's [scan] (None: not given)."""

    values: Mapping[str, float | None] = dataclasses.field(default_factory=dict)  # BOUNDS keys
    probes: str | None = None  # comma-separated
    engine: str | None = None


def checked_values(flags: Flags) -> dict[str, float]:
    """The bounded flags given, each within the bounds the config obeys (`--rate -5` once
    stalled the sweep); a flag out of them is a one-line usage error."""
    chosen: dict[str, float] = {}
    for key, given in flags.values.items():
        if given is None:
            continue
        problem = bound_problem(key, given)
        if problem:
            raise UsageError(f"{BOUNDS[key].flag} {problem}")
        chosen[key] = given
    return chosen


def chosen_probes(flags: Flags, cfg: Config) -> tuple[str, ...]:
    if not flags.probes:
        return cfg.scan.settings.probes
    probes = tuple(p.strip() for p in flags.probes.split(","))
    known = probe_registry.names()
    bad = [p for p in probes if p not in known]
    if bad:
        raise UsageError(f"unknown probe {bad[0]!r} (known: {', '.join(known)})")
    return probes


def chosen_engine(flags: Flags, cfg: Config) -> str:
    name = flags.engine or cfg.scan.settings.engine
    if name not in ENGINES:
        raise UsageError(f"--engine {name!r} is not one of {', '.join(ENGINES)}")
    if name == "nmap":
        from camscan.discovery.nmap_engine import nmap_problem

        problem = nmap_problem()
        if problem:
            raise RunError(problem)
    return name


def build_settings(cfg: Config, flags: Flags, *, privileged: bool | None = None) -> ScanSettings:
    """The run's settings: [scan] from the config, the flags over it, and the environment
    (`privileged`: whether this process may open raw sockets; None: find out)."""
    if privileged is None:
        from camscan.discovery.arp import can_open_raw_socket

        privileged = can_open_raw_socket()
    return dataclasses.replace(
        with_values(cfg.scan.settings, checked_values(flags)),
        probes=chosen_probes(flags, cfg),
        engine=chosen_engine(flags, cfg),
        privileged=privileged,
    )
