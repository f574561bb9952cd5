"""ARP sweep: who is on each directly attached target network, and with which MAC.

With CAP_NET_RAW: one ARP request per target address through a packet socket, each drawn from
the run's rate limiter (camscan/discovery/rate.py); each address has its own timeout
(learnt from the answers' round-trip times) and the silent get one retry, so the sweep ends
when every answer that can come has come. Without it: one empty UDP datagram to the discard
port per target makes the kernel resolve the address (its ARP requests, retries included,
are drawn from the limiter too), and the kernel neighbour table (/proc/net/arp) gives the MACs;
the run is marked unprivileged.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import heapq
import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Callable

from camscan import channels
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.rate import RateLimiter
from camscan.errors import ProbeFailure, ProbeKind, kind_of
from camscan.model import Observation, ProbeError
from camscan.netif import Interface, interface_for

ETH_P_ARP = 0x0806
REPLY_TIMEOUT = 0.5  # seconds: the longest a sweep waits after its last request
RETRY_UP_TO = 4096  # larger sweeps are sparse: a retry would double their time for little gain
# Per-target timeouts, as arp-scan and nmap keep them: how long to wait for one address's answer
# before retrying it (once) or giving it up. Learnt from the round-trip times of the answers seen
# (srtt + 4 rttvar, RFC 6298); LAN devices answer ARP within milliseconds, so the floor rules.
INITIAL_TIMEOUT = 0.25  # seconds, until a first answer has measured the link
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = REPLY_TIMEOUT / 2  # a retry waits twice the timeout (back-off), at most REPLY_TIMEOUT
BACKOFF = 2.0
DISCARD_PORT = 9  # the unprivileged sweep's datagrams: nothing listens, nothing answers
Progress = Callable[[int, int], None]


class RawSocketDenied(ProbeFailure):
    """This process may not open a packet socket (no CAP_NET_RAW)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ProbeKind.PERMISSION)


class ArpSendFailed(Exception):
    """The sweep could not send (the interface went away): it ends with what it `found`."""

    def __init__(self, found: dict[str, str], cause: OSError) -> None:
        super().__init__(str(cause))
        self.found, self.cause = found, cause


def can_open_raw_socket() -> bool:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)).close()
    except PermissionError:
        return False
    except OSError:
        return False
    return True


def plan(ctx: ProbeContext) -> dict[Interface, list[ipaddress.IPv4Address]]:
    """Targets grouped by the interface that reaches them directly; others are not ARP-able."""
    by_iface: dict[Interface, list[ipaddress.IPv4Address]] = {}
    for ip in ctx.targets.hosts():
        iface = interface_for(ip, ctx.interfaces)
        special = (iface.address, iface.network.network_address, iface.broadcast) if iface else ()
        if iface is not None and ip not in special:
            by_iface.setdefault(iface, []).append(ip)
    return by_iface


class Completion:
    """Which address to ask next and when a sweep is over: every answer that can come has come.

    Each address is asked once in order; one that stays silent past its timeout is asked once
    more (`retries`), with the timeout doubled, then given up. The sweep ends when every address
    has answered or been given up: on a half-empty /24 that is a fraction of a second after the
    last request, not a fixed window. Pure bookkeeping (the clock is passed in), so it is tested
    without a network."""

    def __init__(self, targets: list[str], retries: int) -> None:
        self.order = list(targets)
        self.retries = retries
        self.next_first = 0  # index into order of the next first request
        self.tries: dict[str, int] = {}
        self.sent_at: dict[str, float] = {}
        self.answered: set[str] = set()
        self.waiting: list[tuple[float, int, str]] = []  # (deadline, seq, ip): a heap
        self.seq = 0
        self.srtt: float | None = None
        self.rttvar = 0.0

    def timeout(self) -> float:
        if self.srtt is None:
            return INITIAL_TIMEOUT
        return min(MAX_TIMEOUT, max(MIN_TIMEOUT, self.srtt + 4 * self.rttvar))

    def sent(self, ip: str, now: float) -> None:
        tries = self.tries.get(ip, 0) + 1
        self.tries[ip] = tries
        self.sent_at[ip] = now
        wait = self.timeout() * BACKOFF ** (tries - 1)
        heapq.heappush(self.waiting, (now + wait, self.seq, ip))
        self.seq += 1

    def answer(self, ip: str, now: float) -> bool:
        """Record an answer; True if it is the first from a target."""
        if ip in self.answered or ip not in self.sent_at:
            return False
        self.answered.add(ip)
        if self.tries[ip] == 1:  # Karn: a retried address's RTT is ambiguous
            rtt = now - self.sent_at[ip]
            if self.srtt is None:
                self.srtt, self.rttvar = rtt, rtt / 2
            else:
                self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
                self.srtt = 0.875 * self.srtt + 0.125 * rtt
        return True

    def _expire(self, now: float) -> str | None:
        """Drop the waits that are over; return an address due for a retry, if any."""
        while self.waiting and self.waiting[0][0] <= now:
            _, _, ip = heapq.heappop(self.waiting)
            if ip not in self.answered and self.tries[ip] <= self.retries:
                return ip
        return None

    def requeue(self, ip: str) -> None:
        """A request handed out could not be sent: hand it out again next."""
        if self.tries.get(ip, 0) == 0:
            self.next_first -= 1  # a first request: it was the last one handed out
        else:
            heapq.heappush(self.waiting, (0.0, -1, ip))

    def next_request(self, now: float) -> str | None:
        """The address to ask now: a due retry first, then the next first request."""
        due = self._expire(now)
        if due is not None:
            return due
        if self.next_first < len(self.order):
            self.next_first += 1
            return self.order[self.next_first - 1]
        return None

    def wake_at(self) -> float | None:
        """When the next wait ends (None: nothing left to wait for)."""
        while self.waiting and self.waiting[0][2] in self.answered:
            heapq.heappop(self.waiting)
        return self.waiting[0][0] if self.waiting else None

    def done(self) -> bool:
        if len(self.answered) == len(self.order):
            return True
        return self.next_first >= len(self.order) and self.wake_at() is None


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", "").replace("-", ""))


def _arp_frame(iface: Interface, target: ipaddress.IPv4Address) -> bytes:
    """Broadcast who-has `target`, from `iface` (the bytes scapy's Ether()/ARP() build: tested).

    Built by hand: importing scapy costs ~0.2 s, a fifth of a whole /24 sweep."""
    if iface.mac is None:
        raise OSError(f"{iface.name} has no MAC address to send ARP from")
    mac = _mac_bytes(iface.mac)
    ether = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + iface.address.packed
    return ether + arp + b"\x00" * 6 + target.packed


def _parse_reply(frame: bytes) -> tuple[str, str] | None:
    """(sender IP, sender MAC) of an ARP reply frame, or None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06":
        return None
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    if (htype, ptype, hlen, plen, op) != (1, 0x0800, 6, 4, 2):
        return None
    mac = frame[22:28].hex(":")
    ip = socket.inet_ntoa(frame[28:32])
    return ip, mac


def _open_packet_socket(iface: Interface) -> socket.socket:
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    except PermissionError:
        raise RawSocketDenied(iface.name) from None
    try:
        sock.bind((iface.name, ETH_P_ARP))  # ARP frames of this interface only
        with contextlib.suppress(OSError):  # more room for a burst of replies, where allowed
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def sweep_raw(
    iface: Interface,
    targets: list[ipaddress.IPv4Address],
    limiter: RateLimiter,
    progress: Progress | None = None,
    retries: int | None = None,
    answered: Callable[[str, str], None] | None = None,
    stop: threading.Event | None = None,
    stats: collections.Counter[str] | None = None,
) -> dict[str, str]:
    """ARP-sweep `targets` on `iface`; returns {ip: mac} of those that answered (so far, when
    `stop` is set midway: SIGINT/SIGTERM end it at once, with what it found). `stats` counts
    the requests it sent (`arp.requests`, retries included): every other ARP request on the
    wire is the kernel's.

    Runs in the event loop, not a thread: the replies are read by a loop reader as they come,
    so banner probes sharing the loop (they start on each host as it answers) cannot starve the
    reader of the GIL and overflow the socket's buffer. `answered(ip, mac)` is called on each
    first answer, as it comes, after the limiter's `neighbours` heard it
    (camscan/discovery/neigh.py)."""
    if retries is None:  # a second chance for silent hosts, except where nearly all are silent
        retries = 1 if len(targets) <= RETRY_UP_TO else 0
    plan_ = Completion([str(t) for t in targets], retries)
    found: dict[str, str] = {}
    sock = _open_packet_socket(iface)
    template = bytearray(_arp_frame(iface, targets[0]))
    total = len(targets)
    loop = asyncio.get_running_loop()
    news = asyncio.Event()  # an answer came: the sweep may be over
    neighbours = limiter.neighbours  # hands the kernel what it hears (neigh.py)

    def read_replies() -> None:
        """Everything queued; the socket buffer must never fill (it drops answers silently)."""
        while True:
            try:
                raw = sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # the interface went away: what was found stands
            reply = _parse_reply(raw)
            if reply and plan_.answer(reply[0], time.monotonic()):
                found[reply[0]] = reply[1]
                news.set()
                if neighbours is not None:  # the kernel learns nothing from this socket
                    neighbours.heard(iface.index, *reply)
                if answered is not None:
                    answered(reply[0], reply[1])

    loop.add_reader(sock.fileno(), read_replies)
    try:
        while not plan_.done() and not (stop is not None and stop.is_set()):
            now = time.monotonic()
            ip = plan_.next_request(now)
            if ip is None:  # nothing to send yet: wait for answers until the next wait ends
                wake = plan_.wake_at()
                news.clear()
                if wake is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(news.wait(), max(0.0, wake - time.monotonic()))
                continue
            await limiter.slot(ip, arp=True)  # then sent at once: no await in between
            template[38:42] = socket.inet_aton(ip)  # ARP target protocol address
            try:
                sock.send(template)
                limiter.went()
            except OSError as e:
                # the socket's or the driver's queue is full (EAGAIN, ENOBUFS: seen at 4,000
                # devices): the request waits its turn. Anything else ends the sweep with what
                # it found (it raised before and lost every answer already in).
                if not isinstance(e, BlockingIOError) and e.errno != errno.ENOBUFS:
                    raise ArpSendFailed(found, e) from e
                await asyncio.sleep(1.0 / limiter.rate)
                plan_.requeue(ip)
                continue
            plan_.sent(ip, time.monotonic())
            if stats is not None:
                stats["arp.requests"] += 1
            first = plan_.next_first
            if progress and plan_.tries[ip] == 1 and (first % 16 == 0 or first == total):
                progress(first, total)  # progress = addresses probed once
            await asyncio.sleep(0)  # let the reader and other probes run between frames
        read_replies()  # answers queued before the end still count
    finally:
        loop.remove_reader(sock.fileno())
        sock.close()
    return found


def kernel_solicits(iface: str) -> int:
    """ARP requests the kernel sends for an address before it gives up (Linux default 3)."""
    try:
        with open(f"/proc/sys/net/ipv4/neigh/{iface}/mcast_solicit", encoding="ascii") as f:
            return max(1, int(f.read().strip()))
    except (OSError, ValueError):
        return 3


def read_neighbours(path: str = "/proc/net/arp") -> dict[str, tuple[str, str]]:
    """{ip: (mac, device)} of complete entries in the kernel neighbour table."""
    out: dict[str, tuple[str, str]] = {}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and int(parts[2], 16) & 0x2 and parts[3] != "00:00:00:00:00:00":
            out[parts[0]] = (parts[3].lower(), parts[5])
    return out


def sweep_unprivileged(
    iface: Interface,
    targets: list[ipaddress.IPv4Address],
    limiter: RateLimiter,
    progress: Progress | None = None,
    answered: Callable[[str, str], None] | None = None,
    stop: threading.Event | None = None,
) -> dict[str, str]:
    """Make the kernel resolve each target (one UDP datagram to port 9), then read its table.

    Each target costs what the kernel sends for it: its ARP requests (the first, and its
    retries while the address stays silent: `mcast_solicit` in all) or one request and the
    datagram; they are taken from `limiter` before the datagram goes."""
    wanted = {str(t) for t in targets}
    found: dict[str, str] = {}
    stop = stop or threading.Event()
    retries = max(1, kernel_solicits(iface.name) - 1)  # the limiter counts the first request

    def harvest() -> None:
        for ip, (mac, dev) in read_neighbours().items():
            if ip in wanted and dev == iface.name and ip not in found:
                found[ip] = mac
                if answered is not None:
                    answered(ip, mac)

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        last_harvest = time.monotonic()
        for n, ip in enumerate(targets, 1):
            if not limiter.wait(str(ip), stop, cost=retries):
                break
            with contextlib.suppress(OSError):  # EHOSTUNREACH after a failed resolution
                s.sendto(b"", (str(ip), DISCARD_PORT))
            if progress and n % 16 == 0:  # progress = addresses probed
                progress(n, len(wanted))
            if time.monotonic() - last_harvest > 0.2:  # the table holds ~1024 entries; read often
                harvest()
                last_harvest = time.monotonic()
        deadline = time.monotonic() + 1.0 + REPLY_TIMEOUT  # kernel retries ARP for ~1 s
        while time.monotonic() < deadline and len(found) < len(wanted):
            if stop.wait(0.1):
                break
            harvest()
    harvest()
    return found


class ArpProbe:
    name = "arp"

    def __init__(self, progress: Progress | None = None, privileged: bool | None = None) -> None:
        self.progress = progress  # None: ctx.progress
        self.privileged = privileged  # None: ctx.settings.privileged

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        privileged = ctx.settings.privileged if self.privileged is None else self.privileged
        report = self.progress or ctx.progress
        outcome = ProbeOutcome()
        groups = plan(ctx)
        total = sum(len(v) for v in groups.values())
        on_host = ctx.on_host
        found_one: Callable[[str, str], None] | None = None
        answered: Callable[[str, str], None] | None = None
        if on_host is not None:  # the unprivileged sweep runs in a thread: hand hosts to the loop
            loop = asyncio.get_running_loop()

            def found_one(ip: str, mac: str) -> None:
                # its MAC first, so inspection knows its OUI's maker (Hints.linked)
                ctx.hints.linked(ip, mac, f"arp:{'raw' if privileged else 'neighbour-table'}")
                on_host(ip)

            def answered(ip: str, mac: str) -> None:
                loop.call_soon_threadsafe(found_one, ip, mac)

        done_before = 0
        for iface, ips in groups.items():
            if not ips:
                continue
            offset = done_before

            def progress(n: int, _t: int, offset: int = offset) -> None:
                if report:
                    report(offset + n, total)

            try:
                if privileged:
                    found = await sweep_raw(
                        iface,
                        ips,
                        ctx.limiter,
                        progress,
                        answered=found_one,
                        stop=ctx.stop,
                        stats=ctx.stats,
                    )
                else:
                    found = await asyncio.to_thread(
                        sweep_unprivileged, iface, ips, ctx.limiter, progress, answered, ctx.stop
                    )
            except ArpSendFailed as e:  # the answers already in still count
                found = e.found
                error = f"ARP sweep stopped after {len(found)} answers: {e.cause}"
                outcome.errors.append(ProbeError(self.name, iface.name, error, kind_of(e.cause)))
            except (OSError, RawSocketDenied) as e:
                error = f"ARP sweep failed: {e}"
                outcome.errors.append(ProbeError(self.name, iface.name, error, kind_of(e)))
                continue
            done_before += len(ips)
            how = "raw" if privileged else "neighbour-table"
            for ip, mac in found.items():
                outcome.observations.append(
                    Observation(
                        channels.ARP_MAC,
                        mac,
                        f"arp:{how}",
                        ip=ip,
                        mac=mac,
                        fields={channels.FIELD_MAC: mac, channels.FIELD_INTERFACE: iface.name},
                    )
                )
        return outcome
