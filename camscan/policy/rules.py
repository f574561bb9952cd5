"""Severity of each device from the zone it sits in, who made it and what kind of device it is.

Defaults follow the UK Government's written statement on the security of government sites
(November 2022). Two rules, each a finding type of its own:
- "listed-maker": equipment from companies subject to the PRC National Intelligence Law must
  not be connected to core networks, should be considered for removal at sensitive sites, and
  is reviewed elsewhere (instructions 1 and 3);
- "surveillance-on-core": no visual surveillance equipment, whatever its maker, may be
  connected to departmental core networks (instruction 2, read as written). A user who reads
  instruction 2 as covering only the listed makers turns it off with one line
  (`core_any_maker = false`), which restores the listed-maker rule's findings exactly.
A removal deadline per zone or segment makes a flagged device still present after it overdue.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from datetime import date

from camscan.identify import classes
from camscan.identify.makers import default_listed, display_name, prc_makers
from camscan.model import MEDIUM_CONFIDENCE, Device, ExposureStatus, Finding, Segment, Severity
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

LISTED_MAKER = "listed-maker"
SURVEILLANCE_ON_CORE = "surveillance-on-core"
KEV_FIRMWARE = "kev-firmware"  # a maker not listed, on firmware CISA lists as exploited
FINDING_TYPES = {
    LISTED_MAKER: "listed maker",
    SURVEILLANCE_ON_CORE: "surveillance equipment on the core network",
}
CORE_RULE_SOURCE = (
    'Instruction 2 of the November 2022 statement: "Departments are also instructed to not '
    'connect visual surveillance equipment to Departmental core networks."'
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

    listed_makers: frozenset[str] = dataclasses.field(  # users may add PRC makers (uniview...)
        default_factory=lambda: frozenset(default_listed())
    )
    zone_severity: dict[str, Severity] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_ZONE_SEVERITY)
    )
    min_confidence: float = MEDIUM_CONFIDENCE  # below it a listed maker is reviewed, not flagged
    flag_zones: frozenset[str] = frozenset(SPECIAL_ZONES)
    # Instruction 2 as written: any maker's visual surveillance equipment on a core network.
    core_any_maker: bool = True
    core_any_maker_severity: Severity = Severity.HIGH
    deadlines: dict[str, date] = dataclasses.field(default_factory=dict)  # zone -> removal date

    def deadline_for(self, segment: Segment | None) -> date | None:
        """The segment's own deadline, else its zone's; None when neither has one."""
        if segment is None:
            return None
        if segment.deadline:
            return date.fromisoformat(segment.deadline)
        return self.deadlines.get(segment.zone)

    # A camera whose firmware is on CISA's KEV list is at least this severe, listed maker or
    # not ([policy] kev_severity; None: firmware exposure never changes a severity).
    kev_severity: Severity | None = Severity.HIGH

    def severity_for(self, zone: str | None) -> Severity:
        if zone is not None and zone in self.zone_severity:
            return self.zone_severity[zone]
        return self.zone_severity.get(ELSEWHERE, Severity.MEDIUM)


def zone_class(zone: str | None) -> str:
    return zone if zone in SPECIAL_ZONES else ELSEWHERE


_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parsed(segments: list[Segment]) -> list[tuple[_Net, int, Segment]]:
    nets: list[tuple[_Net, int, Segment]] = []
    for order, seg in enumerate(segments):
        for cidr in seg.cidrs:
            try:
                nets.append((ipaddress.ip_network(cidr, strict=False), order, seg))
            except ValueError:
                continue  # the config loader reports bad CIDRs; here they just match nothing
    return nets


def _segment_finder(segments: list[Segment]) -> Callable[[str], Segment | None]:
    nets = _parsed(segments)

    def find(ip: str) -> Segment | None:
        try:  # a link-local address's scope ("%eth0") is no part of a prefix
            addr = ipaddress.ip_address(ip.split("%")[0])
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
    """By address first (its own, then its IPv6 ones: a dual-stack device whose IPv4 address is
    in no segment is placed by its IPv6 prefix); else by the segment naming the interface the
    device was heard on."""
    return _placer(segments)(device)


def _placer(segments: list[Segment]) -> Callable[[Device], Placement]:
    by_address = _segment_finder(segments)
    by_interface = {i: seg for seg in segments for i in seg.interfaces}

    def find(device: Device) -> Placement:
        for ip in (device.ip, *device.ipv6):
            seg = by_address(ip)
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
            if v.maker in prc_makers()
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
    finding = dataclasses.replace(finding, severity=severity, finding_type=LISTED_MAKER)
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


def _kind_words(device: Device) -> str:
    eq = device.verdict.equipment
    text = f"{classes.display_name(eq.kind)}, {eq.confidence_label} confidence"
    if eq.channels is not None:
        text += f", {eq.channels} channels: up to {eq.channels} cameras out of the network's sight"
    return text


def _core_rule(
    device: Device, placed: Placement, policy: PolicySettings, finding: Finding
) -> tuple[Finding, str] | None:
    """Instruction 2: visual surveillance equipment of any maker on a core network; None when
    the rule is off, the zone is not core, or the equipment is not known to be surveillance."""
    eq = device.verdict.equipment
    if not policy.core_any_maker or finding.zone != "core" or eq.surveillance != classes.YES:
        return None
    made = (
        maker_display(device.verdict.maker)
        if device.verdict.maker
        else "a maker no signature names"
    )
    rationale = (
        f"Visual surveillance equipment ({_kind_words(device)}) made by {made} "
        f"{placed.where(device.ip)}: {ZONE_ACTIONS['core']}, whatever its maker "
        "(the statement's instruction 2)."
    )
    found = dataclasses.replace(
        finding,
        severity=policy.core_any_maker_severity,
        flagged=True,
        rationale=rationale,
        finding_type=SURVEILLANCE_ON_CORE,
    )
    return found, " Flagged."


def finding_label(finding: Finding) -> str | None:
    """The finding type in plain words: "surveillance equipment on the core network (Axis)",
    "listed maker at a sensitive site (Hikvision)"; None when it is not a finding."""
    maker = maker_display(finding.maker)
    if finding.finding_type == SURVEILLANCE_ON_CORE:
        return f"surveillance equipment on the core network ({maker})"
    if finding.finding_type == KEV_FIRMWARE:
        return f"firmware attackers are known to exploit ({maker})"
    if finding.finding_type == LISTED_MAKER or is_finding(finding):
        where = {"core": "on the core network", "sensitive": "at a sensitive site"}.get(
            finding.zone or "", "elsewhere (review)"
        )
        return f"listed maker {where} ({maker})"
    return None


def _with_deadline(finding: Finding, deadline: date | None, today: date) -> Finding:
    """A flagged finding with its removal deadline, overdue once the deadline has passed."""
    if not finding.flagged or deadline is None:
        return finding
    overdue = today > deadline
    note = (
        f" Removal deadline {deadline.isoformat()} has passed: OVERDUE."
        if overdue
        else f" Removal deadline: {deadline.isoformat()}."
    )
    return dataclasses.replace(
        finding, deadline=deadline.isoformat(), overdue=overdue, rationale=finding.rationale + note
    )


def _exposed(
    device: Device, placed: Placement, policy: PolicySettings, finding: Finding, closing: str
) -> tuple[Finding, str]:
    """Firmware exposure raises priority: a KEV-listed build makes the finding at least
    `kev_severity`, and makes a camera of a maker not listed a finding of its own."""
    exp, v = device.exposure, device.verdict
    if exp is None or exp.status not in (ExposureStatus.KEV, ExposureStatus.AFFECTED):
        return finding, closing
    finding = dataclasses.replace(finding, exposure=exp.status.value)
    words = f" Firmware {exp.version}: {exp.summary}."
    floor = policy.kev_severity
    if not exp.kev or floor is None or v.maker is None or v.confidence < policy.min_confidence:
        return dataclasses.replace(finding, rationale=finding.rationale + words), closing
    if is_finding(finding) or finding.flagged:  # a listed maker, or surveillance on core
        severity = max(finding.severity, floor, key=_RANK.__getitem__)
        finding = dataclasses.replace(finding, severity=severity)
        return dataclasses.replace(finding, rationale=finding.rationale + words), closing
    zone = placed.segment.zone if placed.segment else None
    finding = dataclasses.replace(
        finding,
        severity=floor,
        flagged=zone in policy.flag_zones,
        finding_type=KEV_FIRMWARE,
        rationale=(
            f"{_made_by(device)} {placed.where(device.ip)}: not a listed maker, but its "
            f"firmware is known exploited.{words}"
        ),
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
    """A listed maker judged, or surveillance equipment on the core network: "info" is the
    one severity that means "nothing found"."""
    if finding.finding_type is not None:
        return True
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
        if not finding.flagged and (core := _core_rule(device, placed, policy, finding)):
            finding, closing = core
        finding, closing = _exposed(device, placed, policy, finding, closing)
        entry = None
        if is_finding(finding):  # exceptions accept findings; a non-finding has nothing to accept
            entry = find_exception(device, exceptions, today)
        if entry is None or not entry.is_valid(today):
            finding = dataclasses.replace(finding, rationale=finding.rationale + closing)
        if entry is not None:
            finding = entry.apply(finding, today)
        findings.append(_with_deadline(finding, policy.deadline_for(placed.segment), today))
    return tuple(findings)


def readings(
    core_any_maker: bool, severity: str, deadlines: dict[str, str], segments: list[Segment]
) -> list[str]:
    """What `config check` says about instruction 2 (both readings) and the deadlines."""
    lines = [f"policy: {CORE_RULE_SOURCE}"]
    if core_any_maker:
        lines.append(
            "policy: read as written (core_any_maker = true, the default): visual surveillance "
            f"equipment of ANY maker on a core segment is flagged {severity} (listed makers stay "
            "critical); for the narrow reading, listed makers only, set core_any_maker = false "
            "in [policy]"
        )
    else:
        lines.append(
            "policy: read narrowly (core_any_maker = false): only listed makers are flagged on "
            "core segments, as instruction 1 reads; the statement's instruction 2 names no "
            "maker: remove that line to flag any maker's surveillance equipment on the core"
        )
    dates = [f"zone {zone} {d}" for zone, d in sorted(deadlines.items())]
    dates += [f"segment {s.name} {s.deadline}" for s in segments if s.deadline]
    if dates:
        lines.append(
            f"policy: removal deadlines: {', '.join(dates)}; a flagged device still present "
            "after its deadline is overdue (--fail-on overdue)"
        )
    else:
        lines.append(
            "policy: no removal deadlines (instruction 3's timeline): add [policy.deadlines] "
            "sensitive = 2027-03-31, or deadline = ... in a [[segment]], to report overdue devices"
        )
    return lines
