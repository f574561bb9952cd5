"""SSDP: one M-SEARCH ssdp:all to 239.255.255.250:1900, then each in-target device's
UPnP description (manufacturer, model, serial) from its LOCATION URL.

The description is fetched only when LOCATION names the replying device itself by IPv4 literal
and that device is in the targets: a reply must not steer camscan to another host. No redirects
are followed; the body is capped at ctx.max_reply_bytes.
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.parse

from camscan import channels as ch
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import (
    RAW_LIMIT,
    Datagram,
    UdpPlan,
    clean_field,
    find_text,
    parse_datagrams,
    parse_xml,
    udp_round,
)
from camscan.model import Observation, ProbeError
from camscan.targets import TargetSet

NAME = "ssdp"
GROUP = "239.255.255.250"
PORT = 1900
MAX_HEADER_LINES = 64
MAX_FETCHES = 64  # descriptions per round
FETCH_TIMEOUT = 1.0  # seconds per description; also the grace after the window
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


def parse_ssdp(data: bytes, src_ip: str) -> list[Observation] | None:
    """An M-SEARCH response -> ssdp.header.server / ssdp.usn observations; [] for requests."""
    parsed = _headers(data)
    if parsed is None:
        return None
    status, headers = parsed
    if status.startswith(("M-SEARCH", "NOTIFY")):
        return []
    if not status.startswith("HTTP/1.") or " 200" not in status:
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
    """A UPnP device description -> upnp.manufacturer / upnp.model observations."""
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


def _fetch(ip: str, port: int, path: str, cap: int) -> bytes | None:
    conn = http.client.HTTPConnection(ip, port, timeout=FETCH_TIMEOUT)
    try:
        conn.request("GET", path, headers={"User-Agent": "camscan", "Connection": "close"})
        response = conn.getresponse()
        body = response.read(cap + 1)
        return body if response.status == 200 and len(body) <= cap else None
    finally:
        conn.close()


class SsdpProbe:
    name = NAME
    needs_raw_socket = False

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        fetches: dict[tuple[str, int, str], asyncio.Task[bytes | None]] = {}

        def on_reply(d: Datagram) -> None:
            parsed = _headers(d.data)
            location = parsed[1].get("location") if parsed else None
            where = description_target(location, d.src_ip, ctx.targets) if location else None
            if where and (d.src_ip, *where) not in fetches and len(fetches) < MAX_FETCHES:
                cap = ctx.max_reply_bytes
                task = asyncio.create_task(asyncio.to_thread(_fetch, d.src_ip, *where, cap))
                fetches[(d.src_ip, *where)] = task

        plans = [
            UdpPlan(iface, [M_SEARCH], [(GROUP, PORT)], repeat_after=ctx.window / 3)
            for iface in ctx.interfaces
        ]
        datagrams, errors = await udp_round(ctx, NAME, plans, on_reply)
        observations = parse_datagrams(ctx, NAME, datagrams, parse_ssdp)
        if fetches:
            await asyncio.wait(fetches.values(), timeout=FETCH_TIMEOUT)
        for (ip, port, path), task in fetches.items():
            if not task.done():
                task.cancel()
                errors.append(ProbeError(NAME, ip, f"description :{port}{path} timed out"))
            elif task.exception() is not None:
                error = " ".join(f"description :{port}{path}: {task.exception()}".split())
                errors.append(ProbeError(NAME, ip, error[:RAW_LIMIT]))
            else:
                body = task.result()
                parsed = parse_description(body, ip) if body is not None else None
                if parsed is None:
                    ctx.stats[f"{NAME}.dropped"] += 1
                else:
                    observations += parsed
        return ProbeOutcome(observations, errors)
