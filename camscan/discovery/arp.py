"""ARP sweep: who is on each directly attached target network, and with which MAC.

With CAP_NET_RAW: one ARP request per target address through scapy's L2 socket, paced by a
token bucket (default 1000 frames/s, runZero's global default), one retry for the silent, and
an early stop once every target has answered. Without it: one empty UDP datagram to the discard
port per target makes the kernel resolve the address, and the kernel neighbour table
(/proc/net/arp) gives the MACs; the run is marked unprivileged.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import select
import socket
import struct
import time
from collections.abc import Callable

from camscan import channels
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.model import Observation, ProbeError
from camscan.netif import Interface, interface_for

ETH_P_ARP = 0x0806
REPLY_TIMEOUT = 0.5  # seconds after the last request; LAN devices answer within milliseconds
RETRY_UP_TO = 4096  # larger sweeps are sparse: a retry would double their time for little gain
Progress = Callable[[int, int], None]


class RawSocketDenied(Exception):
    """This process may not open a packet socket (no CAP_NET_RAW)."""


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


class Pacer:
    """Token bucket: at most `rate` events per second, with a burst of a few events."""

    def __init__(self, rate: float, burst: int = 8) -> None:
        self.interval = 1.0 / rate
        self.burst = burst
        self.next_at = time.monotonic()

    def wait(self) -> None:
        now = time.monotonic()
        self.next_at = max(self.next_at, now - self.burst * self.interval) + self.interval
        delay = self.next_at - now
        if delay > 0:
            time.sleep(delay)


def _quiet_scapy() -> None:
    # scapy warns on stderr about things that do not concern a user (e.g. unknown link types).
    logging.getLogger("scapy").setLevel(logging.ERROR)


def _arp_frame(iface: Interface, target: ipaddress.IPv4Address) -> bytes:
    _quiet_scapy()
    from scapy.layers.l2 import ARP, Ether  # deferred: scapy costs ~0.3 s to import

    frame = Ether(dst="ff:ff:ff:ff:ff:ff", src=iface.mac) / ARP(
        op=1, hwsrc=iface.mac, psrc=str(iface.address), pdst=str(target)
    )
    return bytes(frame)


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


def sweep_raw(
    iface: Interface,
    targets: list[ipaddress.IPv4Address],
    rate: float,
    progress: Progress | None = None,
    retries: int | None = None,
) -> dict[str, str]:
    """ARP-sweep `targets` on `iface`; returns {ip: mac} of those that answered."""
    _quiet_scapy()
    from scapy.arch.linux import L2Socket  # deferred import, see _arp_frame

    wanted = {str(t) for t in targets}
    found: dict[str, str] = {}
    if retries is None:  # a second chance for silent hosts, except where nearly all are silent
        retries = 1 if len(targets) <= RETRY_UP_TO else 0
    try:
        sock = L2Socket(iface=iface.name, type=ETH_P_ARP, filter=None, promisc=False)
    except PermissionError:
        raise RawSocketDenied(iface.name) from None
    template = bytearray(_arp_frame(iface, targets[0]))
    pacer = Pacer(rate)
    fd = sock.fileno()
    rx, tx = sock.ins, sock.outs
    assert rx is not None  # an open L2Socket has both
    assert tx is not None

    def drain(until: float) -> None:
        """Read every queued reply, then wait for more until `until` (if it is still ahead).

        Called after every frame sent: replies must not pile up in the socket, whose buffer
        overflows within a few hundred frames and silently loses answers."""
        while len(found) < len(wanted):
            wait = max(0.0, until - time.monotonic())  # 0: poll what is queued, do not block
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                return
            raw = rx.recv(2048)
            reply = _parse_reply(raw)
            if reply and reply[0] in wanted and reply[0] not in found:
                found[reply[0]] = reply[1]

    try:
        pending = list(targets)
        for attempt in range(retries + 1):
            for n, ip in enumerate(pending, 1):
                template[38:42] = ip.packed  # ARP target protocol address
                pacer.wait()
                tx.send(bytes(template))
                drain(time.monotonic())  # read what has already arrived, do not wait
                if progress and attempt == 0 and n % 16 == 0:  # progress = addresses probed
                    progress(n, len(wanted))
            if progress and attempt == 0:
                progress(len(wanted), len(wanted))
            drain(time.monotonic() + REPLY_TIMEOUT)
            pending = [ip for ip in pending if str(ip) not in found]
            if not pending:
                break
    finally:
        sock.close()
    return found


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
    rate: float,
    progress: Progress | None = None,
) -> dict[str, str]:
    """Make the kernel resolve each target (one UDP datagram to port 9), then read its table."""
    wanted = {str(t) for t in targets}
    found: dict[str, str] = {}
    pacer = Pacer(rate)

    def harvest() -> None:
        for ip, (mac, dev) in read_neighbours().items():
            if ip in wanted and dev == iface.name and ip not in found:
                found[ip] = mac

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        last_harvest = time.monotonic()
        for n, ip in enumerate(targets, 1):
            pacer.wait()
            with contextlib.suppress(OSError):  # EHOSTUNREACH after a failed resolution
                s.sendto(b"", (str(ip), 9))
            if progress and n % 16 == 0:  # progress = addresses probed
                progress(n, len(wanted))
            if time.monotonic() - last_harvest > 0.2:  # the table holds ~1024 entries; read often
                harvest()
                last_harvest = time.monotonic()
        deadline = time.monotonic() + 1.0 + REPLY_TIMEOUT  # kernel retries ARP for ~1 s
        while time.monotonic() < deadline and len(found) < len(wanted):
            time.sleep(0.1)
            harvest()
    harvest()
    return found


class ArpProbe:
    name = "arp"
    needs_raw_socket = True

    def __init__(self, progress: Progress | None = None, privileged: bool | None = None) -> None:
        self.progress = progress
        self.privileged = can_open_raw_socket() if privileged is None else privileged

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        outcome = ProbeOutcome()
        groups = plan(ctx)
        total = sum(len(v) for v in groups.values())
        done_before = 0
        for iface, ips in groups.items():
            if not ips:
                continue
            offset = done_before

            def progress(n: int, _t: int, offset: int = offset) -> None:
                if self.progress:
                    self.progress(offset + n, total)

            try:
                if self.privileged:
                    found = await asyncio.to_thread(sweep_raw, iface, ips, ctx.rate, progress)
                else:
                    found = await asyncio.to_thread(
                        sweep_unprivileged, iface, ips, ctx.rate, progress
                    )
            except (OSError, RawSocketDenied) as e:
                outcome.errors.append(ProbeError("arp", iface.name, f"ARP sweep failed: {e}"))
                continue
            done_before += len(ips)
            how = "raw" if self.privileged else "neighbour-table"
            for ip, mac in found.items():
                outcome.observations.append(
                    Observation(
                        channels.ARP_MAC,
                        mac,
                        f"arp:{how}",
                        ip=ip,
                        mac=mac,
                        fields={channels.FIELD_MAC: mac, "interface": iface.name},
                    )
                )
        return outcome
