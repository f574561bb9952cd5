"""SNMP against a real agent: Debian's snmpd in the routed lab's router namespace, serving that
namespace's kernel ARP table (filled by the scan's own routed traffic, as on a real router).

The "routed-snmp" lab holds the mixed persona set twice, on the scanner's segment and one hop
away, plus two cameras only their MAC names: per persona, the on-link verdict and the routed one
must agree once camscan reads the router's ARP table. Every packet is sent from inside the lab's
scanner namespace to 198.18.0.0/15.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camscan.lab import Lab
from camscan.lab.snmpd import Agent, router_agent
from tests.labtools import (
    WINDOW,
    allowed,
    busiest,
    guarded_env,
    outgoing_frames,
    run_camscan,
    snmpd_lab,
)

pytestmark = pytest.mark.lab

ADMIN, CCTV = "198.18.64.0/24", "198.18.65.0/24"
COMMUNITY = "ro-lab-7f3k"
USER, AUTH_KEY, PRIV_KEY = "camscan-ro", "lab-auth-key-1", "lab-priv-key-1"


@pytest.fixture(scope="module")
def lab(lab_factory: Any) -> Lab:
    return snmpd_lab(lab_factory, "routed-snmp")


@pytest.fixture(scope="module")
def agent(lab: Lab) -> Iterator[Agent]:
    with router_agent(
        lab, community=COMMUNITY, user=USER, auth_key=AUTH_KEY, priv_key=PRIV_KEY
    ) as running:
        yield running


def config(tmp_path: Path, name: str, **snmp: Any) -> str:
    lines = ["[snmp]"] + [f"{k} = {json.dumps(v)}" for k, v in snmp.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def scan(lab: Lab, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    done = run_camscan(lab, "scan", *args, "-f", "json", env=env or guarded_env(lab))
    assert done.returncode in (0, 1, 3), done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, doc


def makers_by_persona(lab: Lab, doc: dict[str, Any], network: str) -> dict[str, str | None]:
    got = {d["ip"]: d.get("maker") for d in doc["devices"]}
    return {d.persona: got.get(d.ip) for d in lab.devices if d.network == network}


def test_oui_only_cameras_behind_the_router_are_named_through_its_arp_table(
    lab: Lab, agent: Agent, tmp_path: Path
) -> None:
    snmp = config(tmp_path, "v2c", routers=[agent.address], community=COMMUNITY)
    _, without = scan(lab, ADMIN, CCTV)
    _, doc = scan(lab, "-c", snmp, ADMIN, CCTV)
    assert "snmp" in doc["run"]["probes"] and "snmp" not in without["run"]["probes"]
    assert not doc["run"]["partial"], doc["run"]["not_covered"]
    on_link, routed = makers_by_persona(lab, doc, "admin"), makers_by_persona(lab, doc, "cctv")
    before = makers_by_persona(lab, without, "cctv")
    # personas with a MAC tell: on the link, their wire MAC's block is evidence for the maker
    by_ip = {d["ip"]: d for d in doc["devices"]}
    mac_tell = {
        d.persona
        for d in lab.devices
        if d.network == "admin"
        and any(e["signature_id"].startswith("oui") for e in by_ip[d.ip]["evidence"])
    }
    assert {"hik-oui-silent", "dahua-oui-silent"} <= mac_tell
    # the two only a MAC names were missed off-link without SNMP ...
    assert before["hik-oui-silent"] is None and before["dahua-oui-silent"] is None
    # ... and with the router's ARP table, routed recall equals on-link recall for every persona
    # with a MAC tell, persona by persona; and no persona does worse than without SNMP
    assert {p: routed[p] for p in mac_tell} == {p: on_link[p] for p in mac_tell}
    assert all(routed[p] == before[p] for p in before if before[p] is not None)
    for persona in ("hik-oui-silent", "dahua-oui-silent"):
        (dev,) = [d for d in lab.devices if d.network == "cctv" and d.persona == persona]
        (found,) = [d for d in doc["devices"] if d["ip"] == dev.ip]
        assert (found["mac"], found["mac_source"]) == (dev.mac, "router")
        (oui,) = [e for e in found["evidence"] if e["signature_id"].startswith("oui")]
        assert oui["strength"] == "medium" and f"ARP table of {agent.address}" in oui["description"]
        assert found["confidence"] < 0.7  # one strength below the wire: named, not flagged
    # every off-link device found got its MAC from the router; the on-link ones keep the wire's
    for d in doc["devices"]:
        if d["ip"].startswith("198.18.65.") and not d["ip"].endswith(".254"):
            assert d["mac_source"] == "router", d["ip"]
        elif d["ip"].startswith("198.18.64.") and not d["ip"].endswith(".254"):
            assert d["mac_source"] == "wire", d["ip"]
    stats = doc["run"]["stats"]
    assert stats["snmp.router_macs"] == sum(1 for d in lab.devices if d.network == "cctv")


def test_an_snmpv3_user_reads_the_same_table(lab: Lab, agent: Agent, tmp_path: Path) -> None:
    snmp = config(
        tmp_path, "v3", routers=[agent.address], user=USER, auth_protocol="sha", priv_protocol="aes"
    )
    env = guarded_env(lab, CAMSCAN_SNMP_AUTH_KEY=AUTH_KEY, CAMSCAN_SNMP_PRIV_KEY=PRIV_KEY)
    hik = next(d for d in lab.devices if d.network == "cctv" and d.persona == "hik-oui-silent")
    _, doc = scan(lab, "-c", snmp, f"{hik.ip}/32", env=env)
    (found,) = doc["devices"]
    assert (found["maker"], found["mac_source"]) == ("hikvision", "router")
    assert not doc["run"]["partial"], doc["run"]["not_covered"]


@pytest.mark.parametrize(
    ("settings", "env", "says", "kind"),
    [
        ({"community": "not-the-community", "timeout": 0.5}, {}, "no answer", "timeout"),
        ({}, {}, "no SNMP credentials", "permission"),
        (
            {"user": USER, "auth_protocol": "sha", "auth_key": "wrong-auth-key"},
            {},
            "Wrong SNMP PDU digest",
            "refused",
        ),
    ],
)
def test_wrong_or_missing_credentials_are_a_recorded_error_and_a_partial_run(
    lab: Lab,
    agent: Agent,
    tmp_path: Path,
    settings: dict[str, Any],
    env: dict[str, str],
    says: str,
    kind: str,
) -> None:
    snmp = config(tmp_path, "bad", routers=[agent.address], **settings)
    hik = next(d for d in lab.devices if d.network == "cctv" and d.persona == "hik-oui-silent")
    code, doc = scan(lab, "-c", snmp, f"{hik.ip}/32", env=guarded_env(lab, **env))
    assert code == 3 and doc["run"]["partial"]
    (error,) = [e for e in doc["run"]["errors"] if e["probe"] == "snmp"]
    assert says in error["error"] and error["kind"] == kind
    assert error["target"] == f"{agent.address}:161"
    assert any(
        line.startswith(f"snmp on {agent.address}:161") for line in doc["run"]["not_covered"]
    )
    (found,) = doc["devices"]  # found all the same, with no MAC and no maker: not a silent gap
    assert found["mac"] is None and found["maker"] is None


# Every UDP datagram the scanner sends to port 161, by destination.
CLASSIFY = """
def classify(f):
    if f[12:14] != b"\\x08\\x00" or len(f) < 42:
        return None
    ihl = (f[14] & 15) * 4
    if f[23] != 17 or f[14 + ihl + 2:14 + ihl + 4] != b"\\x00\\xa1":
        return None
    return "snmp", socket.inet_ntoa(f[30:34])
"""


def test_snmp_goes_only_to_the_router_and_the_targets_at_the_configured_rate(
    lab: Lab, agent: Agent, tmp_path: Path
) -> None:
    snmp = config(
        tmp_path,
        "devices",
        routers=[agent.address],
        community=COMMUNITY,
        devices=True,
        max_repetitions=5,
    )
    (iface,) = lab.interfaces.values()
    rate, host_rate = 50, 10
    with outgoing_frames(lab, iface, CLASSIFY) as frames:
        _, doc = scan(lab, "-c", snmp, CCTV, "--rate", str(rate), "--host-rate", str(host_rate))
    sent = [(t, dst) for t, _, dst in frames]
    found = {d["ip"] for d in doc["devices"]}
    # to the configured router and the devices found in the targets, nothing else
    assert {dst for _, dst in sent} <= {agent.address} | found
    assert agent.address in {dst for _, dst in sent}
    assert sum(1 for _, dst in sent if dst != agent.address) >= len(found) - 1
    # at the configured rates: overall, and to each host (the router's walk included)
    assert busiest([t for t, _ in sent]) <= allowed(rate), WINDOW
    for host in {dst for _, dst in sent}:
        assert busiest([t for t, dst in sent if dst == host]) <= allowed(host_rate), host
    # the router's table was read in bounded GETBULK steps, and devices answered what they have
    assert doc["run"]["stats"]["snmp.router_rows"] >= len(found)
    assert doc["run"]["stats"]["snmp.device_silent"] >= len(found) - 1
