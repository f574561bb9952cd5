"""SSDP: one M-SEARCH ssdp:all to 239.255.255.250:1900, then each in-target device's
UPnP description (manufacturer, model, serial) from its LOCATION URL.

The description is fetched only when LOCATION names the replying device itself by IPv4 literal
and that device is in the targets: a reply must not steer camscan to another host. No redirects
are followed; the body is capped at the reply limit. The fetch is a coroutine under one
deadline (no thread): a device that drips its description costs FETCH_DEADLINE, then it is
cancelled like any other task, and SIGINT stops it at once.
"""

from __future__ import annotations

import asyncio
import urllib.parse

from camscan import channels as ch
from camscan.discovery import registry
from camscan.discovery.banners.http import build_request, read_body, read_head
from camscan.discovery.banners.limits import Limits
from camscan.discovery.banners.tcpports import ProbeFailure, Quiet, close, open_tcp, send
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import (
    RAW_LIMIT,
    Datagram,
    UdpPlan,
    clean_field,
    collect,
    find_text,
    parse_xml,
)
from camscan.discovery.rate import RateLimiter
from camscan.errors import ProbeKind, kind_of
from camscan.model import Observation, ProbeError
from camscan.targets import TargetSet

NAME = "ssdp"
PORT, GROUP = registry.udp(NAME).port, registry.group(NAME)  # declared in the registry
MAX_HEADER_LINES = 64
MAX_FETCHES = 64  # descriptions per round
FETCH_DEADLINE = 1.0  # seconds per description, connect to last byte; also the grace after
M_SEARCH = (
    b"M-SEARCH * HTTP/1.1\r\n"
    b"HOST: 239.255.255.250:1900\r\n"
    b'MAN: "ssdp:discover"\r\n'
    b"MX: 1\r\n"
    b"ST: ssdp:all\r\n"
    b"\r\n"
)

# description element -> Observation.fields key
_DESCRIPTION_FIELDS = {
    "manufacturer": ch.FIELD_BADGE,
    "modelName": ch.FIELD_MODEL,
    "modelNumber": "model_number",
    "serialNumber": ch.FIELD_SERIAL,
    "friendlyName": "friendly_name",
    "UDN": "udn",
}


def _headers(data: bytes) -> tuple[str, dict[str, str]] | None:
    text = data.decode("utf-8", errors="replace")
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.replace("\r\n", "\n").split("\n")
    if len(lines) > MAX_HEADER_LINES:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        cleaned = clean_field(value)
        if sep and cleaned:
            headers.setdefault(name.strip().lower(), cleaned)
    return lines[0].strip(), headers


def parse_ssdp(data: bytes, src_ip: str, notify: bool = False) -> list[Observation] | None:
    """An M-SEARCH response -> ssdp.header.server / ssdp.usn observations; [] for requests.
    `notify`: also read a device's own NOTIFY ssdp:alive (passive listening)."""
    parsed = _headers(data)
    if parsed is None:
        return None
    status, headers = parsed
    alive = notify and status.startswith("NOTIFY") and headers.get("nts") == "ssdp:alive"
    if status.startswith(("M-SEARCH", "NOTIFY")) and not alive:
        return []
    if not alive and (not status.startswith("HTTP/1.") or " 200" not in status):
        return None
    fields = {ch.FIELD_IP: src_ip}
    for header in ("location", "st", "server", "usn"):
        if header in headers:
            fields[header] = headers[header]
    found = []
    if "server" in headers:
        found.append(Observation(ch.SSDP_SERVER, headers["server"], NAME, src_ip, None, fields))
    if "usn" in headers:
        found.append(Observation(ch.SSDP_USN, headers["usn"], NAME, src_ip, None, dict(fields)))
    return found


def parse_description(data: bytes, src_ip: str) -> list[Observation] | None:
    """A UPnP device description -> upnp.manufacturer / upnp.model / upnp.device_type."""
    root = parse_xml(data)
    if root is None:
        return None
    fields = {ch.FIELD_IP: src_ip}
    for element, key in _DESCRIPTION_FIELDS.items():
        value = clean_field(find_text(root, element))
        if value:
            fields[key] = value
    found = []
    if ch.FIELD_BADGE in fields:
        raw = fields[ch.FIELD_BADGE]
        found.append(Observation(ch.UPNP_MANUFACTURER, raw, NAME, src_ip, None, fields))
    model = fields.get(ch.FIELD_MODEL) or fields.get("model_number")
    if model:
        found.append(Observation(ch.UPNP_MODEL, model, NAME, src_ip, None, dict(fields)))
    device_type = clean_field(find_text(root, "deviceType"))
    if device_type:  # what kind of device it says it is (a media server is not a camera)
        found.append(
            Observation(ch.UPNP_DEVICE_TYPE, device_type, NAME, src_ip, None, dict(fields))
        )
    return found


def description_target(location: str, src_ip: str, targets: TargetSet) -> tuple[int, str] | None:
    """(port, path) when LOCATION is plain HTTP to the replying, in-target device; else None."""
    try:
        url = urllib.parse.urlsplit(location)
        host, port = url.hostname, url.port or 80
    except ValueError:
        return None
    if url.scheme != "http" or host != src_ip or src_ip not in targets:
        return None
    return port, (url.path or "/") + (f"?{url.query}" if url.query else "")


async def fetch_description(
    ip: str,
    port: int,
    path: str,
    cap: int,
    deadline: float = FETCH_DEADLINE,
    limiter: RateLimiter | None = None,
) -> bytes | None:
    """GET the description under one overall deadline; None unless a whole 200 body <= cap.
    The connection draws from `limiter` (the run's) like every other.

    Raises ProbeFailure (bad or slow device) or TimeoutError (deadline)."""
    limits = Limits(
        connect_timeout=deadline,
        read_timeout=deadline,
        deadline=deadline,
        max_head_bytes=min(cap, 16384),
        max_body_bytes=cap,
    )
    if limiter is not None:
        await limiter.slot(ip)  # then the SYN at once (asyncio.timeout does not wait)
    async with asyncio.timeout(deadline):
        try:
            reader, writer = await open_tcp(ip, port, limits)
        except Quiet as exc:
            raise ProbeFailure(str(exc)) from None
        try:
            await send(writer, build_request("GET", path, ip, port, 80), limits)
            head, rest = await read_head(reader, limits, "HTTP")
            body = bytearray()
            whole = await read_body(reader, head, rest, limits, body, cap, until_eof=True)
        finally:
            close(writer)
    return bytes(body) if head.status == 200 and whole and len(body) <= cap else None


class SsdpProbe:
    name = NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        fetches: dict[tuple[str, int, str], asyncio.Task[bytes | None]] = {}

        def on_reply(d: Datagram) -> None:
            parsed = _headers(d.data)
            location = parsed[1].get("location") if parsed else None
            where = description_target(location, d.src_ip, ctx.targets) if location else None
            if where and (d.src_ip, *where) not in fetches and len(fetches) < MAX_FETCHES:
                fetch = fetch_description(
                    d.src_ip, *where, ctx.settings.limits.max_reply_bytes, limiter=ctx.limiter
                )
                fetches[(d.src_ip, *where)] = asyncio.create_task(fetch)

        plans = [
            UdpPlan(
                iface, [M_SEARCH], [(GROUP, PORT)], repeat_after=ctx.settings.timeouts.window / 3
            )
            for iface in ctx.interfaces
        ]
        observations, errors = await collect(ctx, NAME, plans, parse_ssdp, on_reply)
        if fetches:
            await asyncio.wait(fetches.values(), timeout=FETCH_DEADLINE)
            for task in fetches.values():
                task.cancel()  # no-op for finished ones; coroutines end at their next await
            await asyncio.gather(*fetches.values(), return_exceptions=True)
        for (ip, port, path), task in fetches.items():
            if task.cancelled() or isinstance(task.exception(), TimeoutError):
                error = f"description :{port}{path} timed out after {FETCH_DEADLINE:.1f} s"
                errors.append(ProbeError(NAME, ip, error[:RAW_LIMIT], ProbeKind.TIMEOUT))
            elif (exc := task.exception()) is not None:
                error = " ".join(f"description :{port}{path}: {exc}".split())
                errors.append(ProbeError(NAME, ip, error[:RAW_LIMIT], kind_of(exc)))
            else:
                body = task.result()
                parsed = parse_description(body, ip) if body is not None else None
                if parsed is None:
                    ctx.stats[f"{NAME}.dropped"] += 1
                else:
                    observations += parsed
        return ProbeOutcome(observations, errors)


def parse_notify(data: bytes, src_ip: str) -> list[Observation] | None:
    """SSDP heard unasked: NOTIFY announcements as well as answers to others' searches."""
    return parse_ssdp(data, src_ip, notify=True)
