"""RTSP banner probe: OPTIONS and DESCRIBE on the root URL, without credentials.

A 401 names the Digest realm (Hikvision "IP Camera(xxxxx)", Dahua "Login to <serial>"); Server
and Public headers and, when DESCRIBE is answered without login, the SDP tell the rest.
"""

from __future__ import annotations

from collections.abc import Callable

from camscan import channels
from camscan.discovery.banners.http import (
    content_length,
    head_observations,
    host_for_url,
    read_body,
    read_head,
)
from camscan.discovery.banners.limits import Limits
from camscan.discovery.banners.tcpports import STALE, Kept, ProbeFailure, Stale, open_tcp, send
from camscan.errors import ProbeKind
from camscan.model import Observation

USER_AGENT = "camscan/0.1 (read-only inventory)"
METHODS = ("OPTIONS", "DESCRIBE")


def build_request(method: str, ip: str, port: int, cseq: int) -> bytes:
    extra = "Accept: application/sdp\r\n" if method == "DESCRIBE" else ""
    return (
        f"{method} rtsp://{host_for_url(ip)}:{port}/ RTSP/1.0\r\nCSeq: {cseq}\r\n"
        f"User-Agent: {USER_AGENT}\r\n{extra}\r\n"
    ).encode("ascii")


async def _ask(
    conn: Kept, ip: str, port: int, method: str, limits: Limits, out: list[Observation]
) -> bool:
    """One request on an open connection; True when the connection may carry the next one
    (RTSP connections persist unless the device says close, and nothing was left unread)."""
    await send(conn.writer, build_request(method, ip, port, METHODS.index(method) + 1), limits)
    head, rest = await read_head(conn.reader, limits, "RTSP")
    fields = {channels.FIELD_PORT: str(port), "method": method}

    def make(channel: str, raw: str) -> Observation:
        return Observation(
            channel=channel, raw=raw, probe=f"rtsp:{port}", ip=ip, fields=dict(fields)
        )

    out.extend(head_observations(head, prefix="rtsp.", make=make))
    length = content_length(head) or 0
    if method == "DESCRIBE" and head.status == 200:
        body = bytearray()
        try:
            whole = await read_body(
                conn.reader, head, rest, limits, body, limits.max_body_bytes, until_eof=False
            )
        finally:
            if body:
                out.append(make(channels.RTSP_SDP, bytes(body).decode("utf-8", "replace")))
        clean = whole and len(rest) <= length
    else:
        clean = length == 0 and not rest
    said = {t.strip().lower() for v in head.get_all("connection") for t in v.split(",")}
    return clean and "close" not in said


async def probe_rtsp(
    ip: str,
    port: int,
    method: str,
    limits: Limits,
    out: list[Observation],
    *,
    on_open: Callable[[], None] | None = None,
    keep: bool = False,
) -> Kept | bool:
    """One request on a new connection. `on_open` is called once the connection is accepted.
    With `keep`, a connection the device keeps open is returned (the caller closes it);
    cameras often hang up after a 401, so the next request may still need a new one."""
    reader, writer = await open_tcp(ip, port, limits)
    if on_open is not None:
        on_open()
    conn = Kept(reader, writer)
    kept = False
    try:
        kept = await _ask(conn, ip, port, method, limits, out) and keep
    finally:
        if not kept:
            conn.close()
    return conn if kept else True


async def probe_rtsp_on(
    conn: Kept, ip: str, port: int, method: str, limits: Limits, out: list[Observation]
) -> Kept | bool | Stale:
    """The next request on a kept connection; STALE when the device had closed it before any
    reply (the caller asks again on a new connection)."""
    already = len(out)
    kept = False
    try:
        if not conn.usable():
            return STALE
        kept = await _ask(conn, ip, port, method, limits, out)
    except ProbeFailure as exc:
        if len(out) == already and exc.kind is not ProbeKind.TIMEOUT:
            return STALE
        raise
    finally:
        if not kept:
            conn.close()
    return conn if kept else True
