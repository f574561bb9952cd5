"""TCP plumbing every banner probe shares, and the two vendor SDK port probes.

Failures are sorted in two kinds: `Quiet` (nothing listens, or a port speaks another protocol
where that is expected) produces no observation and no error; `ProbeFailure` is a device that
answered badly and becomes a one-line ProbeError.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno

from camscan import channels, errors
from camscan.discovery.banners.limits import Limits
from camscan.discovery.connect import open_now
from camscan.errors import ProbeKind, kind_of
from camscan.model import Observation

READ_CHUNK = 16384


class Quiet(Exception):
    """Nothing to report: port closed, filtered, or unreachable."""


class Unanswered(Quiet):
    """The handshake got no answer at all (no SYN-ACK, no reset): dropped or filtered."""


class ProbeFailure(errors.ProbeFailure):
    """The device answered, but badly; str(self) is the one-line reason."""

    def __init__(self, message: str, kind: ProbeKind = ProbeKind.MALFORMED) -> None:
        super().__init__(message, kind)


@dataclasses.dataclass(slots=True)
class Kept:
    """A connection the device kept open after a whole reply (HTTP keep-alive, RTSP): the next
    request of the same port may go on it instead of a new connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        close(self.writer)


class Stale:
    """A kept connection that the device had closed before the request got any reply (a
    keep-alive race, or a device that hangs up after one answer): ask again on a new one."""


STALE = Stale()


# Errors that mean "nobody is listening there", kept quiet: a LAN sweep hits thousands.
_QUIET_ERRNOS = {
    errno.ECONNREFUSED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EHOSTDOWN,
    errno.ETIMEDOUT,
    errno.EADDRNOTAVAIL,
}


async def open_tcp(
    ip: str, port: int, limits: Limits
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        async with asyncio.timeout(limits.connect_timeout):
            return await open_now(ip, port)
    except TimeoutError:
        raise Unanswered(f"connect timeout after {limits.connect_timeout:.1f}s") from None
    except OSError as exc:
        if isinstance(exc, ConnectionRefusedError) or exc.errno in _QUIET_ERRNOS:
            raise Quiet(exc.strerror or "unreachable") from None
        raise ProbeFailure(f"connect failed: {describe_oserror(exc)}", kind_of(exc)) from None


def close(writer: asyncio.StreamWriter) -> None:
    """Drop the connection at once: a read-only probe has nothing left to flush."""
    with contextlib.suppress(Exception):
        writer.transport.abort()


def describe_oserror(exc: OSError) -> str:
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    text = exc.strerror or str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]


async def read_some(reader: asyncio.StreamReader, limits: Limits, size: int = READ_CHUNK) -> bytes:
    """The next bytes (b"" at end of stream); silence past read_timeout is a failure."""
    try:
        async with asyncio.timeout(limits.read_timeout):
            return await reader.read(size)
    except TimeoutError:
        raise ProbeFailure(f"no data for {limits.read_timeout:.1f}s", ProbeKind.TIMEOUT) from None
    except OSError as exc:
        raise ProbeFailure(describe_oserror(exc), kind_of(exc)) from None


async def send(writer: asyncio.StreamWriter, data: bytes, limits: Limits) -> None:
    try:
        writer.write(data)
        async with asyncio.timeout(limits.read_timeout):
            await writer.drain()
    except TimeoutError:
        stalled = f"send stalled for {limits.read_timeout:.1f}s"
        raise ProbeFailure(stalled, ProbeKind.TIMEOUT) from None
    except OSError as exc:
        raise ProbeFailure(describe_oserror(exc), kind_of(exc)) from None


def _observation(ip: str, port: int, channel: str, raw: str) -> Observation:
    return Observation(
        channel=channel,
        raw=raw,
        probe=f"tcp:{port}",
        ip=ip,
        fields={channels.FIELD_PORT: str(port)},
    )


async def probe_open(ip: str, port: int, limits: Limits, out: list[Observation]) -> bool:
    """Connect and hang up (Dahua 37777: an open port is itself medium evidence)."""
    _, writer = await open_tcp(ip, port, limits)
    close(writer)
    out.append(_observation(ip, port, channels.TCP_OPEN, str(port)))
    return True


async def probe_banner(ip: str, port: int, limits: Limits, out: list[Observation]) -> bytes:
    """Connect, send nothing, keep what the port says first (Hikvision 8000 sends a 16-byte
    frame). Returns the banner; b"" when the port stayed silent for banner_wait."""
    reader, writer = await open_tcp(ip, port, limits)
    out.append(_observation(ip, port, channels.TCP_OPEN, str(port)))
    banner = b""
    try:
        wait = limits.banner_wait
        while len(banner) < limits.max_banner_bytes:
            try:
                async with asyncio.timeout(wait):
                    chunk = await reader.read(limits.max_banner_bytes - len(banner))
            except TimeoutError:
                break
            except OSError:
                break  # a reset after a banner still leaves the banner worth keeping
            if not chunk:
                break
            banner += chunk
            wait = 0.1  # the rest of a frame follows at once, if at all
    finally:
        close(writer)
    if banner:
        out.append(_observation(ip, port, channels.TCP_BANNER + str(port), banner.hex()))
    return banner
