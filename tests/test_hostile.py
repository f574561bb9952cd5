"""Hostile devices and hostile files, without the lab: loopback servers and crafted inputs.

Each test names the issue-11 behaviour it pins. Time bounds here are generous "does not hang"
guards, not speed goals (those live in bench/).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import pytest

from camscan.discovery.banners.tcpports import ProbeFailure
from camscan.discovery.ssdp import fetch_description

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    try:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def test_ssdp_description_that_drips_ends_at_its_deadline_without_a_thread() -> None:
    async def main() -> None:
        server, port = await _serve(_drip)
        async with server:
            threads = threading.active_count()
            fetch = fetch_description("127.0.0.1", port, "/d.xml", 65536, deadline=0.5)
            with pytest.raises((TimeoutError, ProbeFailure)):
                await asyncio.wait_for(fetch, 30)  # generous: proves "does not hang"
            assert threading.active_count() == threads  # nothing left running behind

    asyncio.run(main())


def test_ssdp_description_is_fetched_when_served_whole() -> None:
    body = b'<?xml version="1.0"?><root><device><manufacturer>LOREX</manufacturer></device></root>'

    async def whole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async def main() -> bytes | None:
        server, port = await _serve(whole)
        async with server:
            return await fetch_description("127.0.0.1", port, "/d.xml", 65536)

    assert asyncio.run(main()) == body
