"""ARP sweep of a half-empty /24 in the lab: every live device found with its MAC, nothing more.

Half the addresses never answer: the sweep must still wait long enough for every live one
(per-target timeouts and one retry, tests/test_arp.py) and report no empty address."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan.lab import Lab, load_topology
from tests.labtools import guarded_env

HALF24 = Path(__file__).resolve().parent.parent / "bench" / "topologies" / "half24.toml"
pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def half() -> Iterator[Lab]:
    with Lab(load_topology(HALF24), emulate=False) as lab:  # ARP needs addresses only
        yield lab


def test_half_empty_24_finds_every_live_device(half: Lab, tmp_path: Path) -> None:
    out = tmp_path / "arp.json"
    env = guarded_env(half)
    argv = [sys.executable, "-m", "camscan", "scan", "198.18.42.0/24", "--probes", "arp"]
    for attempt in range(2):  # the second run starts with a warm neighbour table: same answer
        r = half.run(
            [*argv, "-q", "-f", "json", "-o", str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert r.returncode in (0, 1), r.stderr
        got = {d["ip"]: d["mac"] for d in json.loads(out.read_text())["devices"]}
        assert got == {d.ip: d.mac for d in half.devices}, f"run {attempt + 1}"
    assert len(half.devices) == 130
