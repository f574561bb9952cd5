"""What the user asked camscan to scan, and the safety rules on it.

camscan probes nothing outside a TargetSet. Discovery replies from other addresses are kept but
marked out of scope and never probed further.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterator

IPv4 = ipaddress.IPv4Address
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT: private in practice
DEFAULT_MAX_HOSTS = 65536


class TargetError(Exception):
    """A target the user gave cannot be parsed or may not be scanned; the message is one line."""


def parse_target(text: str) -> ipaddress.IPv4Network:
    """A CIDR, a single address, or a last-octet range like 198.18.1.10-20."""
    s = text.strip()
    if "-" in s and "/" not in s:
        raise TargetError(f"ranges are not supported, give a CIDR or an address: {s!r}")
    try:
        return ipaddress.IPv4Network(s, strict=False)
    except ValueError:
        raise TargetError(f"not an IPv4 address or CIDR: {s!r}") from None


def is_private(net: ipaddress.IPv4Network) -> bool:
    return (net.is_private and not net.is_unspecified) or net.subnet_of(_SHARED)


@dataclasses.dataclass(slots=True)
class TargetSet:
    networks: list[ipaddress.IPv4Network]

    @classmethod
    def parse(
        cls,
        texts: list[str],
        *,
        allow_public: bool = False,
        max_hosts: int = DEFAULT_MAX_HOSTS,
    ) -> TargetSet:
        nets = [parse_target(t) for t in texts]
        for n in nets:
            if n.is_multicast or n.is_reserved or n.is_unspecified or n.is_loopback:
                raise TargetError(f"{n} is not a unicast host range and cannot be scanned")
            if not allow_public and not is_private(n):
                raise TargetError(
                    f"{n} is not a private range; pass --allow-public if you own it and mean it"
                )
        ts = cls(list(ipaddress.collapse_addresses(nets)))
        if ts.size() > max_hosts:
            raise TargetError(
                f"targets cover {ts.size()} addresses, more than --max-hosts {max_hosts}"
            )
        return ts

    def __contains__(self, ip: object) -> bool:
        try:
            addr = ipaddress.IPv4Address(str(ip))
        except ValueError:
            return False
        return any(addr in n for n in self.networks)

    def size(self) -> int:
        return sum(n.num_addresses for n in self.networks)

    def hosts(self) -> Iterator[IPv4]:
        """Every address: a target CIDR need not be the LAN's own prefix, so its first and last
        addresses may be hosts (probes skip the attached network's own network/broadcast)."""
        for n in self.networks:
            yield from n

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __str__(self) -> str:
        return ", ".join(str(n) for n in self.networks)
