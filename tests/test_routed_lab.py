"""The routed lab and camscan across it: a router namespace between the scanner and two device
segments. Every packet is sent from inside the lab's scanner namespace to 198.18.0.0/15.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from camscan.lab import Lab, TopologyError, load_topology
from camscan.lab.netns import entered
from camscan.lab.topology import parse_topology


def in_scanner(lab: Lab, code: str, timeout: float = 60) -> str:
    done = lab.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=lab.python_env(),
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def routed(lab_factory: Callable[[str], Lab]) -> Lab:
    return lab_factory("routed")


# -- topology files (no privileges) -------------------------------------------------------


def test_routed_topology_places_the_mixed_set_behind_the_router() -> None:
    topo, mixed = load_topology("routed"), load_topology("mixed")
    assert [n.name for n in topo.attached] == ["admin"]
    assert topo.gateway is not None and str(topo.gateway.router) == "198.18.60.254"
    cctv = sorted(d.persona for d in topo.devices if d.network == "cctv")
    assert cctv == sorted(d.persona for d in mixed.devices)


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        ([{"name": "a", "cidr": "198.18.9.0/24"}], "scanner or a router"),
        (
            [
                {"name": "a", "cidr": "198.18.9.0/24", "scanner": "198.18.9.1"},
                {"name": "b", "cidr": "198.18.8.0/24", "router": "198.18.8.254"},
            ],
            "attached network with a router",
        ),
        (
            [{"name": "a", "cidr": "198.18.9.0/24", "scanner": "198.18.9.1", "router": "198.18.7.1"}],
            "not a host address",
        ),
    ],
)
def test_bad_routed_topologies_are_refused(networks: list[dict[str, str]], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        parse_topology({"network": networks}, "t.toml", [])


# -- the built lab -------------------------------------------------------------------------


@pytest.mark.lab
def test_router_forwards_unicast_only_and_no_namespace_has_a_default_route(routed: Lab) -> None:
    from camscan.lab.guard import lab_namespace_problem

    assert routed.layout is not None and routed.layout.router_ns
    for ns in routed.namespaces:
        if ns.endswith("hub"):
            continue  # no addresses at all
        with entered(ns):
            assert lab_namespace_problem() is None, ns
            forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
            assert forwarding == ("1" if ns == routed.layout.router_ns else "0"), ns
    hik = next(d for d in routed.devices if d.network == "cctv" and d.persona == "hikvision-ipc")
    # unicast crosses (TCP and an SADP inquiry to the device's own address) ...
    out = in_scanner(
        routed,
        f"""
        import socket
        from camscan.discovery.sadp import build_probe
        socket.create_connection(("{hik.ip}", 80), 2).close()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
        s.sendto(build_probe(), ("{hik.ip}", 37020))
        print(s.recvfrom(65536)[1][0])
        """,
    )
    assert out.strip() == hik.ip
    # ... multicast and broadcast do not: a multicast round hears only the admin segment
    done = routed.run(
        [sys.executable, "-m", "camscan.discovery.round", "--json", "--window", "1"],
        capture_output=True,
        text=True,
        env=routed.python_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = {o["ip"] for o in json.loads(done.stdout)["observations"]}
    admin = {d.ip for d in routed.devices if d.network == "admin"}
    assert seen and seen <= admin
    # ... and ARP stops at the router: the only neighbour is on the admin segment
    neigh = routed.run(["ip", "neigh"], capture_output=True, text=True, check=True).stdout
    assert "198.18.61." not in neigh and "198.18.62." not in neigh
