"""Streaming pcap / pcapng reader: bounded blocks, no dissection, no whole-file reads.

The file type comes from its first four bytes (pcap: a1b2c3d4 or a1b23c4d in either byte order;
pcapng: the Section Header Block 0a0d0d0a). Every length a file states is checked against a
bound before anything is read for it, so a record claiming 4 GiB costs nothing: it ends the read
with one line (`CaptureError`).

The packets go to a `Sink` a buffer at a time, as pcap records (16-byte header, then the frame):
a pcap file's own buffers, unsliced, and a pcapng file's packets rewritten as pcap records. The
sink walks the records itself, so the per-packet loop is one loop (the prefilter's), with no
generator or tuple per packet in between.
"""

from __future__ import annotations

import dataclasses
import io
import struct
from collections.abc import Callable
from typing import BinaryIO, cast

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


PAD = 64  # bytes a sink's buffer holds after its limit (a header read never runs out)
PAD_BYTES = bytes(PAD)
# (link type, byte order "<" or ">", buffer, pos, limit) -> (pos after the last record read,
# records read, start of the last one). It reads the pcap records from buffer[pos:] that end by
# `limit` and stops at the first that does not or that claims more than MAX_PACKET bytes; the
# reader then refills, or says why the file ends there.
Sink = Callable[[int, str, bytes | bytearray, int, int], tuple[int, int, int]]
SECONDS = {order: struct.Struct(order + "I").unpack_from for order in "<>"}  # a record's
RECORD = struct.Struct("<IIII").pack  # a little-endian record header
_INCL = {order: struct.Struct(order + "8xI").unpack_from for order in "<>"}


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


def read(stream: BinaryIO, stats: ReadStats, sink: Sink) -> None:
    """Every packet of a pcap or pcapng stream, to `sink`. Raises CaptureError when the file
    is not a capture or its first header is unusable; damage later stops the read and is noted
    in `stats.damaged` (what was read stays good)."""
    head = stream.read(4)
    kind = capture_kind(head)
    if kind is None:
        raise CaptureError("not a pcap or pcapng file (unknown magic bytes)")
    stats.kind = kind
    buf = _Buffer(stream, head)
    if kind == "pcap":
        _pcap(buf, stats, sink)
    else:
        _pcapng(buf, stats, sink)


class _Damaged(Exception):
    pass


def _damaged(stats: ReadStats, at: int, error: _Damaged) -> None:
    """Damage before any packet: the file is unreadable (CaptureError); after: noted."""
    if stats.packets == 0:
        raise CaptureError(f"{stats.kind} file unreadable: {error}") from None
    stats.damaged = f"{stats.kind} file damaged at byte {at}: {error}; read stopped there"


def _feed(
    stats: ReadStats,
    sink: Sink,
    link: int,
    order: str,
    data: bytes | bytearray,
    pos: int,
    limit: int,
) -> int:
    """The records of data[pos:limit] to the sink, counted; where it stopped."""
    end, count, last = sink(link, order, data, pos, limit)
    if count:
        seconds = SECONDS[order]
        if stats.first is None:
            stats.first = seconds(data, pos)[0]
        stats.last = seconds(data, last)[0]
        stats.packets += count
        stats.bytes += end - pos - 16 * count
    return end


def _pcap(buf: _Buffer, stats: ReadStats, sink: Sink) -> None:
    if not buf.need(24):
        raise CaptureError("pcap file unreadable: truncated file header")
    order, _ = PCAP_MAGICS[buf.data[0:4]]
    _, _, _, _, _snaplen, link = struct.unpack_from(order + "HHiIII", buf.data, 4)
    link &= 0xFFFF  # the upper bits carry FCS flags
    if link not in LINK_TYPES:
        raise CaptureError(
            f"pcap link type {link} is not one camscan reads (Ethernet, raw IP, SLL)"
        )
    incl_at = _INCL[order]
    # One buffer, refilled in place: a fresh megabyte per read costs as much in page faults
    # as the read itself. Bytes past `have` are stale; the sink reads no record that ends there.
    data = bytearray(CHUNK + 16 + MAX_PACKET + PAD)
    view, room = memoryview(data), len(data) - PAD
    readinto = cast(io.BufferedIOBase, buf.stream).readinto  # BinaryIO's stub omits it
    rest = buf.data[24:]
    data[: len(rest)] = rest
    pos, have, offset = 0, len(rest), buf.offset + 24  # offset: where data[0] is in the file
    want, ended = 16, False
    try:
        while True:
            if not ended and have - pos < want:
                data[: have - pos] = data[pos:have]  # the unread tail (under one record) first
                offset, have, pos = offset + pos, have - pos, 0
                while have < want:
                    got = readinto(view[have:room])
                    if not got:
                        ended = True
                        break
                    have += got
            pos = _feed(stats, sink, link, order, data, pos, have)
            if have - pos < 16:  # the next record header is not whole
                if ended:
                    if pos < have:
                        raise _Damaged("truncated record header")
                    return
                want = 16
                continue
            (incl,) = incl_at(data, pos)
            if incl > MAX_PACKET:
                raise _Damaged(f"record claims {incl} bytes (limit {MAX_PACKET})")
            if ended:
                raise _Damaged(f"truncated record ({incl} bytes claimed)")
            want = 16 + incl
    except _Damaged as e:
        _damaged(stats, offset + pos, e)


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


class _Batch:
    """pcapng packets rewritten as pcap records (little-endian), sent to the sink a buffer at a
    time and whenever the link type changes."""

    def __init__(self, stats: ReadStats, sink: Sink) -> None:
        self.stats, self.sink = stats, sink
        self.parts: list[bytes] = []
        self.size = 0
        self.link = -1
        self.last = 0  # seconds of the last packet (a simple packet block has none of its own)

    def add(self, link: int, sec: int, data: bytes, start: int, stop: int) -> None:
        if link != self.link or self.size >= CHUNK:
            self.flush()
            self.link = link
        sec = min(sec, 0xFFFFFFFF)  # a pcap record's field; later than 2106 is no real clock
        self.parts.append(RECORD(sec, 0, stop - start, stop - start))
        self.parts.append(data[start:stop])
        self.size += 16 + stop - start
        self.last = sec

    def flush(self) -> None:
        if self.parts:
            self.parts.append(PAD_BYTES)
            data = b"".join(self.parts)
            self.parts, self.size = [], 0
            _feed(self.stats, self.sink, self.link, "<", data, 0, len(data) - PAD)


def _pcapng(buf: _Buffer, stats: ReadStats, sink: Sink) -> None:
    batch = _Batch(stats, sink)
    try:
        _pcapng_blocks(buf, stats, batch)
    except _Damaged as e:
        batch.flush()
        _damaged(stats, buf.at(), e)
    batch.flush()


def _pcapng_blocks(buf: _Buffer, stats: ReadStats, batch: _Batch) -> None:
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
            sec = batch.last
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
        if stop - start > MAX_PACKET:  # a pcap record's bound, as for pcap files
            raise _Damaged(f"packet of {stop - start} bytes (limit {MAX_PACKET})")
        batch.add(iface.link, sec, data, start, stop)
