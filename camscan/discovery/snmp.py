"""Read-only SNMP with the credentials the config gives ([snmp]; camscan/discovery/snmpconf.py).

Routers and layer-3 switches know the MACs of the devices behind them: their ARP and IPv6
neighbour tables, ipNetToPhysicalTable (RFC 4293; its IPv6 rows name the routed IPv6 targets),
or the older ipNetToMediaTable (RFC 1213, IPv4 only) where the agent has no other. Once
discovery has found the hosts (the routed sweep's own traffic fills the routers' tables), this
probe walks each configured router's table with GETBULK requests and gives each off-link device
found its MAC, marked `mac_source: "router"` (camscan.macaddr). With `devices = true` it also
asks each device found for sysDescr, sysObjectID and the Hikvision and Dahua enterprise objects
(../shared/research/frontier.md, from Zabbix's community templates).

Only GET and GETBULK are sent, never SET; only to the configured routers and the devices found
in the targets; each request first takes its turn from the run's rate limiter; a table is read
to `max_rows` rows at most. A router that does not answer or refuses the credentials is a
recorded probe error (the run is partial), never a silent gap; a device that does not answer is
only counted (SNMP is off on most cameras).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Iterable
from typing import Any, NamedTuple

from camscan import channels as ch
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.rate import RateLimiter
from camscan.discovery.snmpconf import Credentials, SnmpSettings, credentials
from camscan.errors import ProbeKind
from camscan.macaddr import MacSource, normalise_mac
from camscan.model import Observation, ProbeError

NAME = "snmp"
OID = tuple[int, ...]

# ipNetToPhysicalPhysAddress, index ifIndex.addressType.length.address (RFC 4293)
IP_NET_TO_PHYSICAL = (1, 3, 6, 1, 2, 1, 4, 35, 1, 4)
# ipNetToMediaPhysAddress, index ifIndex.a.b.c.d (RFC 1213)
IP_NET_TO_MEDIA = (1, 3, 6, 1, 2, 1, 4, 22, 1, 2)
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_OBJECT_ID = (1, 3, 6, 1, 2, 1, 1, 2, 0)
HIKVISION = (1, 3, 6, 1, 4, 1, 39165)
DAHUA = (1, 3, 6, 1, 4, 1, 1004849)
# The makers' objects asked of a device, and the fact each holds (frontier.md, S10)
ENTERPRISE_FIELDS: dict[OID, str] = {
    (*HIKVISION, 1, 1, 0): ch.FIELD_MODEL,
    (*HIKVISION, 1, 3, 0): ch.FIELD_FIRMWARE,
    (*DAHUA, 2, 1, 2, 4, 0): ch.FIELD_SERIAL,
    (*DAHUA, 2, 1, 2, 5, 0): ch.FIELD_FIRMWARE,
    (*DAHUA, 2, 1, 2, 6, 0): ch.FIELD_MODEL,
}
MAX_TEXT = 512  # characters kept of one value
_INET_IPV4 = 1  # InetAddressType ipv4 (RFC 4001)
_INET_IPV6 = 2  # InetAddressType ipv6: the router's IPv6 neighbour table rows


def dotted(oid: Iterable[int]) -> str:
    return ".".join(str(n) for n in oid)


def parse_arp_row(column: OID, oid: OID, value: bytes) -> tuple[str, str] | None:
    """(ip, mac) from one row of an ARP or neighbour table column, or None: not that column, not
    an IPv4 or IPv6 (type 2, 16 octets) row, or not a unicast MAC (an incomplete entry has
    none)."""
    if oid[: len(column)] != column:
        return None
    index = oid[len(column) :]
    if column == IP_NET_TO_PHYSICAL:
        if len(index) == 19 and index[1] == _INET_IPV6 and index[2] == 16:
            return _ipv6_row(index[3:], value)
        if len(index) != 7 or index[1] != _INET_IPV4 or index[2] != 4:
            return None
        octets = index[3:]
    elif column == IP_NET_TO_MEDIA:
        if len(index) != 5:
            return None
        octets = index[1:]
    else:
        return None
    if not all(0 <= n <= 255 for n in octets) or len(value) != 6:
        return None
    if value[0] & 1 or value == bytes(6):  # multicast/broadcast, or no MAC at all
        return None
    mac = normalise_mac(value.hex())
    return (dotted(octets), mac) if mac else None


class Neighbour(NamedTuple):
    """A router's table row for one address: the MAC, and the router interface (ifIndex, the
    first index of both tables) it was learned on."""

    mac: str
    ifindex: int


Table = dict[str, Neighbour]  # address -> its row, for one router


def add_row(table: Table, column: OID, oid: OID, value: bytes) -> None:
    """Put one row of `column` into `table` when it names a unicast address and MAC."""
    if (row := parse_arp_row(column, oid, value)) is not None:
        table[row[0]] = Neighbour(row[1], oid[len(column)])


def lone_macs(router: str, table: Table) -> set[str]:
    """The MACs `router`'s table gives to one host: seen on one of its interfaces, for at most
    one IPv4 address, and not its own (the MAC it lists for its own address). A router, a
    proxy-ARP box or a bridge answers for many addresses with one MAC; a host has one IPv4
    address and any number of IPv6 ones."""
    interfaces: dict[str, set[int]] = {}
    ipv4: dict[str, int] = {}
    for ip, row in table.items():
        interfaces.setdefault(row.mac, set()).add(row.ifindex)
        ipv4[row.mac] = ipv4.get(row.mac, 0) + (":" not in ip)
    own = table[router].mac if router in table else None
    return {m for m, i in interfaces.items() if len(i) == 1 and ipv4[m] <= 1 and m != own}


def router_macs(tables: list[tuple[str, Table]], wanted: Iterable[str]) -> list[Observation]:
    """One snmp.router_mac observation per wanted address a router lists, from the first router
    (in [snmp] order) that lists it. Its `router_link` (router and interface) says the address
    may join the device of the router's other addresses with that MAC there: only when the MAC
    names one host in that table (lone_macs) and no other router gives the address another."""
    lone = [lone_macs(router, table) for router, table in tables]
    out = []
    for ip in sorted(wanted):
        rows = [(r, t[ip], one) for (r, t), one in zip(tables, lone, strict=True) if ip in t]
        if not rows:
            continue
        router, row, one = rows[0]
        fields = {
            ch.FIELD_MAC: row.mac,
            ch.FIELD_MAC_SOURCE: MacSource.ROUTER,
            ch.FIELD_ROUTER: router,
        }
        if row.mac in one and all(other.mac == row.mac for _, other, _ in rows):
            fields[ch.FIELD_ROUTER_LINK] = f"{router} ifIndex {row.ifindex}"
        out.append(Observation(ch.SNMP_ROUTER_MAC, row.mac, NAME, ip, row.mac, fields))
    return out


def _ipv6_row(octets: OID, value: bytes) -> tuple[str, str] | None:
    """An ipNetToPhysicalTable IPv6 row: a unicast address that is not link-local (a router's
    link-local neighbours are named only with its interface) and a unicast MAC."""
    if not all(0 <= n <= 255 for n in octets) or len(value) != 6:
        return None
    if value[0] & 1 or value == bytes(6):
        return None
    addr = ipaddress.IPv6Address(bytes(octets))
    if addr.is_multicast or addr.is_link_local or addr.is_unspecified or addr.is_loopback:
        return None
    mac = normalise_mac(value.hex())
    return (str(addr), mac) if mac else None


def printable(value: bytes | str) -> str:
    """An SNMP text value, bounded, with control characters made visible."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    text = text[:MAX_TEXT]
    return "".join(c if c.isprintable() else " " for c in text).strip()


def device_observations(ip: str, answers: dict[OID, bytes | str]) -> list[Observation]:
    """What one device answered to the GET of its system and maker objects."""
    out = []
    if (descr := answers.get(SYS_DESCR)) is not None and (text := printable(descr)):
        out.append(Observation(ch.SNMP_SYSDESCR, text, NAME, ip))
    if (oid := answers.get(SYS_OBJECT_ID)) is not None and (text := printable(oid)):
        out.append(Observation(ch.SNMP_SYSOBJECTID, text, NAME, ip))
    for key, field in ENTERPRISE_FIELDS.items():
        if (value := answers.get(key)) is not None and (text := printable(value)):
            raw = f"{dotted(key)}={text}"
            out.append(Observation(ch.SNMP_ENTERPRISE, raw, NAME, ip, fields={field: text}))
    return out


class _Agent:
    """pysnmp, for one run: an engine, the credentials, and requests paced by the limiter."""

    def __init__(self, ctx: ProbeContext, settings: SnmpSettings, creds: Credentials) -> None:
        from pyasn1.type import univ
        from pysnmp.hlapi.v3arch import asyncio as hlapi  # only when SNMP is configured
        from pysnmp.proto import errind

        self.hlapi, self.timed_out = hlapi, errind.RequestTimedOut
        self.text, self.oid = univ.OctetString, univ.ObjectIdentifier  # values as decoded
        self.ctx, self.settings = ctx, settings
        self.slots = asyncio.Semaphore(
            max(1, min(ctx.settings.limits.concurrency, 64))
        )  # devices asked at once
        self.engine = hlapi.SnmpEngine()
        self.auth = _auth(hlapi, creds)
        self.v3 = creds.user is not None
        self.asked: set[str] = set()
        self.ipv6 = settings.devices  # IPv6 devices may be asked (routers are IPv4)

    async def open(self) -> None:
        """Open the UDP socket now: pysnmp opens it on the first request and queues requests
        until it is open, which would send them together, behind the limiter's back."""
        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config

        transport = _paced(udp.UdpAsyncioTransport, self.ctx.limiter)().open_client_mode()
        config.add_transport(self.engine, udp.DOMAIN_NAME, transport)
        await transport._lport  # the socket's opening, which pysnmp keeps there
        if self.ipv6:  # IPv6 devices found (devices = true): their socket, opened now too
            from pysnmp.carrier.asyncio.dgram import udp6

            try:
                paced6 = _paced(udp6.Udp6AsyncioTransport, self.ctx.limiter)
                transport6 = paced6().open_client_mode()
                config.add_transport(self.engine, udp6.DOMAIN_NAME, transport6)
                await transport6._lport
            except Exception:  # no IPv6 on this host: those devices are not asked
                self.ipv6 = False
        self.binds([SYS_DESCR])  # load the base MIBs now, not during a request

    def binds(self, oids: list[OID]) -> list[Any]:
        """The request's variable bindings, resolved (the first resolution loads pysnmp's base
        MIBs: tens of ms that would otherwise delay a request past its turn)."""
        from pysnmp.hlapi.varbinds import MibViewControllerManager

        view = MibViewControllerManager.get_mib_view_controller(self.engine.cache)
        h = self.hlapi
        return [h.ObjectType(h.ObjectIdentity(dotted(o))).resolve_with_mib(view) for o in oids]

    def close(self) -> None:
        self.engine.close_dispatcher()

    async def request(
        self, host: str, oids: list[OID], bulk: bool
    ) -> tuple[str | None, ProbeKind, list[tuple[OID, Any]]]:
        """One GET (or GETBULK), resent `retries` times when unanswered: (error, its kind,
        the answer's (oid, value) pairs)."""
        h = self.hlapi
        kind = h.Udp6TransportTarget if ":" in host else h.UdpTransportTarget
        target = await kind.create(
            (host, self.settings.port), timeout=self.settings.timeout, retries=0
        )
        binds = self.binds(oids)  # resolved here: pysnmp would, between the slot and the send
        error = None
        for _ in range(1 + self.settings.retries):
            # SNMPv3's first request to an agent is preceded by its engine-id discovery
            first = host not in self.asked
            self.asked.add(host)
            await self.ctx.limiter.slot(host, cost=2 if self.v3 and first else 1)
            self.ctx.stats["snmp.requests"] += 1
            if bulk:
                call = h.bulk_cmd(
                    self.engine,
                    self.auth,
                    target,
                    h.ContextData(),
                    0,
                    self.settings.max_repetitions,
                    *binds,
                    lookupMib=False,
                )
            else:
                call = h.get_cmd(
                    self.engine, self.auth, target, h.ContextData(), *binds, lookupMib=False
                )
            try:
                async with asyncio.timeout(self.settings.timeout + 2):  # pysnmp's, and a bound
                    indication, status, _, varbinds = await call
            except TimeoutError:
                continue
            except Exception as e:  # a bad reply or a socket error: this agent's failure
                return f"{type(e).__name__}: {e}"[:200], ProbeKind.MALFORMED, []
            if indication is None and not status:
                return None, ProbeKind.OTHER, [(tuple(o), v) for o, v in varbinds]
            timed_out = isinstance(indication, self.timed_out)
            if indication is not None:
                error = str(indication)
                if not timed_out:
                    return error, ProbeKind.REFUSED, []
            else:
                return f"the agent answered {status.prettyPrint()}", ProbeKind.MALFORMED, []
        return error or "no answer", ProbeKind.TIMEOUT, []


def _paced(transport: Any, limiter: RateLimiter) -> Any:
    """pysnmp's `transport` class, telling `limiter` when each datagram left: pysnmp encodes the
    message after the request's turn, so it counts from the send, not the turn (rate.py)."""

    class Paced(transport):  # type: ignore[misc]
        def send_message(self, message: Any, address: Any) -> None:
            super().send_message(message, address)
            limiter.went()

    return Paced


def _auth(hlapi: Any, creds: Credentials) -> Any:
    if creds.user is None:
        return hlapi.CommunityData(creds.community, mpModel=1)  # v2c: GETBULK
    auth = {
        None: hlapi.USM_AUTH_NONE,
        "md5": hlapi.USM_AUTH_HMAC96_MD5,
        "sha": hlapi.USM_AUTH_HMAC96_SHA,
        "sha224": hlapi.USM_AUTH_HMAC128_SHA224,
        "sha256": hlapi.USM_AUTH_HMAC192_SHA256,
        "sha384": hlapi.USM_AUTH_HMAC256_SHA384,
        "sha512": hlapi.USM_AUTH_HMAC384_SHA512,
    }[creds.auth_protocol]
    priv = {
        None: hlapi.USM_PRIV_NONE,
        "des": hlapi.USM_PRIV_CBC56_DES,
        "aes": hlapi.USM_PRIV_CFB128_AES,
        "aes192": hlapi.USM_PRIV_CFB192_AES,
        "aes256": hlapi.USM_PRIV_CFB256_AES,
    }[creds.priv_protocol]
    return hlapi.UsmUserData(
        creds.user, creds.auth_key, creds.priv_key, authProtocol=auth, privProtocol=priv
    )


async def walk_arp(agent: _Agent, router: str) -> tuple[Table, ProbeError | None]:
    """ip -> (mac, ifIndex) from `router`'s ipNetToPhysicalTable, or its ipNetToMediaTable when
    the first is empty or absent; at most max_rows rows."""
    for column in (IP_NET_TO_PHYSICAL, IP_NET_TO_MEDIA):
        table, error = await _walk_column(agent, router, column)
        if table or error:
            return table, error
    return {}, None


async def _walk_column(agent: _Agent, router: str, column: OID) -> tuple[Table, ProbeError | None]:
    settings, stats = agent.settings, agent.ctx.stats
    target = f"{router}:{settings.port}"
    table: Table = {}
    rows, last = 0, column
    while True:
        error, kind, varbinds = await agent.request(router, [last], bulk=True)
        if error is not None:
            why = (
                "no answer (a wrong community or user, or SNMP off or filtered)"
                if kind is ProbeKind.TIMEOUT
                else error
            )
            note = f"{why}; its ARP table was not read" if not rows else f"{why} after {rows} rows"
            return table, ProbeError(NAME, target, f"router {router}: {note}", kind)
        for oid, value in varbinds:
            if oid[: len(column)] != column or not oid > last:  # the column's end, or a loop
                return table, None
            last, rows = oid, rows + 1
            stats["snmp.router_rows"] += 1
            add_row(table, column, oid, bytes(value) if isinstance(value, agent.text) else b"")
            if rows >= settings.max_rows:
                msg = f"router {router}: ARP table over max_rows ({settings.max_rows}): cut there"
                return table, ProbeError(NAME, target, msg, ProbeKind.OVERFLOW)
        if not varbinds:
            return table, None


async def ask_device(agent: _Agent, ip: str) -> list[Observation]:
    if ":" in ip and ("%" in ip or not agent.ipv6):  # link-local (scoped), or no IPv6 socket
        agent.ctx.stats["snmp.device_skipped"] += 1
        return []
    oids = [SYS_DESCR, SYS_OBJECT_ID, *ENTERPRISE_FIELDS]
    async with agent.slots:
        error, _, varbinds = await agent.request(ip, oids, bulk=False)
    if error is not None:
        agent.ctx.stats["snmp.device_silent"] += 1
        return []
    answers: dict[OID, bytes | str] = {}
    for oid, value in varbinds:
        if isinstance(value, agent.text):
            answers[oid] = bytes(value)
        elif isinstance(value, agent.oid):
            answers[oid] = dotted(value)
    found = device_observations(ip, answers)
    agent.ctx.stats["snmp.devices_answered"] += bool(found)
    return found


def _off_link(ip: str, ctx: ProbeContext) -> bool:
    """Behind a router: an IPv4 address on no attached network, an IPv6 one in a routed
    target prefix (IPv6 on an attached link has its MAC from neighbour discovery)."""
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address):
        return any(addr in n for n in (*ctx.targets.routed6, *ctx.targets.listed6))
    return not any(addr in i.network for i in ctx.interfaces)


async def neighbour_addresses(
    ctx: ProbeContext,
    prefixes: list[ipaddress.IPv6Network],
    excluded: list[ipaddress.IPv6Network],
    limit: int,
) -> tuple[list[ipaddress.IPv6Address], list[ProbeError]]:
    """The addresses the [snmp] routers' neighbour tables list inside `prefixes` (less
    `excluded`), at most `limit`: what the routed sweep asks of a prefix too large to sweep.
    Read before the sweep, with the same credentials, limiter and bounds as the ARP walk."""
    settings = ctx.snmp
    if settings is None:
        return [], [ProbeError(NAME, "[snmp]", _NOT_CONFIGURED, ProbeKind.PERMISSION)]
    creds = credentials(settings, os.environ)
    if isinstance(creds, str):
        where = [f"{r}:{settings.port}" for r in settings.routers] or ["[snmp]"]
        return [], [ProbeError(NAME, w, creds, ProbeKind.PERMISSION) for w in where]
    agent = _Agent(ctx, settings, creds)
    agent.ipv6 = False  # only the routers (IPv4) are asked here
    found: set[ipaddress.IPv6Address] = set()
    errors: list[ProbeError] = []
    try:
        await agent.open()
        for router in settings.routers:
            table, error = await walk_arp(agent, router)
            errors += [error] if error is not None else []
            for ip in table:
                addr = ipaddress.ip_address(ip)
                inside = any(addr in n for n in prefixes)
                if inside and not any(addr in x for x in excluded):
                    found.add(ipaddress.IPv6Address(int(addr)))
    finally:
        agent.close()
    ctx.stats["snmp.neighbours_listed"] += len(found)
    if len(found) > limit:
        msg = f"the routers' neighbour tables list {len(found)} addresses, over --max-hosts: cut"
        errors.append(ProbeError(NAME, "[snmp]", f"{msg} at {limit}", ProbeKind.OVERFLOW))
    return sorted(found)[:limit], errors


class SnmpProbe:
    """The registry's "snmp" probe: an inspect-phase probe over the hosts discovery found."""

    name = NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        out = ProbeOutcome()
        settings = ctx.snmp
        hosts: list[str] = []
        if settings is None:  # named on the command line with no [snmp] table
            await _drain(ctx, hosts)
            out.errors.append(ProbeError(NAME, "[snmp]", _NOT_CONFIGURED, ProbeKind.PERMISSION))
            return out
        creds = credentials(settings, os.environ)
        if isinstance(creds, str):
            await _drain(ctx, hosts)
            for where in [f"{r}:{settings.port}" for r in settings.routers] or ["[snmp]"]:
                out.errors.append(ProbeError(NAME, where, creds, ProbeKind.PERMISSION))
            return out
        agent = _Agent(ctx, settings, creds)
        try:
            await agent.open()
            asking: list[asyncio.Task[list[Observation]]] = []
            await _drain(ctx, hosts, agent if settings.devices else None, asking)
            for found in await asyncio.gather(*asking):
                out.observations += found
            tables: list[tuple[str, Table]] = []
            for router in settings.routers:
                table, error = await walk_arp(agent, router)
                tables.append((router, table))
                if error is not None:
                    out.errors.append(error)
            macs = router_macs(tables, {ip for ip in hosts if _off_link(ip, ctx)})
            out.observations += macs
            ctx.stats["snmp.router_macs"] += len(macs)
        finally:
            agent.close()
        return out


_NOT_CONFIGURED = (
    "no [snmp] table in the config: give the routers to read and read-only credentials "
    "(README: SNMP); nothing was sent"
)


async def _drain(
    ctx: ProbeContext,
    hosts: list[str],
    agent: _Agent | None = None,
    asking: list[asyncio.Task[list[Observation]]] | None = None,
) -> None:
    """Take every host discovery hands over (until it ends); ask each one when `agent`."""
    given = iter(ctx.hosts)
    while (ip := next(given, None) if ctx.feed is None else await ctx.feed.get()) is not None:
        hosts.append(ip)
        if agent is not None and asking is not None:
            asking.append(asyncio.create_task(ask_device(agent, ip)))
