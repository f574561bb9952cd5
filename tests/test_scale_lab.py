"""1,000 live devices of mixed personas on one /22 (bench/topologies/scale1000.toml), identified
in one run: every device found, every maker right. Timing and memory live in bench/ (scale)."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan.lab import Lab, load_topology

SCALE = Path(__file__).resolve().parent.parent / "bench" / "topologies" / "scale1000.toml"
pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def estate() -> Iterator[Lab]:
    with Lab(load_topology(SCALE)) as lab:
        yield lab


def test_a_thousand_devices_identified_in_one_run(estate: Lab, tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    env = dict(os.environ, CAMSCAN_LAB_GUARD="1", PYTHONPATH=str(Path.cwd()))
    argv = [sys.executable, "-m", "camscan", "scan", "198.18.44.0/22", "-q", "-f", "json"]
    r = estate.run([*argv, "-o", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode in (0, 1), r.stderr
    doc = json.loads(out.read_text())
    assert not doc["run"]["partial"], doc["run"]["errors"]
    got = {d["ip"]: d for d in doc["devices"]}
    assert len(estate.devices) == 1000
    assert set(got) == {d.ip for d in estate.devices}
    wrong = [
        (d.ip, d.persona, got[d.ip]["maker"])
        for d in estate.devices
        if got[d.ip]["maker"] != d.expected_maker or got[d.ip]["mac"] != d.mac
    ]
    assert wrong == []
    personas = Counter(d.persona for d in estate.devices)
    assert len(personas) >= 12 and min(personas.values()) >= 60  # a real mix, not one kind
