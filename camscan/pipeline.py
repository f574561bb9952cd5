"""One scan, stage by stage: discover -> probe banners -> identify -> policy.

Data flows one way. Each stage records its failures on the run instead of raising, so a bad
device or a failed probe never loses the other results.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import time
from collections import Counter
from collections.abc import Awaitable

from camscan import __version__, channels
from camscan.config import Config
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.macaddr import MacSource
from camscan.model import Device, Observation, ProbeError, ScanResult, ScanRun
from camscan.netif import Interface, interface_for
from camscan.runinfo import data_versions, scanner_host
from camscan.targets import TargetSet


@dataclasses.dataclass(slots=True)
class ScanRequest:
    targets: TargetSet
    interfaces: list[Interface]
    config: Config
    probes: list[str]
    rate: float
    window: float
    timeout: float
    concurrency: int
    privileged: bool


class Progress:
    """Where stages report progress; the CLI draws it on a terminal, cron runs see nothing."""

    def stage(self, name: str, total: int | None = None) -> None:  # pragma: no cover - no-op
        pass

    def advance(self, done: int, total: int) -> None:  # pragma: no cover - no-op
        pass


MULTICAST = ("wsd", "mdns", "sadp", "dhip", "dvrip", "ssdp")


async def _discover(req: ScanRequest, run: ScanRun, progress: Progress) -> list[Observation]:
    """ARP and one multicast round per interface, concurrently, in one bounded window."""
    ctx = ProbeContext(req.interfaces, req.targets, window=req.window, rate=req.rate)
    jobs: dict[str, Awaitable[ProbeOutcome]] = {}
    if "arp" in req.probes:
        from camscan.discovery.arp import ArpProbe

        progress.stage("arp", req.targets.size())
        jobs["arp"] = ArpProbe(progress=progress.advance, privileged=req.privileged).run(ctx)
    multicast = [p for p in req.probes if p in MULTICAST]
    if multicast:
        from camscan.discovery.round import run_round  # zeroconf: only when asked for

        jobs["multicast"] = run_round(ctx, multicast)
    outcomes = await asyncio.gather(*jobs.values(), return_exceptions=True)
    observations: list[Observation] = []
    for name, out in zip(jobs, outcomes, strict=True):
        if isinstance(out, Exception):
            run.errors.append(ProbeError.caught(name, None, out))
            run.partial = True
        elif isinstance(out, BaseException):
            raise out
        else:
            observations.extend(out.observations)
            run.errors.extend(out.errors)
    run.stats.update(ctx.stats)
    return observations


def merge_devices(
    observations: list[Observation], targets: TargetSet, interfaces: list[Interface]
) -> list[Device]:
    """One device per IP; a MAC seen by any probe is attached to it."""
    by_ip: dict[str, Device] = {}
    for obs in observations:
        if not obs.ip:
            continue
        try:
            ip = ipaddress.IPv4Address(obs.ip)
        except ValueError:
            continue
        dev = by_ip.get(obs.ip)
        if dev is None:
            iface = interface_for(ip, interfaces)
            dev = by_ip[obs.ip] = Device(
                ip=obs.ip, in_scope=obs.ip in targets, interface=iface.name if iface else None
            )
        mac = obs.mac or obs.fields.get(channels.FIELD_MAC)
        if mac and (dev.mac is None or obs.channel == channels.ARP_MAC):
            dev.mac = mac.lower()
            wire = MacSource.WIRE if obs.channel == channels.ARP_MAC else MacSource.REPORTED
            dev.mac_source = obs.fields.get(channels.FIELD_MAC_SOURCE) or wire
        dev.observations.append(obs)
    return sorted(by_ip.values(), key=lambda d: ipaddress.IPv4Address(d.ip))


async def _banners(
    req: ScanRequest, devices: list[Device], progress: Progress, stats: Counter[str]
) -> None:
    from camscan.discovery.banners import Limits, grab_banners

    ips = [d.ip for d in devices if d.in_scope]
    if not ips:
        return
    progress.stage("banners", len(ips))
    limits = Limits(deadline=req.timeout, concurrency=req.concurrency)
    results = await grab_banners(ips, limits, progress=progress.advance, stats=stats)
    by_ip = {d.ip: d for d in devices}
    for ip, (obs, errs) in results.items():
        by_ip[ip].observations.extend(obs)
        by_ip[ip].probe_errors.extend(errs)


def identify_devices(devices: list[Device], run: ScanRun) -> None:
    from camscan.identify.engine import identify_device
    from camscan.identify.oui import OuiDB, display_vendor
    from camscan.identify.signatures import SignatureDB

    sigs, ouis = SignatureDB.load(), OuiDB.load()
    for dev in devices:
        try:
            dev.verdict = identify_device(dev, sigs, ouis)
        except Exception as e:  # one bad device must not lose the others
            dev.probe_errors.append(ProbeError.caught("identify", dev.ip, e))
            run.partial = True
        if dev.mac:
            dev.oui_vendor = display_vendor(dev.mac)


def scan(req: ScanRequest, progress: Progress | None = None) -> ScanResult:
    progress = progress or Progress()
    run = ScanRun(
        targets=[str(n) for n in req.targets.networks],
        probes=list(req.probes),
        started=time.time(),
        interfaces=[i.name for i in req.interfaces],
        privileged=req.privileged,
        camscan_version=__version__,
        resolved=dict(req.targets.names),
        excluded=list(req.targets.excluded),
        scanner_host=scanner_host(),
        data_versions=data_versions(),
    )
    clock = time.monotonic()

    def lap(stage: str) -> None:  # stage durations in ms, for users and benchmarks
        nonlocal clock
        now = time.monotonic()
        run.stats[f"ms.{stage}"] = round((now - clock) * 1000)
        clock = now

    observations = asyncio.run(_discover(req, run, progress))
    devices = merge_devices(observations, req.targets, req.interfaces)
    lap("discovery")
    if "banners" in req.probes:
        stats: Counter[str] = Counter()
        try:
            asyncio.run(_banners(req, devices, progress, stats))
        except Exception as e:
            run.errors.append(ProbeError.caught("banners", None, e))
            run.partial = True
        run.stats.update({f"banners.{k}": v for k, v in stats.items()})
        lap("banners")
    progress.stage("identify", len(devices))
    identify_devices(devices, run)
    lap("identify")
    run.ended = time.time()
    result = ScanResult(run=run, devices=devices, segments=list(req.config.segments))
    apply_policy(result, req.config)
    return result


def apply_policy(result: ScanResult, config: Config) -> None:
    from camscan.policy import evaluate_result

    result.findings = evaluate_result(result, config)
    result.policy = dataclasses.asdict(config.policy)
