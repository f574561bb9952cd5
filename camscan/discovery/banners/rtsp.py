"""RTSP banner probe: OPTIONS and DESCRIBE on the root URL, without credentials.

A 401 names the Digest realm (Hikvision "IP Camera(xxxxx)", Dahua "Login to <serial>"); Server
and Public headers and, when DESCRIBE is answered without login, the SDP tell the rest.
"""

from __future__ import annotations

from collections.abc import Callable

from camscan import channels
from camscan.discovery.banners.http import head_observations, host_for_url, read_body, read_head
from camscan.discovery.banners.limits import Limits
from camscan.discovery.banners.tcpports import close, open_tcp, send
from camscan.model import Observation

USER_AGENT = "camscan/0.1 (read-only inventory)"
METHODS = ("OPTIONS", "DESCRIBE")


def build_request(method: str, ip: str, port: int, cseq: int) -> bytes:
    extra = "Accept: application/sdp\r\n" if method == "DESCRIBE" else ""
    return (
        f"{method} rtsp://{host_for_url(ip)}:{port}/ RTSP/1.0\r\nCSeq: {cseq}\r\n"
        f"User-Agent: {USER_AGENT}\r\n{extra}\r\n"
    ).encode("ascii")


async def probe_rtsp(
    ip: str,
    port: int,
    method: str,
    limits: Limits,
    out: list[Observation],
    *,
    on_open: Callable[[], None] | None = None,
) -> bool:
    """One request per connection: cameras often hang up after a 401. `on_open` is called once
    the connection is accepted."""
    reader, writer = await open_tcp(ip, port, limits)
    if on_open is not None:
        on_open()
    try:
        await send(writer, build_request(method, ip, port, METHODS.index(method) + 1), limits)
        head, rest = await read_head(reader, limits, "RTSP")
        fields = {channels.FIELD_PORT: str(port), "method": method}

        def make(channel: str, raw: str) -> Observation:
            return Observation(
                channel=channel, raw=raw, probe=f"rtsp:{port}", ip=ip, fields=dict(fields)
            )

        out.extend(head_observations(head, prefix="rtsp.", make=make))
        if method == "DESCRIBE" and head.status == 200:
            body = bytearray()
            try:
                await read_body(
                    reader, head, rest, limits, body, limits.max_body_bytes, until_eof=False
                )
            finally:
                if body:
                    out.append(make(channels.RTSP_SDP, bytes(body).decode("utf-8", "replace")))
    finally:
        close(writer)
    return True
