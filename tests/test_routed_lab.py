"""The routed lab and camscan across it: a router namespace between the scanner and two device
segments. Every packet is sent from inside the lab's scanner namespace to 198.18.0.0/15.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from camscan.discovery.nmap_engine import nmap_problem
from camscan.lab import Lab, TopologyError, load_topology
from camscan.lab.netns import entered
from camscan.lab.topology import parse_topology
from tests.labtools import in_scanner, run_camscan, scan_json, start_camscan


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
            [
                {
                    "name": "a",
                    "cidr": "198.18.9.0/24",
                    "scanner": "198.18.9.1",
                    "router": "198.18.7.1",
                }
            ],
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
    from camscan.labguard import lab_namespace_problem

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


# -- camscan across the router ---------------------------------------------------------------

ROUTED_TARGETS = ["198.18.60.0/24", "198.18.61.0/24", "198.18.62.0/24"]
LISTED = {"hikvision", "dahua"}  # the makers camscan flags by default


def recall(lab: Lab, doc: dict[str, Any], network: str, makers: set[str] | None = None) -> float:
    got = {d["ip"]: d.get("maker") for d in doc["devices"]}
    wanted = [
        d
        for d in lab.devices
        if d.network == network
        and d.expected_maker
        and (makers is None or d.expected_maker in makers)
    ]
    return sum(1 for d in wanted if got.get(d.ip) == d.expected_maker) / len(wanted)


def doc_maker(doc: dict[str, Any], ip: str) -> str | None:
    return next((d.get("maker") for d in doc["devices"] if d["ip"] == ip), None)


def check_routed_scan(routed: Lab, doc: dict[str, Any], method: str = "l3") -> None:
    got = {d["ip"]: d for d in doc["devices"]}
    # each target's coverage says which way it was scanned, and every part was covered
    ways = {c["network"]: c["method"] for c in doc["run"]["coverage"]}
    assert ways == {"198.18.60.0/24": "arp", "198.18.61.0/24": method, "198.18.62.0/24": method}
    assert all(c["covered"] for c in doc["run"]["coverage"]), doc["run"]["not_covered"]
    assert not doc["run"]["partial"]
    routers = {str(n.router) for n in routed.topology.networks if n.router}
    # every live device is found, attached (ARP) and routed (L3) alike; nothing else but routers
    assert {d.ip for d in routed.devices} <= set(got)
    assert set(got) - {d.ip for d in routed.devices} <= routers
    # no false positive: a maker is either the expected one or none
    for dev in routed.devices:
        maker = got[dev.ip].get("maker")
        assert maker in (dev.expected_maker, None), (dev.persona, maker)
    for ip in routers & set(got):
        assert got[ip].get("maker") is None
    # off-link devices carry no wire MAC (ARP stops at the router); SADP/DHIP-reported MACs
    # are the devices' own and give OUI evidence, marked as reported
    for dev in routed.devices:
        if dev.network != "cctv" or dev.persona not in ("hikvision-ipc", "dahua-ipc"):
            continue
        d = got[dev.ip]
        assert d["mac"] == dev.mac and d["mac_source"] == "reported", d
        assert any(e["signature_id"].startswith("oui") for e in d["evidence"]), d["evidence"]
    # the on-link ones keep their wire MAC
    for dev in routed.devices:
        if dev.network == "admin":
            assert got[dev.ip]["mac"] == dev.mac and got[dev.ip]["mac_source"] == "wire"


@pytest.mark.lab
def test_routed_scan_matches_the_on_link_scan(routed: Lab, lab: Lab) -> None:
    doc = scan_json(routed, *ROUTED_TARGETS)
    check_routed_scan(routed, doc)
    assert doc["run"]["stats"]["l3.alive"] >= sum(1 for d in routed.devices if d.network != "admin")
    on_link = scan_json(lab, str(lab.topology.networks[0].cidr))
    # the same personas, on-link (mixed lab) and one hop away (routed lab, cctv segment)
    assert recall(lab, on_link, "mixed", LISTED) - recall(routed, doc, "cctv", LISTED) <= 0.05
    # every maker, within the 0.05 too: no wire MAC crosses the router, but Reolink's page
    # title and Uniview's model number in its ONVIF hardware/ scope still name them off-link
    assert recall(lab, on_link, "mixed") - recall(routed, doc, "cctv") <= 0.05
    for persona, maker in (("reolink", "reolink"), ("uniview", "uniview")):
        dev = next(d for d in routed.devices if d.network == "cctv" and d.persona == persona)
        assert doc_maker(doc, dev.ip) == maker, persona
    # a host without the service answers an inquiry with ICMP port unreachable: proof that it
    # arrived, so it is not sent again; only hosts that said nothing at all are asked twice
    stats = doc["run"]["stats"]
    probes = ("wsd", "sadp", "dhip", "dvrip", "mdns")
    assert all(stats.get(f"{p}.port_unreachable", 0) > 0 for p in probes), stats
    resent = sum(stats.get(f"{p}.unicast_resent", 0) for p in probes)
    first = sum(stats.get(f"{p}.unicast_sent", 0) for p in probes) - resent
    assert resent * 10 < first, stats


@pytest.mark.lab
def test_engine_nmap_gives_the_same_makers(routed: Lab) -> None:
    if nmap_problem():
        pytest.skip(nmap_problem() or "")
    own = scan_json(routed, *ROUTED_TARGETS)
    via_nmap = scan_json(routed, *ROUTED_TARGETS, "--engine", "nmap")
    check_routed_scan(routed, via_nmap, "nmap")
    makers = {d["ip"]: d.get("maker") for d in own["devices"]}
    assert {d["ip"]: d.get("maker") for d in via_nmap["devices"]} == makers
    assert via_nmap["run"]["stats"]["nmap.hosts_up"] >= 40


@pytest.mark.lab
def test_per_host_rate_and_missing_route_are_honoured(routed: Lab) -> None:
    # no route to 198.18.99.0/24 anywhere in the lab: refused before any packet, one line
    done = run_camscan(routed, "scan", "198.18.99.0/24", timeout=60)
    assert done.returncode == 3 and "no route to 198.18.99.0/24" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.lab
def test_host_names_resolve_once_from_the_labs_hosts_file(routed: Lab, tmp_path: Path) -> None:
    from camscan.lab.builder import host_name

    hik = next(d for d in routed.devices if d.network == "cctv" and d.persona == "hikvision-ipc")
    name = host_name(hik.persona, hik.index)
    listing = tmp_path / "names.txt"
    listing.write_text(f"{name}\n")
    listed = run_camscan(routed, "scan", "-iL", str(listing), "--list-targets", timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert f"# {name} -> {hik.ip}" in listed.stdout and f"{hik.ip}/32" in listed.stdout
    doc = scan_json(routed, name)
    assert doc["run"]["resolved"] == {name: [hik.ip]}
    (dev,) = doc["devices"]
    assert dev["ip"] == hik.ip and dev["maker"] == "hikvision"
    missing = run_camscan(routed, "scan", "nvr-9.lab", "--list-targets", timeout=60)
    assert missing.returncode == 2 and "does not resolve" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


@pytest.mark.lab
def test_all_segments_plans_attached_by_arp_and_routed_by_l3(routed: Lab, tmp_path: Path) -> None:
    config = tmp_path / "camscan.toml"
    config.write_text(
        textwrap.dedent(
            """
            [[segment]]
            name = "admin"
            cidrs = ["198.18.60.0/24"]
            zone = "general"
            [[segment]]
            name = "cctv"
            cidrs = ["198.18.61.0/24"]
            zone = "sensitive"
            [[segment]]
            name = "office"
            cidrs = ["198.18.62.0/24"]
            zone = "core"
            """
        )
    )
    doc = scan_json(routed, "-c", str(config), "--all-segments")
    check_routed_scan(routed, doc)
    by_ip = {d["ip"]: d for d in doc["devices"]}
    findings = {f["device_ip"]: f for f in doc["findings"]}
    flagged = {ip for ip, f in findings.items() if f["flagged"]}
    assert all(by_ip[ip]["maker"] in LISTED for ip in flagged)
    for name in ("hikvision-ipc", "dahua-ipc"):  # strongly identified on both routed segments
        for dev in routed.devices_of(name):
            if dev.network != "admin":
                assert dev.ip in flagged and findings[dev.ip]["segment"] == dev.network
    for dev in routed.devices:
        # how each device was reached: ARP on the admin segment, L3 behind the router
        probes = {o["probe"].split(":")[0] for o in by_ip[dev.ip].get("observations", [])}
        if dev.network == "admin":
            assert "arp" in probes
        else:
            assert "l3" in probes and "arp" not in probes


@pytest.mark.lab
def test_a_stop_during_engine_nmap_ends_nmap_and_keeps_the_result(
    routed: Lab, tmp_path: Path
) -> None:
    """SIGTERM while nmap sweeps (paced to 4 packets/s, so it would run for minutes): nmap is
    told to stop, the scan writes its partial result and exits 3, and no nmap is left."""
    if nmap_problem():
        pytest.skip(nmap_problem() or "")
    out = tmp_path / "stopped.json"
    routed_only = [t for t in ROUTED_TARGETS if t != str(routed.topology.networks[0].cidr)]
    proc = start_camscan(routed, "scan", *routed_only, "--engine", "nmap", "--rate", "4", "-q",
                         "-o", f"json:{out}")  # fmt: skip
    try:
        # a bounded wait for the scan's nmap (it writes XML), not the version check `nmap -V`
        # made in planning: a stop then is not yet camscan's to handle (as below)
        deadline = time.monotonic() + 90
        while not scan_nmap_under(proc.pid) and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        assert scan_nmap_under(proc.pid), "nmap never started"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)  # not nmap's minutes
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, stderr
    doc: dict[str, Any] = json.loads(out.read_text())
    assert doc["run"]["partial"] is True and doc["run"]["stopped"].startswith("SIGTERM")
    assert doc["run"]["stats"]["nmap.stopped"] >= 1
    assert nmap_under(proc.pid) == []


def nmap_under(root: int) -> list[int]:
    """nmap processes anywhere below `root` (ip netns exec -> python -> nmap)."""
    found = subprocess.run(["pgrep", "-x", "nmap"], capture_output=True, text=True).stdout.split()
    ours = []
    for pid in map(int, found):
        parent = pid
        while parent > 1:
            if parent == root:
                ours.append(pid)
                break
            try:
                stat = Path(f"/proc/{parent}/stat").read_text()
            except OSError:
                break
            parent = int(stat.rsplit(")", 1)[1].split()[1])
    return ours


@pytest.mark.lab
def test_a_routed_range_that_gives_nothing_is_partial_not_clean(routed: Lab) -> None:
    """Off-link, silence is not "clean": the empty top of the CCTV segment looks exactly like a
    segment behind an ACL that drops the scanner's probes, so the run is partial (exit 3)."""
    done = run_camscan(routed, "scan", "198.18.61.200-253", "-f", "json", timeout=120)
    assert done.returncode == 3, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc["devices"] == [] and doc["verdict"]["status"] == "partial"
    assert all(not c["covered"] and c["probed"] == c["planned"] for c in doc["run"]["coverage"])
    assert "no address answered" in done.stderr


def scan_nmap_under(root: int) -> bool:
    import psutil

    for pid in nmap_under(root):
        try:
            if scan_nmap(psutil.Process(pid)):
                return True
        except psutil.Error:  # gone meanwhile
            continue
    return False


def scan_nmap(process: Any) -> bool:
    import psutil

    try:
        return bool(process.name() == "nmap" and "-oX" in process.cmdline())
    except psutil.Error:  # gone meanwhile (the version check ends at once)
        return False


@pytest.mark.lab
def test_a_stop_ends_camscans_own_nmap_through_its_handle(routed: Lab) -> None:
    # python-nmap kept no handle on its nmap child, so stopping it meant scanning /proc.
    import psutil

    if nmap_problem():
        pytest.skip(nmap_problem() or "")
    proc = start_camscan(
        routed, "scan", *ROUTED_TARGETS, "--engine", "nmap", "--host-rate", "2", "-q", "-f", "json"
    )
    try:
        nmap = None
        for _ in range(600):  # a bounded wait for nmap to start, not a timing check
            # the scan's nmap (it writes XML), not the version check `nmap -V` made in planning,
            # before a stop is camscan's to handle (a Ctrl-C then just ends it: exit 130)
            nmap = next((c for c in psutil.Process(proc.pid).children() if scan_nmap(c)), None)
            if nmap is not None or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert nmap is not None, "nmap never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err
    doc = json.loads(out)
    assert doc["run"]["stats"]["nmap.stopped"] == 1 and doc["run"]["partial"]
    assert not psutil.pid_exists(nmap.pid) or nmap.status() == psutil.STATUS_ZOMBIE
