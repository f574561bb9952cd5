"""What a capture says about the devices on it: a cheap byte prefilter over every frame, full
parsing only of the few that can carry evidence, with the active probes' own parsers.

Per frame the prefilter reads a handful of bytes (ethertype, IP protocol, ports, the first bytes
of a TCP payload); RTP, bulk TCP and everything else stop there. What passes goes to the parser
of its protocol (SADP, DHIP, DVRIP, WS-Discovery, SSDP, mDNS, DHCP, HTTP/RTSP heads, TLS
certificates), so the observations are the ones an active scan makes and the same signatures
judge them. Only the sender speaks for itself: every observation belongs to the address the
packet came from; an address inside a payload stays a claim (`reported_ip`).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import socket
import struct
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from camscan import channels as ch
from camscan.discovery import registry
from camscan.discovery.passive import pcapio
from camscan.discovery.passive.flows import HTTP, RTSP, TLS, Flows, request_path
from camscan.errors import ProbeKind
from camscan.model import Observation, ProbeError

MAX_SENDERS = 4096  # addresses whose packets are parsed; more is a spoofed-source flood
MAX_MESSAGES_PER_SENDER = 256  # distinct messages parsed per sender (repeats are free)
MAX_BYTES_PER_SENDER = 1 << 20  # payload bytes parsed per sender
MAX_HOSTS = 65536  # MAC/IP pairs remembered
MAX_OBSERVATIONS = 200_000  # for the whole capture
ROUTER_IPS = 4  # a MAC seen with more source addresses than this forwards for others
_ETH_IP, _ETH_ARP, _ETH_VLAN, _ETH_QINQ = b"\x08\x00", b"\x08\x06", b"\x81\x00", b"\x88\xa8"
_ETHERNET = pcapio.ETHERNET
# Heard, never asked (not probes): DHCP, and DNS lookups of makers' cloud services.
_PASSIVE_ONLY = {67: "dhcp", 68: "dhcp", 53: "dns"}
# The probe registry's UDP discovery ports, and those
_UDP_PORTS = frozenset(
    {s.udp.port for s in registry.REGISTRY if s.udp is not None} | set(_PASSIVE_ONLY)
)
_UDP_KEYS = frozenset(p.to_bytes(2, "big") for p in _UDP_PORTS)
_TCP_FIRST = frozenset({b"H", b"R", b"\x16", b"G", b"P", b"D", b"O"})  # responses, requests, TLS
_TCP_FIRST_BYTE = bytes(bytes([i]) in _TCP_FIRST for i in range(256))  # the same, by byte value
_MAX_PACKET = pcapio.MAX_PACKET


def _layout(order: str) -> tuple[Callable[..., tuple[Any, ...]], int, int, frozenset[int]]:
    """How `feed_records` reads a record in byte order `order` with one struct call: the record
    header's captured length, then the frame's source MAC, ethertype, IPv4 version/IHL,
    flags/fragment offset, protocol, source address and the first four bytes after a 20-byte
    IPv4 header (UDP ports). The network fields are read in the record's byte order, so the
    values they are compared with are written in it too (little-endian: bytes swapped)."""
    fields = struct.Struct(order + "8xI4x" + "6x6sHB5xHxB2x4s4xHH").unpack_from

    def value(net: int) -> int:  # a big-endian 16-bit field as the record's byte order reads it
        return net if order == ">" else int.from_bytes(net.to_bytes(2, "big"), "little")

    return fields, value(0x0800), value(0x1FFF), frozenset(value(p) for p in _UDP_PORTS)


_LAYOUTS = {order: _layout(order) for order in "<>"}
_RESPONSE_STARTS = (b"HTTP/", b"RTSP/")
_REQUEST_STARTS = (b"GET ", b"HEAD", b"POST", b"DESC", b"OPTI")
Parser = Callable[[bytes, str], list[Observation] | None]


@dataclasses.dataclass(slots=True)
class _Sender:
    messages: int = 0
    size: int = 0
    digests: set[bytes] = dataclasses.field(default_factory=set)
    over: bool = False


def _parsers() -> dict[int, tuple[str, Parser]]:
    """UDP port -> (probe name, parser): the probe registry's UDP discovery protocols, each
    read by its parser for heard traffic, and the passive-only ones; imported on first use
    (zeroconf, defusedxml)."""
    table = {
        spec.udp.port: (spec.name, spec.heard_parser())
        for spec in registry.REGISTRY
        if spec.udp is not None
    }
    own: dict[str, Parser] = {"dhcp": parse_dhcp, "dns": parse_dns}
    return {**table, **{port: (name, own[name]) for port, name in _PASSIVE_ONLY.items()}}


@functools.cache
def cloud_domains() -> tuple[str, ...]:
    """Domains of makers' cloud services whose lookups are kept (cloud.toml, sourced)."""
    doc = tomllib.loads(Path(__file__).with_name("cloud.toml").read_text(encoding="utf-8"))
    return tuple(str(d["name"]).lower() for d in doc.get("domain", []))


def query_name(data: bytes) -> str | None:
    """The name a DNS query (QR 0, one question) asks for, lowercase, without the last dot."""
    if len(data) < 17 or data[2] & 0x80 or data[4:6] != b"\x00\x01":
        return None
    labels: list[str] = []
    pos = 12
    while pos < len(data) and data[pos] and len(labels) < 64:
        length = data[pos]
        if length > 63 or pos + 1 + length > len(data):
            return None  # compression or truncation: not a plain question
        labels.append(data[pos + 1 : pos + 1 + length].decode("ascii", "replace").lower())
        pos += 1 + length
    return ".".join(labels) or None


def parse_dns(data: bytes, src_ip: str) -> list[Observation] | None:
    """A query for a maker's cloud service -> one dns.query observation; [] for any other."""
    name = query_name(data)
    if name is None:
        return []
    if not any(name == d or name.endswith("." + d) for d in cloud_domains()):
        return []
    return [Observation(ch.DNS_QUERY, name[:253], "dns", src_ip, None, {ch.FIELD_IP: src_ip})]


def parse_dhcp(data: bytes, src_ip: str) -> list[Observation] | None:
    """A client's DHCP message -> its hostname, vendor class and parameter list as facts,
    attributed to its MAC (chaddr); the requested address is only a claim. [] for servers."""
    if len(data) < 240 or data[236:240] != b"\x63\x82\x53\x63" or data[1:3] != b"\x01\x06":
        return None
    if data[0] != 1:
        return []  # a server's offer or ack: it speaks about the client, not itself
    mac = data[28:34].hex(":")
    options: dict[int, bytes] = {}
    pos = 240
    while pos < len(data) and data[pos] != 255:
        code = data[pos]
        if code == 0:
            pos += 1
            continue
        if pos + 2 > len(data) or pos + 2 + data[pos + 1] > len(data):
            return None
        options.setdefault(code, data[pos + 2 : pos + 2 + data[pos + 1]])
        pos += 2 + data[pos + 1]
    fields = {ch.FIELD_MAC: mac}
    claimed = options.get(50, b"") if len(options.get(50, b"")) == 4 else data[12:16]
    if claimed != b"\0\0\0\0" and len(claimed) == 4:
        fields["reported_ip"] = socket.inet_ntoa(claimed)
    ip = src_ip if src_ip != "0.0.0.0" else None
    found = []
    for code, channel in ((12, ch.DHCP_HOSTNAME), (60, ch.DHCP_VENDOR_CLASS)):
        text = "".join(
            c for c in options.get(code, b"").decode("utf-8", "replace") if c.isprintable()
        )
        if text.strip():
            found.append(Observation(channel, text.strip(), "dhcp", ip, mac, dict(fields)))
    if 55 in options:
        params = ",".join(str(b) for b in options[55])
        found.append(Observation(ch.DHCP_PARAMS, params, "dhcp", ip, mac, dict(fields)))
    return found


class Heard:
    """Everything one capture or one listening session has told camscan so far."""

    def __init__(self, interface: str | None = None) -> None:
        self.interface = interface
        self.observations: list[Observation] = []
        self.errors: list[ProbeError] = []
        self.stats: collections.Counter[str] = collections.Counter()
        self.parsed = 0  # frames that passed the prefilter
        self.senders: dict[str, _Sender] = {}
        self.flooded = False
        self.arp: dict[str, str] = {}  # ip -> mac, from ARP senders
        self.arp_macs: set[bytes] = set()
        self.pairs: dict[bytes, set[bytes]] = {}  # source MAC -> source IPv4s of its frames
        self.seen: set[bytes] = set()  # MAC+IP pairs already recorded (the prefilter's check)
        self.flows = Flows()
        self._parsers: dict[int, tuple[str, Parser]] | None = None

    # --- the prefilter: runs for every frame ------------------------------------------------

    def feed(self, link: int, at: float, data: bytes, b: int, stop: int) -> None:
        """The frame data[b:stop], as one pcap record through `feed_records`."""
        size = stop - b
        record = pcapio.RECORD(int(at), 0, size, size) + data[b:stop] + pcapio.PAD_BYTES
        self.feed_records(link, "<", record, 0, len(record) - pcapio.PAD)

    def feed_records(
        self, link: int, order: str, data: bytes | bytearray, pos: int, limit: int
    ) -> tuple[int, int, int]:
        """The pcap records in data[pos:limit] (a pcapio.Sink: see there). This loop runs for
        every packet, so the common case (Ethernet, IPv4, RTP or bulk TCP) is decided by one
        struct read of the record header and the frame's first 38 bytes, a few comparisons and
        set lookups, without copying the frame or calling anything; what may carry evidence is
        sliced out and read by `frame`."""
        fields, eth_ip, fragment, udp_ports = _LAYOUTS[order]
        seconds = pcapio.SECONDS[order]
        if link != _ETHERNET:
            eth_ip = -1  # no frame takes the inline path: each goes to `frame`
        seen, pair_of, frame, flows = self.seen, self._pair, self.frame, self.flows
        tcp_first = _TCP_FIRST_BYTE
        count, last = 0, pos
        while pos < limit:
            # the header read stays in the buffer: its owner leaves PAD bytes after `limit`
            incl, mac, ethertype, vihl, frag, proto, src, sport, dport = fields(data, pos)
            b = pos + 16
            stop = b + incl
            if stop > limit or incl > _MAX_PACKET:
                break
            last, pos = pos, stop
            count += 1
            if incl < 34 or ethertype != eth_ip:
                frame(link, seconds(data, last)[0], bytes(data[b:stop]))  # ARP, VLAN: rare
                continue
            if frag & fragment:
                continue  # a later fragment: no header of the protocol above
            if (pair := mac + src) not in seen:
                pair_of(pair)
            if proto == 17:
                if vihl == 0x45:  # no IP options: the ports were read with the header
                    if incl < 38 or (sport not in udp_ports and dport not in udp_ports):
                        continue
                else:
                    l4 = b + 14 + (vihl & 0x0F) * 4
                    if l4 + 4 > stop or (
                        data[l4] << 8 | data[l4 + 1] not in _UDP_PORTS
                        and data[l4 + 2] << 8 | data[l4 + 3] not in _UDP_PORTS
                    ):
                        continue
                frame(link, seconds(data, last)[0], bytes(data[b:stop]))
            elif proto == 6:
                l4 = b + 14 + (vihl & 0x0F) * 4
                if l4 + 14 <= stop:
                    pl = l4 + (data[l4 + 12] >> 4) * 4
                    if flows.open or (pl < stop and tcp_first[data[pl]]):
                        frame(link, seconds(data, last)[0], bytes(data[b:stop]))
        return pos, count, last

    def frame(self, link: int, at: float, frame: bytes) -> None:
        """One whole frame, through the same prefilter, then to the parser that reads it."""
        if link == pcapio.ETHERNET:
            et, off, mac = frame[12:14], 14, frame[6:12]
            while et in (_ETH_VLAN, _ETH_QINQ):
                et, off = frame[off + 2 : off + 4], off + 4
        elif link == pcapio.LINUX_SLL:
            et, off = frame[14:16], 16
            mac = frame[6:12] if frame[4:6] == b"\x00\x06" else b""
        elif link == pcapio.LINUX_SLL2:
            et, off = frame[0:2], 20
            mac = frame[12:18] if frame[11:12] == b"\x06" and len(frame) > 20 else b""
        else:  # raw IP
            et, off, mac = (_ETH_IP if frame[:1] and frame[0] >> 4 == 4 else b""), 0, b""
        try:  # free in the usual case (zero-cost exceptions); a bad frame is counted, not fatal
            if et != _ETH_IP:
                if et == _ETH_ARP:
                    self._arp(frame[off : off + 28], mac, at)
                return
            if len(frame) < off + 20 or frame[off + 7] or frame[off + 6] & 0x1F:
                return  # too short, or a later fragment: no header of the protocol above
            if mac and (pair := mac + frame[off + 12 : off + 16]) not in self.seen:
                self._pair(pair)
            l4 = off + (frame[off] & 0x0F) * 4
            proto = frame[off + 9]
            if proto == 17:
                # two-byte port slices against sets of two-byte keys: no decoding for RTP
                if frame[l4 : l4 + 2] in _UDP_KEYS or frame[l4 + 2 : l4 + 4] in _UDP_KEYS:
                    self._udp(frame, off, l4, mac, at)
            elif proto == 6:
                pl = l4 + (frame[l4 + 12] >> 4) * 4
                start = frame[pl : pl + 5]
                if start:
                    if start[:1] in _TCP_FIRST:
                        self._tcp_start(frame, off, l4, pl, start, at)
                    elif self.flows.open:
                        self._tcp_more(frame, off, l4, pl)
                elif self.flows.open and frame[l4 + 13] & 5:  # FIN or RST without data
                    self._tcp_more(frame, off, l4, pl)
        except (IndexError, struct.error, ValueError):
            self.stats["passive.malformed"] += 1

    def _tcp_start(self, frame: bytes, off: int, l4: int, pl: int, start: bytes, at: float) -> None:
        """A segment whose payload starts like a response, a request or a TLS handshake."""
        end = min(len(frame), off + int.from_bytes(frame[off + 2 : off + 4], "big"))
        if pl >= end:
            return
        if start.startswith(_RESPONSE_STARTS) or (
            start[:2] == b"\x16\x03" and frame[pl + 5 : pl + 6] == b"\x02"
        ):
            self._response(frame, off, l4, pl, end, start, at)
        elif start[:4] in _REQUEST_STARTS:
            self._request(frame, off, l4, pl, end)
        elif self.flows.open:
            self._tcp_more(frame, off, l4, pl)
        if self.flows.done:
            self._keep(self.flows.drain())

    def _tcp_more(self, frame: bytes, off: int, l4: int, pl: int) -> None:
        """A later segment of a response being read (one lookup for any other segment)."""
        flows = self.flows
        key = frame[off + 12 : off + 20] + frame[l4 : l4 + 4]
        flow = flows.open.get(key)
        if flow is None:
            return
        end = min(len(frame), off + int.from_bytes(frame[off + 2 : off + 4], "big"))
        seq = int.from_bytes(frame[l4 + 4 : l4 + 8], "big")
        flows.more(key, flow, seq, frame[pl:end], bool(frame[l4 + 13] & 5))
        if flows.done:
            self._keep(flows.drain())

    # --- what passed: parsed, within budgets ------------------------------------------------

    def _pair(self, pair: bytes) -> None:
        if len(self.seen) < 2 * MAX_HOSTS:
            self.seen.add(pair)
        if pair[0] & 1 or pair[6:] == b"\0\0\0\0":
            return  # a group MAC or an unconfigured sender
        ips = self.pairs.get(pair[:6])
        if ips is None:
            if len(self.pairs) >= MAX_HOSTS:
                self.stats["passive.hosts_over_limit"] += 1
                return
            ips = self.pairs[pair[:6]] = set()
        if len(ips) <= ROUTER_IPS:
            ips.add(pair[6:])

    def _arp(self, arp: bytes, mac: bytes, at: float) -> None:
        if len(arp) < 28 or arp[:6] != b"\x00\x01\x08\x00\x06\x04":
            return
        sender, ip_bytes = arp[8:14], arp[14:18]
        if ip_bytes == b"\0\0\0\0" or sender[0] & 1 or (mac and sender != mac):
            return  # a probe, a group MAC, or an ARP about someone else's MAC: a claim
        ip, text = socket.inet_ntoa(ip_bytes), sender.hex(":")
        known = self.arp.get(ip)
        if known is None and len(self.arp) < MAX_HOSTS:
            self.arp[ip] = text
            self.arp_macs.add(sender)
            self._add([self._wire_mac(ip, text, "passive:arp", at)])
        elif known is not None and known != text:
            self.stats["passive.arp_conflicts"] += 1

    def _wire_mac(self, ip: str, mac: str, probe: str, at: float) -> Observation:
        fields = {ch.FIELD_MAC: mac}
        if self.interface:
            fields[ch.FIELD_INTERFACE] = self.interface
        return Observation(ch.ARP_MAC, mac, probe, ip, mac, fields, at)

    def _admit(self, ip: str, payload: bytes) -> bool:
        sender = self.senders.get(ip)
        if sender is None:
            if len(self.senders) >= MAX_SENDERS:
                self.stats["passive.flood"] += 1
                self.flooded = True
                return False
            sender = self.senders[ip] = _Sender()
        if sender.over:
            self.stats["passive.flood"] += 1
            return False
        digest = hashlib.blake2b(payload, digest_size=16).digest()
        if digest in sender.digests:
            self.stats["passive.repeats"] += 1
            return False
        if sender.messages >= MAX_MESSAGES_PER_SENDER or sender.size > MAX_BYTES_PER_SENDER:
            sender.over = True
            sender.digests.clear()
            self.stats["passive.flood"] += 1
            return False
        sender.digests.add(digest)
        sender.messages += 1
        sender.size += len(payload)
        return True

    def _udp(self, frame: bytes, off: int, l4: int, mac: bytes, at: float) -> None:
        end = min(len(frame), off + int.from_bytes(frame[off + 2 : off + 4], "big"))
        if end < l4 + 8:
            return
        sport, dport = struct.unpack_from("!HH", frame, l4)
        if self._parsers is None:
            self._parsers = _parsers()
        port = sport if sport in self._parsers else dport
        name, parser = self._parsers[port]
        payload = frame[l4 + 8 : end]
        src = socket.inet_ntoa(frame[off + 12 : off + 16])
        if port == 53 and (
            dport != 53 or (q := query_name(payload)) is None or not q.endswith(cloud_domains())
        ):
            return  # answers, and lookups of other names: not parsed, not counted against the asker
        if not self._admit(src, payload):
            return
        self.parsed += 1
        try:
            found = parser(payload, src)
        except Exception:
            found = None
        if found is None:
            self.stats[f"passive.{name}.dropped"] += 1
            return
        if name == "dhcp":
            sender = mac.hex(":") if mac else None
            found = [o for o in found if sender is None or o.mac == sender]
        for obs in found:
            obs.probe, obs.at = f"passive:{name}", at
            if self.interface:
                obs.fields.setdefault(ch.FIELD_INTERFACE, self.interface)
        self._add(found)

    def _response(
        self, frame: bytes, off: int, l4: int, pl: int, end: int, start: bytes, at: float
    ) -> None:
        src = socket.inet_ntoa(frame[off + 12 : off + 16])
        payload = frame[pl:end]
        if not self._admit(src, payload[:4096]):
            return
        self.parsed += 1
        kind = HTTP if start.startswith(b"HTTP/") else RTSP if start.startswith(b"RTSP/") else TLS
        key = frame[off + 12 : off + 20] + frame[l4 : l4 + 4]
        sport = int.from_bytes(frame[l4 : l4 + 2], "big")
        seq = int.from_bytes(frame[l4 + 4 : l4 + 8], "big")
        self.flows.start(key, kind, src, sport, seq, at, payload)
        if frame[l4 + 13] & 5:
            self.flows.close(key)

    def _request(self, frame: bytes, off: int, l4: int, pl: int, end: int) -> None:
        path = request_path(frame[pl : min(end, pl + 600)], 0)
        if path is not None:  # the response comes back on the reverse 4-tuple
            ips, ports = frame[off + 12 : off + 20], frame[l4 : l4 + 4]
            self.flows.request(ips[4:] + ips[:4] + ports[2:] + ports[:2], path)

    def _add(self, found: list[Observation]) -> None:
        room = MAX_OBSERVATIONS - len(self.observations)
        if len(found) > room:
            self.stats["passive.observations_over_limit"] += len(found) - room
            found = found[: max(room, 0)]
        self.observations += found

    # --- the end ----------------------------------------------------------------------------

    def finish(self) -> list[Observation]:
        """Every observation heard, with MACs from the wire: ARP first, then the source MAC of
        frames from a MAC that is no router's (one sending for many addresses, or for others
        than the address it announced by ARP)."""
        self._keep(self.flows.drain(everything=True))
        by_ip: dict[str, str] = {}
        for sender, ips in self.pairs.items():
            if len(ips) > ROUTER_IPS or sender in self.arp_macs:
                continue
            for ip_bytes in ips:
                by_ip.setdefault(socket.inet_ntoa(ip_bytes), sender.hex(":"))
        for ip, mac in sorted(by_ip.items()):
            if ip not in self.arp:
                self._add([self._wire_mac(ip, mac, "passive:frame", 0.0)])
        ip_of = {mac: ip for ip, mac in {**by_ip, **self.arp}.items()}
        for obs in self.observations:
            if obs.ip is None and obs.mac:  # DHCP from 0.0.0.0: the address its MAC uses
                obs.ip = ip_of.get(obs.mac) or obs.fields.get("reported_ip")
        self.observations = [o for o in self.observations if o.ip]
        self.errors += self._budget_errors()
        return self.observations

    def _keep(self, found: list[Observation]) -> None:
        if self.interface:
            for obs in found:
                obs.fields.setdefault(ch.FIELD_INTERFACE, self.interface)
        self._add(found)

    def _budget_errors(self) -> list[ProbeError]:
        over = [ip for ip, s in self.senders.items() if s.over][:64]
        found = [
            ProbeError(
                "passive",
                ip,
                f"sent more than {MAX_MESSAGES_PER_SENDER} distinct messages or "
                f"{MAX_BYTES_PER_SENDER >> 10} KiB; the rest were not parsed",
                ProbeKind.OVERFLOW,
            )
            for ip in over
        ]
        if self.flooded:
            error = f"more than {MAX_SENDERS} senders: the later ones were not parsed"
            found.append(ProbeError("passive", None, error, ProbeKind.OVERFLOW))
        if self.stats["passive.hosts_over_limit"]:
            error = (
                f"more than {MAX_HOSTS} MAC/IP pairs (a spoofed flood?): the later ones not kept"
            )
            found.append(ProbeError("passive", None, error, ProbeKind.OVERFLOW))
        return found
