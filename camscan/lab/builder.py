"""Build a topology as network namespaces; deleting them tears everything down.

    <prefix>hub      one bridge per network (br<i>; stp off, multicast snooping off)
    <prefix>scan     the scanner: eth<i> per network, in topology order, lo up
    <prefix>net<i>   the devices of network i: macvlans d<index> (private mode) on a veth
                     to br<i>, each with its own MAC and IP
    <prefix>rtr      the router, when a network names one: leg n<i> on each such network,
                     ip_forward on here only (no multicast routing: groups and broadcasts stay)

Routed networks (no scanner leg) are reached through the router: the scanner gets a route to
each of them via the router's leg on its gateway network, and each routed device a route back
to the gateway network (per macvlan: the emulator binds sockets to the device's interface).

Nothing is created in the host's namespace, no namespace has a default route, IPv6 is off except
on the interfaces of networks that name `cidr6` (the scanner's leg and those networks' IPv6
devices): link-local addresses from the MAC (EUI-64), no duplicate address detection, no router
advertisements, 2001:db8::/32 addresses only.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from camscan.lab import netns
from camscan.lab.topology import Topology

_NO_IPV6 = {
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
}
# One namespace, many macvlans on one subnet: without these every interface answers ARP for
# every address, and replies carry the wrong source address.
_ARP_STRICT = {
    "net.ipv4.conf.all.arp_ignore": "1",
    "net.ipv4.conf.all.arp_announce": "2",
    "net.ipv4.conf.default.arp_ignore": "1",
    "net.ipv4.conf.default.arp_announce": "2",
}

# One namespace answers for all of a network's devices, so its kernel's ICMP rate limits (per
# peer: 1/s after a burst of 6; overall: a burst of 50) would be shared by every device in it,
# and most "port unreachable" answers to a scan would be suppressed. A real device has limits of
# its own and answers the few datagrams a scan sends it; lift the shared ones.
_ICMP_PER_DEVICE = {
    "net.ipv4.icmp_ratelimit": "0",
    "net.ipv4.icmp_msgs_burst": "100000",
    "net.ipv4.icmp_msgs_per_sec": "100000",
}

# Every broadcast (an ARP request, a discovery query) is queued once per frame on the macvlan
# port, then copied to each of its devices. The default queue (1000 frames) overflows on a
# 1,000-device network swept at 1000 frames/s and ARP requests are lost; a deep queue only delays.
_BC_QUEUE_LEN = 100_000


# A network of more than this many devices has its ARP requests answered by the hub's bridge
# (neigh_suppress on the devices' port, from permanent entries), and its devices know the
# scanner's MAC from the start. In one namespace every broadcast is processed once per device:
# a /20 sweep of 4,094 requests to 4,000 devices is 16 million packets, more than 2 cores handle
# at 1,000 requests/s (at 300/s, 3,358 of 4,000 answered in time). On a real network each device
# handles its own copy. The scanner sees the same replies: the device's MAC for its address.
_BRIDGE_ANSWERS_ARP_ABOVE = 1024
# An address brings its network's prefix route, one per device: a namespace of 4,000 devices
# held 4,000 routes to the same /20, and the kernel walked them one by one for every datagram
# a device's socket sent (~75 us a reply at 4,000: the one emulator's main cost). So on an
# attached network only the first device's address brings the route. A socket bound to another
# device finds no route of its own and the kernel sends on-link from that device, as the route
# did (same interface, MAC and source address; ~4 us); what is bound to no device (a TCP reset,
# an ICMP error) takes the first route, as it did before. Routed networks keep every route: a
# device's route back via the router needs it.
#
# Devices are macvlans in private mode: what the scanner sends reaches every one of them as in
# bridge mode, but a device does not hear its siblings. In bridge mode each mDNS responder's
# multicast went to every other device of the network, all played by the one emulator process
# (500 responders at 4,000 devices: each announcement parsed 499 times). The lab serves the
# scanner; on a real network each device spends its own CPU on its neighbours.


def _ipv6_on(ifname: str) -> dict[str, str]:
    """IPv6 on one interface, quietly: no DAD (addresses usable at once), no RA/autoconf."""
    conf = f"net.ipv6.conf.{ifname}"
    return {
        f"{conf}.accept_dad": "0",
        f"{conf}.accept_ra": "0",
        f"{conf}.autoconf": "0",
        f"{conf}.disable_ipv6": "0",
    }


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    prefix: str
    hub_ns: str
    scanner_ns: str
    device_ns: dict[str, str]  # network name -> namespace of its devices
    interfaces: dict[str, str]  # attached network name -> scanner interface (eth0, ...)
    router_ns: str | None = None

    @property
    def namespaces(self) -> list[str]:
        """Every namespace of the lab, in teardown order."""
        router = [self.router_ns] if self.router_ns else []
        return [*self.device_ns.values(), *router, self.scanner_ns, self.hub_ns]


def device_ifname(index: int) -> str:
    return f"d{index}"


# The kernel's ARP table is one table for every namespace, and a device answers an ARP request
# only if it can add the asker to it: past gc_thresh3 (default 1024 entries, all labs on the
# machine together) devices fall silent. A lab of N devices adds about 2N entries (each device's
# entry for the scanner, the scanner's for each device), so big labs raise the limits, never
# lower them. These are the only host settings a lab touches; they send nothing.
_NEIGH = Path("/proc/sys/net/ipv4/neigh/default")
_NEIGH_ROOM_PER_DEVICE = 4  # scanner's, device's, the hub's (big networks), spare
_NEIGH_SPARE = 4096


def ensure_neighbour_room(devices: int) -> None:
    wanted = devices * _NEIGH_ROOM_PER_DEVICE + _NEIGH_SPARE
    for name, value in (("gc_thresh3", wanted), ("gc_thresh2", wanted // 2)):
        path = _NEIGH / name
        with contextlib.suppress(OSError, ValueError):  # not Linux or not root: lab_problem says
            if int(path.read_text()) < value:
                path.write_text(str(value))


def build(topology: Topology, prefix: str) -> Layout:
    """Create the namespaces and links; on any failure, remove what was made and re-raise."""
    ensure_neighbour_room(len(topology.devices))
    layout = Layout(
        prefix=prefix,
        hub_ns=f"{prefix}hub",
        scanner_ns=f"{prefix}scan",
        device_ns={n.name: f"{prefix}net{i}" for i, n in enumerate(topology.networks)},
        interfaces={n.name: f"eth{i}" for i, n in enumerate(topology.attached)},
        router_ns=f"{prefix}rtr" if any(n.router for n in topology.networks) else None,
    )
    try:
        _build(topology, layout)
    except BaseException:
        teardown(layout)
        raise
    return layout


def _build(topology: Topology, layout: Layout) -> None:
    for name in reversed(layout.namespaces):
        netns.add(name)
        netns.sysctl(name, _NO_IPV6)
    for name in layout.device_ns.values():
        netns.sysctl(name, _ARP_STRICT)
        netns.sysctl(name, _ICMP_PER_DEVICE)
    if layout.router_ns:
        netns.sysctl(layout.router_ns, {"net.ipv4.ip_forward": "1"})
    hub: list[str] = []
    scanner = ["link set lo up"]
    router = ["link set lo up"]
    devices: dict[str, list[str]] = {n: ["link set lo up"] for n in layout.device_ns.values()}
    for i, net in enumerate(topology.networks):
        dev_ns = layout.device_ns[net.name]
        hub += [
            f"link add br{i} type bridge stp_state 0 mcast_snooping 0 forward_delay 0",
            f"link add u{i} type veth peer name up0 netns {dev_ns}",
            f"link set u{i} master br{i} up",
            f"link set br{i} up",
        ]
        if net.scanner is not None:
            eth = layout.interfaces[net.name]
            hub += [
                f"link add s{i} type veth peer name {eth} netns {layout.scanner_ns}",
                f"link set s{i} master br{i} up",
            ]
            scanner += [
                f"addr add {net.scanner}/{net.cidr.prefixlen} dev {eth}",
                f"link set {eth} up",
            ]
        if net.router is not None and layout.router_ns:
            hub += [
                f"link add r{i} type veth peer name n{i} netns {layout.router_ns}",
                f"link set r{i} master br{i} up",
            ]
            router += [f"addr add {net.router}/{net.cidr.prefixlen} dev n{i}", f"link set n{i} up"]
        devices[dev_ns].append("link set up0 up")
    gateway = topology.gateway
    for net in topology.networks:
        if net.routed and gateway is not None:
            scanner.append(f"route add {net.cidr} via {gateway.router}")
    with_route: set[str] = set()  # attached networks whose one prefix route exists (above)
    for dev in topology.devices:
        net = topology.network(dev.network)
        ifname = device_ifname(dev.index)
        address = f"addr add {dev.ip}/{net.cidr.prefixlen} dev {ifname}"
        if not net.routed and net.name in with_route:
            address += " noprefixroute"
        elif dev.ipv4:
            with_route.add(net.name)
        devices[layout.device_ns[dev.network]] += [
            f"link add {ifname} link up0 address {dev.mac} type macvlan mode private"
            f" bcqueuelen {_BC_QUEUE_LEN}",
            *([address] if dev.ipv4 else []),
            f"link set {ifname} up",
        ]
        if net.routed and gateway is not None and dev.ipv4:
            # `append`: one route per macvlan to the same prefix (sockets are bound to it)
            devices[layout.device_ns[dev.network]].append(
                f"route append {gateway.cidr} via {net.router} dev {ifname}"
            )
    netns.ip_batch(hub, namespace=layout.hub_ns)
    netns.ip_batch(scanner, namespace=layout.scanner_ns)
    # Host names for the devices, seen by commands run with `ip netns exec` in the scanner
    # namespace; the only name server is the namespace's own loopback, where none listens.
    netns.write_etc(
        layout.scanner_ns,
        {"hosts": hosts_file(topology), "resolv.conf": "nameserver 127.0.0.1\n"},
    )
    if layout.router_ns:
        netns.ip_batch(router, namespace=layout.router_ns)
    for name, commands in devices.items():
        netns.ip_batch(commands, namespace=name)
    _bridge_answers_arp(topology, layout)
    _build6(topology, layout)


def _bridge_answers_arp(topology: Topology, layout: Layout) -> None:
    """Big attached networks: ARP answered at the bridge (see _BRIDGE_ANSWERS_ARP_ABOVE)."""
    for i, net in enumerate(topology.networks):
        members = [d for d in topology.devices if d.network == net.name and d.ipv4]
        if net.scanner is None or len(members) <= _BRIDGE_ANSWERS_ARP_ABOVE:
            continue
        eth = layout.interfaces[net.name]
        shown = netns.ip("-o", "link", "show", eth, namespace=layout.scanner_ns).split()
        scanner_mac = shown[shown.index("link/ether") + 1]
        hub = [f"link set u{i} type bridge_slave neigh_suppress on"]
        hub += [f"neigh replace {d.ip} lladdr {d.mac} dev br{i} nud permanent" for d in members]
        netns.ip_batch(hub, namespace=layout.hub_ns)
        fdb = [f"fdb replace {d.mac} dev u{i} master static" for d in members]
        netns.bridge_batch(fdb, namespace=layout.hub_ns)
        netns.ip_batch(
            [
                f"neigh replace {net.scanner} lladdr {scanner_mac} dev {device_ifname(d.index)}"
                " nud permanent"
                for d in members
            ],
            namespace=layout.device_ns[net.name],
        )


def _build6(topology: Topology, layout: Layout) -> None:
    """IPv6 on the networks that name cidr6: the scanner's leg, the IPv6 devices, and the
    router's legs that name router6 (forwarding on there; routes as for IPv4)."""
    gateway = topology.gateway
    via = gateway.router6 if gateway is not None else None
    for i, net in enumerate(topology.networks):
        if net.cidr6 is None:
            continue
        if net.router6 is not None and layout.router_ns:
            netns.sysctl(layout.router_ns, _ipv6_on(f"n{i}"))
            add = f"addr add {net.router6}/{net.cidr6.prefixlen} dev n{i} nodad"
            netns.ip_batch([add], namespace=layout.router_ns)
            netns.sysctl(layout.router_ns, {"net.ipv6.conf.all.forwarding": "1"})
        if net.routed and via is not None and net.router6 is not None:
            route = f"route add {net.cidr6} via {via}"
            netns.ip_batch([route], namespace=layout.scanner_ns)
        if net.scanner is not None:
            eth = layout.interfaces[net.name]
            netns.sysctl(layout.scanner_ns, _ipv6_on(eth))
            if net.scanner6 is not None:
                add = f"addr add {net.scanner6}/{net.cidr6.prefixlen} dev {eth} nodad"
                netns.ip_batch([add], namespace=layout.scanner_ns)
        commands = []
        for dev in topology.devices:
            if dev.network == net.name and dev.link6 is not None:
                ifname = device_ifname(dev.index)
                netns.sysctl(layout.device_ns[net.name], _ipv6_on(ifname))
                if dev.ip6 is not None:  # else link-local only
                    add = f"addr add {dev.ip6}/{net.cidr6.prefixlen} dev {ifname} nodad"
                    commands.append(add)
                if net.routed and gateway is not None and gateway.cidr6 and net.router6:
                    back = f"route append {gateway.cidr6} via {net.router6} dev {ifname}"
                    commands.append(back)
        if commands:
            netns.ip_batch(commands, namespace=layout.device_ns[net.name])


def host_name(persona: str, index: int) -> str:
    """The lab's name for a device: "<persona>-<index>.lab"."""
    return f"{persona}-{index}.lab"


def hosts_file(topology: Topology) -> str:
    lines = ["127.0.0.1 localhost"]
    lines += [f"{d.ip} {host_name(d.persona, d.index)}" for d in topology.devices if d.ipv4]
    lines += [f"{d.ip6} {host_name(d.persona, d.index)}" for d in topology.devices if d.ip6]
    return "\n".join(lines) + "\n"


def teardown(layout: Layout) -> None:
    for name in layout.namespaces:
        netns.delete(name)
