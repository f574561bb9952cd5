"""Refuse to play devices or send lab traffic anywhere but inside a lab namespace.

Used by the lab (camscan/lab/), by `camscan scan` under CAMSCAN_LAB_GUARD=1, and by the probes'
own test entry points; it lives outside camscan/lab/ so that discovery never imports the lab.

A lab namespace holds only 198.18.0.0/15 IPv4 addresses (RFC 2544 benchmarking space) besides
loopback, no IPv6 address but link-local and 2001:db8::/32 (documentation) ones, and no default
route: traffic from it cannot leave the lab.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import psutil

LAB_SPACE = ipaddress.IPv4Network("198.18.0.0/15")
LAB_SPACE6 = ipaddress.IPv6Network("2001:db8::/32")  # RFC 3849 documentation prefix
# /proc/thread-self: setns is per thread, and /proc/self/net shows the main thread's namespace.
_PROC_NET = Path("/proc/thread-self/net")


def _has_default_route() -> bool:
    try:
        v4 = (_PROC_NET / "route").read_text().splitlines()[1:]
    except OSError:
        return True  # cannot tell: assume the worst
    for line in v4:
        cols = line.split()
        if len(cols) > 7 and cols[1] == "00000000" and cols[7] == "00000000":
            return True
    try:
        v6 = (_PROC_NET / "ipv6_route").read_text().splitlines()
    except OSError:
        return False  # IPv6 disabled or absent
    return any(line.split()[:2] == ["0" * 32, "00"] and not line.endswith(" lo") for line in v6)


def lab_namespace_problem() -> str | None:
    """None inside a lab namespace; otherwise one line saying why this is not one."""
    lab_addresses = 0
    # getifaddrs opens a netlink socket, which lives in the calling thread's namespace.
    for ifname, addrs in psutil.net_if_addrs().items():
        for a in addrs:
            if a.family == socket.AF_INET:
                addr = ipaddress.IPv4Address(a.address)
                if addr.is_loopback:
                    continue
                if addr not in LAB_SPACE:
                    return f"{ifname} has {addr}, outside the lab space {LAB_SPACE}"
                lab_addresses += 1
            elif a.family == socket.AF_INET6:
                addr6 = ipaddress.IPv6Address(a.address.split("%")[0])
                if not (addr6.is_loopback or addr6.is_link_local or addr6 in LAB_SPACE6):
                    return f"{ifname} has IPv6 address {addr6}, outside the lab space {LAB_SPACE6}"
    if _has_default_route():
        return "this namespace has a default route"
    if lab_addresses == 0:
        return f"no {LAB_SPACE} address here: not a lab namespace"
    return None
