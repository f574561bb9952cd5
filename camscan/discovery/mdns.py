"""mDNS / DNS-SD: browse camera-typical service types with python-zeroconf, resolve each
instance (capped concurrency), and report type, instance, SRV host and TXT.

Hikvision announces `_CGI._tcp` as `HIKVISION <model> - <9 digits>` with the full serial as the
SRV host (signatures.md 2.6). `_services._dns-sd._udp` is browsed too, so types not listed here
are still learned and browsed (up to MAX_TYPES).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re

from zeroconf import IPVersion, ServiceStateChange, Zeroconf

# zeroconf exports its DNS wire parser only from these modules; it is the parser the browser uses
from zeroconf._dns import DNSPointer, DNSService, DNSText
from zeroconf._protocol.incoming import DNSIncoming
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from camscan import channels as ch
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.multicast import RAW_LIMIT, clean_field
from camscan.errors import kind_of
from camscan.model import Observation, ProbeError

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
MAX_TYPES = 64
MAX_SERVICES = 2048
RESOLVE_CONCURRENCY = 16  # lab-notes: unbounded resolving overflows the receive buffer
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
) -> list[Observation]:
    """Observations for one resolved service instance."""
    fields: dict[str, str] = {ch.FIELD_IP: ip}
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
    for record in message.answers():
        if isinstance(record, DNSPointer) and record.name.lower() != SERVICES_META:
            types[record.alias] = record.name
        elif isinstance(record, DNSService):
            services[record.name] = record
        elif isinstance(record, DNSText):
            texts[record.name] = record.text
    found: list[Observation] = []
    for instance in sorted(set(types) | set(services)):
        service_type = types.get(instance) or instance.split(".", 1)[-1]
        srv = services.get(instance)
        found += service_observations(
            service_type,
            instance,
            srv.server if srv else None,
            srv.port if srv else None,
            txt_pairs(texts.get(instance, b"")),
            src_ip,
        )
    return found


def _pick_address(info: AsyncServiceInfo, ctx: ProbeContext) -> str | None:
    addresses = [ipaddress.IPv4Address(a) for a in info.addresses_by_version(IPVersion.V4Only)]
    for addr in addresses:
        if any(addr in i.network for i in ctx.interfaces):
            return str(addr)
    return str(addresses[0]) if addresses else None


class MdnsProbe:
    name = NAME
    needs_raw_socket = False

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        if not ctx.interfaces:
            return ProbeOutcome()
        try:
            azc = AsyncZeroconf(
                interfaces=[str(i.address) for i in ctx.interfaces],
                ip_version=IPVersion.V4Only,
                unicast=False,
            )
        except OSError as exc:
            error = ProbeError(NAME, None, f"mDNS socket failed: {exc}", kind_of(exc))
            return ProbeOutcome(errors=[error])
        try:
            return await _browse(azc, ctx)
        finally:
            await azc.async_close()


async def _browse(azc: AsyncZeroconf, ctx: ProbeContext) -> ProbeOutcome:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.window
    limit = asyncio.Semaphore(RESOLVE_CONCURRENCY)
    browsers: list[AsyncServiceBrowser] = []
    types = set(BROWSE_TYPES)
    resolving: dict[tuple[str, str], asyncio.Task[AsyncServiceInfo]] = {}

    async def resolve(service_type: str, instance: str) -> AsyncServiceInfo:
        info = AsyncServiceInfo(service_type, instance)
        async with limit:
            remaining_ms = (deadline - loop.time()) * 1000
            if remaining_ms > 20:
                await info.async_request(azc.zeroconf, remaining_ms)
        return info

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Added:
            return
        if service_type == SERVICES_META:  # `name` is a service type someone offers
            if name not in types and len(types) < MAX_TYPES:
                types.add(name)
                browsers.append(AsyncServiceBrowser(zeroconf, [name], handlers=[on_change]))
            return
        key = (service_type, name)
        if key not in resolving and len(resolving) < MAX_SERVICES:
            resolving[key] = asyncio.create_task(resolve(service_type, name))

    browsers.append(AsyncServiceBrowser(azc.zeroconf, BROWSE_TYPES, handlers=[on_change]))
    await asyncio.sleep(ctx.window)
    for browser in browsers:
        await browser.async_cancel()
    if resolving:
        await asyncio.wait(resolving.values(), timeout=0.05)
    observations: list[Observation] = []
    for (service_type, instance), task in resolving.items():
        if not task.done() or task.exception() is not None:
            task.cancel()
            ctx.stats[f"{NAME}.unresolved"] += 1
            continue
        info = task.result()
        info.load_from_cache(azc.zeroconf)
        ip = _pick_address(info, ctx)
        if ip is None:
            ctx.stats[f"{NAME}.unresolved"] += 1
            continue
        txt = [clean_field(_pair(k, v)) or "" for k, v in info.properties.items()]
        observations += service_observations(
            service_type, instance, info.server, info.port, [t for t in txt if t], ip
        )
    return ProbeOutcome(observations)


def _pair(key: bytes, value: bytes | None) -> str:
    k = key.decode("utf-8", errors="replace")
    return k if value is None else f"{k}={value.decode('utf-8', errors='replace')}"
