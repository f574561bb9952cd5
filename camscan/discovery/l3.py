"""Host discovery without layer 2, for routed (off-link) targets.

ARP does not cross a router, so camscan asks each address at layer 3: unprivileged TCP connects
to the camera ports (an accepted or a refused connection both prove a live host; the router's
"host unreachable" proves the opposite), plus ICMP echo to IPv4 addresses when a raw socket is
allowed. Routed IPv6 addresses get the same TCP connects (no echo: TCP alone decides). Ports are
tried one after the other, paced by the per-host cap, and a host that has answered is asked
nothing more. Every packet is drawn from the run's rate limiter (global and per-host caps).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Callable

from camscan import channels as ch
from camscan.discovery.connect import open_now
from camscan.discovery.rate import RateLimiter
from camscan.model import Observation

NAME = "l3"
# Hikvision/Dahua web, RTSP and SDK ports first, then the usual alternatives
CAMERA_PORTS = (80, 443, 554, 8000, 37777, 8080, 8443, 8554, 34567)
# seconds per connect: a live host on a LAN or WAN link answers faster, and it is under TCP's
# first retransmission timeout (1 s), so an unanswered SYN is never sent twice behind the
# rate limiter's back (a dead /24 would otherwise send each address's SYN again a second later)
CONNECT_TIMEOUT = 0.8
MAX_OPEN_CONNECTS = 2048  # sockets in flight at once (file descriptors; ~rate x timeout)
_DEAD = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN}


@dataclasses.dataclass(slots=True)
class HostAnswer:
    ip: str
    how: str  # "tcp/80 open", "tcp/554 refused", "icmp echo-reply"
    open_ports: list[int] = dataclasses.field(default_factory=list)
    refused_ports: list[int] = dataclasses.field(default_factory=list)  # closed: not asked again


async def _connect(ip: str, port: int, timeout: float) -> str:
    """'open', 'refused', 'unreachable' or 'silent'. The SYN goes out in the caller's step
    (asyncio connects before its first await), right after the limiter let it go."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await open_now(ip, port)
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "silent"
    except OSError as exc:
        return "unreachable" if exc.errno in _DEAD else "silent"
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 0.5)
    return "open"


class _IcmpEcho:
    """Echo requests on one raw socket; replies mark hosts alive. Needs CAP_NET_RAW."""

    def __init__(self, on_reply: Callable[[str], None]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sock.setblocking(False)
        self.ident = os.getpid() & 0xFFFF
        self.on_reply = on_reply
        self.seq = 0
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)

    @staticmethod
    def _checksum(data: bytes) -> int:
        if len(data) % 2:
            data += b"\0"
        total = sum(struct.unpack(f"!{len(data) // 2}H", data))
        total = (total >> 16) + (total & 0xFFFF)
        total += total >> 16
        return int(~total & 0xFFFF)

    def send(self, ip: str) -> None:
        self.seq = (self.seq + 1) & 0xFFFF
        body = b"camscan"
        head = struct.pack("!BBHHH", 8, 0, 0, self.ident, self.seq)
        packet = struct.pack("!BBHHH", 8, 0, self._checksum(head + body), self.ident, self.seq)
        with contextlib.suppress(OSError):
            self.sock.sendto(packet + body, (ip, 0))

    def _read(self) -> None:
        for _ in range(64):
            try:
                data, addr = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(data) < 28:
                continue
            ihl = (data[0] & 0x0F) * 4
            kind, _, _, ident, _ = struct.unpack_from("!BBHHH", data, ihl)
            if kind == 0 and ident == self.ident:
                self.on_reply(str(addr[0]))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


def _icmp(on_reply: Callable[[str], None]) -> _IcmpEcho | None:
    try:
        return _IcmpEcho(on_reply)
    except (OSError, PermissionError):
        return None  # unprivileged: TCP alone


def _open_limit() -> int:
    """MAX_OPEN_CONNECTS, or less when the file-descriptor limit is lower."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_OPEN_CONNECTS
    return max(16, min(MAX_OPEN_CONNECTS, soft // 2 - 64))


async def sweep(
    hosts: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    limiter: RateLimiter,
    *,
    ports: tuple[int, ...] = CAMERA_PORTS,
    timeout: float = CONNECT_TIMEOUT,
    icmp: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, HostAnswer], dict[str, int]]:
    """Which of `hosts` are alive, and how each answered; plus counters for run.stats."""
    found: dict[str, HostAnswer] = {}
    stats = {"l3.hosts": len(hosts), "l3.tcp_connects": 0, "l3.icmp_echo": 0}
    done = 0
    events: dict[str, asyncio.Event] = {}
    limit = asyncio.Semaphore(_open_limit())

    def alive(ip: str, how: str) -> None:
        if ip not in found:
            found[ip] = HostAnswer(ip, how)
        event = events.get(ip)
        if event is not None:
            event.set()

    echo = _icmp(lambda ip: alive(ip, "icmp echo-reply")) if icmp else None

    async def connect(
        ip: str, port: int, answered: asyncio.Event, went: asyncio.Future[bool]
    ) -> None:
        """Connect once the limiter lets the SYN go; `went` says whether it went."""
        try:
            async with limit:
                await limiter.slot(ip)
                if answered.is_set():  # answered meanwhile: asked nothing more
                    went.set_result(False)
                    return
                went.set_result(True)
                outcome = await _connect(ip, port, timeout)
        finally:
            if not went.done():
                went.set_result(False)
        if outcome == "open":
            alive(ip, f"tcp/{port} open")
            found[ip].open_ports.append(port)
        elif outcome == "refused":
            alive(ip, f"tcp/{port} refused")
            found[ip].refused_ports.append(port)
        elif outcome == "unreachable":
            answered.set()  # the router says there is nobody: stop asking

    async def probe(ip: str) -> None:
        nonlocal done
        answered = events.setdefault(ip, asyncio.Event())
        tasks: list[asyncio.Future[object]] = []
        if echo is not None and ":" not in ip:  # the raw socket is ICMP for IPv4
            await limiter.slot(ip)  # then sent at once: no await in between
            echo.send(ip)
            limiter.went()
            stats["l3.icmp_echo"] += 1
        for port in ports:
            if answered.is_set():
                break
            went: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            tasks.append(asyncio.ensure_future(connect(ip, port, answered, went)))
            if not await went:  # one port after the other, each at its turn
                break
            stats["l3.tcp_connects"] += 1
        waiter: asyncio.Future[object] = asyncio.ensure_future(answered.wait())
        pending: set[asyncio.Future[object]] = {t for t in tasks if not t.done()}
        while pending and not answered.is_set():
            _, still = await asyncio.wait({waiter, *pending}, return_when=asyncio.FIRST_COMPLETED)
            pending = {t for t in still if t is not waiter}
        waiter.cancel()
        for t in tasks:
            if not t.done():
                t.cancel()
        done += 1
        if progress is not None:
            progress(done, len(hosts))

    try:
        await asyncio.gather(*(probe(str(h)) for h in hosts))
    finally:
        if echo is not None:
            echo.close()
    return found, stats


def address_key(ip: str) -> tuple[int, int]:
    """Sort key of an address text: IPv4 first, then IPv6, each in numeric order."""
    addr = ipaddress.ip_address(ip)
    return addr.version, int(addr)


def observations(answers: dict[str, HostAnswer]) -> list[Observation]:
    """One `host.alive` observation per live host, and `tcp.open` per open port seen."""
    found: list[Observation] = []
    for ip, answer in sorted(answers.items(), key=lambda kv: address_key(kv[0])):
        found.append(Observation(ch.HOST_ALIVE, answer.how, NAME, ip, None, {ch.FIELD_IP: ip}))
        for port in answer.open_ports:
            found.append(Observation(ch.TCP_OPEN, str(port), NAME, ip, None, {ch.FIELD_IP: ip}))
    return found
