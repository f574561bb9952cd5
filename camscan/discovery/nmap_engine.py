"""`--engine nmap`: nmap does the routed host discovery and the port scan on the camera ports;
camscan's own safe parser reads nmap's XML (ingest), and camscan's unicast discovery, banner
probes and signatures take over from there.

camscan starts nmap itself (`nmap -oX - ...`, as python-nmap would) and keeps the process handle,
so a stop ends exactly that child: SIGTERM, then SIGKILL if it lingers; no search of /proc.
python-nmap only checks that nmap is installed and runs (nmap_problem).

No `-sV`, no scripts: nmap only says which hosts are up and which camera ports are open.
Rates follow camscan's caps: `--max-rate` is the global cap, `--scan-delay` the per-host one.
nmap is another process, so its packets cannot draw from camscan's rate limiter: it paces its
own from the same numbers, and what camscan sends meanwhile (banners to hosts ARP found, the
multicast round) comes on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import shutil

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


STOP_GRACE = 5.0  # seconds nmap gets to end on SIGTERM before it is killed


async def _scan(hosts: list[str], arguments: str, ctx: ProbeContext) -> bytes:
    """nmap's XML for `hosts` on the camera ports; on a stop, nmap is ended through its handle."""
    argv = [
        shutil.which(NAME) or NAME,
        "-oX",
        "-",
        *shlex.split(arguments),
        "-p",
        ",".join(map(str, CAMERA_PORTS)),
        *hosts,
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:
        # A stop (SIGINT/SIGTERM): end nmap as Ctrl-C would; the partial result is written
        # at once.
        ctx.stats["nmap.stopped"] = 1
        raise
    finally:
        if proc.returncode is None:
            await _end(proc)
    if proc.returncode != 0:
        why = " ".join(err.decode("utf-8", "replace").split())[:300]
        raise RuntimeError(why or f"nmap exited with status {proc.returncode}")
    return out


async def _end(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(proc.wait()), STOP_GRACE)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


async def nmap_discover(
    targets: TargetSet,
    ctx: ProbeContext,
    *,
    privileged: bool,
    timeout: float,
) -> tuple[list[Observation], list[ProbeError]]:
    """Observations for every host nmap found up (host.alive, tcp.open per open port)."""
    from camscan.discovery.ingest import IngestError, devices_from_nmap_xml

    hosts = [str(n) for n in targets.networks]
    arguments = nmap_arguments(privileged, ctx.limiter.rate, ctx.limiter.host_rate, timeout)
    try:
        xml = await _scan(hosts, arguments, ctx)
        devices = devices_from_nmap_xml(xml)
    except IngestError as exc:
        return [], [ProbeError(NAME, None, f"nmap output unreadable: {exc}")]
    except Exception as exc:  # nmap refused its arguments, was killed, cannot start, ...
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
