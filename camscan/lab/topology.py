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
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from pathlib import Path
from typing import Any

from camscan.lab.guard import LAB_SPACE
from camscan.lab.persona import Persona, PersonaError, derive_mac, load_persona

BUNDLED_TOPOLOGIES = Path(__file__).parent / "topologies"


class TopologyError(Exception):
    """A topology is malformed or unsafe; the message is one line."""


@dataclasses.dataclass(frozen=True, slots=True)
class LabNetwork:
    name: str
    cidr: ipaddress.IPv4Network
    scanner: ipaddress.IPv4Address


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


@dataclasses.dataclass(frozen=True, slots=True)
class Topology:
    name: str
    description: str
    networks: list[LabNetwork]
    devices: list[LabDevice]
    personas: dict[str, Persona]

    def network(self, name: str) -> LabNetwork:
        return next(n for n in self.networks if n.name == name)


def _network(entry: dict[str, Any], where: str) -> LabNetwork:
    try:
        name = str(entry["name"])
        cidr = ipaddress.IPv4Network(str(entry["cidr"]), strict=True)
        scanner = ipaddress.IPv4Address(str(entry["scanner"]))
    except KeyError as exc:
        raise TopologyError(f"{where}: network needs {exc.args[0]}") from None
    except ValueError as exc:
        raise TopologyError(f"{where}: {exc}") from None
    if not cidr.subnet_of(LAB_SPACE):
        raise TopologyError(f"{where}: network {name} {cidr} lies outside {LAB_SPACE}; refused")
    if scanner not in cidr or scanner in (cidr.network_address, cidr.broadcast_address):
        raise TopologyError(f"{where}: scanner {scanner} is not a host address of {cidr}")
    if not name.isidentifier():
        raise TopologyError(f"{where}: network name {name!r} must be a plain word")
    return LabNetwork(name, cidr, scanner)


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
    personas: dict[str, Persona] = {}
    devices: list[LabDevice] = []
    taken = {n.scanner for n in networks}
    last = {n.name: n.scanner for n in networks}
    for gi, group in enumerate(_tables(data, "group", where)):
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
        for addr in _group_addresses(group, net, last[net.name], gwhere):
            if addr not in net.cidr or addr in (
                net.cidr.network_address,
                net.cidr.broadcast_address,
            ):
                raise TopologyError(f"{gwhere}: {addr} is not a host address of {net.cidr}")
            if addr in taken:
                raise TopologyError(f"{gwhere}: address {addr} is used twice")
            taken.add(addr)
            last[net.name] = max(last[net.name], addr)
            mac = derive_mac(persona.mac_prefix, addr)
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
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TopologyError(f"{path}: {exc}") from None
    dirs = [path.parent / "personas", path.parent.parent / "personas"]
    return parse_topology(data, str(path), [d for d in dirs if d.is_dir()])
