"""mDNS / DNS-SD: PTR queries for camera-typical service types, then SRV/TXT queries for
instances the first answers did not describe, every reply parsed as it arrives.

Hikvision announces `_CGI._tcp` as `HIKVISION <model> - <9 digits>` with the full serial as the
SRV host (signatures.md 2.6). `_services._dns-sd._udp` is asked too, so types not listed here
are still learned and asked (up to MAX_TYPES).

Attribution is to the sender only: every observation belongs to the address the reply came
from. An A record inside a reply is the sender's claim about some address; it is kept as the
`reported_ip` field ("reported by" the sender) and never creates or speaks for another device.
A service whose A records name only other addresses (a spoofer, or a sleep proxy) becomes one
`mdns.claim` observation on the sender: recorded, but evidence about no one.
Queries go from an ephemeral port (RFC 6762 6.7 "legacy unicast"): responders answer straight
to that socket, so the source address of each reply is known. zeroconf's wire parser reads them.
"""

from __future__ import annotations

import ipaddress
import re
import struct

# zeroconf's DNS wire parser (the one its browser uses), by the names zeroconf exports at its top
from zeroconf import DNSAddress, DNSIncoming, DNSPointer, DNSService, DNSText

from camscan import channels as ch
from camscan.discovery import registry
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import (
    RAW_LIMIT,
    Datagram,
    UdpPlan,
    clean_field,
    collect,
    link_plans,
)
from camscan.model import Observation

NAME = "mdns"
SERVICES_META = "_services._dns-sd._udp.local."
BROWSE_TYPES = [
    "_CGI._tcp.local.",  # Hikvision
    "_psia._tcp.local.",  # PSIA cameras (commonly browsed by camera tools; unverified for Hik)
    "_axis-video._tcp.local.",
    "_http._tcp.local.",
    "_rtsp._tcp.local.",
    "_hap._tcp.local.",  # HomeKit cameras
    SERVICES_META,
]
PORT, GROUP = registry.udp(NAME).port, registry.group(NAME)  # declared in the registry
GROUP6 = registry.group6(NAME)
MAX_TYPES = 64  # service types asked per round, learned ones included
MAX_RESOLVE = 256  # instances asked for their SRV/TXT per round
MAX_PACKET = 1200  # bytes of one query packet
_TYPE_A, _TYPE_PTR, _TYPE_TXT, _TYPE_SRV, _TYPE_AAAA, _CLASS_IN = 1, 12, 16, 33, 28, 1
_HIK_INSTANCE = re.compile(r"^(?P<badge>\S+) (?P<model>\S+) - (?P<short>\d{6,12})$")


def _instance_label(instance: str, service_type: str) -> str:
    suffix = "." + service_type
    return instance[: -len(suffix)] if instance.endswith(suffix) else instance


def service_observations(
    service_type: str,
    instance: str,
    server: str | None,
    port: int | None,
    txt: list[str],
    ip: str,
    reported_ip: str | None = None,
) -> list[Observation]:
    """Observations for one service instance, all attributed to `ip`, the reply's sender."""
    fields: dict[str, str] = {ch.FIELD_IP: ip}
    if reported_ip and reported_ip != ip.split("%")[0]:
        fields["reported_ip"] = reported_ip  # the sender's claim, not evidence about that host
    host = (server or "").removesuffix(".").removesuffix(".local")
    if host:
        fields[ch.FIELD_HOSTNAME] = host
    if port:
        fields[ch.FIELD_PORT] = str(port)
    label = _instance_label(instance, service_type)
    matched = _HIK_INSTANCE.match(label)
    if service_type.lower() == "_cgi._tcp.local." and matched:
        fields[ch.FIELD_BADGE] = matched["badge"]
        fields[ch.FIELD_MODEL] = matched["model"]
        fields["short_serial"] = matched["short"]
        if host.startswith(matched["model"]) and host.endswith(matched["short"]):
            fields[ch.FIELD_SERIAL] = host  # the SRV host is the full SADP DeviceSN
    found = [
        Observation(ch.MDNS_TYPE, service_type, NAME, ip, None, fields),
        Observation(ch.MDNS_INSTANCE, instance[:RAW_LIMIT], NAME, ip, None, dict(fields)),
    ]
    if server:
        found.append(Observation(ch.MDNS_SERVER, server[:RAW_LIMIT], NAME, ip, None, dict(fields)))
    if txt:
        raw = " ".join(txt)[:RAW_LIMIT]
        found.append(Observation(ch.MDNS_TXT, raw, NAME, ip, None, dict(fields)))
    return found


def txt_pairs(text: bytes) -> list[str]:
    """DNS TXT rdata (length-prefixed strings) -> printable 'key=value' items."""
    items, i = [], 0
    while i < len(text):
        length = text[i]
        item = clean_field(text[i + 1 : i + 1 + length].decode("utf-8", errors="replace"))
        if item:
            items.append(item)
        i += 1 + length
    return items


def parse_mdns(data: bytes, src_ip: str) -> list[Observation] | None:
    """A raw mDNS response -> observations per service instance it describes; [] for queries."""
    message = DNSIncoming(data)
    if not message.valid:
        return None
    if not message.is_response():
        return []
    types: dict[str, str] = {}  # instance -> service type
    services: dict[str, DNSService] = {}
    texts: dict[str, bytes] = {}
    addresses: dict[str, list[str]] = {}  # host name (lowercase) -> IPv4s the reply claims
    for record in message.answers():
        if isinstance(record, DNSPointer) and record.name.lower() != SERVICES_META:
            types[record.alias] = record.name
        elif isinstance(record, DNSService):
            services[record.name] = record
        elif isinstance(record, DNSText):
            texts[record.name] = record.text
        elif isinstance(record, DNSAddress) and record.type in (_TYPE_A, _TYPE_AAAA):
            address = _address_text(record.address)
            if address:
                addresses.setdefault(record.name.lower(), []).append(address)
    found: list[Observation] = []
    for instance in sorted(set(types) | set(services)):
        service_type = types.get(instance) or instance.split(".", 1)[-1]
        srv = services.get(instance)
        named = addresses.get(srv.server.lower(), []) if srv else []
        # the addresses of the sender's own family: a reply over IPv6 naming only an IPv4
        # address (a dual-stack device) is no claim about another host
        claimed = [a for a in named if (":" in a) == (":" in src_ip)]
        if claimed and src_ip.split("%")[0] not in claimed:  # for another host: a claim only
            fields = {ch.FIELD_IP: src_ip, "reported_by": src_ip, "reported_ip": claimed[0]}
            if srv and srv.server:
                fields[ch.FIELD_HOSTNAME] = srv.server.removesuffix(".")[:RAW_LIMIT]
            claim = Observation(ch.MDNS_CLAIM, instance[:RAW_LIMIT], NAME, src_ip, None, fields)
            found.append(claim)
            continue
        found += service_observations(
            service_type,
            instance,
            srv.server if srv else None,
            srv.port if srv else None,
            txt_pairs(texts.get(instance, b"")),
            src_ip,
            next(iter(claimed or named), None),
        )
    return found


def _address_text(packed: bytes) -> str:
    """An A or AAAA record's address as text ("" for any other length)."""
    if len(packed) == 4:
        return ".".join(str(b) for b in packed)
    return str(ipaddress.IPv6Address(packed)) if len(packed) == 16 else ""


def _encode_name(name: str) -> bytes | None:
    """A DNS name in wire form (no compression); None when it cannot be one."""
    labels = [label.encode("utf-8") for label in name.rstrip(".").split(".")]
    if not all(0 < len(label) <= 63 for label in labels):
        return None
    wire = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
    return wire if len(wire) <= 255 else None


def build_queries(questions: list[tuple[str, int]]) -> list[bytes]:
    """Query packets (id 0, QM) asking each (name, type), split to stay under MAX_PACKET."""
    packets: list[bytes] = []
    batch: list[bytes] = []
    size = 12

    def flush() -> None:
        if batch:
            packets.append(struct.pack(">6H", 0, 0, len(batch), 0, 0, 0) + b"".join(batch))

    for name, qtype in questions:
        wire = _encode_name(name)
        if wire is None:
            continue
        question = wire + struct.pack(">HH", qtype, _CLASS_IN)
        if size + len(question) > MAX_PACKET:
            flush()
            batch, size = [], 12
        batch.append(question)
        size += len(question)
    flush()
    return packets


class _Asker:
    """What the second send asks: types learned from the meta query, instances not described."""

    def __init__(self, plans: list[UdpPlan]) -> None:
        self.plans = plans
        self.types = {t.lower() for t in BROWSE_TYPES}
        self.asked: set[str] = set()

    def on_reply(self, d: Datagram) -> None:
        message = DNSIncoming(d.data)
        if not message.valid or not message.is_response():
            return
        described = {r.name.lower() for r in message.answers() if isinstance(r, DNSService)}
        questions: list[tuple[str, int]] = []
        for record in message.answers():
            if not isinstance(record, DNSPointer):
                continue
            alias = record.alias.lower()
            if record.name.lower() == SERVICES_META:
                if alias not in self.types and len(self.types) < MAX_TYPES:
                    self.types.add(alias)
                    questions.append((record.alias, _TYPE_PTR))
            elif alias not in described | self.asked and len(self.asked) < MAX_RESOLVE:
                self.asked.add(alias)
                questions += [(record.alias, _TYPE_SRV), (record.alias, _TYPE_TXT)]
        if questions:
            # udp_round resends each plan's payloads once at repeat_after: ask these then
            for plan in self.plans:
                plan.payloads += build_queries(questions)


class MdnsProbe:
    name = NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        queries = build_queries([(t, _TYPE_PTR) for t in BROWSE_TYPES])
        plans = [
            UdpPlan(
                iface,
                list(queries),
                [(GROUP, PORT)],
                groups=[(GROUP, PORT)],  # multicast answers and announcements
                repeat_after=ctx.settings.timeouts.window / 3,
            )
            for iface in ctx.interfaces
        ]
        # and ff02::fb on the links of IPv6 targets (RFC 6762 3), from the link-local address
        repeat = ctx.settings.timeouts.window / 3
        plans += link_plans(ctx, queries, GROUP6, PORT, listen=True, repeat_after=repeat)
        asker = _Asker(plans)
        return ProbeOutcome(*await collect(ctx, NAME, plans, parse_mdns, asker.on_reply))


UNICAST_TYPES = [t for t in BROWSE_TYPES if t != SERVICES_META]


def unicast_queries(types: list[str] | None = None) -> list[bytes]:
    """DNS-SD PTR queries for `types`. Sent from an ephemeral port they are one-shot (legacy
    unicast) queries, RFC 6762 6.7: the responder answers to that port, directly."""
    return build_queries([(t, _TYPE_PTR) for t in (types or UNICAST_TYPES)])


def inquiries() -> list[bytes]:
    """Sent to one host (the unicast round)."""
    return unicast_queries()
