"""The application service for `camscan identify` and `camscan import`: devices read from a
file (observations, banners, nmap XML, captures, Zeek logs), identified and judged like a
scan's, the result assembled once; nothing is sent."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from camscan.config import Config
from camscan.errors import UsageError

if TYPE_CHECKING:
    from camscan.discovery.ingest import NmapRun
    from camscan.discovery.passive.dissect import Heard
    from camscan.discovery.passive.heard import Source
    from camscan.model import Device, ScanResult, ScanRun
    from camscan.status import RunStatus


@dataclasses.dataclass(frozen=True, slots=True)
class OfflineInput:
    devices: list[Device]
    skipped: tuple[str, ...] = ()  # input lines that could not be read
    name: str = "standard input"


def read_identify_input(path: Path | None) -> OfflineInput:
    """`camscan identify`'s input (None: standard input): one device per address (or MAC)."""
    from camscan.discovery.ingest import read_observations
    from camscan.model import Device

    name = str(path) if path else "standard input"
    try:
        if path:
            with path.open("rb") as stream:
                observations, errors = read_observations(stream)
        else:
            observations, errors = read_observations(sys.stdin.buffer)
    except OSError as e:
        raise UsageError(f"cannot read {name}: {e.strerror or e}") from None
    if not observations:
        if errors and errors[0].startswith("no observation"):
            raise UsageError(f"{name}: {errors[0]}")
        why = f" ({errors[0]})" if errors else " (expected JSON lines or a banner)"
        raise UsageError(f"{name}: no observations in the input{why}")
    devices: dict[str, Device] = {}
    for obs in observations:
        key = obs.ip or obs.mac or "input"
        dev = devices.setdefault(key, Device(ip=obs.ip or "", mac=obs.mac))
        dev.mac = dev.mac or obs.mac
        dev.observations.append(obs)
    return OfflineInput(list(devices.values()), tuple(errors), name)


# fills in what a source knows of its run; returns a passive source's status
Prepare = Callable[["ScanRun", list["Device"]], "RunStatus | None"]


def classify(
    given: OfflineInput, probe: str, cfg: Config, prepare: Prepare | None = None
) -> ScanResult:
    """Identify and judge devices read from a file, assembled once. Lines that could not be
    read are recorded as errors and make the result partial (camscan/status.py), so a
    half-read file never passes as clean. `prepare` fills in what a source knows of its run
    (a capture: errors, times) and returns the status a passive source decides
    (camscan/status.py `heard_status`)."""
    import time

    from camscan import __version__
    from camscan.errors import ProbeKind
    from camscan.model import ProbeError, ScanResult, ScanRun
    from camscan.pipeline import assemble, identify_devices, judge
    from camscan.runinfo import data_versions, scanner_host
    from camscan.status import settle

    now = time.time()
    errors = [ProbeError(probe, None, line, ProbeKind.MALFORMED) for line in given.skipped[:1000]]
    run = ScanRun(
        targets=[],
        probes=[probe],
        started=now,
        ended=now,
        camscan_version=__version__,
        scanner_host=scanner_host(),
        data_versions=data_versions(),
        errors=errors,
    )
    devices = given.devices
    heard = prepare(run, devices) if prepare is not None else None
    identify_devices(devices, listed=frozenset(cfg.policy.listed_makers))  # ties: listed
    judged = ScanResult(
        run=settle(run, None, devices, heard), devices=devices, segments=list(cfg.segments)
    )
    return assemble(judged, judge(judged, cfg), cfg)


def nmap_run(info: NmapRun) -> Prepare:
    """An imported nmap run keeps what its XML says of itself: nmap's own start and end time
    and arguments. The XML names no host and not whether nmap had raw sockets: the scanner host
    is "" (not this host, which only read the file) and `privileged` is None (not recorded)."""

    def prepare(run: ScanRun, devices: list[Device]) -> None:
        del devices
        run.started = info.started if info.started is not None else run.started
        run.ended = info.ended if info.ended is not None else run.started
        run.args = info.args
        run.scanner_host = ""
        run.privileged = None

    return prepare


def passive_run(heard: Heard, sources: Sequence[Source], cfg: Config) -> Prepare:
    """What a passive source (a capture, a listening session, Zeek logs) knows of its run: what
    was listened to, its counts and errors (a device's to the device), and its status, which
    is never exhaustive (camscan/status.py `heard_status`)."""
    from camscan.discovery.passive.heard import coverage
    from camscan.status import heard_status

    def prepare(run: ScanRun, devices: list[Device]) -> RunStatus:
        run.probes = ["passive"]
        run.interfaces = [s.name for s in sources if s.kind == "interface"]
        run.stats.update(heard.stats)
        run.stats["passive.packets"] = sum(s.packets for s in sources)
        run.stats["passive.parsed"] = sum(s.parsed for s in sources)
        by_ip = {d.ip: d for d in devices}
        for err in heard.errors:
            (by_ip[err.target].probe_errors if err.target in by_ip else run.errors).append(err)
        return heard_status(*coverage(list(sources), list(cfg.segments), devices))

    return prepare
