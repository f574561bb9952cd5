"""`--engine nmap`: nmap (driven through python-nmap) does the routed host discovery and the
port scan on the camera ports; camscan's own safe parser reads nmap's XML (ingest), and
camscan's unicast discovery, banner probes and signatures take over from there.

No `-sV`, no scripts: nmap only says which hosts are up and which camera ports are open.
Rates follow camscan's caps: `--max-rate` is the global cap, `--scan-delay` the per-host one.
nmap is another process, so its packets cannot draw from camscan's rate limiter: it paces its
own from the same numbers, and what camscan sends meanwhile (banners to hosts ARP found, the
multicast round) comes on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from pathlib import Path

from camscan import channels as ch
from camscan.discovery.base import ProbeContext
from camscan.discovery.l3 import CAMERA_PORTS
from camscan.model import Observation, ProbeError
from camscan.targets import TargetSet

NAME = "nmap"
INSTALL_HINT = "install it (Debian: apt-get install nmap) or use --engine camscan"


def nmap_problem() -> str | None:
    """Why --engine nmap cannot run here (one line), or None."""
    if shutil.which("nmap") is None:
        return f"--engine nmap needs the nmap program, which is not installed; {INSTALL_HINT}"
    try:
        import nmap

        nmap.PortScanner()
    except Exception as exc:  # python-nmap raises PortScannerError when nmap will not run
        return f"--engine nmap: nmap does not run ({' '.join(str(exc).split())[:200]})"
    return None


def nmap_arguments(privileged: bool, rate: float, host_rate: float, timeout: float) -> str:
    scan = "-sS" if privileged else "-sT"  # SYN scan needs raw sockets; connect() does not
    delay_ms = max(1, round(1000 / host_rate))
    host_timeout = max(10, round(timeout * 10))
    return (
        f"-n {scan} -T4 --max-retries 1 --max-rate {rate:g} --scan-delay {delay_ms}ms "
        f"--host-timeout {host_timeout}s"
    )


def _scan(hosts: str, arguments: str) -> bytes:
    import nmap

    scanner = nmap.PortScanner()
    scanner.scan(hosts=hosts, ports=",".join(map(str, CAMERA_PORTS)), arguments=arguments)
    out = scanner.get_nmap_last_output()
    return out if isinstance(out, bytes) else str(out).encode()


def _our_nmaps() -> list[int]:
    """PIDs of the nmap processes this process started (python-nmap keeps no handle on them):
    /proc/PID/stat gives each process's name and parent."""
    me, ours = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            parent = int(text[text.rindex(")") + 1 :].split()[1])
            if name == NAME and parent == me:
                ours.append(int(stat.parent.name))
    return ours


def stop_nmap() -> int:
    """End our running nmap (a stopped scan must not wait for it): SIGTERM, as Ctrl-C would.
    Returns how many were told to stop."""
    told = 0
    for pid in _our_nmaps():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
            told += 1
    return told


async def nmap_discover(
    targets: TargetSet,
    ctx: ProbeContext,
    *,
    privileged: bool,
    timeout: float,
) -> tuple[list[Observation], list[ProbeError]]:
    """Observations for every host nmap found up (host.alive, tcp.open per open port)."""
    from camscan.discovery.ingest import IngestError, devices_from_nmap_xml

    hosts = " ".join(str(n) for n in targets.networks)
    arguments = nmap_arguments(privileged, ctx.limiter.rate, ctx.limiter.host_rate, timeout)
    try:
        try:
            xml = await asyncio.to_thread(_scan, hosts, arguments)
        except asyncio.CancelledError:
            # A stop (SIGINT/SIGTERM): the thread waits on nmap, and the process on the thread,
            # so nmap itself is told to end; the partial result is written at once.
            ctx.stats["nmap.stopped"] = stop_nmap()
            raise
        devices = devices_from_nmap_xml(xml)
    except IngestError as exc:
        return [], [ProbeError(NAME, None, f"nmap output unreadable: {exc}")]
    except Exception as exc:  # python-nmap's PortScannerError, a killed nmap, ...
        return [], [ProbeError(NAME, None, f"nmap failed: {' '.join(str(exc).split())[:300]}")]
    found: list[Observation] = []
    for dev in devices:
        if dev.ip not in targets:
            continue  # nmap was told only the targets; keep it that way
        fields = {ch.FIELD_IP: dev.ip}
        found.append(Observation(ch.HOST_ALIVE, "nmap: host up", NAME, dev.ip, None, fields))
        for obs in dev.observations:
            if obs.channel == ch.TCP_OPEN:
                found.append(Observation(ch.TCP_OPEN, obs.raw, NAME, dev.ip, None, dict(fields)))
    ctx.stats["nmap.hosts_up"] = sum(1 for o in found if o.channel == ch.HOST_ALIVE)
    return found, []
