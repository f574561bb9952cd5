"""Severity of each identified device from the zone it sits in and who made it.

Defaults follow the UK Government's written statement on the security of government sites
(November 2022): departments must not connect equipment from companies subject to the PRC
National Intelligence Law to core networks, should consider removing it from sensitive sites,
and review it elsewhere.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from datetime import date

from camscan.identify.makers import LISTED, PRC_MAKERS, display_name
from camscan.model import MEDIUM_CONFIDENCE, Device, Finding, Segment, Severity
from camscan.policy.exceptions import ExceptionEntry, find_exception

SPECIAL_ZONES = ("core", "sensitive")
ELSEWHERE = "elsewhere"  # every zone label other than core and sensitive

POLICY_SOURCE = (
    "UK Government written statement on the security of government sites, November 2022: "
    "surveillance equipment from companies subject to the National Intelligence "
    "Law of the People's Republic of China must not be connected to departmental core "
    "networks; departments should consider removing and replacing it at sensitive sites, "
    "and review it elsewhere."
)

ZONE_ACTIONS = {
    "core": "must not be connected to the core network",
    "sensitive": "remove or replace at a sensitive site",
    ELSEWHERE: "review",
}

DEFAULT_ZONE_SEVERITY = {
    "core": Severity.CRITICAL,
    "sensitive": Severity.HIGH,
    ELSEWHERE: Severity.MEDIUM,
}


def maker_display(slug: str | None) -> str:
    """'hikvision' -> 'Hikvision'; None -> 'unknown maker'."""
    return display_name(slug or None)


@dataclasses.dataclass(slots=True)
class PolicySettings:
    """What the user's config can change. Zones not named in `zone_severity` use 'elsewhere'."""

    listed_makers: frozenset[str] = LISTED  # users may add other PRC makers (uniview, ...)
    zone_severity: dict[str, Severity] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_ZONE_SEVERITY)
    )
    min_confidence: float = MEDIUM_CONFIDENCE  # below it a listed maker is reviewed, not flagged
    flag_zones: frozenset[str] = frozenset(SPECIAL_ZONES)

    def severity_for(self, zone: str | None) -> Severity:
        if zone is not None and zone in self.zone_severity:
            return self.zone_severity[zone]
        return self.zone_severity.get(ELSEWHERE, Severity.MEDIUM)


def zone_class(zone: str | None) -> str:
    return zone if zone in SPECIAL_ZONES else ELSEWHERE


def _parsed(segments: list[Segment]) -> list[tuple[ipaddress.IPv4Network, int, Segment]]:
    nets = []
    for order, seg in enumerate(segments):
        for cidr in seg.cidrs:
            try:
                nets.append((ipaddress.IPv4Network(cidr, strict=False), order, seg))
            except ValueError:
                continue  # the config loader reports bad CIDRs; here they just match nothing
    return nets


def _segment_finder(segments: list[Segment]) -> Callable[[str], Segment | None]:
    nets = _parsed(segments)

    def find(ip: str) -> Segment | None:
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return None
        hits = [(net.prefixlen, -order, seg) for net, order, seg in nets if addr in net]
        if not hits:
            return None
        # Longest prefix wins; on a tie, the segment listed first in the config.
        return max(hits, key=lambda h: (h[0], h[1]))[2]

    return find


def assign_segment(ip: str, segments: list[Segment]) -> Segment | None:
    """The segment whose most specific CIDR holds `ip`, or None."""
    return _segment_finder(segments)(ip)


# Addresses devices ship with (signatures.md): one still on it was never configured.
FACTORY_ADDRESSES = {"192.0.0.64": "Hikvision", "192.168.1.108": "Dahua"}


@dataclasses.dataclass(frozen=True, slots=True)
class Placement:
    """Where a device sits for the policy, and how that was decided."""

    segment: Segment | None
    by: str | None  # "address", "interface", or None (in no segment)
    interface: str | None = None

    def where(self, ip: str) -> str:
        factory = FACTORY_ADDRESSES.get(ip)
        hint = f" ({ip} is the {factory} factory-default address)" if factory else ""
        seg = self.segment
        if seg is None:
            if factory and self.interface:
                hint += (
                    f"; name interface {self.interface} in its segment (interfaces = "
                    f'["{self.interface}"]) to judge it'
                )
            return f"outside every configured segment{hint}"
        where = f"in segment '{seg.name}' (zone {seg.zone})"
        if self.by == "interface":
            where += (
                f", by the interface it was heard on ({self.interface}): its address lies in "
                f"no segment{hint}"
            )
        return where


def place(device: Device, segments: list[Segment]) -> Placement:
    """By address first; else by the segment naming the interface the device was heard on."""
    return _placer(segments)(device)


def _placer(segments: list[Segment]) -> Callable[[Device], Placement]:
    by_address = _segment_finder(segments)
    by_interface = {i: seg for seg in segments for i in seg.interfaces}

    def find(device: Device) -> Placement:
        seg = by_address(device.ip)
        if seg is not None:
            return Placement(seg, "address", device.interface)
        seg = by_interface.get(device.interface or "")
        if seg is not None:
            return Placement(seg, "interface", device.interface)
        return Placement(None, None, device.interface)

    return find


def _pieces(n: int) -> str:
    return f"{n} piece{'s' if n != 1 else ''} of evidence"


def _evidence_words(device: Device) -> str:
    v = device.verdict
    return (
        f"identified with {v.confidence_label} confidence ({v.confidence:.2f}) "
        f"from {_pieces(len(v.evidence))}"
    )


def _made_by(device: Device) -> str:
    v = device.verdict
    made = f"{maker_display(v.maker)}-made device"
    return f"{made}, sold as {v.badge}," if v.badge else made


def _judge(device: Device, placed: Placement, policy: PolicySettings) -> tuple[Finding, str]:
    """The finding, and the closing sentence to add unless a valid exception replaces it."""
    v = device.verdict
    seg = placed.segment
    zone = seg.zone if seg else None
    where = placed.where(device.ip)
    finding = Finding(
        device_ip=device.ip,
        device_mac=device.mac,
        maker=v.maker,
        segment=seg.name if seg else None,
        zone=zone,
        severity=Severity.INFO,
        flagged=False,
        rationale="",
        segment_by=placed.by,
    )
    if v.maker is None:
        finding = dataclasses.replace(
            finding,
            rationale=(f"No maker identified {where} ({_pieces(len(v.evidence))}); not flagged."),
        )
        return finding, ""
    if v.maker not in policy.listed_makers:
        prc = (
            f" {maker_display(v.maker)} is PRC-based: add it to the listed makers to apply "
            "the same rules."
            if v.maker in PRC_MAKERS
            else ""
        )
        finding = dataclasses.replace(
            finding,
            rationale=(
                f"{_made_by(device)} {where}; {maker_display(v.maker)} is not a listed maker, "
                f"so not flagged.{prc}"
            ),
        )
        return finding, ""
    action = ZONE_ACTIONS[zone_class(zone)]
    # A listed maker is always a finding: at least medium, whatever the zone table says.
    severity = max(policy.severity_for(zone), Severity.MEDIUM, key=_RANK.__getitem__)
    finding = dataclasses.replace(finding, severity=severity)
    base = f"{_made_by(device)} {where}, {_evidence_words(device)}"
    if v.confidence < policy.min_confidence:
        severity = min(finding.severity, Severity.MEDIUM, key=_RANK.__getitem__)
        finding = dataclasses.replace(finding, severity=severity)
        finding = dataclasses.replace(
            finding,
            rationale=(
                f"{base}: confidence is below the {policy.min_confidence:.2f} needed to flag, "
                "so review it."
            ),
        )
        return finding, ""
    finding = dataclasses.replace(
        finding, flagged=zone in policy.flag_zones, rationale=f"{base}: {action}."
    )
    return finding, " Flagged." if finding.flagged else " Reported for review, not flagged."


_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.INFO: 1,
    Severity.ACCEPTED: 0,
}


def is_finding(finding: Finding) -> bool:
    """A listed maker, judged: "info" is the one severity that means "nothing found"."""
    return finding.maker is not None and finding.severity is not Severity.INFO


def severity_rank(severity: Severity) -> int:
    """Higher is worse; for sorting findings and picking colours."""
    return _RANK[severity]


def evaluate(
    devices: list[Device],
    segments: list[Segment],
    policy: PolicySettings,
    exceptions: list[ExceptionEntry],
    today: date,
) -> tuple[Finding, ...]:
    """One finding per assessed device, in the order given.

    A device outside the targets (it answered multicast from elsewhere) is assessed only when
    the interface it was heard on places it in a segment; otherwise it gets no finding and is
    reported out of scope."""
    placer = _placer(segments)
    findings: list[Finding] = []
    for device in devices:
        placed = placer(device)
        if not device.in_scope and placed.by != "interface":
            continue
        finding, closing = _judge(device, placed, policy)
        entry = None
        if is_finding(finding):  # exceptions accept findings; a non-finding has nothing to accept
            entry = find_exception(device, exceptions, today)
        if entry is None or not entry.is_valid(today):
            finding = dataclasses.replace(finding, rationale=finding.rationale + closing)
        if entry is not None:
            finding = entry.apply(finding, today)
        findings.append(finding)
    return tuple(findings)
