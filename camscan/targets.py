"""What the user asked camscan to scan, and the safety rules on it.

The syntax is what nmap users type: CIDRs (`198.18.0.0/24`), single addresses, ranges
(`198.18.0.1-50` on the last octet, `198.18.0.1-198.18.1.20` in full), nmap's octet ranges, lists
and globs in any octet (`198.18.0-1.1`, `198.18.9.1,3,5`, `198.18.9.*`, `198.18.1-2,5.1-10`),
host names (resolved once, recorded), lists read from a file or stdin (`-iL`), and exclusions
(`--exclude`, `--exclude-file`). A comma inside an octet list belongs to it; any other comma
separates targets (`198.18.0.1,198.18.0.9`), the same on the command line, in files and in
--exclude.
IPv6 addresses and prefixes (`2001:db8:1::/64`, `2001:db8:1::20`) are targets too, in the same
places. A prefix on a link the scanner is attached to is never swept address by address: it is
discovered there by multicast and neighbour discovery (camscan/discovery/icmpv6.py), and the link
itself is then in scope (its link-local addresses too). A routed prefix (on no attached link, with
a kernel route) is swept through its router like a routed IPv4 range when it is small enough:
its addresses count against --max-hosts with the IPv4 ones (the default 65536 admits a /112);
a larger one is asked only at the addresses the [snmp] routers' neighbour tables list inside it
when SNMP runs, and refused with a hint otherwise (`place_ipv6`, called by the service once the
interfaces are known).
Documentation (2001:db8::/32), unique-local and link-local prefixes count as private; global
unicast is public.
netaddr does the ranges and set arithmetic. The safety rules (no public ranges without
--allow-public, at most --max-hosts addresses) apply to the expanded set, after exclusions.

camscan probes nothing outside a TargetSet. Discovery replies from other addresses are kept but
marked out of scope and never probed further.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING

import netaddr

from camscan.errors import UsageError

if TYPE_CHECKING:
    from camscan.netif import Interface6

IPv4 = ipaddress.IPv4Address
IPv6Net = ipaddress.IPv6Network
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")  # an IPv4 address in IPv6 clothing
_LINK_LOCAL6 = ipaddress.IPv6Network("fe80::/10")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT: private in practice
DEFAULT_MAX_HOSTS = 65536
MAX_LIST_BYTES = 4 << 20  # a target list larger than this is not a list someone wrote
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$"
)
_DOTTED = re.compile(r"^[0-9.]+$")  # looks like an address: never sent to a resolver
# One octet in nmap's syntax: `*`, or a comma list of numbers and ranges (`1,3-5`, `-9`, `200-`).
_OCTET_ITEM = r"(?:[0-9]{1,3}|[0-9]{0,3}-[0-9]{0,3})"
_OCTET = re.compile(rf"^(?:\*|{_OCTET_ITEM}(?:,{_OCTET_ITEM})*)$")
MAX_OCTET_SPEC = 1 << 24  # a /8's worth: anything larger is refused before it is expanded

# host name -> its IPv4 addresses; raises OSError when it does not resolve
Resolver = Callable[[str], list[str]]


class TargetError(UsageError):
    """A target the user gave cannot be parsed or may not be scanned; the message is one line."""


def system_resolver(name: str) -> list[str]:
    """The IPv4 addresses getaddrinfo gives for `name` (files, then DNS, as nsswitch says)."""
    infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos}, key=ipaddress.IPv4Address)


def _address(text: str, whole: str) -> netaddr.IPAddress:
    try:
        return netaddr.IPAddress(str(ipaddress.IPv4Address(text)))
    except ValueError:
        raise TargetError(f"not an IPv4 address in {whole!r}: {text!r}") from None


def _range(text: str) -> netaddr.IPRange:
    """`a.b.c.d-e` (last octet) or `a.b.c.d-w.x.y.z`."""
    first_text, _, last_text = text.partition("-")
    first = _address(first_text, text)
    if last_text.isdigit() and len(last_text) <= 3:
        octet = int(last_text)
        if octet > 255:
            raise TargetError(f"range end {octet} is not an octet (0-255) in {text!r}")
        last = netaddr.IPAddress((int(first) & 0xFFFFFF00) | octet)
    else:
        last = _address(last_text, text)
    if last < first:
        raise TargetError(f"range {text!r} ends before it starts")
    return netaddr.IPRange(first, last)


def _octet_spec(text: str) -> list[str] | None:
    """The four octet specs of an nmap-style target (`198.18.0-1.*`), or None if it is not one."""
    parts = text.split(".")
    if len(parts) != 4 or not all(_OCTET.match(p) for p in parts):
        return None
    return parts


def _octet_runs(spec: str, whole: str) -> list[tuple[int, int]]:
    """One octet spec as sorted, merged (low, high) runs."""
    runs: list[tuple[int, int]] = []
    for item in ("0-255" if spec == "*" else spec).split(","):
        low_text, dash, high_text = item.partition("-")
        low = int(low_text) if low_text else 0
        high = (int(high_text) if high_text else 255) if dash else low
        if low > 255 or high > 255:
            raise TargetError(f"{max(low, high)} is not an octet (0-255) in {whole!r}")
        if high < low:
            raise TargetError(f"octet range {item!r} ends before it starts in {whole!r}")
        runs.append((low, high))
    merged: list[tuple[int, int]] = []
    for low, high in sorted(runs):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _expand_octets(parts: list[str], whole: str) -> netaddr.IPSet:
    """nmap's octet syntax as a set: the product of the octets' runs, built as ranges (trailing
    whole octets make one range per run, so `10.*.*.*` is one range, not 16 million addresses)."""
    octets = [_octet_runs(p, whole) for p in parts]
    count = 1
    for runs in octets:
        count *= sum(high - low + 1 for low, high in runs)
    if count > MAX_OCTET_SPEC:
        raise TargetError(f"{whole!r} covers {count} addresses, more than a /8")
    last = 3  # the last octet that is not whole; those after it join into each range
    while last > 0 and octets[last] == [(0, 255)]:
        last -= 1
    tail = 3 - last
    ranges: list[netaddr.IPRange] = []

    def walk(index: int, prefix: int) -> None:
        if index == last:
            for low, high in octets[index]:
                first = ((prefix << 8) | low) << (8 * tail)
                end = (((prefix << 8) | high) << (8 * tail)) | ((1 << (8 * tail)) - 1)
                ranges.append(netaddr.IPRange(first, end))
            return
        for low, high in octets[index]:
            for value in range(low, high + 1):
                walk(index + 1, (prefix << 8) | value)

    walk(0, 0)
    return netaddr.IPSet(ranges)


def split_targets(text: str) -> list[str]:
    """Targets in one argument or line: whitespace and commas separate them, except the commas
    of an nmap octet list (`198.18.9.1,3,5` is one target, `198.18.0.1,198.18.0.9` two)."""
    found: list[str] = []
    for token in text.split():
        if "," in token and _octet_spec(token) is None:
            found += [p for p in token.split(",") if p]
        else:
            found.append(token)
    return found


def parse_target(
    text: str, resolver: Resolver | None = None
) -> tuple[netaddr.IPSet, list[str] | None]:
    """One target as a set of addresses, plus the addresses a host name resolved to (if one).

    A host name is resolved only when `resolver` is given (exclusions are never resolved).
    """
    s = text.strip()
    if not s:
        raise TargetError("empty target")
    if ":" in s:
        return netaddr.IPSet([str(_ipv6(s))]), None
    if "/" in s:
        try:
            return netaddr.IPSet([str(ipaddress.IPv4Network(s, strict=False))]), None
        except ValueError:
            raise TargetError(f"not an IPv4 network (CIDR): {s!r}") from None
    if s.count(".") > 3 and "-" in s and _DOTTED.match(s.replace("-", "")):
        return netaddr.IPSet(_range(s)), None
    if (octets := _octet_spec(s)) is not None and not _DOTTED.match(s):
        return _expand_octets(octets, s), None
    if _DOTTED.match(s):
        return netaddr.IPSet([str(_address(s, s))]), None
    if resolver is None or not _HOSTNAME.match(s):
        raise TargetError(f"not an IPv4 address, range, CIDR or host name: {s!r}")
    try:
        addresses = resolver(s)
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise TargetError(f"host name {s!r} does not resolve: {reason}") from None
    if not addresses:
        raise TargetError(f"host name {s!r} has no IPv4 address")
    return netaddr.IPSet(addresses), list(addresses)


def _ipv6(text: str) -> ipaddress.IPv6Network:
    """An IPv6 address or prefix (host bits beyond the prefix are dropped, as for IPv4)."""
    if "%" in text:
        raise TargetError(
            f"{text!r}: give IPv6 targets without a scope (%interface); choose the link with "
            "--interface"
        )
    try:
        net = ipaddress.IPv6Network(text, strict=False)
    except ValueError:
        raise TargetError(f"not an IPv6 address or prefix: {text!r}") from None
    if net.subnet_of(_V4_MAPPED):
        raise TargetError(f"{text!r} is an IPv4-mapped address: give the IPv4 address instead")
    return net


def read_target_list(stream: IO[str], where: str) -> list[str]:
    """Targets from an `-iL` file: whitespace or comma separated (split_targets), `#` starts a
    comment."""
    try:
        text = stream.read(MAX_LIST_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError(f"cannot read target list {where}: {exc}") from None
    if len(text) > MAX_LIST_BYTES:
        raise TargetError(f"target list {where} is larger than {MAX_LIST_BYTES} bytes")
    found: list[str] = []
    for line in text.splitlines():
        found += split_targets(line.split("#", 1)[0])
    return found


def read_target_file(path: str, stdin: IO[str] | None = None) -> list[str]:
    """`-iL PATH`, or `-iL -` for standard input."""
    if path == "-":
        import sys

        return read_target_list(stdin or sys.stdin, "<stdin>")
    try:
        with open(path, encoding="utf-8") as f:
            return read_target_list(f, path)
    except OSError as exc:
        raise TargetError(f"cannot read target list {path}: {exc.strerror or exc}") from None


def split_exclusions(texts: Iterable[str]) -> list[str]:
    """`--exclude a,b --exclude c` -> [a, b, c] (nmap takes comma-separated lists)."""
    return [p for t in texts for p in split_targets(t)]


def is_private(net: ipaddress.IPv4Network) -> bool:
    return (net.is_private and not net.is_unspecified) or net.subnet_of(_SHARED)


def _check6(net: ipaddress.IPv6Network, allow_public: bool) -> None:
    """IPv6's rules: unicast only; documentation, unique-local and link-local prefixes are
    private (ipaddress's table, RFC 6890); global unicast needs --allow-public like IPv4's."""
    if net.is_multicast or net.is_unspecified or net.is_loopback or net.prefixlen == 0:
        raise TargetError(f"{net} is not a unicast host range and cannot be scanned")
    if net.overlaps(ipaddress.IPv6Network("ff00::/8")) or net.overlaps(_V4_MAPPED):
        raise TargetError(f"{net} includes non-unicast addresses and cannot be scanned")
    if not allow_public and not (net.is_private or net.subnet_of(_LINK_LOCAL6)):
        raise TargetError(
            f"{net} is global unicast, not a private range; pass --allow-public if you own it "
            "and mean it"
        )


def _check(net: ipaddress.IPv4Network, allow_public: bool) -> None:
    if net.is_multicast or net.is_reserved or net.is_unspecified or net.is_loopback:
        raise TargetError(f"{net} is not a unicast host range and cannot be scanned")
    if (
        net.overlaps(ipaddress.IPv4Network("0.0.0.0/8"))
        or net.overlaps(ipaddress.IPv4Network("127.0.0.0/8"))
        or net.overlaps(ipaddress.IPv4Network("224.0.0.0/3"))
    ):
        raise TargetError(f"{net} includes non-unicast addresses and cannot be scanned")
    if not allow_public and not is_private(net):
        raise TargetError(
            f"{net} is not a private range; pass --allow-public if you own it and mean it"
        )


@dataclasses.dataclass(slots=True)
class TargetSet:
    networks: list[ipaddress.IPv4Network]
    names: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # host name -> IPs
    excluded: list[str] = dataclasses.field(default_factory=list)  # as given, for the record
    # IPv6 prefixes: discovered on their link, never swept (so not in size() or hosts())
    v6: list[ipaddress.IPv6Network] = dataclasses.field(default_factory=list)
    # interfaces whose link an IPv6 target is on (set by the CLI): their link-local addresses
    # are in scope too, written with the scope ("fe80::1%eth0")
    links: tuple[str, ...] = ()
    excluded6: list[ipaddress.IPv6Network] = dataclasses.field(default_factory=list)
    # routed IPv6 prefixes (place_ipv6): swept address by address through the route
    routed6: list[ipaddress.IPv6Network] = dataclasses.field(default_factory=list)
    # routed IPv6 prefixes too large to sweep: asked at the addresses the [snmp] routers'
    # neighbour tables list inside them
    listed6: list[ipaddress.IPv6Network] = dataclasses.field(default_factory=list)

    @classmethod
    def parse(
        cls,
        texts: list[str],
        *,
        allow_public: bool = False,
        max_hosts: int = DEFAULT_MAX_HOSTS,
        exclude: list[str] | None = None,
        resolver: Resolver | None = system_resolver,
    ) -> TargetSet:
        """Expand, subtract the exclusions, then apply the safety rules to what is left."""
        wanted = netaddr.IPSet()
        names: dict[str, list[str]] = {}
        for text in (p for t in texts for p in split_targets(t) or [t]):
            key = text.strip()
            if key in names:
                continue  # resolved once
            addresses, resolved = parse_target(text, resolver)
            if resolved is not None:
                names[key] = resolved
            wanted |= addresses
        excluded = split_exclusions(exclude or [])
        # IPv6 keeps its prefixes whole (a /64 less one address is 64 CIDRs) and the
        # exclusions beside them; only IPv4 is subtracted address by address
        given6 = [ipaddress.IPv6Network(str(c)) for c in wanted.iter_cidrs() if c.version == 6]
        out6: list[ipaddress.IPv6Network] = []
        for text in excluded:
            removed = parse_target(text)[0]
            out6 += [ipaddress.IPv6Network(str(c)) for c in removed.iter_cidrs() if c.version == 6]
            wanted -= removed
        nets = [ipaddress.IPv4Network(str(c)) for c in wanted.iter_cidrs() if c.version == 4]
        v6 = [n for n in given6 if not any(n.subnet_of(x) for x in out6)]
        out6 = [x for x in collapse6(out6) if any(x.overlaps(n) for n in v6)]
        for n in nets:
            _check(n, allow_public)
        for n6 in v6:
            _check6(n6, allow_public)
        size = sum(n.num_addresses for n in nets)
        if size > max_hosts:
            raise TargetError(f"targets cover {size} addresses, more than --max-hosts {max_hosts}")
        if texts and not nets and not v6:
            raise TargetError("the exclusions remove every target: nothing left to scan")
        return cls(nets, names, excluded, collapse6(v6), excluded6=out6)

    def __contains__(self, ip: object) -> bool:
        try:
            addr = ipaddress.ip_address(str(ip))
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv4Address):
            return any(addr in n for n in self.networks)
        if addr.scope_id:  # link-local: in scope when its link is
            return addr.scope_id in self.links
        bare = ipaddress.IPv6Address(addr.packed)
        within = any(bare in n for n in (*self.v6, *self.routed6, *self.listed6))
        return within and not any(bare in x for x in self.excluded6)

    def with_links(self, links: Iterable[str]) -> TargetSet:
        """The same targets, with the interfaces whose links the IPv6 targets are on."""
        return dataclasses.replace(self, links=tuple(sorted(set(links))))

    def size(self) -> int:
        return sum(n.num_addresses for n in self.networks)

    def size6(self) -> int:
        """Addresses of the routed IPv6 prefixes a sweep asks (exclusions left out)."""
        return sum(count6(n, self.excluded6) for n in self.routed6)

    def hosts6(self) -> Iterator[ipaddress.IPv6Address]:
        """Every address of the routed IPv6 prefixes, less the exclusions."""
        for n in self.routed6:
            out = [x for x in self.excluded6 if x.overlaps(n)]
            for a in n:
                if not any(a in x for x in out):
                    yield a

    def hosts(self) -> Iterator[IPv4]:
        """Every address: a target CIDR need not be the LAN's own prefix, so its first and last
        addresses may be hosts (probes skip the attached network's own network/broadcast)."""
        for n in self.networks:
            yield from n

    def split(self, attached: list[ipaddress.IPv4Network]) -> tuple[TargetSet, TargetSet]:
        """(the part on `attached` networks, the rest): ARP covers the first, L3 the second."""
        on_link = netaddr.IPSet(str(n) for n in attached)
        mine = netaddr.IPSet(str(n) for n in self.networks)
        near, far = mine & on_link, mine - on_link

        def part(s: netaddr.IPSet) -> list[ipaddress.IPv4Network]:
            return [ipaddress.IPv4Network(str(c)) for c in s.iter_cidrs()]

        # IPv6 on attached links goes with the attached part; routed IPv6 with the routed one
        return (
            TargetSet(part(near), self.names, self.excluded, self.v6, self.links, self.excluded6),
            TargetSet(
                part(far),
                self.names,
                self.excluded,
                excluded6=self.excluded6,
                routed6=self.routed6,
                listed6=self.listed6,
            ),
        )

    def __bool__(self) -> bool:
        return any((self.networks, self.v6, self.routed6, self.listed6))

    def __str__(self) -> str:
        nets = [*self.networks, *self.v6, *self.routed6, *self.listed6]
        return ", ".join(str(n) for n in nets)


def count6(net: ipaddress.IPv6Network, excluded: Iterable[ipaddress.IPv6Network]) -> int:
    return net.num_addresses - sum(x.num_addresses for x in excluded if x.subnet_of(net))


def collapse6(nets: Iterable[ipaddress.IPv6Network]) -> list[ipaddress.IPv6Network]:
    return list(ipaddress.collapse_addresses(nets))


def place_ipv6(
    targets: TargetSet,
    interfaces: list[str] | None = None,
    mine: list[Interface6] | None = None,
    *,
    max_hosts: int = DEFAULT_MAX_HOSTS,
    routed: Callable[[ipaddress.IPv6Network], bool] | None = None,
    neighbour_tables: bool = False,
) -> TargetSet:
    """The targets with their IPv6 prefixes placed: on attached links (the interfaces, or those
    named, with an address in each: asked on the link, never swept), or routed (a kernel route,
    `routed`, reaches them). A routed prefix is swept when its addresses fit in what --max-hosts
    leaves after the IPv4 ones and earlier routed prefixes (an IPv4 range of that size costs the
    same); a larger one is asked at the addresses the [snmp] routers' neighbour tables list when
    `neighbour_tables` (SNMP will run), and refused with a hint otherwise. Link-local prefixes
    never route."""
    if not targets.v6:
        return targets
    from camscan.netif import has_route6, links_for, list_interfaces6

    if mine is None:  # this host's addresses (tests hand their own)
        mine = list_interfaces6(interfaces or None)
    routes = routed or has_route6
    links: set[str] = set()
    attached: list[ipaddress.IPv6Network] = []
    swept: list[ipaddress.IPv6Network] = []
    listed: list[ipaddress.IPv6Network] = []
    left = max_hosts - targets.size()
    for net in targets.v6:
        on = links_for(net, mine)
        if on:
            attached.append(net)
            links |= {i.name for i in on}
            continue
        have = ", ".join(f"{i.name} {i.network}" for i in mine if not i.link_local)
        here = f"this host has {have}" if have else "no IPv6 prefix on this host"
        if net.subnet_of(_LINK_LOCAL6) or not routes(net):
            raise TargetError(
                f"{net} is on no attached link ({here}) and the kernel has no route to it: run "
                "camscan on a host attached to that link, or add a route to it"
            )
        count = count6(net, targets.excluded6)
        if count <= left:
            swept.append(net)
            left -= count
        elif neighbour_tables:
            listed.append(net)
        else:
            widest = 128 - max(0, left).bit_length() + 1 if left > 0 else 128
            raise TargetError(
                f"{net} is routed and has {count} addresses, more than the {max(0, left)} "
                f"--max-hosts {max_hosts} leaves to sweep: narrow it (a /{widest} or smaller), "
                "list its hosts' addresses (-iL), or name in [snmp] the routers whose neighbour "
                "tables list its hosts"
            )
    placed = dataclasses.replace(targets, v6=attached, routed6=swept, listed6=listed)
    return placed.with_links(links)
