"""What a discovery socket still holds when its window closes: read it, or say how much it was.

asyncio reads one datagram per socket per turn of the event loop, so a busy loop falls behind a
burst of replies and the rest wait in the kernel's receive buffer. Closing the socket then would
discard replies that arrived inside the window, unseen and uncounted. At the window's end
`drain_round` takes each socket over from its transport (a duplicate descriptor keeps the queue),
closes the transports, and `drain` reads what is queued: each reply that arrived before the
window's end (the kernel's arrival stamp, SO_TIMESTAMPNS, says when) goes to the round's own
handler, through the same per-sender budgets as a reply read in the window. Past its bound of
time it only counts what is left, so the run can say how many replies it never read
(`unread_errors`). Replies that arrived after the window's end are late, ignored as before: the
drain stops at the first of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from camscan.errors import ProbeKind
from camscan.model import ProbeError

# Bounds per probe round, shared by its sockets. Handling a queued reply costs what it would
# have in the window: ~5 us to read and refuse a flooder's (its budget spent), ~0.1 ms to parse
# a DHIP or SADP reply, ~0.3 ms for a WS-Discovery one; a reply that names a model has its host
# judged (~0.5-1 ms, most of the cost: inspection may then ask it less). Measured at the
# window's end on a busy 2-core machine: 1,000 lab devices left ~2,000-2,500 in-time replies
# queued (0.3-0.6 s of work; up to ~1.5 s when the machine is busiest), 4,000 devices ~12,000
# (~4 s). Real replies grow with the hosts that can answer, about two per address and probe, so
# the bound grows with the targets' IPv4 addresses: 3 ms each, at least 1 s, at most 10 s. The
# drain ends as soon as the queue is empty: the bound only stops a flood of parseable replies
# from spoofed sources (a full buffer is ~20,000), which then costs a /24 scan 1 s, no more.
# It yields to the event loop as it goes, so banners under way and the other probes' drains go
# on; round.py's grace for each probe adds the same bound.
# A receive buffer sized for a flood (8 MiB, doubled by the kernel) holds at most ~21,000
# datagrams (each costs ~770 bytes of kernel memory however small), so 32,768 reads empty any
# buffer the window left and make the count of what was left unread exact; counting one costs
# ~3.5 us, ~0.1 s for a full buffer.
DRAIN_MIN_SECONDS = 1.0
DRAIN_PER_ADDRESS = 0.003  # seconds of reading and handling in-time replies per target address
DRAIN_MAX_SECONDS = 10.0
DRAIN_DATAGRAMS = 32768  # in-time replies handled at most, per socket
COUNT_DATAGRAMS = 32768  # then at most this many more read, discarded and counted unread
_YIELD_EVERY = 32  # datagrams read between turns given to the event loop
_SO_TIMESTAMPNS = 35  # Linux (SO_TIMESTAMPNS_OLD; the socket module does not export it)
_SCM_TIMESTAMPNS = _SO_TIMESTAMPNS
_TIMESPEC = struct.Struct("@ll")  # struct timespec (time_t, long) as the old option reports it
_CMSG_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
_SO_MEMINFO = 55  # Linux: the socket's memory counters; SK_MEMINFO_RMEM_ALLOC is the first
_MAX_DATAGRAM = 65536  # larger than any UDP payload: nothing read here is cut short

Handler = Callable[[bytes, Any], None]  # a protocol's datagram_received


def drain_seconds(addresses: int) -> float:
    """The drain's bound of time for a probe round over `addresses` IPv4 target addresses."""
    return min(DRAIN_MAX_SECONDS, max(DRAIN_MIN_SECONDS, addresses * DRAIN_PER_ADDRESS))


def stamp_arrivals(sock: socket.socket) -> None:
    """Have the kernel stamp each datagram with its arrival time (no privilege needed); without
    it (another platform) every queued reply counts as in time, still within the bounds."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)


@dataclasses.dataclass(slots=True)
class Backlog:
    """One socket's queue at the window's end."""

    read: int = 0  # arrived in time, handed to the round's handler
    unread: int = 0  # arrived in time, past the drain's bound: counted, not read
    at_least: bool = False  # the count stopped at its bound with more still queued
    failed: int = 0  # the handler raised (a parser bug): counted as the round counts it


def _arrival(ancdata: list[tuple[int, int, bytes]]) -> float | None:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == _SCM_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return float(seconds) + float(nanoseconds) / 1e9
    return None


async def drain(
    sock: socket.socket,
    deliver: Handler,
    deadline: float,
    *,
    until: float,
    datagrams: int = DRAIN_DATAGRAMS,
    count: int = COUNT_DATAGRAMS,
    stop: threading.Event | None = None,
) -> Backlog:
    """Read `sock`'s queue without blocking: each datagram that arrived by `deadline` (Unix
    time) goes to `deliver(data, addr)` while `datagrams` and the monotonic time `until` last;
    after that, at most `count` more in-time ones are read,
    discarded and counted; so are all once `stop` is set (SIGINT: the run ends now, and says
    what it left). Stops at an empty queue or the first late datagram."""
    found = Backlog()
    buffer = bytearray(_MAX_DATAGRAM)
    view = memoryview(buffer)

    def handles() -> bool:
        stopped = stop is not None and stop.is_set()
        return found.read < datagrams and time.monotonic() < until and not stopped

    handling, failing, reads = handles(), False, 0
    while True:
        reads += 1
        if handling and reads % _YIELD_EVERY == 0:  # counting is cheap: done at once
            await asyncio.sleep(0)
        size = _MAX_DATAGRAM if handling else 1  # counting: the datagram is consumed, cut
        try:
            got, ancdata, _, addr = sock.recvmsg_into([view[:size]], _CMSG_SPACE)
        except BlockingIOError:
            return found
        except OSError:  # an ICMP error (IP_RECVERR) is reported once, then reading goes on
            if failing:
                return found
            failing = True
            continue
        failing = False
        arrived = _arrival(ancdata)
        if arrived is not None and arrived > deadline:
            return found  # late, as every datagram queued behind it
        if handling:
            try:
                deliver(bytes(view[:got]), addr)
            except Exception:  # the round's handler guards its parser; this is the last net
                found.failed += 1
            found.read += 1
            handling = handles()
        else:
            found.unread += 1
            if found.unread >= count:
                found.at_least = queued_bytes(sock) > 0
                return found


def queued_bytes(sock: socket.socket) -> int:
    """Kernel memory the socket's receive queue still holds (SO_MEMINFO); 0 when unknown."""
    try:
        info = sock.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, 4)
    except OSError:
        return 0
    return int(struct.unpack_from("@I", info)[0]) if len(info) >= 4 else 0


def unread_errors(name: str, backlogs: Iterable[tuple[str, Backlog]]) -> list[ProbeError]:
    """One error per interface whose sockets held in-time replies the drain did not read: like
    the kernel's own drops, devices whose replies were among them may be missing."""
    left: dict[str, tuple[int, bool]] = {}
    for iface, backlog in backlogs:
        if backlog.unread > 0:
            count, more = left.get(iface, (0, False))
            left[iface] = (count + backlog.unread, more or backlog.at_least)
    return [
        ProbeError(
            name,
            iface,
            f"{'at least ' if more else ''}{count} replies still queued on {iface} when the "
            "window closed were not read (the scanner fell behind a burst of replies); devices "
            "whose replies were among them may be missing",
            ProbeKind.OVERFLOW,
        )
        for iface, (count, more) in left.items()
    ]


async def drain_round(
    stats: dict[str, int],
    name: str,
    sockets: Iterable[tuple[socket.socket, str, Handler]],
    transports: Iterable[asyncio.BaseTransport],
    deadline: float,
    addresses: int,
    stop: threading.Event | None = None,
) -> list[ProbeError]:
    """At the window's end (`deadline`, Unix time): take each (socket, interface, handler) of a
    probe's round over from its transport, close the transports, drain the sockets within the
    bound for `addresses` target addresses and count `<name>.drained` (read after the window,
    in time) and `<name>.unread` in `stats`; the errors for what was left."""
    kept: list[tuple[socket.socket, str, Handler]] = []
    errors: list[ProbeError] = []
    try:
        for sock, iface, deliver in sockets:
            try:
                kept.append((sock.dup(), iface, deliver))  # the queue outlives the transport
            except OSError as exc:  # no descriptor to spare: the queue closes with the round
                error = (
                    f"replies still queued on {iface} when the window closed were not read: {exc}"
                )
                errors.append(ProbeError(name, iface, error, ProbeKind.OVERFLOW))
        for transport in transports:
            transport.close()  # reads no more: nothing else takes from the queues now
        until = time.monotonic() + drain_seconds(addresses)
        backlogs = []
        for sock, iface, deliver in kept:
            backlog = await drain(
                sock,
                deliver,
                deadline,
                until=until,
                datagrams=DRAIN_DATAGRAMS,
                count=COUNT_DATAGRAMS,
                stop=stop,
            )
            for key, value in (("drained", backlog.read), ("unread", backlog.unread)):
                if value:
                    stats[f"{name}.{key}"] = stats.get(f"{name}.{key}", 0) + value
            if backlog.failed:
                failed = stats.get(f"{name}.parser_errors", 0)
                stats[f"{name}.parser_errors"] = failed + backlog.failed
            backlogs.append((iface, backlog))
    finally:
        for sock, _, _ in kept:
            sock.close()
    return errors + unread_errors(name, backlogs)
