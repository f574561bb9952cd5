"""ARP sweep bookkeeping (per-target timeouts, one retry for the silent, completion) and frames.

The clock is passed in, so these run without a network; tests/test_arp_lab.py sweeps a lab."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.l2 import ARP, Ether

from camscan.discovery import arp
from camscan.discovery.rate import RateLimiter
from camscan.netif import Interface

IFACE = Interface(
    "eth0",
    2,
    "02:00:5e:10:00:01",
    ipaddress.IPv4Address("198.18.42.1"),
    ipaddress.IPv4Network("198.18.42.0/24"),
)


def drive(
    targets: list[str], live: dict[str, float], retries: int = 1
) -> tuple[float, dict[str, int]]:
    """Simulate a sweep at 1000 frames/s: `live` maps address -> reply delay. (end, tries)."""
    plan = arp.Completion(targets, retries)
    now = 0.0
    replies: list[tuple[float, str]] = []  # (arrival, ip)
    while not plan.done():
        for at, ip in sorted(replies):
            if at <= now:
                plan.answer(ip, at)
        replies = [(at, ip) for at, ip in replies if at > now]
        asked = plan.next_request(now)
        if asked is None:
            wake = plan.wake_at()
            soonest = [at for at, _ in replies] + ([wake] if wake is not None else [])
            now = max(now, min(soonest)) if soonest else now
            continue
        plan.sent(asked, now)
        if asked in live:
            replies.append((now + live[asked], asked))
        now += 0.001
    return now, dict(plan.tries)


def addresses(n: int) -> list[str]:
    return [f"198.18.42.{i}" for i in range(2, 2 + n)]


def test_all_live_ends_when_the_last_answer_arrives() -> None:
    targets = addresses(200)
    end, tries = drive(targets, dict.fromkeys(targets, 0.002))
    assert set(tries.values()) == {1}  # nobody retried
    assert end < 0.2 + 0.01  # 200 frames at 1000/s, plus the last answer


def test_silent_addresses_are_retried_once_then_given_up() -> None:
    targets = addresses(200)
    live = {ip: 0.002 for ip in targets[::2]}
    end, tries = drive(targets, live)
    assert all(tries[ip] == 1 for ip in live)
    assert all(tries[ip] == 2 for ip in targets if ip not in live)
    # Learnt timeout is the floor (answers in 2 ms). Retries go first, so the last first
    # request leaves once all 300 frames have (at 1000/s); it is retried MIN_TIMEOUT later and
    # given up BACKOFF x MIN_TIMEOUT after that: no fixed window per pass.
    frames = 0.2 + 0.1
    assert end <= frames + arp.MIN_TIMEOUT * (1 + arp.BACKOFF) + 0.01


def test_a_late_answer_after_the_retry_still_counts() -> None:
    targets = addresses(10)
    slow = targets[3]
    live = dict.fromkeys(targets, 0.001)
    live[slow] = arp.MIN_TIMEOUT * 1.5  # past its first timeout, within the retry's
    end, tries = drive(targets, live)
    assert tries[slow] == 2
    assert end < 1.0


def test_no_retries_on_sparse_sweeps() -> None:
    targets = addresses(50)
    _, tries = drive(targets, {}, retries=0)
    assert set(tries.values()) == {1}


def test_timeout_stays_between_floor_and_ceiling() -> None:
    plan = arp.Completion(["a", "b", "c"], 1)
    assert plan.timeout() == arp.INITIAL_TIMEOUT
    plan.sent("a", 0.0)
    plan.answer("a", 5.0)  # an absurd round trip
    assert plan.timeout() == arp.MAX_TIMEOUT
    plan.sent("b", 5.0)
    plan.answer("b", 5.0)
    assert arp.MIN_TIMEOUT <= plan.timeout() <= arp.MAX_TIMEOUT


def test_answers_from_addresses_never_asked_are_ignored() -> None:
    plan = arp.Completion(["198.18.42.2"], 1)
    assert not plan.answer("198.18.42.9", 0.0)
    plan.sent("198.18.42.2", 0.0)
    assert plan.answer("198.18.42.2", 0.001)
    assert not plan.answer("198.18.42.2", 0.002)  # a duplicate
    assert plan.done()


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 120),
    live=st.sets(st.integers(0, 119)),
    delay=st.floats(0.0, 0.4),
)
def test_every_address_is_asked_and_sweeps_end(n: int, live: set[int], delay: float) -> None:
    targets = addresses(n)
    end, tries = drive(targets, {targets[i]: delay for i in live if i < n})
    assert set(tries) == set(targets)
    assert all(1 <= t <= 2 for t in tries.values())
    assert end < n * 0.002 + 2 * arp.REPLY_TIMEOUT


def test_request_frame_is_the_one_scapy_builds() -> None:
    target = ipaddress.IPv4Address("198.18.42.77")
    ours = arp._arp_frame(IFACE, target)
    theirs = bytes(
        Ether(dst="ff:ff:ff:ff:ff:ff", src=IFACE.mac)
        / ARP(op=1, hwsrc=IFACE.mac, psrc=str(IFACE.address), pdst=str(target))
    )
    assert ours == theirs


def test_reply_parsed_from_a_scapy_frame() -> None:
    reply = bytes(
        Ether(dst=IFACE.mac, src="44:19:b6:00:00:05")
        / ARP(op=2, hwsrc="44:19:b6:00:00:05", psrc="198.18.42.5", pdst="198.18.42.1")
    )
    assert arp._parse_reply(reply) == ("198.18.42.5", "44:19:b6:00:00:05")
    request = arp._arp_frame(IFACE, ipaddress.IPv4Address("198.18.42.5"))
    assert arp._parse_reply(request) is None  # our own who-has, seen on the socket


SCANNER_MAC = "02:00:5e:10:00:01"  # IFACE's


class _Flaky:
    """A packet socket whose driver queue is full for the first sends (ENOBUFS, seen with 4,000
    lab devices), then whose interface goes away (ENETDOWN) after `fail_after` frames."""

    def __init__(self, sock: socket.socket, refusals: int, fail_after: int | None) -> None:
        self.sock, self.refusals, self.fail_after, self.sent = sock, refusals, fail_after, 0

    def send(self, frame: bytes) -> int:
        if self.refusals:
            self.refusals -= 1
            raise OSError(errno.ENOBUFS, "No buffer space available")
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise OSError(errno.ENETDOWN, "Network is down")
        self.sent += 1
        return self.sock.send(frame)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def _sweep_answered(targets: list[str], flaky: Callable[[socket.socket], _Flaky]) -> object:
    """Sweep `targets` over a socket pair whose far end answers every request it gets."""
    ours, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.setblocking(False)
    peer.setblocking(False)

    def answer() -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                asked = Ether(peer.recv(2048))[ARP].pdst
                mac = "02:00:5e:10:00:" + asked.rsplit(".", 1)[1].rjust(2, "0")[-2:]
                reply = Ether(dst=SCANNER_MAC, src=mac) / ARP(
                    op=2, hwsrc=mac, psrc=asked, hwdst=SCANNER_MAC, pdst=str(IFACE.address)
                )
                peer.send(bytes(reply))

    async def run() -> object:
        asyncio.get_running_loop().add_reader(peer.fileno(), answer)
        ips = [ipaddress.IPv4Address(t) for t in targets]
        try:
            return await arp.sweep_raw(IFACE, ips, RateLimiter(2000, 2000), retries=0)
        except arp.ArpSendFailed as e:
            return e
        finally:
            asyncio.get_running_loop().remove_reader(peer.fileno())

    original = arp._open_packet_socket
    arp._open_packet_socket = lambda iface: flaky(ours)  # type: ignore[assignment,return-value]
    try:
        return asyncio.run(run())
    finally:
        arp._open_packet_socket = original
        peer.close()


def test_a_full_driver_queue_delays_requests_and_loses_none() -> None:
    # ENOBUFS ended the whole sweep and threw away the answers in (6 of 4,000 lab devices)
    targets = [f"198.18.42.{n}" for n in range(2, 40)]
    found = _sweep_answered(targets, lambda s: _Flaky(s, refusals=5, fail_after=None))
    assert isinstance(found, dict) and sorted(found) == sorted(targets)


def test_an_interface_gone_midway_keeps_the_answers_already_in() -> None:
    targets = [f"198.18.42.{n}" for n in range(2, 40)]
    stopped = _sweep_answered(targets, lambda s: _Flaky(s, refusals=0, fail_after=10))
    assert isinstance(stopped, arp.ArpSendFailed) and stopped.cause.errno == errno.ENETDOWN
    assert 1 <= len(stopped.found) <= 10 and set(stopped.found) <= set(targets)
