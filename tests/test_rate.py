"""The run's one rate limiter (camscan/discovery/rate.py): the caps it promises, over a simulated
clock with senders that wake late, and on loopback with a thread and the event loop drawing
from it at once, as the unprivileged ARP sweep and the unicast round do in a scan.

The promise (README "Rates"): in any 100 ms window at most a tenth of the rate, rounded up,
plus 10%; the same per host with the host rate. Packets here go to loopback only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import ipaddress
import math
import socket
import struct
import threading
import time
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.discovery import arp
from camscan.discovery.base import ProbeContext
from camscan.discovery.rate import RateLimiter, _Ticket
from camscan.discovery.unicast import probes as unicast_probes
from camscan.discovery.unicast import unicast_round
from camscan.netif import Interface
from camscan.settings import ScanSettings, Timeouts
from camscan.targets import TargetSet

WINDOW = 0.1
# Linux ABI (<asm-generic/socket.h>, <linux/in.h>); Python 3.11's socket has no names for them
SO_TIMESTAMPNS = 35
IP_PKTINFO = 8


def allowed(rate: float) -> int:
    """The promise for one window: a tenth of the rate, rounded up, plus 10%."""
    return math.floor(math.ceil(rate * WINDOW) * 1.1)


def busiest(sent: list[tuple[float, int]]) -> int:
    """The most packets in any half-open window of WINDOW seconds; `sent` is (time, packets)."""
    sent = sorted(sent)
    most, first, inside = 0, 0, 0
    for t, n in sent:
        inside += n
        while t - sent[first][0] >= WINDOW:
            inside -= sent[first][1]
            first += 1
        most = max(most, inside)
    return most


def test_rates_must_be_positive() -> None:
    for rate, host_rate in [(0, 40), (1000, -1), (float("nan"), 40)]:
        with pytest.raises(ValueError, match="must be positive"):
            RateLimiter(rate, host_rate)


packets = st.lists(
    st.tuples(
        st.floats(0, 2.0),  # when the sender asks
        st.sampled_from([None, "a", "b", "c"]),  # to whom (None: multicast)
        st.booleans(),  # an ARP request (nothing for the kernel to resolve)
        st.lists(st.floats(0, 0.03), max_size=3),  # how late each of its wake-ups is
    ),
    min_size=1,
    max_size=300,
)


@settings(max_examples=60, deadline=None)
@given(packets)
def test_no_window_holds_more_than_the_caps_however_late_senders_wake(
    asks: list[tuple[float, str | None, bool, list[float]]],
) -> None:
    """Any mix of senders, each of which may wake up to 30 ms after the time it was told: the
    packets let go keep both caps in every window, and every packet goes in the end."""
    limiter = RateLimiter(rate=200, host_rate=20)
    events: list[tuple[float, int, _Ticket, list[float]]] = []
    for seq, (at, host, is_arp, late) in enumerate(asks):
        ticket = limiter._ticket(host, is_arp, 1)
        heapq.heappush(events, (at, seq, ticket, list(late)))
    sent: list[tuple[float, int]] = []
    by_host: dict[str, list[tuple[float, int]]] = defaultdict(list)
    while events:
        now, seq, ticket, late = heapq.heappop(events)
        wait = limiter._step(ticket, now)
        if wait > 0:
            heapq.heappush(events, (now + wait + (late.pop() if late else 0.0), seq, ticket, late))
            continue
        n = ticket.sent
        sent.append((now, n))
        if ticket.host is not None:
            by_host[ticket.host].append((now, n))
    assert sum(n for _, n in sent) == limiter.sent >= len(asks)
    assert busiest(sent) <= allowed(200) == 22
    assert all(busiest(mine) <= allowed(20) == 2 for mine in by_host.values())


@settings(max_examples=60, deadline=None)
@given(packets, st.lists(st.floats(0, 0.05), min_size=1, max_size=20))
def test_a_packet_that_leaves_late_after_its_turn_does_not_bunch_with_the_next(
    asks: list[tuple[float, str | None, bool, list[float]]], delays: list[float]
) -> None:
    """A sender that does up to 50 ms of work (pysnmp encoding; a busy machine) between its
    turn and its send, then says `went()`: the packets keep both caps by the time they LEAVE.
    The event loop is busy meanwhile, so no other turn is taken before that packet leaves.
    (Without the `went()` call this fails: CI saw 6 SNMP datagrams in 98 ms at --rate 50.)"""
    limiter = RateLimiter(rate=50, host_rate=20)
    events: list[tuple[float, int, _Ticket, list[float]]] = []
    for seq, (at, host, is_arp, late) in enumerate(asks):
        heapq.heappush(events, (at, seq, limiter._ticket(host, is_arp, 1), list(late)))
    left: list[tuple[float, int]] = []
    by_host: dict[str, list[tuple[float, int]]] = defaultdict(list)
    free_at = 0.0  # when the (one) event loop is done with the last send
    while events:
        at, seq, ticket, late = heapq.heappop(events)
        now = max(at, free_at)
        wait = limiter._step(ticket, now)
        if wait > 0:
            heapq.heappush(events, (now + wait + (late.pop() if late else 0.0), seq, ticket, late))
            continue
        free_at = now + delays[seq % len(delays)]  # the send, this much after the turn
        limiter.went(now=free_at)
        left.append((free_at, ticket.sent))
        if ticket.host is not None:
            by_host[ticket.host].append((free_at, ticket.sent))
    assert busiest(left) <= allowed(50) == 5
    assert all(busiest(mine) <= allowed(20) == 2 for mine in by_host.values())


def test_went_counts_only_this_limiters_last_turn_once() -> None:
    mine, other = RateLimiter(rate=50, host_rate=10), RateLimiter(rate=50, host_rate=10)

    async def send() -> None:
        await mine.slot("198.18.0.2")
        late = time.monotonic() + 10  # its packets (the SYN and the kernel's ARP) left late
        other.went(now=late)  # not its turn: nothing moves
        assert other._sent.tat == {}
        mine.went(now=late)
        assert mine._sent.tat[None] == pytest.approx(late + 2 * mine._sent.gap)
        assert mine._sent_host.tat["198.18.0.2"] == pytest.approx(late + 2 * mine._sent_host.gap)
        mine.went(now=late + 10)  # said already: nothing moves
        assert mine._sent.tat[None] == pytest.approx(late + 2 * mine._sent.gap)

    asyncio.run(send())


def test_the_first_ip_packet_to_a_host_counts_its_arp_request_too() -> None:
    limiter = RateLimiter()

    async def send() -> None:
        await limiter.slot("198.18.0.2", arp=True)  # the sweep's own request: one frame
        await limiter.slot("198.18.0.2")  # first SYN: the kernel asks who has it first
        await limiter.slot("198.18.0.2")
        await limiter.slot()  # multicast: one datagram, no one host

    asyncio.run(send())
    assert limiter.sent == 1 + 2 + 1 + 1


def _stamped(sock: socket.socket) -> list[tuple[float, str, int]]:
    """Every datagram queued on `sock`: (kernel receive time, the address it was sent to, its
    size)."""
    out: list[tuple[float, str, int]] = []
    while True:
        try:
            data, anc, _, _ = sock.recvmsg(2048, 256, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return out
        stamp = dest = None
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", value[:16])
                stamp = sec + nsec / 1e9
            elif level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                dest = socket.inet_ntoa(value[8:12])  # in_pktinfo.ipi_addr: the header's dst
        assert stamp is not None and dest is not None
        out.append((stamp, dest, len(data)))


def test_a_thread_and_the_event_loop_share_both_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unprivileged ARP sweep (a thread) and the unicast round (the event loop) to the same
    40 loopback hosts at once, both pointed at one receiving socket: what arrives keeps the
    global cap and each host's cap. With a limiter each (the old separate buckets) the two
    streams add up to twice the rate."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    receiver.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    receiver.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    receiver.bind(("0.0.0.0", 0))
    port = receiver.getsockname()[1]
    monkeypatch.setattr(arp, "DISCARD_PORT", port)
    hosts = [f"127.0.0.{n}" for n in range(2, 42)]
    registered = unicast_probes(["sadp", "dhip"])
    probes = {name: dataclasses.replace(p, port=port) for name, p in registered.items()}
    lo = Interface(
        "lo", 1, None, ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv4Network("127.0.0.0/8")
    )
    limiter = RateLimiter(rate=200, host_rate=20)
    window = ScanSettings(timeouts=Timeouts(window=0.4))
    ctx = ProbeContext(
        [], TargetSet([ipaddress.IPv4Network("127.0.0.0/24")]), settings=window, limiter=limiter
    )
    targets = [ipaddress.IPv4Address(h) for h in hosts]

    async def both() -> None:
        sweep = asyncio.to_thread(
            arp.sweep_unprivileged, lo, targets, limiter, None, None, threading.Event()
        )
        await asyncio.gather(sweep, unicast_round(ctx, hosts, list(probes), probes))

    try:
        asyncio.run(both())
        got = _stamped(receiver)
    finally:
        receiver.close()
    assert len(got) == len(hosts) * (1 + 2 * 2)  # ARP's datagram; each inquiry, and its resend
    swept = [t for t, _, size in got if size == 0]  # the sweep's datagrams are empty
    asked = [t for t, _, size in got if size > 0]
    assert len(swept) == len(hosts) and min(asked) < max(swept)  # they overlapped
    assert busiest([(t, 1) for t, _, _ in got]) <= allowed(200) == 22
    mine: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for t, dest, _ in got:
        mine[dest].append((t, 1))
    assert set(mine) == set(hosts)
    assert max(busiest(stamps) for stamps in mine.values()) <= allowed(20) == 2
