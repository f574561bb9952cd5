"""`--rate` and `--host-rate` on the wire: a capture in the scanner's namespace while camscan
scans the "mixed" /24 (ARP sweep, multicast round and banners overlapping) or the same set one
router away (L3 sweep, unicast discovery, banners), then every window of 100 ms is counted:
ARP requests, UDP datagrams, ICMP echo requests and TCP SYNs the scanner sent, all together and
per destination host. The promise (README "Rates"): no 100 ms holds more than a tenth of
the rate, rounded up, plus 10%.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from typing import Any

import pytest

from camscan.lab import Lab
from tests.labtools import WINDOW, allowed, busiest, guarded_env, outgoing_frames, run_camscan

pytestmark = pytest.mark.lab

# The frames the rate promise counts: ARP requests, UDP queries and TCP SYNs (a SYN TCP sends
# again, same port and sequence, is told apart).
CLASSIFY = """
syns = set()

def classify(f):
    kind = f[12:14]
    if kind == b"\\x08\\x06" and f[20:22] == b"\\x00\\x01":  # ARP request: who-has target
        return "arp", socket.inet_ntoa(f[38:42])
    if kind != b"\\x08\\x00" or len(f) < 34:
        return None
    ihl, proto, dst = (f[14] & 15) * 4, f[23], socket.inet_ntoa(f[30:34])
    if proto == 17:
        return "udp", dst
    if proto == 1 and f[14 + ihl] == 8:  # ICMP echo request
        return "icmp", dst
    if proto == 6 and len(f) >= 14 + ihl + 14:
        flags = f[14 + ihl + 13]
        if flags & 0x02 and not flags & 0x10:  # SYN, not SYN-ACK
            again = f[14 + ihl:14 + ihl + 8] in syns  # same port and sequence: TCP's retry
            syns.add(f[14 + ihl:14 + ihl + 8])
            return "syn-again" if again else "syn", dst
    return None

"""


def captured(lab: Lab, *scan_args: str) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    """Run `camscan scan SCAN_ARGS` with a capture of the scanner's interface around it."""
    (iface,) = lab.interfaces.values()
    with outgoing_frames(lab, iface, CLASSIFY) as frames:
        scan = run_camscan(lab, "scan", *scan_args, "-q", "-f", "json", env=guarded_env(lab))
    return scan, frames


def crowded(frames: list[Any], cap: int, overall: bool = False) -> dict[str, list[str]]:
    """For each host (or `overall`) over `cap` in some window: that window's frames, for the
    failure message."""
    by_host: dict[str, list[Any]] = defaultdict(list)
    for frame in sorted(frames):
        by_host["all" if overall else frame[2]].append(frame)
    out = {}
    for host, mine in by_host.items():
        for i, (t, _, _) in enumerate(mine):
            inside = [f for f in mine[i:] if f[0] - t < WINDOW]
            if len(inside) > cap:
                out[host] = [f"+{(u - t) * 1000:.1f}ms {k} {d}" for u, k, d in inside]
                break
    return out


def per_host(frames: list[Any]) -> dict[str, int]:
    """The busiest window of each destination host (multicast and broadcast left out)."""
    by_host: dict[str, list[float]] = defaultdict(list)
    for stamp, _, dst in frames:
        first = int(dst.split(".")[0])
        if first < 224 and not dst.endswith(".255"):
            by_host[dst].append(stamp)
    return {host: busiest(stamps) for host, stamps in by_host.items()}


@pytest.fixture(scope="module")
def mixed(lab_factory: Any) -> Lab:
    lab: Lab = lab_factory("mixed")
    return lab


def overlap(frames: list[Any]) -> bool:
    """ARP requests still going out after the first banner SYN: the stages overlapped."""
    arp = [t for t, kind, _ in frames if kind == "arp"]
    syn = [t for t, kind, _ in frames if kind == "syn"]
    return bool(arp and syn) and min(syn) < max(arp)


def test_rate_caps_every_packet_of_the_run_together(mixed: Lab) -> None:
    scan, frames = captured(mixed, "198.18.40.0/24", "--rate", "200")
    assert scan.returncode in (0, 1), scan.stderr
    kinds = {kind for _, kind, _ in frames}
    assert kinds == {"arp", "udp", "syn"}, kinds
    assert overlap(frames)
    stamps = [t for t, _, _ in frames]
    most = busiest(stamps)
    print(f"--rate 200: {len(frames)} packets, busiest 100 ms: {most}")
    assert most <= allowed(200) == 22, crowded(frames, 22, overall=True)
    hosts = per_host(frames)
    assert len(hosts) >= 200  # every address was asked (ARP), the live ones further
    assert max(hosts.values()) <= allowed(40), crowded(frames, allowed(40))


def test_host_rate_caps_every_host_on_its_own(mixed: Lab) -> None:
    scan, frames = captured(mixed, "198.18.40.0/24", "--rate", "1000", "--host-rate", "20")
    assert scan.returncode in (0, 1), scan.stderr
    assert overlap(frames)
    hosts = per_host(frames)
    live = {d.ip for d in mixed.devices}
    busy = {h: n for h, n in hosts.items() if h in live}
    print(f"--host-rate 20: busiest 100 ms per live host: {sorted(busy.values())}")
    assert len(busy) == len(live)
    assert max(hosts.values()) <= allowed(20) == 2, crowded(frames, 2)
    assert busiest([t for t, _, _ in frames]) <= allowed(1000)


def test_rate_caps_the_routed_sweep_too(lab_factory: Any) -> None:
    routed = lab_factory("routed")
    scan, frames = captured(routed, "198.18.61.0/24", "--rate", "200")
    assert scan.returncode in (0, 1), scan.stderr
    kinds = {kind for _, kind, _ in frames}
    assert {"icmp", "syn", "udp"} <= kinds, kinds
    most = busiest([t for t, _, _ in frames])
    print(f"routed, --rate 200: {len(frames)} packets, busiest 100 ms: {most}")
    assert most <= allowed(200) == 22, crowded(frames, 22, overall=True)
    hosts = per_host(frames)
    assert max(hosts.values()) <= allowed(40), crowded(frames, allowed(40))
