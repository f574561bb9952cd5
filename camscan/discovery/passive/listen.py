"""Listening on an interface (a mirror/SPAN port, or any interface) without sending anything.

Receive-only by construction: one AF_PACKET socket bound to the interface for every protocol
(ETH_P_ALL), wrapped so that only receiving is reachable; nothing here builds or sends a frame.
The interface is put in promiscuous mode through the socket's own membership (a receive
setting, undone when the socket closes), so frames for other MACs on a mirror port are heard.
Needs CAP_NET_RAW.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

from camscan.discovery.passive import pcapio
from camscan.discovery.passive.dissect import Heard
from camscan.discovery.passive.heard import Source
from camscan.errors import RunError, UsageError

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33  # Linux; not exported by Python's socket module
RCVBUF = 64 << 20  # a burst of video must not push discovery frames out of the queue
BUFFER = 1 << 18  # one frame, GRO-merged ones included
TICK = 0.25  # seconds between checks of the deadline and the stop signal


class NoCapability(UsageError):
    """Listening needs CAP_NET_RAW."""


class _Receiver:
    """The only view of the socket the listener gets: receive, and close."""

    def __init__(self, interface: str) -> None:
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise NoCapability(
                "camscan listen needs CAP_NET_RAW to read raw frames: run it as root, or give "
                "camscan alone the capability (README, 'What needs root')"
            ) from None
        try:
            sock.bind((interface, ETH_P_ALL))
            index = socket.if_nametoindex(interface)
            mreq = struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            try:  # beyond rmem_max: needs CAP_NET_ADMIN, else the largest allowed is kept
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.settimeout(TICK)
        except OSError as e:
            sock.close()
            raise UsageError(f"cannot listen on {interface}: {e.strerror or e}") from None
        self._recv_into: Callable[[memoryview], int] = sock.recv_into
        self._close = sock.close
        self._sock_stats: Callable[[int, int, int], bytes] = sock.getsockopt

    def recv_into(self, buffer: memoryview) -> int:
        return self._recv_into(buffer)

    def dropped(self) -> int:
        """Frames the kernel dropped because camscan did not read them in time."""
        try:
            _, drops = struct.unpack("II", self._sock_stats(SOL_PACKET, PACKET_STATISTICS, 8))
        except OSError:
            return 0
        return int(drops)

    def close(self) -> None:
        self._close()


def listen(
    interface: str, seconds: float | None, stopped: Callable[[], bool]
) -> tuple[Heard, Source]:
    """Hear `interface` for `seconds` (None: until `stopped()`); what was heard, and where."""
    receiver = _Receiver(interface)
    heard = Heard(interface)
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    began = time.monotonic()
    deadline = None if seconds is None else began + seconds
    packets = 0
    feed = heard.frame
    try:
        while not stopped() and (deadline is None or time.monotonic() < deadline):
            try:
                n = receiver.recv_into(view)
            except TimeoutError:
                continue
            except InterruptedError:
                continue
            except OSError as e:
                raise RunError(f"listening on {interface} failed: {e.strerror or e}") from None
            packets += 1
            feed(pcapio.ETHERNET, time.time(), bytes(view[:n]))
        dropped = receiver.dropped()
    finally:
        receiver.close()
    heard.finish()
    listened = time.monotonic() - began
    damaged = (
        f"the kernel dropped {dropped} frames on {interface} that camscan could not read in time"
        if dropped
        else None
    )
    return heard, Source("interface", interface, packets, heard.parsed, listened, damaged)
