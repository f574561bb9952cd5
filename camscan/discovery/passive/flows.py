"""TCP responses heard on the wire: HTTP and RTSP heads (and bodies, bounded) and TLS server
certificates, each read into the observations the active banner probes make.

A flow starts only at a server's first segment that opens a response (b"HTTP/", b"RTSP/") or a
TLS ServerHello; later segments are appended while they arrive in order, up to a cap. Video over
TCP (RTSP interleaved "$" frames, bulk downloads) never starts a flow, so it costs one lookup.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import re
import struct

from camscan import channels
from camscan.discovery.banners.http import (
    FAVICON_PATH,
    Head,
    body_observations,
    dechunk,
    head_observations,
    parse_head,
)
from camscan.discovery.banners.limits import Limits
from camscan.discovery.banners.tls import names_of
from camscan.errors import ProbeFailure
from camscan.model import Observation

MAX_FLOWS = 256  # responses being reassembled at once; the oldest is read as it stands
MAX_REQUESTS = 4096  # request paths remembered until their response is heard
# The active probes' bounds (camscan/discovery/banners/limits.py): a head longer than theirs is
# dropped here too, so a capture and a scan judge the same reply the same way.
MAX_HEAD_BYTES = Limits().max_head_bytes
MAX_BODY_BYTES = Limits().max_body_bytes
MAX_HTTP_BYTES = MAX_HEAD_BYTES + 4 + MAX_BODY_BYTES  # kept per response
MAX_TLS_BYTES = 65536  # handshake bytes kept per TLS flow
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_REQUEST = re.compile(rb"(?:GET|HEAD|POST|DESCRIBE|OPTIONS) (\S{1,512}) (?:HTTP|RTSP)/")
HTTP, RTSP, TLS = "http", "rtsp", "tls"


@dataclasses.dataclass(slots=True)
class Flow:
    kind: str  # http, rtsp, tls
    ip: str  # the server: the sender of the response
    port: int
    next_seq: int
    at: float
    path: str | None
    data: bytearray
    complete: bool = False  # the whole response (or the certificate) is in `data`


def request_path(payload: bytes, port: int) -> str | None:
    """The path of a request a client sent (so its response can be read as the same GET)."""
    match = _REQUEST.match(payload)
    if match is None:
        return None
    path = match[1].decode("latin-1")
    if path.startswith(("rtsp://", "http://")):  # RTSP names the whole URL
        rest = path.split("://", 1)[1]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return path


def _http_done(kind: str, data: bytes) -> bool:
    """True once `data` holds a whole response (head, and body by Content-Length or chunks)."""
    end = _HEAD_END.search(data)
    if end is None:
        return False
    head = data[: end.start()].lower()
    body = len(data) - end.end()
    length = re.search(rb"\ncontent-length:[ \t]*(\d{1,9})", head)
    if length is not None:
        return body >= int(length[1])
    if b"\ntransfer-encoding:" in head and b"chunked" in head:
        return data.endswith(b"0\r\n\r\n")
    return kind == RTSP  # RTSP: no Content-Length means no body; HTTP: the body runs to FIN


def http_observations(flow: Flow) -> list[Observation]:
    data = bytes(flow.data)
    end = _HEAD_END.search(data, 0, MAX_HEAD_BYTES + 4)
    if end is None and len(data) > MAX_HEAD_BYTES:
        return []  # a head over the bound: the active probe drops it as an overflow
    head = parse_head(data[: end.start()] if end else data)
    if head is None:
        return []
    body = data[end.end() : end.end() + MAX_BODY_BYTES] if end else b""
    path = flow.path or "/"
    probe = f"passive:{flow.kind}:{flow.port}" + (path if flow.kind == HTTP else "")
    fields = {channels.FIELD_PORT: str(flow.port)}
    if flow.path:
        fields["path"] = flow.path

    def make(channel: str, raw: str) -> Observation:
        return Observation(channel, raw, probe, flow.ip, fields=dict(fields), at=flow.at)

    found = head_observations(head, prefix=flow.kind + ".", make=make)
    complete = flow.complete
    if _chunked(head):
        body, complete = dechunk(body, MAX_BODY_BYTES)
    if flow.kind == RTSP:
        if body.strip():
            found.append(make(channels.RTSP_SDP, body.decode("utf-8", "replace")))
    elif path == FAVICON_PATH or not body.startswith(b"\x1f\x8b"):  # gzip bodies are not read
        found += body_observations(path, head, body, complete, make)
    return found


def _chunked(head: Head) -> bool:
    return any("chunked" in v.lower() for v in head.get_all("transfer-encoding"))


def _certificate(data: bytes) -> bytes | bool | None:
    """The first certificate of a TLS 1.2-or-older server flight; None: not there yet; False:
    it never will be (another record type came first, or the handshake is malformed)."""
    handshake = bytearray()
    pos = 0
    while pos + 5 <= len(data):
        kind, _, length = struct.unpack_from("!BHH", data, pos)
        if kind != 22:
            return False  # ChangeCipherSpec, alert or data before any certificate
        if pos + 5 + length > len(data):
            break
        handshake += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
    at = 0
    while at + 4 <= len(handshake):
        msg, size = handshake[at], int.from_bytes(handshake[at + 1 : at + 4], "big")
        if at + 4 + size > len(handshake):
            return None
        if msg == 11:  # Certificate: list length (3), then each certificate (3 + DER)
            if size < 6:
                return False
            first = int.from_bytes(handshake[at + 7 : at + 10], "big")
            der = bytes(handshake[at + 10 : at + 10 + first])
            return der if len(der) == first and first else False
        if msg == 14:  # ServerHelloDone without a Certificate (anonymous; or TLS 1.3)
            return False
        at += 4 + size
    return None


def tls_observations(flow: Flow) -> list[Observation]:
    der = _certificate(bytes(flow.data))
    if not isinstance(der, bytes):
        return []
    try:
        subject, issuer = names_of(der)
    except ProbeFailure:
        return []
    fields = {channels.FIELD_PORT: str(flow.port), "sha256": hashlib.sha256(der).hexdigest()}
    return [
        Observation(
            ch, name, f"passive:https:{flow.port}", flow.ip, fields=dict(fields), at=flow.at
        )
        for ch, name in ((channels.TLS_SUBJECT, subject), (channels.TLS_ISSUER, issuer))
    ]


class Flows:
    """Responses being reassembled, keyed by the server->client 4-tuple bytes."""

    def __init__(self) -> None:
        self.open: collections.OrderedDict[bytes, Flow] = collections.OrderedDict()
        self.requests: collections.OrderedDict[bytes, str] = collections.OrderedDict()
        self.done: list[Flow] = []

    def request(self, reverse_key: bytes, path: str) -> None:
        self.requests[reverse_key] = path
        if len(self.requests) > MAX_REQUESTS:
            self.requests.popitem(last=False)

    def start(
        self, key: bytes, kind: str, ip: str, port: int, seq: int, at: float, data: bytes
    ) -> None:
        old = self.open.pop(key, None)
        if old is not None:
            self.done.append(old)
        path = self.requests.pop(key, None)
        flow = Flow(kind, ip, port, seq + len(data), at, path, bytearray())
        self.open[key] = flow
        if len(self.open) > MAX_FLOWS:
            self.done.append(self.open.popitem(last=False)[1])
        self.add(key, flow, data)

    def more(self, key: bytes, flow: Flow, seq: int, data: bytes, fin: bool) -> None:
        if data and seq == flow.next_seq:
            flow.next_seq += len(data)
            self.add(key, flow, data)
        elif data and seq - flow.next_seq > 0:  # a gap: read what came in order
            self.close(key)
            return
        if fin and key in self.open:
            self.close(key)

    def add(self, key: bytes, flow: Flow, data: bytes) -> None:
        cap = MAX_TLS_BYTES if flow.kind == TLS else MAX_HTTP_BYTES
        flow.data += data[: cap - len(flow.data)]
        if flow.kind == TLS:
            flow.complete = _certificate(bytes(flow.data)) is not None
        else:
            flow.complete = _http_done(flow.kind, bytes(flow.data))
        if flow.complete or len(flow.data) >= cap:
            self.close(key)

    def close(self, key: bytes) -> None:
        flow = self.open.pop(key, None)
        if flow is not None:
            self.done.append(flow)

    def drain(self, everything: bool = False) -> list[Observation]:
        """Observations of the finished flows (and, at the end, of every open one)."""
        if everything:
            self.done += self.open.values()
            self.open.clear()
        found: list[Observation] = []
        for flow in self.done:
            found += tls_observations(flow) if flow.kind == TLS else http_observations(flow)
        self.done = []
        return found
