"""Must-show of issue 20: a probe added exactly as docs/architecture.md says ("How to add a
probe": a class implementing DiscoveryProbe, plus one ProbeSpec entry in the registry), here
registered at test time, is run, counted for coverage and reported, with no other file touched.

Before the registries were the only list, coverage kept its own list of discovery probes: such
a probe found its device and the run still came out partial (exit 3).
"""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import json

import pytest

from camscan.config import parse_config
from camscan.discovery import registry
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.registry import Need, ProbeSpec
from camscan.model import Observation, ScanResult
from camscan.netif import Interface
from camscan.pipeline import ScanRequest, scan
from camscan.report import FORMATS, render
from camscan.settings import Limits, Timeouts
from camscan.status import exit_code
from camscan.targets import TargetSet

LAN = Interface(
    "lab0", 7, None, ipaddress.IPv4Address("198.18.7.1"), ipaddress.IPv4Network("198.18.7.0/24")
)
CAMERA = "198.18.7.5"


class EchoProbe:
    """The new probe: asks every target host (here: the one that answers is the camera)."""

    name = "echo"

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        found = [
            Observation("http.header.server", "Hikvision-Webs", self.name, ip=str(host))
            for host in ctx.targets.hosts()
            if str(host) == CAMERA
        ]
        return ProbeOutcome(found)


ECHO = ProbeSpec(
    "echo",
    "a probe added the way the architecture document says",
    __name__,
    "EchoProbe",
    frozenset({Need.UNICAST}),
)


@pytest.fixture
def echo_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "REGISTRY", (*registry.REGISTRY, ECHO))


def test_a_probe_added_as_the_architecture_says_is_run_counted_and_reported(
    echo_registered: None,
) -> None:
    config = parse_config(
        {
            "segment": [{"name": "cctv", "cidrs": ["198.18.7.0/28"], "zone": "core"}],
            "scan": {"probes": ["echo"]},  # the config schema knows it
        }
    )
    assert config.scan.settings.probes == ("echo",)
    assert "echo" in parse_config({}).scan.settings.probes  # and every probe is the default
    request = ScanRequest(
        targets=TargetSet([ipaddress.IPv4Network("198.18.7.0/28")]),
        interfaces=[LAN],
        config=config,
        settings=dataclasses.replace(
            config.scan.settings,
            limits=Limits(rate=100.0, concurrency=4),
            timeouts=Timeouts(window=0.1, probe=1.0),
            privileged=False,
        ),
    )
    result = scan(request)
    # run: it found its device, and identify named the maker
    [device] = result.devices
    assert device.ip == CAMERA and device.verdict.maker == "hikvision"
    assert [o.probe for o in device.observations] == ["echo"]
    # counted for coverage: the part it ran on is covered, so the run is complete
    [part] = result.run.coverage
    assert (part.covered, part.probes, part.answered) == (True, ["echo"], 1)
    assert not result.run.partial and result.run.not_covered == []
    assert exit_code(result.findings, result.run, "never") == 0  # not 3
    # reported: the contract names the probe and the device; the table says it is complete
    doc = json.loads(rendered(result, "json"))
    assert doc["run"]["probes"] == ["echo"] and doc["run"]["partial"] is False
    assert [d["ip"] for d in doc["devices"]] == [CAMERA]
    for fmt in FORMATS:  # every format reports it
        assert CAMERA in rendered(result, fmt), fmt


def rendered(result: ScanResult, fmt: str) -> str:
    out = io.StringIO()
    render(result, fmt, out, color=False)
    return out.getvalue()
