"""As root, the kernel is handed the MAC the ARP sweep heard (camscan/discovery/neigh.py), so a
banner's first SYN to a device needs no ARP request of its own: a capture of what the scanner
sends shows one ARP request per device, the sweep's. An entry the scanner's table already holds
(here an admin's permanent one) is left as it was; without CAP_NET_ADMIN the kernel resolves
each device itself, as before; and without any capability the scan works as it always did.

Only the lab scanner namespace's neighbour table is touched (flushed before each scan)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from camscan.lab import Lab
from tests.labtools import camscan_argv, guarded_env, in_scanner, outgoing_frames

pytestmark = pytest.mark.lab

# ARP requests (who-has: the address asked about) and TCP SYNs (not SYN-ACKs) the scanner sends
CLASSIFY = """
def classify(f):
    if f[12:14] == b"\\x08\\x06" and f[20:22] == b"\\x00\\x01":
        return "arp", socket.inet_ntoa(f[38:42])
    if f[12:14] == b"\\x08\\x00" and len(f) >= 34 and f[23] == 6:
        flags = f[14 + (f[14] & 15) * 4 + 13]
        if flags & 0x02 and not flags & 0x10:
            return "syn", socket.inet_ntoa(f[30:34])
    return None
"""
# nobody, with no capability at all or with CAP_NET_RAW alone (a raw ARP sweep, no netlink writes)
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
NO_CAPS = [*NOBODY, "--inh-caps=-all", "--bounding-set=-all"]
RAW_ONLY = [*NOBODY, "--inh-caps=-all,+net_raw", "--ambient-caps=-all,+net_raw"]


@pytest.fixture(scope="module")
def mixed(lab_factory: Any) -> Lab:
    lab: Lab = lab_factory("mixed")
    return lab


def iface(lab: Lab) -> str:
    (name,) = lab.interfaces.values()
    return name


def neigh(lab: Lab, *args: str) -> str:
    """`ip neigh ARGS` in the lab's scanner namespace (never the host's)."""
    done = lab.run(["ip", "neigh", *args], capture_output=True, text=True, check=True)
    return str(done.stdout)


def scan(lab: Lab, *wrap: str) -> tuple[dict[str, Any], list[Any]]:
    """A banner scan of every device (ARP sweep, then banners), from an empty neighbour table
    (permanent entries stay), with a capture around it: the result and the frames."""
    neigh(lab, "flush", "dev", iface(lab))
    ips = [d.ip for d in lab.devices]
    argv = [*wrap, *camscan_argv("scan", *ips, "--probes", "arp,banners", "-q", "-f", "json")]
    with outgoing_frames(lab, iface(lab), CLASSIFY) as frames:
        done = lab.run(argv, capture_output=True, text=True, env=guarded_env(lab), timeout=300)
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result, frames


def asked(frames: list[Any]) -> tuple[Counter[str], set[str]]:
    """ARP requests per address, and the addresses that got a SYN."""
    arp = Counter(dst for _, kind, dst in frames if kind == "arp")
    return arp, {dst for _, kind, dst in frames if kind == "syn"}


@pytest.fixture(scope="module")
def as_root(mixed: Lab) -> Any:
    """The scan as root, one device (the first) holding an admin's permanent entry."""
    kept = mixed.devices[0]
    neigh(mixed, "replace", kept.ip, "lladdr", kept.mac, "dev", iface(mixed), "nud", "permanent")
    try:
        result, frames = scan(mixed)
        entry = neigh(mixed, "show", kept.ip, "dev", iface(mixed))
    finally:
        neigh(mixed, "del", kept.ip, "dev", iface(mixed))
    return result, frames, kept, entry


def test_as_root_a_device_the_sweep_heard_gets_no_second_arp_request(as_root: Any) -> None:
    result, frames, _, _ = as_root
    arp, syn = asked(frames)
    found = {d["ip"]: d["mac"] for d in result["devices"]}
    assert result["run"]["privileged"] is True
    assert len(syn) >= len(found) // 2  # most devices were connected to: the kernel had to know
    for ip in syn:
        assert found.get(ip)  # every SYN went to a device the sweep resolved
    # every ARP request on the wire is the sweep's own (a retry of one that went unanswered
    # under load included); the kernel sent none
    stats = result["run"]["stats"]
    assert sum(arp.values()) == stats["arp.requests"], {ip: n for ip, n in arp.items() if n > 1}
    # each connected device primed, or found in the table already (the admin's entry, or one
    # the kernel made when the device itself asked for the scanner): never both, never neither
    assert stats.get("neigh.primed", 0) + stats.get("neigh.not_primed.EEXIST", 0) == len(syn)
    assert stats.get("neigh.primed", 0) >= len(syn) // 2, stats


def test_an_existing_neighbour_entry_is_left_as_it_was(as_root: Any) -> None:
    result, frames, kept, entry = as_root
    assert f"lladdr {kept.mac} PERMANENT" in entry, entry  # not replaced by a reachable one
    assert result["run"]["stats"].get("neigh.not_primed.EEXIST", 0) >= 1
    arp, syn = asked(frames)
    assert kept.ip in syn and arp[kept.ip] >= 1  # the sweep's (the kernel's: none, above)
    assert sum(arp.values()) == result["run"]["stats"]["arp.requests"]


def test_without_cap_net_admin_the_kernel_resolves_as_before(mixed: Lab) -> None:
    """A raw ARP sweep (CAP_NET_RAW) but no netlink writes: the first refusal is counted, the
    kernel asks for the connected devices itself (a second ARP request on the wire, except for
    a device that asked for the scanner first), and every device is found as before."""
    result, frames = scan(mixed, *RAW_ONLY)
    assert result["run"]["privileged"] is True
    stats = result["run"]["stats"]
    assert stats.get("neigh.not_primed.EPERM") == 1 and "neigh.primed" not in stats, stats
    arp, syn = asked(frames)
    # ARP requests beyond the sweep's own are the kernel's, for devices camscan connected to
    # (one that asked for the scanner first needs none: how many varies, so no share is set)
    kernel = sum(arp.values()) - stats["arp.requests"]
    assert kernel >= 1, {ip: arp[ip] for ip in syn}
    assert {d["ip"]: d["mac"] for d in result["devices"]} == {d.ip: d.mac for d in mixed.devices}


def test_without_any_capability_the_scan_works_as_before(mixed: Lab) -> None:
    result, _ = scan(mixed, *NO_CAPS)
    assert result["run"]["privileged"] is False
    found = {d["ip"]: d["mac"] for d in result["devices"]}
    want: dict[str, str] = {d.ip: d.mac for d in mixed.devices}
    assert found == want
    assert not any(key.startswith("neigh.") for key in result["run"]["stats"])


def test_the_limiter_counts_the_kernels_request_only_where_it_still_goes(mixed: Lab) -> None:
    """One IP packet each to three devices the sweep heard: one primed now (one packet), one
    the table already holds (two: the limiter cannot know the entry's state), and one to a
    device not heard (two: the kernel asks for it)."""
    primed, held, unheard = mixed.devices[1:4]
    neigh(mixed, "flush", "dev", iface(mixed))
    neigh(mixed, "replace", held.ip, "lladdr", held.mac, "dev", iface(mixed), "nud", "permanent")
    try:
        out = in_scanner(
            mixed,
            f"""
            import asyncio, socket
            from camscan.discovery.neigh import Neighbours
            from camscan.discovery.rate import RateLimiter
            index = socket.if_nametoindex({iface(mixed)!r})
            neighbours = Neighbours()
            limiter = RateLimiter(neighbours=neighbours)
            for ip, mac in (({primed.ip!r}, {primed.mac!r}), ({held.ip!r}, {held.mac!r})):
                neighbours.heard(index, ip, mac)

            async def first_packets():
                counts = []
                for ip in ({primed.ip!r}, {held.ip!r}, {unheard.ip!r}):
                    before = limiter.sent
                    await limiter.slot(ip)
                    counts.append(limiter.sent - before)
                return counts

            print(*asyncio.run(first_packets()), sorted(neighbours.stats.items()))
            """,
        )
        entries = neigh(mixed, "show", "dev", iface(mixed))
    finally:
        neigh(mixed, "del", held.ip, "dev", iface(mixed))
    assert out.split(" ", 3)[:3] == ["1", "2", "2"], out
    assert "('neigh.not_primed.EEXIST', 1), ('neigh.primed', 1)" in out
    assert f"{primed.ip} lladdr {primed.mac} REACHABLE" in entries, entries
    assert f"{held.ip} lladdr {held.mac} PERMANENT" in entries, entries
