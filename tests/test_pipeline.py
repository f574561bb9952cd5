"""The pipeline's stages without root or a network: which probes run, how discovery's
observations become devices, and identify -> policy on them. Observations here are values a
probe hands on (discovery's output); the lab tests (test_scan_lab.py) run the same stages on
real packets."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress

import pytest

from camscan import channels, status
from camscan.config import parse_config
from camscan.discovery import registry
from camscan.discovery.base import ProbeContext, ProbeOutcome
from camscan.discovery.round import run_probes, run_round
from camscan.errors import ProbeKind
from camscan.model import Observation, ProbeError, ScanResult, ScanRun, Verdict
from camscan.netif import Interface
from camscan.pipeline import (
    IdentifyData,
    _attach,
    apply_policy,
    apply_verdicts,
    assemble,
    identify_devices,
    identify_verdicts,
    judge,
    merge_devices,
    usable_probes,
)
from camscan.settings import ScanSettings, Timeouts
from camscan.targets import TargetSet

LAN = Interface(
    "eth0", 2, None, ipaddress.IPv4Address("198.18.0.1"), ipaddress.IPv4Network("198.18.0.0/24")
)
TARGETS = TargetSet([ipaddress.IPv4Network("198.18.0.0/25")])
HIK_MAC = "44:19:b6:12:34:56"  # a Hikvision MA-L block (oui/assignments.csv)


def run_record() -> ScanRun:
    return ScanRun(targets=["198.18.0.0/25"], probes=[], started=0.0)


def arp(ip: str, mac: str) -> Observation:
    return Observation(channels.ARP_MAC, mac, "arp:raw", ip=ip, mac=mac, fields={"mac": mac})


def test_unprivileged_raw_socket_probes_run_their_fallback_or_are_skipped_and_said_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw_only = registry.ProbeSpec(
        "rawonly",
        "a raw-socket probe with no fallback",
        "x",
        "X",
        frozenset({registry.Need.RAW_SOCKET}),
    )
    monkeypatch.setattr(registry, "REGISTRY", (*registry.REGISTRY, raw_only))
    run = run_record()
    specs = usable_probes(["arp", "rawonly", "sadp"], privileged=False, run=run)
    assert [s.name for s in specs] == ["arp", "sadp"]  # ARP reads the neighbour table instead
    [error] = run.errors
    assert (error.probe, error.kind) == ("rawonly", ProbeKind.PERMISSION)
    assert status.settle(run, [], []).partial  # coverage is missing: the run says so
    run = run_record()
    assert [s.name for s in usable_probes(["arp", "rawonly"], True, run)] == ["arp", "rawonly"]
    assert run.errors == [] and not run.partial


def test_observations_become_one_device_per_address_sorted_with_the_wire_mac() -> None:
    observations = [
        Observation(
            "sadp.reply", "<Probe/>", "sadp", ip="198.18.0.10", fields={"mac": "44-19-B6-00-00-99"}
        ),  # reported by the device: spoofable
        arp("198.18.0.10", HIK_MAC),
        arp("198.18.0.9", "00:40:8c:01:02:03"),
        Observation("wsd.scopes", "onvif://x", "wsd", ip="198.18.0.200"),  # outside the targets
        Observation("mdns.instance", "x", "mdns", ip="not-an-address"),
        Observation("mdns.instance", "y", "mdns", ip=None),
    ]
    devices = merge_devices(observations, TARGETS, [LAN])
    assert [d.ip for d in devices] == ["198.18.0.9", "198.18.0.10", "198.18.0.200"]
    ten = devices[1]
    assert ten.mac == HIK_MAC and ten.mac_source == "wire"  # ARP's MAC wins
    assert [o.channel for o in ten.observations] == ["sadp.reply", channels.ARP_MAC]
    assert ten.interface == "eth0" and ten.in_scope
    assert not devices[2].in_scope  # answered discovery from outside: never probed further


def test_inspect_results_go_to_their_device_and_the_rest_to_the_run() -> None:
    devices = merge_devices([arp("198.18.0.10", HIK_MAC)], TARGETS, [LAN])
    run = run_record()
    outcome = ProbeOutcome(
        [
            Observation("http.header.server", "Hikvision-Webs", "http:80", ip="198.18.0.10"),
            Observation("http.header.server", "x", "http:80", ip="198.18.0.99"),
        ],  # not a device
        [
            ProbeError("http:80/", "198.18.0.10", "timeout after 4.0s", ProbeKind.TIMEOUT),
            ProbeError("banners", None, "over budget", ProbeKind.OVERFLOW),
        ],
    )
    _attach(outcome, devices, run)
    [dev] = devices
    assert [o.raw for o in dev.observations] == [HIK_MAC, "Hikvision-Webs"]
    assert [e.kind for e in dev.probe_errors] == [ProbeKind.TIMEOUT]
    assert [e.probe for e in run.errors] == ["banners"]


def test_identify_then_policy_flags_a_hikvision_on_a_core_segment() -> None:
    observations = [
        arp("198.18.0.10", HIK_MAC),
        Observation("http.header.server", "Hikvision-Webs", "http:80", ip="198.18.0.10"),
        arp("198.18.0.11", "00:40:8c:01:02:03"),  # Axis: a maker, not a listed one
    ]
    devices = merge_devices(observations, TARGETS, [LAN])
    run = run_record()
    identify_devices(devices)
    hik, axis = devices
    assert hik.verdict.maker == "hikvision" and hik.verdict.confidence_label == "high"
    assert {e.signature_id for e in hik.verdict.evidence} >= {"oui.ma-l.4419b6"}
    assert axis.verdict.maker in (None, "axis")
    config = parse_config(
        {"segment": [{"name": "core", "cidrs": ["198.18.0.0/25"], "zone": "core"}]}
    )
    result = ScanResult(run=run, devices=devices, segments=list(config.segments))
    apply_policy(result, config)
    flagged = {f.device_ip for f in result.findings if f.flagged}
    assert flagged == {"198.18.0.10"}
    assert result.policy["listed_makers"] == ["hikvision", "dahua"]
    assert run.errors == [] and not run.partial


def test_identify_and_policy_hand_forward_values_and_change_no_device() -> None:
    observations = [
        arp("198.18.0.10", HIK_MAC),
        Observation("http.header.server", "Hikvision-Webs", "http:80", ip="198.18.0.10"),
    ]
    devices = merge_devices(observations, TARGETS, [LAN])
    before = [dataclasses.replace(d) for d in devices]
    [ident] = identify_verdicts(devices, IdentifyData.load())
    assert devices == before  # identify returned a value; the device is as it was
    assert (ident.ip, ident.mac) == ("198.18.0.10", HIK_MAC) and ident.error is None
    assert ident.verdict is not None and ident.verdict.maker == "hikvision"
    with pytest.raises(dataclasses.FrozenInstanceError):
        ident.verdict = None  # type: ignore[misc]
    run = run_record()
    apply_verdicts(devices, (ident,))
    assert devices[0].verdict is ident.verdict and devices[0].verdict != Verdict()
    config = parse_config(
        {"segment": [{"name": "core", "cidrs": ["198.18.0.0/25"], "zone": "core"}]}
    )
    unjudged = ScanResult(run=run, devices=devices, segments=list(config.segments))
    findings = judge(unjudged, config)
    assert isinstance(findings, tuple) and unjudged.findings == []  # policy changed nothing
    [finding] = findings
    assert finding.flagged
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.flagged = False  # type: ignore[misc]
    result = assemble(unjudged, findings, config)
    assert result.findings == [finding] and result.policy["listed_makers"] == ["hikvision", "dahua"]
    assert result.devices is devices and result.run is run


def test_a_device_identify_cannot_judge_keeps_its_verdict_and_makes_the_run_partial() -> None:
    devices = merge_devices([arp("198.18.0.10", HIK_MAC)], TARGETS, [LAN])
    data = IdentifyData.load()
    # the engine fails on this device: no signatures where it expects a SignatureDB
    broken = dataclasses.replace(data, signatures=None)  # type: ignore[arg-type]
    [ident] = identify_verdicts(devices, broken)
    assert ident.verdict is None and ident.error is not None
    assert ident.error.probe == "identify" and ident.error.kind is ProbeKind.INTERNAL
    run = run_record()
    apply_verdicts(devices, (ident,))
    assert devices[0].verdict == Verdict() and devices[0].probe_errors == [ident.error]
    assert not run.partial  # the run's status is decided once, from the devices it ends with
    settled = status.settle(run, None, devices)
    assert settled.partial and not run.partial


# --- the multicast round's guard, with probes that implement the interface ------------------


class Answers:
    name = "answers"

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        o = Observation("sadp.reply", "<Probe/>", "sadp", ip="198.18.0.10")
        return ProbeOutcome([o, o])  # the same observation twice is kept once


class Crashes:
    name = "crashes"

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        raise KeyError("a probe bug")


class Hangs:
    name = "hangs"

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_a_crashing_or_hanging_probe_costs_only_its_own_results() -> None:
    ctx = ProbeContext([LAN], TARGETS, settings=ScanSettings(timeouts=Timeouts(window=0.05)))
    outcome = asyncio.run(run_probes(ctx, [Answers(), Crashes(), Hangs()]))
    assert [o.channel for o in outcome.observations] == ["sadp.reply"]
    kinds = {e.probe: e.kind for e in outcome.errors}
    assert kinds == {"crashes": ProbeKind.INTERNAL, "hangs": ProbeKind.TIMEOUT}
    assert all("\n" not in e.error for e in outcome.errors)


def test_the_round_refuses_probes_it_does_not_run() -> None:
    ctx = ProbeContext([LAN], TARGETS)
    with pytest.raises(ValueError, match="unknown discovery probe: arp, telnet"):
        asyncio.run(run_round(ctx, ["wsd", "telnet", "arp"]))  # ARP is not a multicast probe
