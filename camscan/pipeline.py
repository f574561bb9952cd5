"""One scan, stage by stage: discover -> inspect (banners) -> identify -> policy; inspection
starts on each host as soon as discovery finds it, while discovery goes on.

The probes come from one registry (camscan/discovery/registry.py): discover-phase probes run
together over the targets, inspect-phase probes over the in-scope devices found, and what each
probe needs (raw sockets) is honoured here.

Data flows one way. Each stage records its failures on the run instead of raising, so a bad
device or a failed probe never loses the other results.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from camscan import __version__, channels, coverage, status
from camscan.config import Config, config_warnings
from camscan.discovery import registry
from camscan.discovery.base import Hints, HostFeed, Judged, ProbeContext, ProbeOutcome
from camscan.discovery.neigh import Neighbours
from camscan.discovery.rate import RateLimiter
from camscan.discovery.registry import Need, Phase, ProbeSpec
from camscan.errors import DataError, ProbeKind
from camscan.macaddr import MacSource
from camscan.model import Device, Finding, Identified, Observation, ProbeError, ScanResult, ScanRun
from camscan.netif import Interface, interface_for
from camscan.runinfo import data_versions, scanner_host
from camscan.settings import ScanSettings
from camscan.stopping import Stopped, StopSignal
from camscan.targets import TargetSet

if TYPE_CHECKING:
    from camscan.identify.advisories import AdvisoryData
    from camscan.identify.oui import OuiDB
    from camscan.identify.signatures import SignatureDB


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScanRequest:
    """One scan, planned: what to scan, through which interfaces, under which config and
    settings (camscan/service.py builds it; nothing changes it on the way)."""

    targets: TargetSet
    interfaces: list[Interface]
    config: Config  # segments and policy
    settings: ScanSettings
    stop: StopSignal = dataclasses.field(default_factory=StopSignal)


class DataFileError(DataError):
    """The signature or OUI data cannot be loaded; the message is one line (exit 2)."""


@dataclasses.dataclass(slots=True)
class IdentifyData:
    """Signatures and OUI blocks, loaded and checked before any packet is sent."""

    signatures: SignatureDB
    ouis: OuiDB
    advisories: AdvisoryData | None = None  # firmware advisories and KEV (None: not assessed)

    @classmethod
    def load(cls) -> IdentifyData:
        from camscan.identify.oui import OuiDataError, OuiDB
        from camscan.identify.signatures import SignatureDB, SignatureError

        try:
            sigs = SignatureDB.load()
        except SignatureError as e:
            problems = list(e.errors) or [str(e)]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise DataFileError(f"signature data: {problems[0]}{more}") from None
        try:
            ouis = OuiDB.load()
        except OuiDataError as e:
            raise DataFileError(f"OUI data: {e}") from None
        from camscan.identify.advisories import AdvisoryData

        try:
            advisories = AdvisoryData.load()
        except DataError as e:
            raise DataFileError(f"advisory data: {e}") from None
        return cls(sigs, ouis, advisories)


class Progress:
    """Where stages report progress; the CLI draws it on a terminal, cron runs see nothing."""

    def stage(self, name: str, total: int | None = None) -> None:  # pragma: no cover - no-op
        pass

    def advance(self, done: int, total: int) -> None:  # pragma: no cover - no-op
        pass


def usable_probes(names: Sequence[str], privileged: bool, run: ScanRun) -> list[ProbeSpec]:
    """The chosen probes this process can run. A raw-socket probe with no unprivileged way is
    skipped when unprivileged, and the run records it (its coverage is missing: partial)."""
    usable = []
    for name in names:
        spec = registry.get(name)
        if not privileged and not spec.runs_unprivileged():
            error = "needs CAP_NET_RAW (run as root, or see README 'What needs root'); skipped"
            run.errors.append(ProbeError(name, None, error, ProbeKind.PERMISSION))
            continue
        usable.append(spec)
    return usable


def _context(
    req: ScanRequest, progress: Progress, limiter: RateLimiter, hints: Hints
) -> ProbeContext:
    return ProbeContext(
        req.interfaces,
        req.targets,
        settings=req.settings,
        limiter=limiter,
        progress=progress.advance,
        snmp=req.config.snmp,
        hints=hints,
        stop=req.stop.event,
    )


async def _discover(
    req: ScanRequest,
    specs: list[ProbeSpec],
    run: ScanRun,
    progress: Progress,
    limiter: RateLimiter,
    on_host: Callable[[str], None] | None = None,
    observations: list[Observation] | None = None,
    hints: Hints | None = None,
) -> list[Observation]:
    """Every discover-phase probe concurrently; the multicast ones in one bounded round.

    Results go into `observations` as each probe ends, so a stop keeps those already in."""
    observations = [] if observations is None else observations
    ctx = _context(req, progress, limiter, hints or Hints(ask_less=False))
    ctx.on_host = on_host
    jobs: dict[str, Awaitable[ProbeOutcome]] = {}
    multicast = []
    for spec in specs:
        if spec.phase is not Phase.DISCOVER:
            continue
        if Need.MULTICAST in spec.needs:
            multicast.append(spec.name)
        else:
            progress.stage(spec.name, req.targets.size())
            jobs[spec.name] = spec.create().run(ctx)
    if multicast:
        from camscan.discovery.round import run_round  # zeroconf: only when asked for

        jobs["multicast"] = run_round(ctx, multicast)
    # The sweeps run one after another, in registry order: the ARP reader is not starved by
    # the L3 sweep, which would lose its replies (the rate cap is the shared limiter's either way).
    previous: asyncio.Future[ProbeOutcome] | None = None
    for spec in specs:
        if spec.sweeps is not None and spec.name in jobs:
            job = jobs[spec.name] if previous is None else _after(previous, jobs[spec.name])
            previous = asyncio.ensure_future(job)
            jobs[spec.name] = previous

    async def collect(name: str, job: Awaitable[ProbeOutcome]) -> None:
        try:
            out = await job
        except Exception as e:  # a crashed probe is recorded, the other probes go on
            run.errors.append(ProbeError.caught(name, None, e))
            return
        observations.extend(out.observations)
        run.errors.extend(out.errors)

    try:
        await asyncio.gather(*(collect(name, job) for name, job in jobs.items()))
    finally:
        run.stats.update(ctx.stats)
    return observations


async def _after(first: asyncio.Future[ProbeOutcome], job: Awaitable[ProbeOutcome]) -> ProbeOutcome:
    await asyncio.wait([first])  # whatever its outcome: it is reported by itself
    return await job


def _mac_rank(source: str | None) -> int:
    """Which MAC a device keeps: the wire's, then a router's ARP table's, then a reported one."""
    ranks: dict[str | None, int] = {None: 0, MacSource.WIRE: 0, MacSource.ROUTER: 1}
    return ranks.get(source, 2)


def _take_mac(dev: Device, obs: Observation) -> None:
    """The observation's MAC becomes the device's when none is known or it ranks higher (the
    wire's, then a router's ARP table's, then a reported one); an ARP answer always does."""
    mac = obs.mac or obs.fields.get(channels.FIELD_MAC)
    if mac:
        wire = MacSource.WIRE if obs.channel in channels.WIRE_MACS else MacSource.REPORTED
        source = obs.fields.get(channels.FIELD_MAC_SOURCE) or wire
        ranks_higher = _mac_rank(source) < _mac_rank(dev.mac_source)
        if dev.mac is None or ranks_higher or obs.channel == channels.ARP_MAC:
            dev.mac, dev.mac_source = mac.lower(), source


# Seconds inspection of a host waits, from the start of discovery, for the first multicast
# replies (they come in 20-120 ms on a LAN): a device they already name is then asked nothing.
SETTLE = 0.5


def known_judge(
    data: IdentifyData, targets: TargetSet, listed: frozenset[str]
) -> Callable[[str, list[Observation]], Judged | None]:
    """Identify's verdict on what discovery heard from one host (bounded CPU): its maker when
    that is high confidence with no other maker named, and why it needs asking nothing more
    when its maker, equipment class, model and firmware are known (high confidence, no
    conflicting maker or class). The maker is who built it, as identify judges it: a Hikvision
    sold under another brand is a Hikvision by its SADP, OUI or web server evidence."""
    from camscan.identify import makers
    from camscan.identify.engine import identify_device

    def judge(ip: str, heard: list[Observation]) -> Judged | None:
        if ip not in targets:
            return None
        mac = next((m for o in heard if (m := o.mac or o.fields.get(channels.FIELD_MAC))), None)
        try:
            device = Device(ip=ip, mac=mac, observations=list(heard))
            v = identify_device(device, data.signatures, data.ouis, listed)
        except Exception:  # judged again at identify, where a failure is recorded
            return None
        if not v.maker or v.confidence_label != "high" or v.conflicts:
            return None
        probes = ", ".join(sorted({o.probe for o in heard}))
        why = f"maker {makers.display_name(v.maker)}, high confidence ({probes})"
        kind = v.equipment.kind
        if not (v.model and v.firmware) or v.equipment.conflicts or kind in ("unknown", "other"):
            return Judged(v.maker, why)
        known = f"{v.maker} {kind} {v.model}, firmware {v.firmware}, high confidence ({probes})"
        return Judged(v.maker, why, known)

    return judge


def merge_devices(
    observations: list[Observation], targets: TargetSet, interfaces: list[Interface]
) -> list[Device]:
    """One device per IP; a MAC seen by any probe is attached to it. Then the addresses with
    one MAC read in one place join (join_devices: a dual-stack device is one device, under its
    IPv4 address; an IPv6-only one under its global address)."""
    by_ip: dict[str, Device] = {}
    for obs in observations:
        if not obs.ip:
            continue
        try:
            ip = ipaddress.ip_address(obs.ip)
        except ValueError:
            continue
        dev = by_ip.get(obs.ip)
        if dev is None:
            iface = interface_for(ip, interfaces) if ip.version == 4 else None
            dev = by_ip[obs.ip] = Device(
                ip=obs.ip, in_scope=obs.ip in targets, interface=iface.name if iface else None
            )
        if dev.interface is None:  # not on any attached network: where was it heard?
            dev.interface = obs.fields.get(channels.FIELD_INTERFACE) or None
        _take_mac(dev, obs)
        dev.observations.append(obs)
    return join_devices(list(by_ip.values()))


def join_devices(devices: list[Device]) -> list[Device]:
    """The IPv6 addresses whose MAC was read where the device's other addresses' was (the
    scanner's link, or one interface of one router: _join_key) join that device; run again
    once an inspect-phase probe (snmp) has given the routed devices their MACs."""
    return sorted(_fold_ipv6(devices), key=_address_order)


def _address_order(dev: Device) -> tuple[int, int, str]:
    addr = ipaddress.ip_address(dev.ip)
    return (addr.version, int(addr), dev.ip)


def _primary(dev: Device) -> tuple[int, int, int]:
    """Which address names a device: IPv4, then an in-scope global IPv6 one, then link-local."""
    addr = ipaddress.ip_address(dev.ip)
    return (addr.version, 0 if dev.in_scope else 1, 1 if addr.is_link_local else 0)


def _join_key(dev: Device) -> tuple[str, ...] | None:
    """Where the device's MAC was read, when that can join its addresses to another device's:
    on the scanner's link (ARP, neighbour discovery, or an IPv6 address's own EUI-64 interface
    id: derived, the unprivileged way), or on one router interface whose table gives the MAC to
    one host (snmp's `router_link`). A MAC a payload reported joins nothing, and a MAC read in
    two places (the link and a router, two routers) joins nothing across them."""
    if dev.mac is None:
        return None
    if dev.mac_source == MacSource.ROUTER:
        links = {
            o.fields.get(channels.FIELD_ROUTER_LINK)
            for o in dev.observations
            if o.channel == channels.SNMP_ROUTER_MAC and o.mac == dev.mac
        }
        link = links.pop() if len(links) == 1 else None
        return ("router", link, dev.mac) if link else None
    v6 = ":" in dev.ip
    linked = (MacSource.WIRE, MacSource.DERIVED) if v6 else (None, MacSource.WIRE)
    return ("link", dev.mac) if dev.mac_source in linked else None


def _fold_ipv6(devices: list[Device]) -> list[Device]:
    by_key: dict[tuple[str, ...], list[Device]] = {}
    kept: list[Device] = []
    for dev in devices:
        key = _join_key(dev)
        if key is None:
            kept.append(dev)
        else:
            by_key.setdefault(key, []).append(dev)
    for group in by_key.values():
        v4 = [d for d in group if ":" not in d.ip]
        v6 = sorted((d for d in group if ":" in d.ip), key=_primary)
        if len(v4) > 1 or not v6:  # two IPv4 addresses, one MAC (a router, a proxy): as they are
            kept += group
            continue
        head = v4[0] if v4 else v6.pop(0)
        # each one's IPv6 addresses: its own, or those an earlier join gave it
        addresses = [a for d in (head, *v6) for a in ((d.ipv6 or [d.ip]) if ":" in d.ip else [])]
        for other in v6:
            head.observations += other.observations
            head.probe_errors += other.probe_errors
            head.in_scope = head.in_scope or other.in_scope
            head.interface = head.interface or other.interface
            if other.mac_source == MacSource.WIRE:
                head.mac_source = MacSource.WIRE
        head.ipv6 = list(dict.fromkeys([*head.ipv6, *addresses]))
        kept.append(head)
    for dev in kept:
        if ":" in dev.ip and not dev.ipv6:
            dev.ipv6 = [dev.ip]
        dev.ipv6_reported = _reported_ipv6(dev)
    return kept


MAX_REPORTED_IPV6 = 16  # per device: a reply cannot grow a record without bound


def _reported_ipv6(dev: Device) -> list[str]:
    """The IPv6 addresses the device's own replies state, in order, once each (kept apart from
    `ipv6`: a payload can claim anything, so they join no device)."""
    found: dict[str, None] = {}
    for obs in dev.observations:
        for addr in obs.fields.get(channels.FIELD_REPORTED_IPV6, "").split():
            if len(found) < MAX_REPORTED_IPV6:
                found[addr] = None
    return list(found)


@dataclasses.dataclass(slots=True)
class _Found:
    """What the probe stages have found so far: kept when a signal cuts them short."""

    observations: list[Observation] = dataclasses.field(default_factory=list)
    inspected: list[ProbeOutcome] = dataclasses.field(default_factory=list)
    discovered_at: float | None = None


async def _discover_and_inspect(
    req: ScanRequest,
    specs: list[ProbeSpec],
    run: ScanRun,
    progress: Progress,
    found: _Found,
    hints: Hints,
) -> None:
    """Discovery and inspection overlap: each in-scope host a discovery probe finds (ARP, as
    each answer comes) is handed at once to every inspect-phase probe, so banners start on it
    while the sweep goes on and the multicast window is still open. Hosts only the multicast
    round reports join when it ends. Fills `found`: discovery's observations, the inspect
    outcomes, and when discovery ended (time.monotonic())."""
    inspect = [s for s in specs if s.phase is Phase.INSPECT]
    feeds = [HostFeed() for _ in inspect]
    discovering = True

    def on_host(ip: str) -> None:
        if ip in req.targets:  # in scope only: replies from outside are never probed further
            for feed in feeds:
                feed.put(ip)

    def inspect_progress(done: int, total: int) -> None:
        if not discovering:  # the bar shows discovery until it ends, then the inspect tail
            progress.advance(done, total)

    contexts = []
    finished: dict[str, float] = {}
    limits = req.settings.limits  # the run's one limiter: every probe draws from it
    neighbours = Neighbours()  # as root: the ARP sweep's MACs, handed to the kernel when due
    limiter = RateLimiter(limits.rate, limits.host_rate, neighbours)

    async def inspect_one(spec: ProbeSpec, ctx: ProbeContext) -> ProbeOutcome:
        try:
            return await spec.create().run(ctx)
        finally:
            finished[spec.name] = time.monotonic()

    if req.settings.ask_less and any(Need.MULTICAST in s.needs for s in specs):
        hints.settle_at = time.monotonic() + min(SETTLE, req.settings.timeouts.window)
    tasks = []
    for spec, feed in zip(inspect, feeds, strict=True):
        ctx = _context(req, progress, limiter, hints)
        ctx.feed, ctx.progress = feed, inspect_progress
        contexts.append(ctx)
        tasks.append(asyncio.create_task(inspect_one(spec, ctx)))
    try:
        on = on_host if feeds else None
        observations = await _discover(
            req, specs, run, progress, limiter, on, found.observations, hints
        )
        discovered_at = found.discovered_at = time.monotonic()
        req.stop.stage = ", ".join(s.name for s in inspect) or "discovery"
        for obs in observations:
            if obs.ip:
                on_host(obs.ip)
    finally:
        discovering = False
        for spec, feed in zip(inspect, feeds, strict=True):
            if feed.seen:
                progress.stage(spec.name, len(feed.seen))
            feed.close()
    try:
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:  # a stop cancels the gather: the netlink socket still closes
        neighbours.close()
    run.stats.update(neighbours.stats)
    for spec, ctx, out in zip(inspect, contexts, outcomes, strict=True):
        run.stats.update(ctx.stats)
        # inspection overlaps discovery: its lap is the time it took past discovery's end
        run.stats[f"ms.{spec.name}"] = round(max(0.0, finished[spec.name] - discovered_at) * 1000)
        if isinstance(out, Exception):  # a probe bug must not lose what discovery found
            run.errors.append(ProbeError.caught(spec.name, None, out))
        elif isinstance(out, BaseException):
            raise out
        else:
            found.inspected.append(out)


def _attach(outcome: ProbeOutcome, devices: list[Device], run: ScanRun) -> None:
    """What an inspect-phase probe found goes to each device (by any of its addresses)."""
    by_ip = {ip: d for d in devices for ip in (*d.ipv6, d.ip)}
    for obs in outcome.observations:
        if obs.ip in by_ip:
            if obs.fields.get(channels.FIELD_MAC_SOURCE):  # a MAC that says how it was learned
                _take_mac(by_ip[obs.ip], obs)  # (a router's ARP table, read by snmp)
            by_ip[obs.ip].observations.append(obs)
    for err in outcome.errors:
        dev = by_ip.get(err.target or "")
        (dev.probe_errors if dev else run.errors).append(err)


def identify_verdicts(
    devices: list[Device], data: IdentifyData, listed: frozenset[str] | None = None
) -> tuple[Identified, ...]:
    """identify's stage: one Identified value per device, in order; changes no device.
    `listed`: the configured [policy] listed_makers, which win a tie (None: the default)."""
    from camscan.identify.engine import identify_device
    from camscan.identify.oui import display_vendor

    out = []
    for dev in devices:
        verdict, error = None, None
        try:
            verdict = identify_device(dev, data.signatures, data.ouis, listed)
        except Exception as e:  # one bad device must not lose the others
            error = ProbeError.caught("identify", dev.ip, e)
        vendor = display_vendor(dev.mac) if dev.mac else None
        exposure = None
        if verdict is not None and data.advisories is not None:
            from camscan.identify.advisories import assess

            exposure = assess(verdict, data.advisories)  # read-only: versions already heard
        out.append(Identified(dev.ip, dev.mac, verdict, vendor, error, exposure))
    return tuple(out)


def apply_verdicts(devices: list[Device], identified: tuple[Identified, ...]) -> None:
    """Put identify's values on the devices they name; an error keeps the device's verdict (and
    makes the run partial: camscan/status.py lists it)."""
    for dev, ident in zip(devices, identified, strict=True):
        assert (dev.ip, dev.mac) == (ident.ip, ident.mac), "verdicts out of step with devices"
        if ident.verdict is not None:
            dev.verdict = ident.verdict
            dev.exposure = ident.exposure
        if ident.error is not None:
            dev.probe_errors.append(ident.error)
        if dev.mac:
            dev.oui_vendor = ident.oui_vendor


def identify_devices(
    devices: list[Device],
    data: IdentifyData | None = None,
    listed: frozenset[str] | None = None,
) -> None:
    apply_verdicts(devices, identify_verdicts(devices, data or IdentifyData.load(), listed))


def _device_errors_to_devices(run: ScanRun, devices: list[Device]) -> None:
    """A probe error about one device (an SSDP description that timed out) is that device's,
    not a failed stage: it moves to the device and does not make the run partial."""
    by_ip = {d.ip: d for d in devices}
    kept = []
    for e in run.errors:
        if e.target is not None and e.target in by_ip:
            by_ip[e.target].probe_errors.append(e)
        else:
            kept.append(e)
    run.errors = kept


def scan(
    req: ScanRequest, progress: Progress | None = None, data: IdentifyData | None = None
) -> ScanResult:
    """Run every stage; a signal (req.stop) ends the probe stages early, never the result."""
    progress = progress or Progress()
    data = data or IdentifyData.load()  # before any packet: a bad data file loses nothing
    run = ScanRun(
        targets=[str(n) for n in [*req.targets.networks, *req.targets.v6]],
        probes=list(req.settings.probes),
        started=time.time(),
        interfaces=list(dict.fromkeys([*(i.name for i in req.interfaces), *req.targets.links])),
        privileged=req.settings.privileged,
        camscan_version=__version__,
        resolved=dict(req.targets.names),
        excluded=list(req.targets.excluded),
        scanner_host=scanner_host(),
        data_versions=data_versions(),
        warnings=config_warnings(req.config),
    )
    if data.advisories is not None:  # which advisories and KEV catalogue judged the firmware
        run.data_versions["advisories"] = data.advisories.version_label()
    clock = time.monotonic()

    def lap(stage: str) -> None:  # stage durations in ms, for users and benchmarks
        nonlocal clock
        now = time.monotonic()
        run.stats[f"ms.{stage}"] = round((now - clock) * 1000)
        clock = now

    s = req.settings
    planned = coverage.plan(req.targets, req.interfaces, req.config.segments, s.probes, s.engine)
    specs = usable_probes(s.probes, s.privileged, run)
    found = _Found()
    listed = frozenset(req.config.policy.listed_makers)  # a tie goes to a maker the user lists
    hints = Hints(known_judge(data, req.targets, listed), ask_less=s.ask_less)
    try:
        req.stop.run("discovery", _discover_and_inspect(req, specs, run, progress, found, hints))
    except Stopped:
        run.stopped = req.stop.describe()
    discovered_at = found.discovered_at or time.monotonic()
    run.stats["ms.discovery"] = round((discovered_at - clock) * 1000)
    devices = merge_devices(found.observations, req.targets, req.interfaces)
    for outcome in found.inspected:
        _attach(outcome, devices, run)
    devices = join_devices(devices)  # routed addresses that snmp's router MACs join
    clock = time.monotonic()
    progress.stage("identify", len(devices))
    identified = identify_verdicts(devices, data, listed)  # bounded CPU: runs after a signal too
    apply_verdicts(devices, identified)
    lap("identify")
    if req.stop.stopped and run.stopped is None:  # the signal came after the probe stages
        run.stopped = req.stop.describe()
    _device_errors_to_devices(run, devices)
    run.ended = time.time()
    judged = ScanResult(
        run=status.settle(run, planned, devices),
        devices=devices,
        segments=list(req.config.segments),
    )
    return assemble(judged, judge(judged, req.config), req.config)


def judge(result: ScanResult, config: Config) -> tuple[Finding, ...]:
    """policy's stage: the findings about `result`'s devices; changes nothing."""
    from camscan.policy import evaluate_result

    return evaluate_result(result, config)


def assemble(result: ScanResult, findings: tuple[Finding, ...], config: Config) -> ScanResult:
    """The ScanResult handed to report and store: `result` with policy's findings."""
    return dataclasses.replace(
        result, findings=list(findings), policy=dataclasses.asdict(config.policy)
    )


def apply_policy(result: ScanResult, config: Config) -> None:
    """For callers holding a result (offline identify, tests): fill in its findings."""
    result.findings = list(judge(result, config))
    result.policy = dataclasses.asdict(config.policy)
