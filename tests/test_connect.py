"""open_now: a connect whose SYN leaves in the caller's step, zoned IPv6 addresses included."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
from collections.abc import Iterator

import pytest

from camscan.discovery.connect import open_now


@contextlib.contextmanager
def listening() -> Iterator[socket.socket]:
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with sock:
        sock.listen(4)
        yield sock


def _syn_sent_in_first_step(target: str, listener: socket.socket) -> bool:
    """Run the connect's first step only, then hold the loop (so nothing queued for a later
    step, such as a thread's getaddrinfo answer, can connect): is a connection waiting?"""

    async def first_step() -> bool:
        task = asyncio.get_running_loop().create_task(open_now(target, listener.getsockname()[1]))
        await asyncio.sleep(0)  # the task's first step runs, and nothing after it
        waiting = bool(select.select([listener], [], [], 1.0)[0])
        _, writer = await task
        writer.close()
        return waiting

    return asyncio.run(first_step())


def test_a_zoned_ipv6_address_is_connected_in_the_callers_step() -> None:
    with listening() as listener:
        assert _syn_sent_in_first_step("::1%lo", listener)


def test_an_address_without_a_zone_is_connected_in_the_callers_step_too() -> None:
    with listening() as listener:
        assert _syn_sent_in_first_step("::1", listener)


def test_a_zone_naming_no_link_is_an_os_error() -> None:
    async def connect() -> None:
        await open_now("fe80::1%no-such-link0", 80)

    with pytest.raises(OSError, match="no interface with this name"):
        asyncio.run(connect())
