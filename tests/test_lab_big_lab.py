"""A lab network of more than 1,024 devices (bench's scale workload reaches 4,000): its bridge
answers ARP from a table of the devices (camscan/lab/builder.py), since one namespace would
handle every broadcast once per device. A sweep must still find each device with its own MAC,
and the empty addresses must stay silent."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan.lab import Lab, load_topology
from tests.labtools import guarded_env

SCALE4000 = Path(__file__).resolve().parent.parent / "bench" / "topologies" / "scale4000.toml"
DEVICES = 1100  # past the 1,024 above which the bridge answers; 198.19.0.2 - 198.19.4.77
pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def big() -> Iterator[Lab]:
    topo = load_topology(SCALE4000)
    kept = sorted(topo.devices, key=lambda d: tuple(int(x) for x in d.ip.split(".")))[:DEVICES]
    with Lab(dataclasses.replace(topo, devices=kept), emulate=False) as lab:
        yield lab


def test_a_big_network_answers_arp_with_each_devices_own_mac(big: Lab, tmp_path: Path) -> None:
    out = tmp_path / "arp.json"
    argv = [sys.executable, "-m", "camscan", "scan", "198.19.0.0/21", "--probes", "arp"]
    r = big.run(
        [*argv, "-q", "-f", "json", "-o", str(out)],
        capture_output=True,
        text=True,
        env=guarded_env(big),
        timeout=180,
    )
    assert r.returncode in (0, 1), r.stderr
    got = {d["ip"]: d["mac"] for d in json.loads(out.read_text())["devices"]}
    assert got == {d.ip: d.mac for d in big.devices}
    assert len(got) == DEVICES
