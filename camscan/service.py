"""The application service between the CLI and the pipeline: plan a command, then run it.

The CLI parses options into plain values and calls these functions; they load and check
everything a run needs (config, data, makers, settings, targets, interfaces) before any
packet, raise a CamscanError with one line when something is wrong, and return values the
CLI prints. The settings of a run are built here, once, from the config, the flags and the
environment (camscan/settings.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from camscan.config import ENGINES, Config
from camscan.discovery import registry as probe_registry
from camscan.errors import RunError, UsageError
from camscan.settings import BOUNDS, ScanSettings, bound_problem, with_values

if TYPE_CHECKING:
    from camscan.model import ScanResult
    from camscan.netif import Interface
    from camscan.pipeline import IdentifyData, Progress, ScanRequest
    from camscan.stopping import StopSignal
    from camscan.targets import TargetSet


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Flags:
    """What the command line says over the config's [scan] (None: not given)."""

    values: Mapping[str, float | None] = dataclasses.field(default_factory=dict)  # BOUNDS keys
    probes: str | None = None  # comma-separated
    engine: str | None = None
    ask_all: bool = False  # --ask-all: ask every device everything (ask_less off)


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
        ask_less=cfg.scan.settings.ask_less and not flags.ask_all,
    )


# -- targets and interfaces -------------------------------------------------------------------
class NoTargets(UsageError):
    """Nothing to scan was named: the CLI explains how to name targets (exit 2)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TargetAsk:
    """The targets a command names: addresses, segments, lists and exclusions."""

    texts: Sequence[str] = ()
    segments: Sequence[str] = ()
    all_segments: bool = False
    input_lists: Sequence[str] = ()  # -iL files ('-': standard input)
    exclude: Sequence[str] = ()
    exclude_files: Sequence[str] = ()
    allow_public: bool = False


def lab_guard() -> None:
    """Tests and the demo set CAMSCAN_LAB_GUARD=1 so that a mistake can never scan a real
    network: outside a lab namespace every scanning command refuses."""
    import os

    if os.environ.get("CAMSCAN_LAB_GUARD") == "1":
        from camscan.labguard import lab_namespace_problem

        problem = lab_namespace_problem()
        if problem:
            raise UsageError(f"lab guard: refusing to scan: {problem}")


def resolve_targets(cfg: Config, ask: TargetAsk, flags: Flags | None = None) -> TargetSet:
    """The target set, checked (private ranges unless allowed, at most max_hosts addresses:
    --max-hosts, else [scan]); without any target named, the config's [scan] targets."""
    from camscan.targets import TargetSet, read_target_file, split_exclusions

    given = checked_values(flags or Flags())
    max_hosts = int(given.get("max_hosts", cfg.scan.settings.limits.max_hosts))

    chosen = list(ask.texts)
    for path in ask.input_lists:
        chosen.extend(read_target_file(path))
    excluded = split_exclusions(list(ask.exclude))
    for path in ask.exclude_files:
        excluded.extend(read_target_file(path))
    names = [s.name for s in cfg.segments] if ask.all_segments else ask.segments
    for name in names:
        chosen.extend(cfg.segment(name).cidrs)
    if not chosen and not ask.input_lists:
        chosen = list(cfg.scan.targets)
    if not chosen:
        if ask.input_lists:
            raise UsageError(f"the target list {', '.join(ask.input_lists)} names no target")
        raise NoTargets("no target named")
    return TargetSet.parse(
        chosen,
        allow_public=ask.allow_public or cfg.scan.allow_public,
        max_hosts=max_hosts,
        exclude=excluded,
    )


def attached_interfaces(
    names: Sequence[str], targets: TargetSet, probes: Sequence[str]
) -> list[Interface]:
    """The interfaces attached to the targets; the rest of the targets is routed (L3), and
    must have a kernel route: nothing is silently dropped."""
    from camscan.netif import has_route, select_interfaces

    chosen = select_interfaces(list(names) or None)
    carrying = [i for i in chosen if any(i.network.overlaps(n) for n in targets.networks)]
    _, routed = targets.split([i.network for i in carrying])
    if routed and probe_registry.sweep(probe_registry.Reach.ROUTED) not in probes:
        raise UsageError(
            f"{routed} is on no attached network and the l3 probe is not selected; add l3 to "
            "--probes to reach it through a router",
        )
    unroutable = [n for n in routed.networks if not has_route(n)]
    if unroutable:
        where = ", ".join(f"{i.name} {i.network}" for i in chosen) or "none"
        raise RunError(
            f"no route to {', '.join(map(str, unroutable[:4]))}"
            f"{' ...' if len(unroutable) > 4 else ''}: no interface is attached to it "
            f"(interfaces: {where}) and the kernel has no route for it",
        )
    return carrying


def place_targets(
    cfg: Config, targets: TargetSet, flags: Flags, probes: Sequence[str], names: Sequence[str]
) -> TargetSet:
    """IPv6 prefixes placed (camscan/targets.py place_ipv6): on an attached link, asked there;
    routed and small enough, swept within --max-hosts; larger, asked at the addresses the [snmp]
    routers' neighbour tables list when SNMP runs; otherwise refused in one line. Scan and
    sweep both plan through here, so they treat IPv6 targets alike."""
    from camscan.discovery.snmp import NAME as SNMP
    from camscan.targets import place_ipv6

    given = checked_values(flags)
    max_hosts = int(given.get("max_hosts", cfg.scan.settings.limits.max_hosts))
    tables = cfg.snmp is not None and bool(cfg.snmp.routers) and SNMP in probes
    return place_ipv6(targets, list(names), max_hosts=max_hosts, neighbour_tables=tables)


# -- scan -------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScanPlan:
    """A scan checked whole before any packet: the request for the pipeline, the identify
    data it will use, and the notes a user should read first."""

    request: ScanRequest
    data: IdentifyData
    notes: tuple[str, ...] = ()


def identify_data(cfg: Config) -> IdentifyData:
    """Signatures and OUI data loaded and checked before discovery (DataError, exit 2,
    otherwise); the listed makers were checked when the config was loaded."""
    from camscan.pipeline import IdentifyData

    return IdentifyData.load()


def plan_scan(
    cfg: Config,
    targets: TargetSet,
    flags: Flags,
    *,
    interfaces: Sequence[str] = (),
    data: IdentifyData | None = None,
) -> ScanPlan:
    """Everything a scan of `targets` needs, checked: the interfaces that reach them (the
    config's [scan] interfaces unless named), the settings, the identify data."""
    from camscan.pipeline import ScanRequest

    data = data or identify_data(cfg)
    probes = chosen_probes(flags, cfg)
    targets = place_targets(cfg, targets, flags, probes, interfaces or cfg.scan.interfaces)
    ifaces = attached_interfaces(interfaces or cfg.scan.interfaces, targets, probes)
    settings = build_settings(cfg, flags)
    request = ScanRequest(targets=targets, interfaces=ifaces, config=cfg, settings=settings)
    return ScanPlan(request=request, data=data, notes=_notes(settings))


def _notes(settings: ScanSettings) -> tuple[str, ...]:
    """One note per chosen probe that needs CAP_NET_RAW when the process lacks it (what it
    does instead, or that it is skipped: the registry says which), and stale OUI data."""
    from camscan.discovery.registry import Need, get
    from camscan.identify.oui import data_date, staleness_warning

    notes = []
    if not settings.privileged:
        for spec in map(get, settings.probes):
            if Need.RAW_SOCKET in spec.needs:
                instead = spec.unprivileged or "skipped"
                notes.append(
                    f"{spec.name.upper()} needs CAP_NET_RAW (run as root, or give camscan alone "
                    f"the capability: README, 'What needs root'); {instead}"
                )
    stale = staleness_warning(data_date())
    return (*notes, stale) if stale else tuple(notes)


def run_scan(
    plan: ScanPlan, progress: Progress | None = None, stop: StopSignal | None = None
) -> ScanResult:
    """Run the pipeline; a stop (signal) ends the probe stages early, never the result."""
    from camscan.pipeline import scan

    request = plan.request if stop is None else dataclasses.replace(plan.request, stop=stop)
    return scan(request, progress, plan.data)


# -- sweep ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SweepPlan:
    scan: ScanPlan
    db: str | None
    site: str
    keep: int | None  # runs of the site to keep; None: all


def plan_sweep(
    cfg: Config,
    *,
    db: str | None = None,
    site: str | None = None,
    keep_runs: int | None = None,
    interfaces: Sequence[str] = (),
) -> SweepPlan:
    """A sweep scans every segment of the config (the CLI then stores the run and diffs it)."""
    from camscan.service_store import resolve_site

    if not cfg.segments:
        if cfg.path is None:
            raise UsageError(
                "a sweep scans the segments of a camscan.toml, and none was found (give --config)"
            )
        raise UsageError(f"{cfg.path} has no [[segment]]: a sweep scans the segments of its config")
    keep = keep_runs if keep_runs is not None else cfg.store.keep_runs
    if keep is not None and keep < 1:
        raise UsageError("--keep-runs must be at least 1")
    chosen = resolve_site(site, cfg)
    targets = resolve_targets(cfg, TargetAsk(all_segments=True))
    scan = plan_scan(cfg, targets, Flags(), interfaces=interfaces)
    return SweepPlan(scan=scan, db=db, site=chosen, keep=keep)
