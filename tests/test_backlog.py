"""Issue 29: replies still queued in a discovery socket when its window closes are read, or
counted and reported; never closed unread in silence. Loopback only: no packet leaves the host.

At 4,000 lab devices the round's sockets held ~23 MB of unread replies at the window's end, and
closing them lost those replies without a word (the run was not partial). Here a loopback sender
fills a socket before the window ends while the reader is held up (a slow parser), and every
reply must come out either handled or counted unread, with the remainder a probe error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from camscan.discovery import backlog
from camscan.discovery.backlog import Handler, drain, unread_errors
from camscan.discovery.base import ProbeContext
from camscan.discovery.multicast import UdpPlan, collect, size_for_flood
from camscan.discovery.unicast import UnicastProbe, unicast_round
from camscan.errors import ProbeKind
from camscan.model import Observation
from camscan.netif import Interface
from camscan.settings import ScanSettings, Timeouts
from camscan.targets import TargetSet

WINDOW = 0.3
SENDERS = [f"127.0.0.{n}" for n in range(2, 12)]  # 10 hosts x 30 replies: within the budgets
EACH = 30


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    size_for_flood(sock)  # as every discovery socket: room for a burst, arrivals stamped
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


async def _drain(
    sock: socket.socket,
    handler: Handler,
    deadline: float,
    datagrams: int = backlog.DRAIN_DATAGRAMS,
    count: int = backlog.COUNT_DATAGRAMS,
    stop: threading.Event | None = None,
) -> backlog.Backlog:
    """`drain` with time to spare: here the counts are the bounds."""
    until = time.monotonic() + 60
    return await drain(
        sock, handler, deadline, until=until, datagrams=datagrams, count=count, stop=stop
    )


def _fill(receiver: socket.socket, first: int, count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for n in range(first, first + count):
            sender.sendto(b"reply %d" % n, receiver.getsockname())


def test_the_drain_hands_on_what_came_in_time_and_counts_the_rest(
    receiver: socket.socket,
) -> None:
    _fill(receiver, 0, 300)
    deadline = time.time()  # the window's end: what follows is late
    _fill(receiver, 300, 50)
    handled: list[bytes] = []
    found = asyncio.run(
        _drain(receiver, lambda data, _: handled.append(data), deadline, datagrams=100)
    )
    assert handled == [b"reply %d" % n for n in range(100)]  # in order, whole
    assert (found.read, found.unread, found.at_least) == (100, 200, False)
    (error,) = unread_errors("wsd", [("eth0", found)])
    assert error.probe == "wsd" and error.target == "eth0" and error.kind == ProbeKind.OVERFLOW
    assert error.error.startswith("200 replies still queued on eth0 when the window closed were")
    again = asyncio.run(_drain(receiver, lambda data, _: handled.append(data), deadline))
    assert (again.read, again.unread, len(handled)) == (0, 0, 100)  # the rest came late


def test_within_the_bound_every_in_time_reply_is_handled_and_no_late_one(
    receiver: socket.socket,
) -> None:
    _fill(receiver, 0, 300)
    deadline = time.time()
    _fill(receiver, 300, 50)
    handled: list[bytes] = []
    found = asyncio.run(_drain(receiver, lambda data, _: handled.append(data), deadline))
    assert handled == [b"reply %d" % n for n in range(300)]  # late ones stay late: ignored
    assert (found.read, found.unread) == (300, 0)
    assert unread_errors("wsd", [("eth0", found)]) == []


def test_the_count_stops_at_its_bound_and_says_at_least(receiver: socket.socket) -> None:
    _fill(receiver, 0, 100)
    found = asyncio.run(_drain(receiver, lambda data, _: None, time.time(), datagrams=10, count=10))
    assert (found.read, found.unread, found.at_least) == (10, 10, True)
    (error,) = unread_errors("sadp", [("eth0", found)])
    assert error.error.startswith("at least 10 replies still queued on eth0")


def test_a_stop_leaves_the_queue_counted_not_handled(receiver: socket.socket) -> None:
    """SIGINT during the drain: the run ends at once, and says what it left unread."""
    _fill(receiver, 0, 50)
    stop = threading.Event()
    stop.set()
    handled: list[bytes] = []
    found = asyncio.run(
        _drain(receiver, lambda data, _: handled.append(data), time.time(), stop=stop)
    )
    assert (found.read, found.unread, handled) == (0, 50, [])


def _slow_round(
    monkeypatch: pytest.MonkeyPatch, bound: int | None
) -> tuple[list[bytes], dict[str, int], list[str]]:
    """A round on loopback: 10 hosts answer the broadcast inquiry with 30 replies each, all
    within the window, while the parser holds the event loop past the window's end on the first
    reply. Returns the replies parsed, the round's stats and its error lines."""
    if bound is not None:
        monkeypatch.setattr(backlog, "DRAIN_DATAGRAMS", bound)
    lo = Interface(
        "lo", 1, None, ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv4Network("127.0.0.0/8")
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("0.0.0.0", 0))
    hosts = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in SENDERS]
    sent = threading.Event()

    def answer() -> None:
        _, asker = listener.recvfrom(2048)
        for host, ip in zip(hosts, SENDERS, strict=True):
            host.bind((ip, 0))
            for n in range(EACH):
                host.sendto(f"{ip} {n}".encode(), asker)
        sent.set()

    parsed: list[bytes] = []

    def slow_parser(data: bytes, ip: str) -> list[Observation]:
        if not parsed:  # the scanner falls behind: everything else waits in the kernel
            assert sent.wait(30)
            time.sleep(WINDOW)  # past the window's end, counted from before the first reply
        parsed.append(data)
        return []

    responder = threading.Thread(target=answer, daemon=True)
    responder.start()
    settings = ScanSettings(timeouts=Timeouts(window=WINDOW))
    ctx = ProbeContext([lo], TargetSet([ipaddress.IPv4Network("127.0.0.0/24")]), settings=settings)
    plan = UdpPlan(lo, [b"inquiry"], [("127.255.255.255", listener.getsockname()[1])])
    try:
        _, errors = asyncio.run(collect(ctx, "sadp", [plan], slow_parser))
    finally:
        responder.join(30)
        listener.close()
        for host in hosts:
            host.close()
    return parsed, dict(ctx.stats), [e.error for e in errors if e.kind == ProbeKind.OVERFLOW]


def test_a_round_that_fell_behind_parses_its_queued_replies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before issue 29, 1 or 2 of these 300 replies were parsed and the rest closed unread."""
    parsed, stats, errors = _slow_round(monkeypatch, None)
    assert sorted(parsed) == sorted(f"{ip} {n}".encode() for ip in SENDERS for n in range(EACH))
    assert stats["sadp.drained"] > 0 and "sadp.unread" not in stats
    assert errors == []


def test_a_round_past_the_drain_bound_counts_and_reports_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed, stats, errors = _slow_round(monkeypatch, 100)
    assert stats["sadp.drained"] == 100
    assert len(parsed) + stats["sadp.unread"] == len(SENDERS) * EACH  # each reply: one or other
    (error,) = errors
    assert error.startswith(f"{stats['sadp.unread']} replies still queued on lo when the window")


def test_the_unicast_round_reads_or_counts_what_its_slow_parser_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unicast round to routed hosts drains the same way: 10 loopback hosts answer their
    inquiry with 30 replies each at once; a parser that takes 10 ms a reply reads at most ~40
    in the 0.4 s window, so the rest wait in the socket at its end."""
    monkeypatch.setattr(backlog, "DRAIN_MIN_SECONDS", 0.2)  # handles ~20 more: the rest counted
    listeners = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in SENDERS]
    for listener, ip in zip(listeners, SENDERS, strict=True):
        listener.bind((ip, 0 if ip == SENDERS[0] else listeners[0].getsockname()[1]))
    port = listeners[0].getsockname()[1]

    def answer() -> None:  # each host: its first inquiry gets 30 distinct replies
        for listener, ip in zip(listeners, SENDERS, strict=True):
            _, asker = listener.recvfrom(2048)
            for n in range(EACH):
                listener.sendto(f"{ip} {n}".encode(), asker)

    parsed: list[bytes] = []

    def slow_parser(data: bytes, ip: str) -> list[Observation]:
        time.sleep(0.01)
        parsed.append(data)
        return []

    probe = UnicastProbe("sadp", port, lambda: [b"inquiry"], slow_parser)
    settings = ScanSettings(timeouts=Timeouts(window=0.4))
    ctx = ProbeContext([], TargetSet([ipaddress.IPv4Network("127.0.0.0/24")]), settings=settings)
    responder = threading.Thread(target=answer, daemon=True)
    responder.start()
    try:
        outcome = asyncio.run(unicast_round(ctx, SENDERS, ["sadp"], {"sadp": probe}))
    finally:
        responder.join(30)
        for listener in listeners:
            listener.close()
    assert ctx.stats["sadp.drained"] > 0 and ctx.stats["sadp.unread"] > 0
    assert len(parsed) + ctx.stats["sadp.unread"] == len(SENDERS) * EACH
    (error,) = [e.error for e in outcome.errors if "still queued" in e.error]
    assert error.startswith(f"{ctx.stats['sadp.unread']} replies still queued on unicast when")
