"""The host's IPv4 interfaces, and which one carries a given target."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket

import psutil

from camscan.errors import UsageError


@dataclasses.dataclass(frozen=True, slots=True)
class Interface:
    name: str
    index: int
    mac: str | None
    address: ipaddress.IPv4Address
    network: ipaddress.IPv4Network

    @property
    def broadcast(self) -> ipaddress.IPv4Address:
        return self.network.broadcast_address


class InterfaceError(UsageError):
    """An interface the user named does not exist or carries no IPv4 address."""


def list_interfaces() -> list[Interface]:
    """Every up interface with an IPv4 address (one entry per address), loopback excluded."""
    found: list[Interface] = []
    stats = psutil.net_if_stats()
    for name, addrs in psutil.net_if_addrs().items():
        st = stats.get(name)
        if st is None or not st.isup or name == "lo":
            continue
        mac = next((a.address.lower() for a in addrs if a.family == psutil.AF_LINK), None)
        for a in addrs:
            if a.family != socket.AF_INET or not a.netmask:
                continue
            iface = ipaddress.IPv4Interface(f"{a.address}/{a.netmask}")
            if iface.ip.is_loopback:
                continue
            found.append(Interface(name, socket.if_nametoindex(name), mac, iface.ip, iface.network))
    return sorted(found, key=lambda i: (i.name, int(i.address)))


def select_interfaces(names: list[str] | None) -> list[Interface]:
    """The interfaces named by the user, or all of them; raises InterfaceError with one line."""
    all_ifaces = list_interfaces()
    if not names:
        return all_ifaces
    chosen = [i for i in all_ifaces if i.name in names]
    missing = sorted(set(names) - {i.name for i in chosen})
    if missing:
        known = ", ".join(sorted({i.name for i in all_ifaces})) or "none"
        raise InterfaceError(
            f"unknown interface or no IPv4 address on it: {', '.join(missing)} (known: {known})"
        )
    return chosen


def interface_for(ip: ipaddress.IPv4Address, ifaces: list[Interface]) -> Interface | None:
    """The interface whose directly attached network holds `ip` (most specific wins)."""
    best: Interface | None = None
    for i in ifaces:
        if ip in i.network and (best is None or i.network.prefixlen > best.network.prefixlen):
            best = i
    return best


def has_route(net: ipaddress.IPv4Network, route_table: str = "/proc/thread-self/net/route") -> bool:
    """Whether the kernel routes every address of `net` somewhere (read, nothing sent)."""
    try:
        with open(route_table, encoding="ascii") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return True  # cannot tell: let the probes find out
    routes = []
    for line in lines:
        cols = line.split()
        if len(cols) < 8:
            continue
        dest = ipaddress.IPv4Address(socket.ntohl(int(cols[1], 16)))
        mask = ipaddress.IPv4Address(socket.ntohl(int(cols[7], 16)))
        routes.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    return any(net.subnet_of(r) for r in routes)


def has_route6(
    net: ipaddress.IPv6Network, route_table: str = "/proc/thread-self/net/ipv6_route"
) -> bool:
    """Whether the kernel routes every address of `net` through a gateway or a device (read,
    nothing sent); unreachable and blackhole routes (flag RTF_REJECT) do not count."""
    try:
        with open(route_table, encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return True  # cannot tell: let the probes find out
    for line in lines:
        cols = line.split()
        if len(cols) < 10 or int(cols[8], 16) & 0x0200:  # RTF_REJECT
            continue
        dest = ipaddress.IPv6Network((int(cols[0], 16), int(cols[1], 16)))
        if net.subnet_of(dest) and cols[9] != "lo":
            return True
    return False


@dataclasses.dataclass(frozen=True, slots=True)
class Interface6:
    """One IPv6 address of an up interface: global/unique-local with its prefix, or link-local."""

    name: str
    index: int
    mac: str | None
    address: ipaddress.IPv6Address
    network: ipaddress.IPv6Network

    @property
    def link_local(self) -> bool:
        return self.address.is_link_local


def list_interfaces6(names: list[str] | None = None) -> list[Interface6]:
    """Every up interface's IPv6 addresses (loopback excluded), or those of `names`."""
    found: list[Interface6] = []
    stats = psutil.net_if_stats()
    for name, addrs in psutil.net_if_addrs().items():
        st = stats.get(name)
        if st is None or not st.isup or name == "lo" or (names and name not in names):
            continue
        mac = next((a.address.lower() for a in addrs if a.family == psutil.AF_LINK), None)
        for a in addrs:
            if a.family != socket.AF_INET6 or not a.netmask:
                continue
            plen = bin(int(ipaddress.IPv6Address(a.netmask))).count("1")
            iface = ipaddress.IPv6Interface(f"{a.address.split('%')[0]}/{plen}")
            if iface.ip.is_loopback:
                continue
            index = socket.if_nametoindex(name)
            found.append(Interface6(name, index, mac, iface.ip, iface.network))
    return sorted(found, key=lambda i: (i.name, int(i.address)))


def links_for(net: ipaddress.IPv6Network, ifaces: list[Interface6]) -> list[Interface6]:
    """The interface addresses whose attached prefix overlaps `net` (for a link-local target:
    every interface's link-local address)."""
    return [i for i in ifaces if i.network.overlaps(net)]
