"""Plain TCP ports: send a fixed banner on connect, optionally answer the first bytes received.

[tcp.8000]
banner_hex = "00000010 0000001e 0000001e 00000000"   # Hikvision SDK port, signatures.md 2.10
[tcp.37777]                                          # just accepts (Dahua DVRIP)
reply_hex = "b0000000..."                            # optional answer to the first request
reply_text = "Login to ${serial}\r\n"                # appended to reply_hex
"""

from __future__ import annotations

import asyncio
from typing import Any

from camscan.lab.services.common import (
    IDLE_TIMEOUT,
    DeviceContext,
    Starter,
    StreamHandler,
    closing,
    payload,
    tcp_servers,
)


def handler(ctx: DeviceContext, port_conf: dict[str, Any]) -> StreamHandler:
    banner = payload(port_conf, ctx, "banner_text", "banner_hex")
    reply = payload(port_conf, ctx, "reply_text", "reply_hex")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if banner:
            writer.write(banner)
            await writer.drain()
        # Wait for the client: answer once if configured, then hold until it hangs up.
        first = await asyncio.wait_for(reader.read(4096), IDLE_TIMEOUT)
        if first and reply:
            writer.write(reply)
            await writer.drain()
        if first:
            await asyncio.wait_for(reader.read(4096), IDLE_TIMEOUT)

    return closing(serve)


def start(ctx: DeviceContext, conf: dict[str, Any]) -> list[Starter]:
    return tcp_servers(ctx, conf, handler)
