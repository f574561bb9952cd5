"""Topology files: which lab networks exist and which personas sit on them, at which addresses.

name = "office"
[[network]]            # one bridge per network, one scanner interface per network (eth0, ...)
name = "core"
cidr = "198.18.10.0/24"   # must lie inside 198.18.0.0/15
scanner = "198.18.10.1"
[[group]]
persona = "hikvision-ipc"
network = "core"
count = 2                 # addresses follow the scanner's (or the group's `start`)
# start = "198.18.10.50"  # optional first address; step = 1 optional stride
# addresses = ["..."]     # or an explicit list instead of count/start/step
# mac = "58:50:ed:46:00:15"  # a group of one device: this MAC instead of the derived one
#                            (a device that moved to another network keeps its MAC)

IPv6: a network may name `cidr6 = "2001:db8:60::/64"` (inside 2001:db8::/32, the documentation
prefix), `scanner6` and, beside `router`, `router6` (the router's IPv6 leg: IPv6 forwarding on
there, routes both ways as for IPv4); its namespaces then run IPv6 (link-local addresses, no
DAD, no router advertisements). A group on it names `ipv6 = ["2001:db8:60::20", ...]` (one
per device) and `ipv4 = false` for IPv6-only devices (their IPv4 address still numbers them and
derives the MAC, but is never configured; their IPv4-only discovery services stay silent).
`"link-local"` in place of an address: that device has no global address, only its EUI-64
link-local one (where its TCP services then listen).

Routed networks: a network may name a `router = "198.18.x.254"` address. Networks with a router
get a leg of one router namespace (ip_forward on there only). A network without `scanner` is not
attached to the scanner: it is reached through the router, via the first attached network that has
a router leg. No namespace gets a default route; multicast and broadcast are not forwarded, and
ARP does not cross. `[[group]] from_topology = "mixed"` places every group of another topology
(its personas and counts) on this group's network.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from pathlib import Path
from typing import Any

from camscan.errors import DataError
from camscan.lab.persona import Persona, PersonaError, derive_mac, load_persona
from camscan.labguard import LAB_SPACE, LAB_SPACE6
from camscan.macaddr import normalise_mac

BUNDLED_TOPOLOGIES = Path(__file__).parent / "topologies"


class TopologyError(DataError):
    """A topology is malformed or unsafe; the message is one line."""


@dataclasses.dataclass(frozen=True, slots=True)
class LabNetwork:
    name: str
    cidr: ipaddress.IPv4Network
    scanner: ipaddress.IPv4Address | None  # None: routed, the scanner has no leg here
    router: ipaddress.IPv4Address | None = None  # the router's leg on this network
    cidr6: ipaddress.IPv6Network | None = None  # IPv6 on this link (inside LAB_SPACE6)
    scanner6: ipaddress.IPv6Address | None = None
    router6: ipaddress.IPv6Address | None = None  # the router's IPv6 leg (with `router`)

    @property
    def routed(self) -> bool:
        return self.scanner is None

    @property
    def first(self) -> ipaddress.IPv4Address:
        """Where device addresses start counting from (the scanner, or the network address)."""
        return self.scanner or self.cidr.network_address


@dataclasses.dataclass(frozen=True, slots=True)
class LabDevice:
    """One emulated device, and what camscan is expected to say about it."""

    ip: str
    mac: str
    persona: str
    network: str
    expected_maker: str | None
    expected_badge: str | None
    expected_model: str | None
    index: int  # position in the lab, also names its interface ("d<index>")
    expected_exposure: str | None = None  # firmware verdict status: kev, affected, none, unknown
    ip6: str | None = None  # its global IPv6 address (on a network with cidr6)
    ipv4: bool = True  # False: IPv6 only (`ip` numbers it but is never configured)
    link6: str | None = None  # its EUI-64 link-local address, when it runs IPv6

    @property
    def address(self) -> str:
        """The address camscan reports it by: its IPv4 one, else its global IPv6 one, else its
        link-local one (without the scope: that is the scanner's interface)."""
        return self.ip if self.ipv4 else self.ip6 or self.link6 or self.ip


@dataclasses.dataclass(frozen=True, slots=True)
class Topology:
    name: str
    description: str
    networks: list[LabNetwork]
    devices: list[LabDevice]
    personas: dict[str, Persona]

    def network(self, name: str) -> LabNetwork:
        return next(n for n in self.networks if n.name == name)

    @property
    def attached(self) -> list[LabNetwork]:
        """Networks the scanner has an interface on, in topology order."""
        return [n for n in self.networks if not n.routed]

    @property
    def gateway(self) -> LabNetwork | None:
        """The attached network through which the scanner reaches the routed ones."""
        return next((n for n in self.attached if n.router), None)


def _network(entry: dict[str, Any], where: str) -> LabNetwork:
    try:
        name = str(entry["name"])
        cidr = ipaddress.IPv4Network(str(entry["cidr"]), strict=True)
        scanner = ipaddress.IPv4Address(str(entry["scanner"])) if "scanner" in entry else None
        router = ipaddress.IPv4Address(str(entry["router"])) if "router" in entry else None
    except KeyError as exc:
        raise TopologyError(f"{where}: network needs {exc.args[0]}") from None
    except ValueError as exc:
        raise TopologyError(f"{where}: {exc}") from None
    if not cidr.subnet_of(LAB_SPACE):
        raise TopologyError(f"{where}: network {name} {cidr} lies outside {LAB_SPACE}; refused")
    for role, addr in (("scanner", scanner), ("router", router)):
        if addr is not None and (
            addr not in cidr or addr in (cidr.network_address, cidr.broadcast_address)
        ):
            raise TopologyError(f"{where}: {role} {addr} is not a host address of {cidr}")
    if scanner is None and router is None:
        raise TopologyError(f"{where}: network {name} needs a scanner or a router address")
    if scanner is not None and scanner == router:
        raise TopologyError(f"{where}: network {name}: scanner and router share {scanner}")
    if not name.isidentifier():
        raise TopologyError(f"{where}: network name {name!r} must be a plain word")
    cidr6, scanner6, router6 = _v6(entry, where)
    if router6 is not None and router is None:
        raise TopologyError(f"{where}: network {name}: router6 needs a router (IPv4) leg too")
    return LabNetwork(name, cidr, scanner, router, cidr6, scanner6, router6)


_V6 = tuple[
    ipaddress.IPv6Network | None, ipaddress.IPv6Address | None, ipaddress.IPv6Address | None
]


def _v6(entry: dict[str, Any], where: str) -> _V6:
    if "cidr6" not in entry:
        return None, None, None
    try:
        cidr6 = ipaddress.IPv6Network(str(entry["cidr6"]), strict=True)
        scanner6 = ipaddress.IPv6Address(str(entry["scanner6"])) if "scanner6" in entry else None
        router6 = ipaddress.IPv6Address(str(entry["router6"])) if "router6" in entry else None
    except ValueError as exc:
        raise TopologyError(f"{where}: {exc}") from None
    if not cidr6.subnet_of(LAB_SPACE6):
        raise TopologyError(f"{where}: {cidr6} lies outside {LAB_SPACE6}; refused")
    for role, addr in (("scanner6", scanner6), ("router6", router6)):
        if addr is not None and addr not in cidr6:
            raise TopologyError(f"{where}: {role} {addr} is not in {cidr6}")
    if scanner6 is not None and scanner6 == router6:
        raise TopologyError(f"{where}: scanner6 and router6 share {scanner6}")
    return cidr6, scanner6, router6


LINK_LOCAL_ONLY = "link-local"  # in a group's ipv6 list: no global address, link-local only


def link_local(mac: str) -> str:
    """The EUI-64 link-local address the kernel gives an interface with this MAC (RFC 4291
    appendix A: the universal/local bit flipped, ff:fe in the middle)."""
    b = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([b[0] ^ 0x02, *b[1:3], 0xFF, 0xFE, *b[3:6]])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid))


def _group_v6(
    group: dict[str, Any], net: LabNetwork, count: int, where: str
) -> tuple[list[str | None], bool]:
    ipv4 = group.get("ipv4", True)
    if not isinstance(ipv4, bool):
        raise TopologyError(f"{where}: ipv4 must be true or false")
    listed = group.get("ipv6")
    if listed is None:
        if not ipv4:
            raise TopologyError(f"{where}: an IPv6-only group needs ipv6 addresses")
        return [None] * count, True
    if net.cidr6 is None:
        raise TopologyError(f"{where}: ipv6 on network {net.name}, which has no cidr6")
    if not isinstance(listed, list) or len(listed) != count:
        raise TopologyError(f"{where}: ipv6 must list one address per device ({count})")
    found: list[str | None] = []
    for text in listed:
        if text == LINK_LOCAL_ONLY:
            found.append(LINK_LOCAL_ONLY)
            continue
        try:
            addr = ipaddress.IPv6Address(str(text))
        except ValueError as exc:
            raise TopologyError(f"{where}: {exc}") from None
        if addr not in net.cidr6:
            raise TopologyError(f"{where}: {addr} is not in {net.cidr6}")
        found.append(str(addr))
    return found, ipv4


def _group_mac(group: dict[str, Any], count: int, where: str) -> str | None:
    if "mac" not in group:
        return None
    mac = normalise_mac(str(group["mac"]))
    if mac is None:
        raise TopologyError(f"{where}: mac {group['mac']!r} is not a MAC address")
    if count != 1:
        raise TopologyError(f"{where}: mac is for a group of one device, not {count}")
    return mac


def _group_addresses(
    group: dict[str, Any], net: LabNetwork, after: ipaddress.IPv4Address, where: str
) -> list[ipaddress.IPv4Address]:
    try:
        if "addresses" in group:
            listed = group["addresses"]
            if not isinstance(listed, list):
                raise TopologyError(f"{where}: addresses must be a list")
            return [ipaddress.IPv4Address(str(a)) for a in listed]
        count = int(group.get("count", 1))
        step = int(group.get("step", 1))
        first = ipaddress.IPv4Address(str(group["start"])) if "start" in group else after + 1
    except (ValueError, TypeError) as exc:
        raise TopologyError(f"{where}: {exc}") from None
    if count < 0 or step < 1:
        raise TopologyError(f"{where}: count must be >= 0 and step >= 1")
    try:
        return [first + i * step for i in range(count)]
    except ipaddress.AddressValueError:
        raise TopologyError(f"{where}: addresses run past the end of IPv4") from None


def _tables(data: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TopologyError(f"{where}: {key} must be an array of tables ([[{key}]])")
    return value


def _groups(data: dict[str, Any], where: str, persona_dirs: list[Path]) -> list[dict[str, Any]]:
    """The [[group]] tables, with `from_topology` groups expanded (one level, no addresses)."""
    found: list[dict[str, Any]] = []
    for group in _tables(data, "group", where):
        other = group.get("from_topology")
        if other is None:
            found.append(group)
            continue
        path = BUNDLED_TOPOLOGIES / f"{other}.toml"
        if not str(other).isidentifier() or not path.is_file():
            raise TopologyError(f"{where}: from_topology {other!r} is not a bundled topology")
        included = tomllib.loads(path.read_text(encoding="utf-8"))
        for g in _tables(included, "group", str(path)):
            if "from_topology" in g:
                raise TopologyError(f"{where}: {other} includes another topology; not supported")
            copy = {k: v for k, v in g.items() if k not in ("start", "addresses", "network")}
            found.append({**copy, "network": group.get("network")})
    return found


def parse_topology(data: dict[str, Any], where: str, persona_dirs: list[Path]) -> Topology:
    networks = [_network(n, where) for n in _tables(data, "network", where)]
    if not networks:
        raise TopologyError(f"{where}: no [[network]]")
    by_name = {n.name: n for n in networks}
    if len(by_name) != len(networks):
        raise TopologyError(f"{where}: duplicate network names")
    for a in networks:
        for b in networks:
            if a is not b and a.cidr.overlaps(b.cidr):
                raise TopologyError(f"{where}: networks {a.name} and {b.name} overlap")
    if any(n.routed for n in networks) and not any(n.router for n in networks if not n.routed):
        raise TopologyError(f"{where}: routed networks need an attached network with a router")
    personas: dict[str, Persona] = {}
    devices: list[LabDevice] = []
    taken = {a for n in networks for a in (n.scanner, n.router) if a is not None}
    last = {n.name: n.first for n in networks}
    for gi, group in enumerate(_groups(data, where, persona_dirs)):
        gwhere = f"{where} group {gi + 1}"
        net = by_name.get(str(group.get("network", "")))
        if net is None:
            raise TopologyError(f"{gwhere}: unknown network {group.get('network')!r}")
        pname = str(group.get("persona", ""))
        if pname not in personas:
            try:
                personas[pname] = load_persona(pname, persona_dirs)
            except PersonaError as exc:
                raise TopologyError(f"{gwhere}: {exc}") from None
        persona = personas[pname]
        addresses = _group_addresses(group, net, last[net.name], gwhere)
        fixed_mac = _group_mac(group, len(addresses), gwhere)
        v6, ipv4 = _group_v6(group, net, len(addresses), gwhere)
        for addr, ip6 in zip(addresses, v6, strict=True):
            if addr not in net.cidr or addr in (
                net.cidr.network_address,
                net.cidr.broadcast_address,
            ):
                raise TopologyError(f"{gwhere}: {addr} is not a host address of {net.cidr}")
            if addr in taken:
                raise TopologyError(f"{gwhere}: address {addr} is used twice")
            taken.add(addr)
            last[net.name] = max(last[net.name], addr)
            mac = fixed_mac or derive_mac(persona.mac_prefix, addr)
            model = persona.expect.model
            if model and "$" in model:
                model = persona.device_vars(addr, mac).get("model", model)
            devices.append(
                LabDevice(
                    ip=str(addr),
                    mac=mac,
                    persona=pname,
                    network=net.name,
                    expected_maker=persona.expect.maker,
                    expected_badge=persona.expect.badge,
                    expected_model=model,
                    index=len(devices),
                    expected_exposure=persona.expect.exposure,
                    ip6=None if ip6 == LINK_LOCAL_ONLY else ip6,
                    ipv4=ipv4,
                    link6=link_local(mac) if ip6 else None,
                )
            )
    return Topology(
        name=str(data.get("name", Path(where).stem)),
        description=str(data.get("description", "")),
        networks=networks,
        devices=devices,
        personas=personas,
    )


def load_topology(name_or_path: str | Path) -> Topology:
    """A bundled topology by name ("office", "flat253", ...) or a TOML file path.

    Personas are looked up next to a topology file (its directory and ../personas) first.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = BUNDLED_TOPOLOGIES / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUNDLED_TOPOLOGIES.glob("*.toml")))
        raise TopologyError(f"no topology {str(name_or_path)!r} (bundled: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TopologyError(f"{path}: {exc}") from None
    dirs = [path.parent / "personas", path.parent.parent / "personas"]
    return parse_topology(data, str(path), [d for d in dirs if d.is_dir()])
