"""The `[snmp]` settings: which routers' ARP tables to read, and with which read-only credentials.

Kept apart from camscan/discovery/snmp.py so the config can be read without importing pysnmp.
Credentials come only from the config or the environment (CAMSCAN_SNMP_COMMUNITY,
CAMSCAN_SNMP_AUTH_KEY, CAMSCAN_SNMP_PRIV_KEY): camscan never guesses one, never tries a list,
and has no default community.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

ENV_COMMUNITY = "CAMSCAN_SNMP_COMMUNITY"
ENV_AUTH_KEY = "CAMSCAN_SNMP_AUTH_KEY"
ENV_PRIV_KEY = "CAMSCAN_SNMP_PRIV_KEY"
# SNMPv3 (USM) protocol names as net-snmp's tools spell them (snmpwalk -a / -x)
AUTH_PROTOCOLS = ("md5", "sha", "sha224", "sha256", "sha384", "sha512")
PRIV_PROTOCOLS = ("des", "aes", "aes192", "aes256")
MIN_KEY_CHARS = 8  # RFC 3414 11.2: a USM passphrase is at least 8 octets


@dataclasses.dataclass(frozen=True, slots=True)
class SnmpSettings:
    routers: tuple[str, ...] = ()  # IPv4 addresses of routers / L3 switches to read
    community: str | None = None  # v2c
    user: str | None = None  # v3 (USM)
    auth_protocol: str | None = None
    auth_key: str | None = None
    priv_protocol: str | None = None
    priv_key: str | None = None
    devices: bool = False  # also ask the devices found (the credentials go to each of them)
    port: int = 161
    timeout: float = 2.0  # seconds per request
    retries: int = 1  # resends of an unanswered request (each through the rate limiter)
    max_rows: int = 20_000  # ARP rows read from one router, at most
    max_repetitions: int = 25  # rows asked per GETBULK request


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """What the probe sends: a v2c community, or a v3 user with its keys."""

    community: str | None = None
    user: str | None = None
    auth_protocol: str | None = None
    auth_key: str | None = None
    priv_protocol: str | None = None
    priv_key: str | None = None

    @property
    def version(self) -> str:
        return "v3" if self.user else "v2c"


def credentials(settings: SnmpSettings, environ: Mapping[str, str]) -> Credentials | str:
    """The credentials to send, from the config and then the environment, or why there are
    none (one line). Never a default: no community configured means no SNMP is sent."""
    if settings.user:
        auth_key = settings.auth_key or environ.get(ENV_AUTH_KEY) or None
        priv_key = settings.priv_key or environ.get(ENV_PRIV_KEY) or None
        if settings.auth_protocol and not auth_key:
            return f"SNMPv3 user {settings.user!r}: no auth_key in [snmp] or {ENV_AUTH_KEY}"
        if settings.priv_protocol and not priv_key:
            return f"SNMPv3 user {settings.user!r}: no priv_key in [snmp] or {ENV_PRIV_KEY}"
        for name, key in (("auth_key", auth_key), ("priv_key", priv_key)):
            if key is not None and len(key) < MIN_KEY_CHARS:
                return f"SNMPv3 {name} is shorter than {MIN_KEY_CHARS} characters (RFC 3414)"
        return Credentials(
            user=settings.user,
            auth_protocol=settings.auth_protocol,
            auth_key=auth_key if settings.auth_protocol else None,
            priv_protocol=settings.priv_protocol,
            priv_key=priv_key if settings.priv_protocol else None,
        )
    community = settings.community or environ.get(ENV_COMMUNITY) or None
    if community is None:
        return (
            f"no SNMP credentials: set [snmp] community or user, or {ENV_COMMUNITY}; "
            "camscan never guesses one"
        )
    return Credentials(community=community)
