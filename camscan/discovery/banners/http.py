"""A small, strict, bounded HTTP/1.1 (and RTSP/1.0) response reader, and the HTTP banner probe.

Strict about bounds (head and body sizes, time), lenient about form, because cameras are broken:
bare LF line ends, no reason phrase, duplicate headers, header names in any case, no
Content-Length, garbage after the head. Only GET is ever sent, with no credentials.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import html
import re
from collections.abc import Callable

from camscan import channels
from camscan.discovery.banners.limits import Limits
from camscan.discovery.banners.tcpports import (
    STALE,
    Kept,
    ProbeFailure,
    Quiet,
    Stale,
    close,
    open_tcp,
    read_some,
    send,
)
from camscan.errors import ProbeKind
from camscan.model import Observation

# Paths that tell a maker without logging in; a 401 still names the realm.
TELLING_PATHS = (
    "/doc/page/login.asp",  # Hikvision web UI login page
    "/ISAPI/System/deviceInfo",  # Hikvision ISAPI: 401 Digest realm "IP Camera(xxxxx)"
    "/favicon.ico",  # hashed (md5)
    "/cgi-bin/magicBox.cgi?action=getMachineName",  # Dahua CGI: 401 realm "Login to <serial>"
)
FAVICON_PATH = "/favicon.ico"
USER_AGENT = "camscan/0.1 (read-only inventory)"

_STATUS_LINE = re.compile(
    r"(?P<proto>HTTP|RTSP)/(?P<major>\d{1,2})\.(?P<minor>\d{1,2})"
    r"[ \t]+(?P<code>\d{3})(?:[ \t]+(?P<reason>.*?))?[ \t]*",
    re.IGNORECASE,
)
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable, no space, no colon
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_MAX_TITLE = 512
MAX_HEADER_OBSERVATIONS = 48  # header observations per reply; cameras send about ten
MAX_HEADER_VALUE = 4096  # characters of one header value kept
MAX_HEAD_TEXT = 8192  # characters of the whole head kept in the *.headers observation


@dataclasses.dataclass(frozen=True, slots=True)
class Head:
    protocol: str  # "HTTP/1.1", "RTSP/1.0" (name upper-cased)
    status: int
    reason: str  # "" when the device sent none
    lines: tuple[str, ...]  # every line as received (status line first), line ends removed
    headers: tuple[tuple[str, str], ...]  # (name as sent, value) in order, duplicates kept

    @property
    def status_line(self) -> str:
        return self.lines[0]

    def text(self) -> str:
        return "\r\n".join(self.lines)

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None


def parse_head(data: bytes) -> Head | None:
    """The response head in `data` (without the blank line), or None if it is not one."""
    text = data.decode("latin-1")  # byte-preserving: header bytes are opaque to us
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return None
    status = _STATUS_LINE.fullmatch(lines[0])
    if status is None:
        return None
    headers: list[tuple[str, str]] = []
    kept = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            break  # the head ended early: what follows is body
        kept.append(line)
        if line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}".strip())
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if colon and _HEADER_NAME.fullmatch(name):
            headers.append((name, value.strip()))
    return Head(
        protocol=f"{status['proto'].upper()}/{status['major']}.{status['minor']}",
        status=int(status["code"]),
        reason=status["reason"] or "",
        lines=tuple(kept),
        headers=tuple(headers),
    )


def dechunk(raw: bytes, limit: int) -> tuple[bytes, bool]:
    """Decode a chunked body as far as `raw` goes, keeping at most `limit` bytes.

    Returns (body, complete); complete is True once the last chunk was seen. Malformed framing
    ends the body where it breaks (complete stays False)."""
    body = bytearray()
    pos = 0
    while len(body) < limit:
        line_end = raw.find(b"\n", pos)
        if line_end < 0 or line_end - pos > 1024:
            return bytes(body), False
        size_text = raw[pos:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(body), False
        if size < 0:
            return bytes(body), False
        if size == 0:
            return bytes(body), True
        start = line_end + 1
        body += raw[start : start + size]
        if start + size > len(raw):
            return bytes(body[:limit]), False
        pos = start + size
        pos += 2 if raw[pos : pos + 2] == b"\r\n" else 1 if raw[pos : pos + 1] == b"\n" else 0
    return bytes(body[:limit]), False


async def read_head(reader: asyncio.StreamReader, limits: Limits, proto: str) -> tuple[Head, bytes]:
    """Read up to the blank line. Returns the head and the bytes already read past it.

    The whole head must come within the read timeout, the silence tolerated before a reply: a
    device dripping it a byte at a time (slowloris in reverse) is not waited on for the whole
    deadline. An honest device, however slow to start, sends its head at once."""
    buf = bytearray()
    try:
        async with asyncio.timeout(limits.read_timeout):
            return await _read_head(reader, limits, proto, buf)
    except TimeoutError:
        if not buf:
            raise ProbeFailure(
                f"no data for {limits.read_timeout:.1f}s", ProbeKind.TIMEOUT
            ) from None
        slow = f"reply head not whole after {limits.read_timeout:.1f}s ({len(buf)} bytes came)"
        raise ProbeFailure(slow, ProbeKind.TIMEOUT) from None


async def _read_head(
    reader: asyncio.StreamReader, limits: Limits, proto: str, buf: bytearray
) -> tuple[Head, bytes]:
    signature = proto.encode() + b"/"
    while True:
        chunk = await read_some(reader, limits, limits.max_head_bytes + 4 - len(buf))
        if not chunk:
            if not buf.strip():
                raise ProbeFailure("connection closed without a reply")
            head_bytes, rest = bytes(buf), b""  # closed right after the head, no blank line
            break
        scan_from = max(0, len(buf) - 3)
        buf += chunk
        start = buf.lstrip(b"\r\n")
        if len(start) >= len(signature) and start[: len(signature)].upper() != signature:
            raise ProbeFailure(f"not an {proto} reply: starts {start[:16].hex(' ')}")
        end = _HEAD_END.search(buf, scan_from)
        if end is not None and end.start() <= limits.max_head_bytes:
            head_bytes, rest = bytes(buf[: end.start()]), bytes(buf[end.end() :])
            break
        if len(buf) > limits.max_head_bytes:
            over = f"reply head over {limits.max_head_bytes} bytes"
            raise ProbeFailure(over, ProbeKind.OVERFLOW)
    head = parse_head(head_bytes)
    if head is None or not head.protocol.startswith(proto):
        raise ProbeFailure(f"not an {proto} reply: starts {head_bytes.lstrip()[:16].hex(' ')}")
    return head, rest


def content_length(head: Head) -> int | None:
    values = {value.strip() for value in head.get_all("content-length")}
    if len(values) != 1:
        return None  # absent, or conflicting duplicates: trust neither
    value = values.pop()
    return int(value) if value.isdigit() else None


async def read_body(
    reader: asyncio.StreamReader,
    head: Head,
    rest: bytes,
    limits: Limits,
    sink: bytearray,
    limit: int,
    *,
    until_eof: bool,
) -> bool:
    """Read the body after `head` into `sink`, at most `limit` bytes; True when it is whole.
    `sink` holds what arrived even if this raises (deadline, reset), so callers keep it.
    `until_eof`: with no length given the body runs to the end of the stream (HTTP with
    Connection: close); otherwise it is empty (RTSP)."""
    if head.status < 200 or head.status in (204, 304):
        return True
    if "chunked" in (head.get("transfer-encoding") or "").lower():
        raw = rest
        raw_bound = 2 * limit + 4096  # chunk framing overhead, bounded too
        while True:
            body, complete = dechunk(raw, limit)
            sink[:] = body
            if complete or len(body) >= limit or len(raw) >= raw_bound:
                return complete
            chunk = await read_some(reader, limits)
            if not chunk:
                return False
            raw += chunk
    length = content_length(head)
    if length is None and not until_eof:
        return True
    want = limit if length is None else min(length, limit)
    sink += rest[:want]
    while len(sink) < want:
        chunk = await read_some(reader, limits, min(want - len(sink), 65536))
        if not chunk:
            return length is None
        sink += chunk
    return length is not None and length <= limit


def host_for_url(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def build_request(
    method: str, path: str, ip: str, port: int, default_port: int, *, keep_alive: bool = False
) -> bytes:
    """`keep_alive`: ask the device to keep the connection for the port's next path (HTTP/1.1's
    default, said out loud for old servers); otherwise Connection: close, as nmap's probes ask,
    so the first reply of a port keeps the header shape signatures were written from."""
    host = host_for_url(ip) if port == default_port else f"{host_for_url(ip)}:{port}"
    connection = "keep-alive" if keep_alive else "close"
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        f"Accept: */*\r\nConnection: {connection}\r\n\r\n"
    ).encode("ascii")


def _keeps_open(head: Head) -> bool:
    """The device says the connection stays open after this reply (RFC 9112 section 9.3)."""
    tokens = {t.strip().lower() for v in head.get_all("connection") for t in v.split(",")}
    if "close" in tokens:
        return False
    return head.protocol == "HTTP/1.1" or "keep-alive" in tokens


def _framed_whole(head: Head, rest: bytes, complete: bool) -> bool:
    """The reply ended exactly where its Content-Length said, with nothing after it: the next
    reply on the connection starts clean. Chunked or unframed replies are not reused."""
    if head.status < 200 or head.status in (204, 304):
        return not rest
    length = content_length(head)
    return complete and length is not None and len(rest) <= length


def title_of(body: bytes) -> str | None:
    match = _TITLE.search(body.decode("utf-8", "replace"))
    if match is None:
        return None
    title = " ".join(html.unescape(match.group(1)).split())
    return title[:_MAX_TITLE] or None


def head_observations(
    head: Head, *, prefix: str, make: Callable[[str, str], Observation]
) -> list[Observation]:
    """Status, one observation per distinct header (name lowercased), and the whole head.

    Bounded whatever the device sends: a head of thousands of tiny headers (amplification)
    gives MAX_HEADER_OBSERVATIONS header observations and a truncated whole-head text."""
    found = [make(prefix + "status", head.status_line[:MAX_HEADER_VALUE])]
    seen: set[tuple[str, str]] = set()
    for name, value in head.headers:
        key = (name.lower(), value[:MAX_HEADER_VALUE])
        if key in seen:
            continue
        if len(seen) >= MAX_HEADER_OBSERVATIONS:
            break
        seen.add(key)
        found.append(make(f"{prefix}header.{key[0]}", key[1]))
    found.append(make(prefix + "headers", head.text()[:MAX_HEAD_TEXT]))
    return found


def body_observations(
    path: str, head: Head, body: bytes, complete: bool, make: Callable[[str, str], Observation]
) -> list[Observation]:
    if path == FAVICON_PATH:  # binary: only its hash means anything
        if head.status == 200 and body and complete:
            digest = hashlib.md5(body, usedforsecurity=False).hexdigest()
            return [make(channels.HTTP_FAVICON_MD5, digest)]
        return []
    if not body:
        return []
    found = [make(channels.HTTP_BODY, body.decode("utf-8", "replace"))]
    title = title_of(body)
    if title is not None:
        found.append(make(channels.HTTP_TITLE, title))
    return found


async def get_into(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ip: str,
    scheme: str,
    port: int,
    path: str,
    limits: Limits,
    out: list[Observation],
    *,
    keep_alive: bool = False,
) -> tuple[Head, bool]:
    """One GET on an open connection; returns the head and whether the connection may carry the
    next request (only with `keep_alive`). Observations go to `out` as soon as they are known,
    so a deadline hit while reading the body still leaves the head and the body read so far."""
    default_port = 443 if scheme == "https" else 80
    request = build_request("GET", path, ip, port, default_port, keep_alive=keep_alive)
    await send(writer, request, limits)
    head, rest = await read_head(reader, limits, "HTTP")
    fields = {channels.FIELD_PORT: str(port), "path": path}
    probe = f"{scheme}:{port}{path}"

    def make(channel: str, raw: str) -> Observation:
        return Observation(channel=channel, raw=raw, probe=probe, ip=ip, fields=dict(fields))

    out.extend(head_observations(head, prefix="http.", make=make))
    limit = limits.max_favicon_bytes if path == FAVICON_PATH else limits.max_body_bytes
    body = bytearray()
    complete = False
    try:
        complete = await read_body(reader, head, rest, limits, body, limit, until_eof=True)
    finally:
        out.extend(body_observations(path, head, bytes(body), complete, make))
    return head, keep_alive and _keeps_open(head) and _framed_whole(head, rest, complete)


async def probe_http(
    ip: str,
    port: int,
    path: str,
    limits: Limits,
    out: list[Observation],
    *,
    expect_http: bool = True,
    on_open: Callable[[], None] | None = None,
    keep_alive: bool = False,
) -> Kept | bool:
    """GET `path` over plain HTTP. `expect_http=False` (port 8000, shared with Hikvision's SDK
    protocol): a port that gives no HTTP head (silence, other protocol) is quiet, not an error.
    `on_open` is called once the connection is accepted, before the request goes out. With
    `keep_alive`, a connection the device keeps open is returned (the caller closes it)."""
    reader, writer = await open_tcp(ip, port, limits)
    if on_open is not None:
        on_open()
    already = len(out)
    kept = False
    try:
        _, kept = await get_into(
            reader, writer, ip, "http", port, path, limits, out, keep_alive=keep_alive
        )
    except ProbeFailure as exc:
        if not expect_http and len(out) == already:
            raise Quiet(str(exc)) from None
        raise
    finally:
        if not kept:
            close(writer)
    return Kept(reader, writer) if kept else True


async def probe_http_on(
    conn: Kept,
    ip: str,
    port: int,
    path: str,
    limits: Limits,
    out: list[Observation],
    *,
    keep_alive: bool = True,
) -> Kept | bool | Stale:
    """GET `path` on a connection the device kept open. STALE when it turns out closed before
    any reply came (the caller asks again on a new connection); the connection is returned
    again while the device keeps it, else closed here. `keep_alive=False`: the connection's
    last request, asking the device to close it (Connection: close)."""
    already = len(out)
    kept = False
    try:
        if not conn.usable():
            return STALE
        _, kept = await get_into(
            conn.reader, conn.writer, ip, "http", port, path, limits, out, keep_alive=keep_alive
        )
    except ProbeFailure as exc:
        if len(out) == already and exc.kind is not ProbeKind.TIMEOUT:
            return STALE  # closed or reset before a reply: not the device's answer to it
        raise
    finally:
        if not kept:
            conn.close()
    return conn if kept else True
