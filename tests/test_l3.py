"""L3 discovery pieces that need no lab: the unicast mDNS query, nmap arguments, routes.

Packets here go to loopback only (127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

from zeroconf import DNSIncoming

from camscan.discovery import l3
from camscan.discovery.mdns import UNICAST_TYPES as MDNS_QUERY_TYPES
from camscan.discovery.mdns import unicast_queries as mdns_query
from camscan.discovery.nmap_engine import nmap_arguments
from camscan.discovery.rate import RateLimiter
from camscan.netif import has_route


def test_mdns_unicast_query_is_a_valid_ptr_query() -> None:
    (packet,) = mdns_query()
    msg = DNSIncoming(packet)
    assert msg.valid and not msg.is_response()
    assert [q.name for q in msg.questions] == MDNS_QUERY_TYPES
    assert {q.type for q in msg.questions} == {12}


def test_nmap_arguments_follow_camscans_caps() -> None:
    args = nmap_arguments(privileged=False, rate=500, host_rate=40, timeout=3)
    assert "-sT" in args and "--max-rate 500" in args and "--scan-delay 25ms" in args
    assert "-sV" not in args and "--script" not in args
    assert "-sS" in nmap_arguments(privileged=True, rate=1000, host_rate=40, timeout=3)


def test_has_route_reads_the_kernel_table(tmp_path: Path) -> None:
    table = tmp_path / "route"
    # /proc/net/route layout; addresses little-endian hex: 198.18.60.0/24 on eth0, 198.18.61.0/24 via .254
    table.write_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        "eth0\t003C12C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "eth0\t003D12C6\tFE3C12C6\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    )
    net = ipaddress.IPv4Network
    assert has_route(net("198.18.61.0/25"), str(table))
    assert has_route(net("198.18.60.7/32"), str(table))
    assert not has_route(net("198.18.62.0/24"), str(table))
    assert not has_route(net("198.18.60.0/23"), str(table))


def test_sweep_on_loopback_tells_open_refused_and_records_observations() -> None:
    async def main() -> tuple[dict[str, l3.HostAnswer], dict[str, int]]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await l3.sweep(
                [ipaddress.IPv4Address("127.0.0.1")], RateLimiter(), ports=(port,), icmp=False
            )
        finally:
            server.close()

    found, stats = asyncio.run(main())
    assert found["127.0.0.1"].how.endswith("open") and stats["l3.tcp_connects"] == 1
    obs = l3.observations(found)
    assert [o.channel for o in obs] == ["host.alive", "tcp.open"]


def test_unicast_round_reads_replies_only_from_asked_hosts_within_budget() -> None:
    """A loopback 'device' answers an SADP inquiry once with a real ProbeMatch, then floods;
    127.0.0.2, which nobody asked, sends a ProbeMatch too. Only the asked host counts, and only
    up to the per-sender budget."""
    import dataclasses
    import socket

    from camscan.discovery.base import ProbeContext, ProbeOutcome
    from camscan.discovery.multicast import MAX_DATAGRAMS_PER_SENDER
    from camscan.discovery.unicast import probes, unicast_round
    from camscan.settings import ScanSettings, Timeouts
    from camscan.targets import TargetSet
    from tests.test_discovery_parsers import SADP_HIK

    device = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    device.bind(("127.0.0.1", 0))
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.2", 0))
    probe = dataclasses.replace(probes()["sadp"], port=device.getsockname()[1])
    seen: list[bytes] = []

    def answer() -> None:
        data, addr = device.recvfrom(65536)
        seen.append(data)
        if len(seen) == 1:
            for i in range(MAX_DATAGRAMS_PER_SENDER + 20):
                device.sendto(SADP_HIK.replace(b"flase", f"f{i}".encode()), addr)
            stranger.sendto(SADP_HIK, addr)

    async def main() -> tuple[ProbeContext, ProbeOutcome]:
        loop = asyncio.get_running_loop()
        loop.add_reader(device.fileno(), answer)
        ctx = ProbeContext(
            [],
            TargetSet([ipaddress.IPv4Network("127.0.0.1/32")]),
            settings=ScanSettings(timeouts=Timeouts(window=0.4)),
        )
        try:
            out = await unicast_round(ctx, ["127.0.0.1", "127.0.0.3"], ["sadp"], {"sadp": probe})
        finally:
            loop.remove_reader(device.fileno())
        return ctx, out

    try:
        ctx, out = asyncio.run(main())
    finally:
        device.close()
        stranger.close()
    assert seen and b"<Types>inquiry</Types>" in seen[0]
    assert ctx.stats["sadp.unicast_sent"] == 1  # 127.0.0.3 is not a target: never asked
    assert ctx.stats["sadp.unsolicited"] == 1  # the stranger's reply is not looked at
    assert ctx.stats["sadp.flood"] >= 20
    obs = out.observations
    assert obs and {o.ip for o in obs} == {"127.0.0.1"}
    assert obs[0].fields["mac"] == "58:50:ed:1f:e3:85"
    assert len(obs) <= MAX_DATAGRAMS_PER_SENDER
    assert any("distinct replies" in e.error for e in out.errors)


def test_unicast_resend_skips_ports_the_host_said_are_unreachable() -> None:
    """A loopback camera that hears the inquiry but stays silent (its reply could have been lost)
    is asked twice; two hosts where nothing listens answer with ICMP port unreachable, which proves
    the inquiry arrived, so they are asked once. The camera's socket counts what it received."""
    import dataclasses
    import socket

    from camscan.discovery.base import ProbeContext
    from camscan.discovery.unicast import probes, unicast_round
    from camscan.settings import ScanSettings, Timeouts
    from camscan.targets import TargetSet

    camera = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    camera.bind(("127.0.0.1", 0))
    probe = dataclasses.replace(probes()["sadp"], port=camera.getsockname()[1])
    heard: list[bytes] = []

    async def main() -> ProbeContext:
        loop = asyncio.get_running_loop()
        loop.add_reader(camera.fileno(), lambda: heard.append(camera.recv(65536)))
        ctx = ProbeContext(
            [],
            TargetSet([ipaddress.IPv4Network("127.0.0.0/29")]),
            settings=ScanSettings(timeouts=Timeouts(window=0.4)),
        )
        try:
            await unicast_round(
                ctx, ["127.0.0.1", "127.0.0.4", "127.0.0.5"], ["sadp"], {"sadp": probe}
            )
        finally:
            loop.remove_reader(camera.fileno())
        return ctx

    try:
        ctx = asyncio.run(main())
    finally:
        camera.close()
    assert len(heard) == 2 and heard[0] == heard[1]  # the silent camera: asked again
    assert ctx.stats["sadp.unicast_sent"] == 4  # 2 to the camera, 1 to each closed host
    assert ctx.stats["sadp.port_unreachable"] == 2
    assert ctx.stats["sadp.resend_skipped"] == 2
    assert ctx.stats["sadp.send_errors"] == 0


def test_nmap_is_started_and_stopped_through_its_process_handle() -> None:
    # python-nmap kept no handle on its child, so a stop searched /proc for nmap processes
    # whose parent was camscan; camscan now starts nmap itself (test_routed_lab stops one).
    import inspect

    from camscan.discovery import nmap_engine

    source = inspect.getsource(nmap_engine)
    assert "/proc" not in source.replace("no search of /proc", "")
    assert "create_subprocess_exec" in source and "proc.terminate()" in source
