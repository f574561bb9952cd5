"""Personas: what one emulated device plays, read from personas/<name>.toml.

A persona file names the device, what camscan should conclude about it (`[expect]`), its MAC
prefix, template variables, and one table per service. Strings may use ${var} placeholders:
the built-ins below (derived deterministically from the device's IP and MAC), then `[vars]`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import re
import string
import tomllib
import uuid
from pathlib import Path
from typing import Any

from camscan.discovery import registry as probe_registry
from camscan.errors import DataError

BUNDLED_PERSONAS = Path(__file__).parent / "personas"
# The lab's own services, and one per UDP discovery protocol of the probe registry.
SERVICE_KEYS = frozenset(
    {"http", "https", "rtsp", "tcp", "tls"}
    | {s.name for s in probe_registry.REGISTRY if s.udp is not None}
)
_TOP_KEYS = frozenset({"name", "description", "mac_prefix", "expect", "vars"}) | SERVICE_KEYS
_MAC_PREFIX = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){2}$")


class PersonaError(DataError):
    """A persona file is missing or malformed; the message is one line."""


@dataclasses.dataclass(frozen=True, slots=True)
class Expectation:
    maker: str | None  # maker slug camscan should name, or None ("not a listed maker")
    badge: str | None = None
    model: str | None = None
    exposure: str | None = None  # firmware verdict: kev, affected, none, unknown (unchecked: None)


@dataclasses.dataclass(frozen=True, slots=True)
class Persona:
    name: str
    description: str
    mac_prefix: str  # "44:19:b6"
    expect: Expectation
    vars: dict[str, str]
    services: dict[str, Any]  # service key -> its table, as read from TOML

    def device_vars(self, ip: ipaddress.IPv4Address, mac: str) -> dict[str, str]:
        """Template variables for one device: built-ins first, then [vars] expanded over them."""
        low = int(ip) & 0xFFFFFF
        digest = hashlib.sha256(f"{self.name}/{ip}".encode()).digest()
        mac_hex = mac.replace(":", "")
        builtins = {
            "ip": str(ip),
            "mac": mac,
            "mac_dash": mac.replace(":", "-"),
            "mac_hex": mac_hex,
            "MAC_HEX": mac_hex.upper(),
            "serial9": f"{(low * 2654435761 + 733050075) % 10**9:09d}",
            "hex8": digest[:4].hex(),
            "hex32": digest[:16].hex(),
            # Hikvision EPRs are time-based UUIDs whose node field is the MAC (signatures.md 2.5).
            "uuid_mac": str(uuid.UUID(fields=(low, 0x6324, 0x11B3, 0x81, 0x9E, int(mac_hex, 16)))),
            "uuid": str(uuid.UUID(bytes=digest[:16], version=4)),
        }
        merged = dict(builtins)
        for key, value in self.vars.items():
            merged[key] = string.Template(value).safe_substitute(merged)
        return merged


def derive_mac(prefix: str, ip: ipaddress.IPv4Address) -> str:
    """Prefix + the low 24 bits of the IP: unique inside 198.18.0.0/15, stable run to run."""
    low = int(ip) & 0xFFFFFF
    return f"{prefix}:{low >> 16:02x}:{(low >> 8) & 0xFF:02x}:{low & 0xFF:02x}"


def _text(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PersonaError(f"{where}: {key} must be a string")
    return value


def parse_persona(data: dict[str, Any], where: str) -> Persona:
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise PersonaError(f"{where}: unknown keys {', '.join(unknown)}")
    name = _text(data, "name", where)
    prefix = (_text(data, "mac_prefix", where) or "").lower()
    if not name:
        raise PersonaError(f"{where}: name is required")
    if not _MAC_PREFIX.match(prefix):
        raise PersonaError(f"{where}: mac_prefix must be three bytes like '44:19:b6'")
    expect = data.get("expect", {})
    variables = data.get("vars", {})
    if not isinstance(expect, dict) or not isinstance(variables, dict):
        raise PersonaError(f"{where}: expect and vars must be tables")
    if not all(isinstance(v, str) for v in variables.values()):
        raise PersonaError(f"{where}: every value in [vars] must be a string")
    services = {k: v for k, v in data.items() if k in SERVICE_KEYS}
    _check_services(services, where)
    return Persona(
        name=name,
        description=_text(data, "description", where) or "",
        mac_prefix=prefix,
        expect=Expectation(
            maker=_text(expect, "maker", where),
            badge=_text(expect, "badge", where),
            model=_text(expect, "model", where),
            exposure=_text(expect, "exposure", where),
        ),
        vars=dict(variables),
        services=services,
    )


_PORT_KEYED = frozenset({"http", "https", "rtsp", "tcp"})


def _check_services(services: dict[str, Any], where: str) -> None:
    """Shape checks, so a bad persona fails here with one line, not in the emulator."""
    for key, table in services.items():
        if key == "mdns":
            entries = table if isinstance(table, list) else [None]
            for entry in entries:
                ok = isinstance(entry, dict) and all(
                    isinstance(entry.get(k), str) for k in ("type", "name")
                )
                if not ok:
                    raise PersonaError(f"{where}: each [[mdns]] needs type and name strings")
            continue
        if not isinstance(table, dict):
            raise PersonaError(f"{where}: [{key}] must be a table")
        if key in _PORT_KEYED:
            for port, conf in table.items():
                if not (str(port).isdigit() and 0 < int(port) < 65536):
                    raise PersonaError(f"{where}: [{key}.{port}]: not a port number")
                if not isinstance(conf, dict):
                    raise PersonaError(f"{where}: [{key}.{port}] must be a table")


def load_persona(name: str, search: list[Path] | None = None) -> Persona:
    """A persona by name from `search` dirs, then the bundled ones."""
    for directory in [*(search or []), BUNDLED_PERSONAS]:
        path = directory / f"{name}.toml"
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise PersonaError(f"{path}: {exc}") from None
            persona = parse_persona(data, str(path))
            if persona.name != name:
                raise PersonaError(f"{path}: name {persona.name!r} differs from the file name")
            return persona
    raise PersonaError(f"no persona named {name!r}")


def bundled_persona_names() -> list[str]:
    return sorted(p.stem for p in BUNDLED_PERSONAS.glob("*.toml"))
