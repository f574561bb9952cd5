"""RTSP: per-method answers, CSeq echoed, connection kept for a few requests.

    [rtsp.554]
    headers = [["Server", "Dahua Rtsp Server"]]     # on every response
    public = "OPTIONS, DESCRIBE, ..."               # OPTIONS answers 200 with it
    [rtsp.554.methods.DESCRIBE]
    status = 401
    headers = [["WWW-Authenticate", 'Digest realm="Login to ${serial}", nonce="${hex32}"']]
    # status = 200 with `body` = SDP text: sent as application/sdp
Methods not listed answer 405 (OPTIONS answers 200 with `public`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from camscan.lab.services.common import (
    MAX_REQUEST,
    DeviceContext,
    Starter,
    StreamHandler,
    closing,
    header_pairs,
    payload,
    read_head,
    response_head,
    status_phrase,
    tcp_servers,
)

MAX_REQUESTS_PER_CONNECTION = 8


def build_response(
    ctx: DeviceContext, port_conf: dict[str, Any], method: str, cseq: str, url: str
) -> bytes:
    methods = port_conf.get("methods", {})
    route: dict[str, Any] = dict(methods.get(method, {}))
    if not route:
        route = {"status": 200} if method == "OPTIONS" else {"status": 405}
    status = int(route.get("status", 200))
    reason = str(route.get("reason", "")) or status_phrase(status)
    lines = [f"RTSP/1.0 {status} {reason}", f"CSeq: {cseq}"]
    for name, value in header_pairs(port_conf.get("headers")) + header_pairs(route.get("headers")):
        lines.append(f"{name}: {ctx.render(value)}")
    if method == "OPTIONS" and status == 200 and port_conf.get("public"):
        lines.append(f"Public: {port_conf['public']}")
    body = payload(route, ctx, "body", "body_hex")
    if body:
        lines.append(f"Content-Base: {url}/")
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return response_head(lines) + body


def _parse(head: bytes) -> tuple[str, str, str]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    method = parts[0] if parts else ""
    url = parts[1] if len(parts) > 1 else ""
    cseq = "0"
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "cseq":
            cseq = value.strip()[:32]
    return method, cseq, url


def handler(ctx: DeviceContext, port_conf: dict[str, Any]) -> StreamHandler:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            head = await read_head(reader)
            if head is None:
                return
            method, cseq, url = _parse(head)
            writer.write(build_response(ctx, port_conf, method, cseq, url))
            await writer.drain()

    return closing(serve)


def start(ctx: DeviceContext, conf: dict[str, Any]) -> list[Starter]:
    return tcp_servers(ctx, conf, handler, limit=MAX_REQUEST)
