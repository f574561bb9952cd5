"""Streaming pcap / pcapng record reader: bounded blocks, no dissection, no whole-file reads.

The file type comes from its first four bytes (pcap: a1b2c3d4 or a1b23c4d in either byte order;
pcapng: the Section Header Block 0a0d0d0a). Every length a file states is checked against a
bound before anything is read for it, so a record claiming 4 GiB costs nothing: it ends the read
with one line (`CaptureError`). Records are yielded as (link type, seconds, buffer, start, stop):
the frame is buffer[start:stop], left unsliced so a prefilter can reject it without a copy.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from typing import BinaryIO

from camscan.errors import DataError

CHUNK = 1 << 20  # bytes read at a time
MAX_PACKET = 262_144  # largest record accepted (libpcap's own snapshot maximum)
MAX_BLOCK = MAX_PACKET + 4096  # largest pcapng block accepted (a packet plus its options)
MAX_INTERFACES = 4096  # pcapng interface descriptions per section

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDER = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_SHB, _IDB, _EPB, _SPB, _OPB = 0x0A0D0D0A, 1, 6, 3, 2

# Link types read (others are counted and skipped, or refused for a whole pcap file)
ETHERNET, RAW, LINUX_SLL, IPV4, LINUX_SLL2 = 1, 101, 113, 228, 276
RAW_BSD = 12  # "raw IP" on some BSDs and old libpcap
LINK_TYPES = frozenset({ETHERNET, RAW, RAW_BSD, LINUX_SLL, IPV4, LINUX_SLL2})


Record = tuple[int, int, bytes, int, int]  # link type, seconds, buffer, start, stop


class CaptureError(DataError):
    """The capture cannot be read (further); the message is one line."""


@dataclasses.dataclass(slots=True)
class ReadStats:
    kind: str = ""  # "pcap" or "pcapng"
    packets: int = 0
    bytes: int = 0  # captured bytes of the packets read
    skipped_link: int = 0  # packets on a link type camscan does not read
    first: float | None = None  # capture time of the first and last packet (seconds)
    last: float | None = None
    damaged: str | None = None  # why reading stopped before the end of the file, one line


def capture_kind(head: bytes) -> str | None:
    """ "pcap", "pcapng" or None, from a file's first bytes."""
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC:
        return "pcapng"
    return None


class _Buffer:
    """A window on the stream: `need(n)` makes n bytes from `pos` available, or returns False."""

    def __init__(self, stream: BinaryIO, head: bytes = b"") -> None:
        self.stream = stream
        self.data = head
        self.pos = 0
        self.offset = 0  # file offset of data[0]

    def need(self, n: int) -> bool:
        if len(self.data) - self.pos >= n:
            return True
        rest = self.data[self.pos :]
        self.offset += self.pos
        chunks = [rest]
        have = len(rest)
        while have < n:
            chunk = self.stream.read(max(CHUNK, n - have))
            if not chunk:
                break
            chunks.append(chunk)
            have += len(chunk)
        self.data = b"".join(chunks)
        self.pos = 0
        return have >= n

    def at(self) -> int:
        return self.offset + self.pos


def read_records(stream: BinaryIO, stats: ReadStats) -> Iterator[Record]:
    """(link type, whole seconds, buffer, start, stop) per packet record. Raises CaptureError
    when the file is not a capture or its first header is unusable; damage later stops the read
    and is noted in `stats.damaged` (what was read stays good)."""
    head = stream.read(4)
    kind = capture_kind(head)
    if kind is None:
        raise CaptureError("not a pcap or pcapng file (unknown magic bytes)")
    stats.kind = kind
    buf = _Buffer(stream, head)
    # one generator, not a wrapper around one: every packet passes through it
    return _pcap(buf, stats) if kind == "pcap" else _pcapng(buf, stats)


class _Damaged(Exception):
    pass


def _damaged(stats: ReadStats, buf: _Buffer, error: _Damaged) -> None:
    """Damage before any packet: the file is unreadable (CaptureError); after: noted."""
    if stats.packets == 0:
        raise CaptureError(f"{stats.kind} file unreadable: {error}") from None
    stats.damaged = f"{stats.kind} file damaged at byte {buf.at()}: {error}; read stopped there"


def _pcap(buf: _Buffer, stats: ReadStats) -> Iterator[Record]:
    if not buf.need(24):
        raise CaptureError("pcap file unreadable: truncated file header")
    order, _ = PCAP_MAGICS[buf.data[0:4]]
    _, _, _, _, _snaplen, link = struct.unpack_from(order + "HHiIII", buf.data, 4)
    link &= 0xFFFF  # the upper bits carry FCS flags
    if link not in LINK_TYPES:
        raise CaptureError(
            f"pcap link type {link} is not one camscan reads (Ethernet, raw IP, SLL)"
        )
    buf.pos = 24
    unpack = struct.Struct(order + "IIII").unpack_from
    packets = size = 0
    sec = None
    try:  # counters in locals, written back once: this loop runs for every packet
        while True:
            data, pos = buf.data, buf.pos
            if len(data) - pos < 16:
                if not buf.need(16):
                    if len(buf.data) - buf.pos:
                        raise _Damaged("truncated record header")
                    return
                data, pos = buf.data, buf.pos
            sec, _, incl, _ = unpack(data, pos)
            if incl > MAX_PACKET:
                raise _Damaged(f"record claims {incl} bytes (limit {MAX_PACKET})")
            end = pos + 16 + incl
            if end > len(data):
                if not buf.need(16 + incl):
                    raise _Damaged(f"truncated record ({incl} bytes claimed)")
                data, pos = buf.data, buf.pos
                end = pos + 16 + incl
            buf.pos = end
            if not packets:
                stats.first = sec
            packets += 1
            size += incl
            yield link, sec, data, pos + 16, end
    except _Damaged as e:
        stats.packets, stats.bytes, stats.last = packets, size, sec
        packets = size = 0
        _damaged(stats, buf, e)
    finally:
        stats.packets += packets
        stats.bytes += size
        if packets:
            stats.last = sec


@dataclasses.dataclass(slots=True)
class _Iface:
    link: int
    snaplen: int
    resolution: float = 1e-6


def _if_tsresol(options: bytes, order: str) -> float:
    """if_tsresol (option 9) of an Interface Description Block; 1e-6 without it."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(order + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1 and pos + 5 <= len(options):
            value = options[pos + 4]
            exponent = value & 0x7F
            if exponent < 64:
                return float(2**-exponent if value & 0x80 else 10**-exponent)
        pos += 4 + (length + 3) // 4 * 4
    return 1e-6


def _pcapng(buf: _Buffer, stats: ReadStats) -> Iterator[Record]:
    try:
        yield from _pcapng_blocks(buf, stats)
    except _Damaged as e:
        _damaged(stats, buf, e)


def _pcapng_blocks(buf: _Buffer, stats: ReadStats) -> Iterator[Record]:
    order = "<"
    ifaces: list[_Iface] = []
    seen_section = False
    while True:
        if not buf.need(12):
            if len(buf.data) - buf.pos:
                raise _Damaged("truncated block header")
            return
        data, pos = buf.data, buf.pos
        if data[pos : pos + 4] == PCAPNG_MAGIC:
            bom = data[pos + 8 : pos + 12]
            if bom not in _BYTE_ORDER:
                raise _Damaged("section header with an unknown byte-order magic")
            order = _BYTE_ORDER[bom]
            ifaces = []  # interfaces are numbered per section
            seen_section = True
        elif not seen_section:
            raise _Damaged("no section header block")
        kind, length = struct.unpack_from(order + "II", data, pos)
        if length < 12 or length % 4 or length > MAX_BLOCK:
            raise _Damaged(f"block of {length} bytes (limit {MAX_BLOCK}, multiple of 4)")
        if not buf.need(length):
            raise _Damaged(f"truncated block ({length} bytes claimed)")
        data, pos = buf.data, buf.pos
        buf.pos = pos + length
        body = pos + 8
        end = pos + length - 4
        if kind in (_EPB, _OPB):
            if kind == _EPB:
                if end - body < 20:
                    raise _Damaged("enhanced packet block too short")
                iface_id, high, low, caplen, _ = struct.unpack_from(order + "IIIII", data, body)
                start = body + 20
            else:
                if end - body < 20:
                    raise _Damaged("packet block too short")
                iface_id, _, high, low, caplen, _ = struct.unpack_from(order + "HHIIII", data, body)
                start = body + 20
            if caplen > end - start:
                raise _Damaged(f"packet of {caplen} bytes in a block of {length}")
            if iface_id >= len(ifaces):
                raise _Damaged(f"packet on interface {iface_id}, which was never described")
            iface = ifaces[iface_id]
            stop = start + caplen
            sec = int(((high << 32) | low) * iface.resolution)
        elif kind == _SPB:
            if not ifaces:
                raise _Damaged("simple packet block before any interface description")
            iface = ifaces[0]
            (orig,) = struct.unpack_from(order + "I", data, body)
            caplen = min(orig, end - body - 4, iface.snaplen or MAX_PACKET)
            start, stop = body + 4, body + 4 + caplen
            sec = int(stats.last or 0)
        elif kind == _IDB:
            if end - body < 8:
                raise _Damaged("interface description block too short")
            if len(ifaces) >= MAX_INTERFACES:
                raise _Damaged(f"more than {MAX_INTERFACES} interfaces in one section")
            link, _, snaplen = struct.unpack_from(order + "HHI", data, body)
            ifaces.append(_Iface(link, snaplen, _if_tsresol(data[body + 8 : end], order)))
            continue
        else:
            continue  # section header, statistics, name resolution, custom blocks
        if iface.link not in LINK_TYPES:
            stats.skipped_link += 1
            continue
        stats.packets += 1
        stats.bytes += stop - start
        if stats.first is None:
            stats.first = sec
        stats.last = sec
        yield iface.link, sec, data, start, stop
