"""HTTP and HTTPS as a persona spells them: status, headers (names verbatim), body, per path.

    [http.80]
    headers = [["Server", "Hikvision-Webs"]]        # sent on every response of this port
    [http.80.paths."/"]
    status = 302
    headers = [["Location", "/doc/page/login.asp"]]
    [http.80.default]                               # any other path (default: 404)
    status = 404
    behaviour = "slow"   # hostile: garbage | slow | endless | huge-headers | many-headers
    delay = 2.5          # seconds of silence before answering (a slow but honest camera)

Content-Length is filled in (keeping the persona's spelling, e.g. Dahua's CONTENT-LENGTH). The
connection persists (RFC 9112 section 9.3: HTTP/1.1's default) for up to
MAX_REQUESTS_PER_CONNECTION requests while the client asks for that (HTTP/1.1 without
Connection: close, or HTTP/1.0 with keep-alive), the response is HTTP/1.1 and plain, and the
persona lists no Connection header; otherwise Connection: close is added (unless the persona
lists one, e.g. Dahua's CONNECTION: close, which then always closes) and the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
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

ENDLESS_LIMIT = 256 * 1024 * 1024  # bytes: "endless" still ends, so a broken client can't pin us
SLOW_LIMIT = 120  # bytes sent at 1 byte/s before a slow response gives up
HUGE_HEADER = 1024 * 1024
MANY_HEADERS = 8000  # "many-headers": 8,000 tiny distinct header lines, a ~56 KB head
MAX_REQUESTS_PER_CONNECTION = 16


def _reason(status: int, conf: dict[str, Any]) -> str:
    return str(conf["reason"]) if "reason" in conf else status_phrase(status)


def build_response(
    ctx: DeviceContext,
    port_conf: dict[str, Any],
    route: dict[str, Any],
    head_only: bool,
    keep: bool = False,
) -> bytes:
    status = int(route.get("status", 200))
    body = payload(route, ctx, "body", "body_hex")
    headers = header_pairs(port_conf.get("headers")) + header_pairs(route.get("headers"))
    names = {name.lower() for name, _ in headers}
    out = [f"{route.get('version', 'HTTP/1.1')} {status} {_reason(status, route)}"]
    endless = route.get("behaviour") == "endless"
    for name, value in headers:
        if name.lower() == "content-length":
            if not endless:
                out.append(f"{name}: {len(body)}")
            continue
        out.append(f"{name}: {ctx.render(value)}")
    if "content-length" not in names and not endless:
        out.append(f"Content-Length: {len(body)}")
    if "connection" not in names and not keep:
        out.append("Connection: close")
    if route.get("behaviour") == "huge-headers":
        out.append("X-Padding: " + "A" * HUGE_HEADER)
    if route.get("behaviour") == "many-headers":
        out += [f"{n:x}:" for n in range(MANY_HEADERS)]
    head = response_head(out)
    return head if head_only else head + body


def _route(port_conf: dict[str, Any], target: str) -> dict[str, Any]:
    paths = port_conf.get("paths", {})
    for key in (target, target.split("?", 1)[0]):
        if key in paths:
            return dict(paths[key])
    default = port_conf.get("default")
    return dict(default) if default else {"status": 404, "body": "Not Found"}


async def _send_slow(writer: asyncio.StreamWriter, data: bytes) -> None:
    for i in range(min(len(data), SLOW_LIMIT)):
        writer.write(data[i : i + 1])
        await writer.drain()
        await asyncio.sleep(1.0)


async def _send_endless(writer: asyncio.StreamWriter, head: bytes) -> None:
    writer.write(head)
    chunk = b"<p>" + b"x" * 65532 + b"\n"
    sent = 0
    while sent < ENDLESS_LIMIT:
        writer.write(chunk)
        await writer.drain()
        sent += len(chunk)


def _client_keeps(head: bytes) -> bool:
    """The request asks for a persistent connection (RFC 9112 section 9.3)."""
    lines = head.decode("latin-1").split("\r\n")
    version = lines[0].split()[-1].upper() if lines[0].split() else ""
    tokens: set[str] = set()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "connection":
            tokens |= {t.strip().lower() for t in value.split(",")}
    if "close" in tokens:
        return False
    return version == "HTTP/1.1" or "keep-alive" in tokens


def handler(ctx: DeviceContext, port_conf: dict[str, Any]) -> StreamHandler:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            head = await read_head(reader)
            if head is None:
                return
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("GET", "/")
            route = _route(port_conf, target)
            behaviour = route.get("behaviour")
            listed = header_pairs(port_conf.get("headers")) + header_pairs(route.get("headers"))
            keep = (
                _client_keeps(head)
                and behaviour is None
                and route.get("version", "HTTP/1.1") == "HTTP/1.1"
                and all(name.lower() != "connection" for name, _ in listed)
            )
            await asyncio.sleep(min(float(route.get("delay", 0)), 60.0))
            if behaviour == "garbage":
                writer.write(bytes((i * 131 + 7) % 256 for i in range(4096)))
            elif behaviour == "slow":
                await _send_slow(writer, build_response(ctx, port_conf, route, False))
            elif behaviour == "endless":
                await _send_endless(writer, build_response(ctx, port_conf, route, True))
            else:
                writer.write(build_response(ctx, port_conf, route, method == "HEAD", keep))
            await writer.drain()
            if not keep:
                return

    return closing(serve)


def _tls_context(ctx: DeviceContext) -> ssl.SSLContext:
    if not (ctx.tls_cert and ctx.tls_key):
        raise ValueError(f"persona {ctx.persona} serves https but has no [tls] table")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(ctx.tls_cert, ctx.tls_key)
    with contextlib.suppress(ssl.SSLError):  # old cameras speak old TLS; let scanners see that
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
    return tls


def start(ctx: DeviceContext, conf: dict[str, Any], secure: bool) -> list[Starter]:
    tls = _tls_context(ctx) if secure else None
    return tcp_servers(
        ctx,
        conf,
        handler,
        ssl=tls,
        limit=MAX_REQUEST,
        ssl_handshake_timeout=10.0 if tls else None,
    )
