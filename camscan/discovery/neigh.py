"""Hand the kernel the MACs the ARP sweep heard, so it does not ask for them again.

As root the ARP sweep hears each device's MAC through a packet socket, but the kernel's
neighbour table learns nothing from those replies: the first IP packet camscan then sends to a
device (a banner's SYN, an SSDP description fetch, an SNMP request) would wait for the kernel's
own ARP request, a second one on the wire for a MAC already known. So just before that first
packet (the rate limiter asks `prime`, one host at a time, never the whole table at once: many
hosts hold at most gc_thresh3 = 1024 entries), camscan adds a neighbour entry for the host
through rtnetlink: RTM_NEWNEIGH, NLM_F_CREATE|NLM_F_EXCL (an entry that exists, an admin's
permanent one or any other, is never replaced), state NUD_REACHABLE, what the kernel's own
resolution would leave; it then ages as any other entry does.

Needs CAP_NET_ADMIN; without it, or on any refusal (EEXIST, EPERM, ENOBUFS when the table is
full), the kernel resolves the address itself as before, and `stats` counts why. The message is
built here by hand: two structs and two attributes, cheaper than importing a netlink library.
"""

from __future__ import annotations

import collections
import errno
import ipaddress
import socket
import struct

RTM_NEWNEIGH = 28
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NUD_REACHABLE = 0x02
NDA_DST, NDA_LLADDR = 1, 2
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_NDMSG = struct.Struct("=BxxxiHBB")  # ndmsg: family, (pad), ifindex, state, flags, type
_ATTR = struct.Struct("=HH")  # rtattr: length, type
ACK_WAIT = 0.2  # seconds: the kernel answers a route request before send returns; a bound only


def _attr(kind: int, value: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes (RTA_ALIGN)."""
    length = _ATTR.size + len(value)
    return _ATTR.pack(length, kind) + value + b"\0" * (-length % 4)


def new_neigh(seq: int, ifindex: int, ip: str, mac: str) -> bytes:
    """RTM_NEWNEIGH for `ip` at `mac` on interface `ifindex`: create it reachable, or fail with
    EEXIST where any entry exists (asking for an answer either way)."""
    body = _NDMSG.pack(socket.AF_INET, ifindex, NUD_REACHABLE, 0, 0)
    body += _attr(NDA_DST, ipaddress.IPv4Address(ip).packed)
    body += _attr(NDA_LLADDR, bytes.fromhex(mac.replace(":", "").replace("-", "")))
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    return _HEADER.pack(_HEADER.size + len(body), RTM_NEWNEIGH, flags, seq, 0) + body


def answer(data: bytes, seq: int) -> int | None:
    """The errno the kernel answered request `seq` with (0: done), or None when `data` holds no
    answer to it. Reads every message in `data`; anything malformed is no answer."""
    at = 0
    while at + _HEADER.size <= len(data):
        length, kind, _, got, _ = _HEADER.unpack_from(data, at)
        if length < _HEADER.size or at + length > len(data):
            return None
        if kind == NLMSG_ERROR and got == seq and length >= _HEADER.size + 4:
            code: int = struct.unpack_from("=i", data, at + _HEADER.size)[0]
            return -code
        at += (length + 3) & ~3
    return None


class Neighbours:
    """What the ARP sweep heard this run ({ip: (ifindex, mac)}), and the entries handed to the
    kernel from it. Called under the rate limiter's lock: one request at a time."""

    def __init__(self) -> None:
        self._heard: dict[str, tuple[int, str]] = {}
        self._primed: dict[str, bool] = {}  # ip -> whether our entry went in
        self._sock: socket.socket | None = None
        self._seq = 0
        self._off = False  # refused for good (no CAP_NET_ADMIN, no netlink): stop asking
        self.stats: collections.Counter[str] = collections.Counter()

    def heard(self, ifindex: int, ip: str, mac: str) -> None:
        """The sweep's packet socket heard `ip` answer from `mac` on interface `ifindex`."""
        self._heard.setdefault(ip, (ifindex, mac))

    def prime(self, ip: str) -> bool:
        """Before the first IP packet to `ip`: True when the kernel now has the entry camscan
        made for it (it sends no ARP request), False when it must still resolve `ip` itself."""
        done = self._primed.get(ip)
        if done is not None:
            return done
        where = self._heard.get(ip)
        if where is None or self._off:
            return False
        code = self._ask(new_neigh(self._next_seq(), where[0], ip, where[1]))
        self._primed[ip] = code == 0
        if code == 0:
            self.stats["neigh.primed"] += 1
        else:
            name = errno.errorcode.get(code, str(code))
            self.stats[f"neigh.not_primed.{name}"] += 1
            self._off = code in (errno.EPERM, errno.EACCES, errno.EAFNOSUPPORT)
        return code == 0

    def _next_seq(self) -> int:
        self._seq = self._seq % 0xFFFFFFFF + 1
        return self._seq

    def _ask(self, request: bytes) -> int:
        """Send one request and read its answer: 0, or the errno it failed with."""
        seq = _HEADER.unpack_from(request)[3]
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
                sock.settimeout(ACK_WAIT)
                self._sock = sock
            self._sock.send(request)
            while True:
                code = answer(self._sock.recv(4096), seq)
                if code is not None:
                    return code
        except OSError as e:  # TimeoutError too: no answer within ACK_WAIT
            self._off = True
            return e.errno or errno.ETIMEDOUT

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
