"""The scan model every stage shares: observations in, evidence, verdicts and findings out.

Data flows one way: discovery and banner probes produce `Observation`s; identify turns them into
`Evidence` and a `Verdict` per `Device`; policy turns devices into `Finding`s; report and store only
read. Everything here is plain data that round-trips through JSON (written by
camscan.contract.dump_contract, read back by camscan.store.results.load_result).
"""

from __future__ import annotations

import dataclasses
import enum
import time
from typing import Any

from camscan.errors import ProbeKind, kind_of

SCHEMA_VERSION = "1.13"  # 1.1 top-level "policy"; 1.2 the "kind" of each probe error,
# run.scanner_host and run.data_versions; 1.3 devices[].device_id; 1.4 verdict, run.coverage,
# run.not_covered, run.stopped, run.warnings, out_of_scope, segment interfaces, segment_by;
# 1.5 coverage method "passive" (listen, import of a capture) and the dhcp.*/dns.* channels;
# 1.6 equipment class, surveillance, recorder channels, finding_type, deadline, overdue
# 1.7 devices[].exposure (firmware advisories and KEV), findings[].exposure
# 1.8 mac_source "router" (a router's ARP table, read over SNMP), probe "snmp", snmp.* channels
# 1.9 devices[].ipv6 (IPv6 addresses; a dual-stack device is one device), coverage method "icmpv6"
# 1.10 run.site: the store's site of a stored run (null when never stored); an imported nmap
# run keeps nmap's own times and run.args, run.privileged null (not recorded), scanner_host ""
# 1.11 the banners.skipped channel: requests a scan chose not to send, and why (ask_less)
# 1.12 devices[].ipv6_reported (IPv6 addresses a device's SADP/DHIP/DVRIP reply states); coverage
# methods "wsd" and "mdns" (their IPv6 groups asked on a link without icmpv6)
# 1.13 a routed dual-stack device is one device: snmp.router_mac's fields.router_link (the router
# interface whose table gives the MAC to one host) joins its IPv4 and IPv6 addresses
HIGH_CONFIDENCE = 0.85  # verdict confidence labels: "high" from here,
MEDIUM_CONFIDENCE = 0.7  # "medium" from here (the default floor for flagging), "low" below


class Strength(enum.StrEnum):
    """How much one matched signature says about a maker on its own."""

    STRONG = "strong"  # vendor-specific: one hit decides
    MEDIUM = "medium"  # vendor-typical: decides only with another independent hit
    WEAK = "weak"  # shared with others: corroborates, never decides


class Severity(enum.StrEnum):
    CRITICAL = "critical"  # must not be connected (core network)
    HIGH = "high"  # remove or replace (sensitive site)
    MEDIUM = "medium"  # review (elsewhere)
    INFO = "info"  # not a listed maker, or nothing to do
    ACCEPTED = "accepted"  # covered by an unexpired exception


@dataclasses.dataclass(slots=True)
class Observation:
    """One raw thing a probe saw, before any interpretation.

    `channel` names what was read, dotted from general to specific, e.g. "arp.mac",
    "http.header.server", "rtsp.header.www-authenticate", "tls.subject", "wsd.scopes",
    "mdns.instance", "sadp.reply", "dhip.reply", "port.open". `raw` is the value as received
    (decoded as text, truncated to a bound). `fields` holds structured values a parser could
    read with certainty (model, serial, firmware, badge, mac, ip, port, ...).
    """

    channel: str
    raw: str
    probe: str  # which probe produced it: "arp", "sadp", "http:80", ...
    ip: str | None = None
    mac: str | None = None
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    at: float = dataclasses.field(default_factory=time.time)


@dataclasses.dataclass(slots=True)
class Evidence:
    """A rule that matched an observation, and what it says."""

    signature_id: str
    channel: str
    raw: str  # the observed value the rule matched (bounded)
    maker: str | None  # slug: "hikvision", "dahua", "axis", ... (None: says nothing of maker)
    strength: Strength
    badge: str | None = None  # brand on the box when it differs from the maker (EZVIZ, Lorex, ...)
    captured: dict[str, str] = dataclasses.field(default_factory=dict)  # model/firmware/serial
    description: str = ""
    probe: str = ""
    # The equipment class the rule proves (camscan/identify/classes.toml), and how strongly:
    # a fact beside the maker, weighed on its own (camscan.identify.equipment).
    equipment: str | None = None
    equipment_strength: Strength | None = None


@dataclasses.dataclass(slots=True)
class Equipment:
    """What kind of device it is, as far as the evidence goes: a fact beside the maker."""

    kind: str = "unknown"  # class slug (classes.toml): camera, recorder, ..., other, unknown
    surveillance: str = "unknown"  # visual surveillance equipment: yes, no, unknown
    confidence: float = 0.0
    confidence_label: str = "none"
    evidence: list[str] = dataclasses.field(default_factory=list)  # signature ids that counted
    conflicts: list[str] = dataclasses.field(default_factory=list)  # other classes named
    channels: int | None = None  # a recorder's video channels, read without a login
    summary: str = ""


@dataclasses.dataclass(slots=True)
class Verdict:
    """Who made a device, as far as the evidence goes."""

    maker: str | None = None  # slug of the maker of record; None when undecided
    badge: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    confidence: float = 0.0  # 0..1
    confidence_label: str = "none"  # none, low, medium, high
    evidence: list[Evidence] = dataclasses.field(default_factory=list)
    conflicts: list[str] = dataclasses.field(default_factory=list)  # makers other evidence named
    summary: str = ""  # "Dahua-made, sold as Lorex (high: 2 strong signatures)"
    equipment: Equipment = dataclasses.field(default_factory=Equipment)


@dataclasses.dataclass(frozen=True, slots=True)
class Identified:
    """identify's output for one device (ip, mac name it): the verdict, the display name of the
    MAC's assignee, or the error that stopped identification (the device keeps its verdict).
    The pipeline copies it onto the Device; identify itself changes no device."""

    ip: str
    mac: str | None
    verdict: Verdict | None
    oui_vendor: str | None
    error: ProbeError | None = None
    exposure: Exposure | None = None  # firmware advisories matched against the verdict


class ExposureStatus(enum.StrEnum):
    """What the firmware version says, worst first. Never "safe": only what is known."""

    KEV = "kev"  # affected by a CVE on CISA's Known Exploited Vulnerabilities list
    AFFECTED = "affected"  # affected by a known CVE not on the KEV list
    NONE = "none"  # no known advisory for this version
    UNKNOWN = "unknown"  # no version heard, or one camscan cannot read or place


@dataclasses.dataclass(frozen=True, slots=True)
class CveHit:
    """One CVE an advisory row says this device's firmware is affected by, and why."""

    cve: str
    advisory: str  # the advisory row id (signatures/advisories/*.toml)
    title: str
    severity: str  # critical, high, medium, low (from the advisory data)
    cvss: float | None
    fixed: str  # "2.800.0000000.29.R.210630", or what the source says instead
    source: str  # where the affected range comes from
    kev: bool = False
    kev_added: str | None = None  # KEV dateAdded, YYYY-MM-DD
    kev_due: str | None = None  # KEV dueDate
    kev_action: str | None = None  # KEV requiredAction
    note: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Exposure:
    """The firmware verdict for one device: status, the one-line verdict, and its evidence."""

    status: ExposureStatus
    summary: str  # "known exploited (KEV): CVE-2021-36260, fixed in ..."
    version: str | None = None  # the firmware version as heard
    hits: tuple[CveHit, ...] = ()
    note: str = ""  # why unknown, or what was compared

    @property
    def kev(self) -> bool:
        return self.status is ExposureStatus.KEV


@dataclasses.dataclass(slots=True)
class Device:
    ip: str
    mac: str | None = None
    # How `mac` was learned: camscan.macaddr.MacSource ("wire", "reported", "derived");
    # None means seen on the wire (ARP, imported nmap results).
    mac_source: str | None = None
    interface: str | None = None
    in_scope: bool = True  # False: answered discovery but lies outside the targets
    oui_vendor: str | None = None  # registry name of the MAC's assignee, for display
    observations: list[Observation] = dataclasses.field(default_factory=list)
    verdict: Verdict = dataclasses.field(default_factory=Verdict)
    probe_errors: list[ProbeError] = dataclasses.field(default_factory=list)
    exposure: Exposure | None = None  # firmware advisories; None until matched
    # Its IPv6 addresses (link-local ones with their scope, "fe80::1%eth0"), besides `ip`: a
    # dual-stack device is one device, matched by its MAC read in one place (pipeline.join_devices)
    ipv6: list[str] = dataclasses.field(default_factory=list)
    # IPv6 addresses its own replies state (SADP, DHIP, DVRIP): reported, not seen on the wire,
    # so they never join devices; a wire address may be among them too
    ipv6_reported: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class ProbeError:
    """A probe that failed or was cut short; recorded, never fatal."""

    probe: str
    target: str | None
    error: str  # one line
    kind: ProbeKind = ProbeKind.OTHER  # why, in words a caller can act on (camscan.errors)

    @classmethod
    def caught(cls, probe: str, target: str | None, exc: BaseException) -> ProbeError:
        """An exception a stage caught, as a record: one line, typed by its kind."""
        return cls(probe, target, " ".join(f"{type(exc).__name__}: {exc}".split()), kind_of(exc))


@dataclasses.dataclass(slots=True)
class Segment:
    name: str
    cidrs: list[str]
    zone: str  # "core", "sensitive", or any other label ("general", ...)
    # Interfaces (or VLAN interfaces, "eth0.20") on this segment: a device heard on one of them
    # whose address lies in no segment's CIDRs (a factory address) is judged in this segment.
    interfaces: list[str] = dataclasses.field(default_factory=list)
    deadline: str | None = None  # ISO date: flagged devices still here after it are overdue


@dataclasses.dataclass(slots=True)
class Coverage:
    """What one part of one target got: planned, probed, answered, and by which probes.

    A target is split by how camscan can reach it: `method` "arp" (directly attached to
    `interface`: ARP, multicast and banners), "l3" (routed, off-link probes) or "none" (no way
    to reach it: not covered). Anything not `covered` makes the run partial.
    """

    target: str  # the target network as scanned (CIDR)
    network: str  # this part of it (CIDR)
    method: str  # "arp", "l3", "nmap" (l3 with --engine nmap), "none" or "passive" (heard only)
    interface: str | None = None
    segments: list[str] = dataclasses.field(default_factory=list)  # configured segments in it
    planned: int = 0  # addresses camscan planned to probe here
    probed: int = 0  # addresses the discovery probes actually reached
    answered: int = 0  # devices that answered from here
    probes: list[str] = dataclasses.field(default_factory=list)  # probes that ran here
    failed: list[str] = dataclasses.field(default_factory=list)  # "arp: ARP sweep failed: ..."
    covered: bool = False
    note: str = ""  # why it is not covered, one line


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """policy's judgement of one device; a value: policy builds it whole, nothing changes it."""

    device_ip: str
    device_mac: str | None
    maker: str | None
    segment: str | None
    zone: str | None
    severity: Severity
    flagged: bool
    rationale: str
    exception: str | None = None  # reason text when an exception downgraded it
    segment_by: str | None = None  # "address" or "interface": how the segment was decided
    # Which rule it falls under: "listed-maker" (a listed maker, by zone) or
    # "surveillance-on-core" (any maker's surveillance equipment on a core network); None
    # when it is not a finding.
    finding_type: str | None = None
    deadline: str | None = None  # ISO date by which a flagged device must be gone
    overdue: bool = False  # flagged and still present after its deadline
    exposure: str | None = None  # the device's ExposureStatus value, when it raised priority


@dataclasses.dataclass(slots=True)
class ScanRun:
    targets: list[str]
    probes: list[str]
    started: float
    ended: float | None = None
    interfaces: list[str] = dataclasses.field(default_factory=list)
    # False: ran without CAP_NET_RAW, ARP fell back to the kernel table; None: not recorded (an
    # imported nmap run: its XML does not say)
    privileged: bool | None = True
    partial: bool = False  # True: something stopped it early or a probe stage failed
    errors: list[ProbeError] = dataclasses.field(default_factory=list)
    stats: dict[str, int] = dataclasses.field(default_factory=dict)  # e.g. dropped replies
    camscan_version: str = ""
    resolved: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # name -> its IPs
    excluded: list[str] = dataclasses.field(default_factory=list)  # --exclude, as given
    scanner_host: str = ""  # host name of the machine that ran the scan
    data_versions: dict[str, str] = dataclasses.field(default_factory=dict)  # oui, signatures
    coverage: list[Coverage] = dataclasses.field(default_factory=list)
    # Everything asked for and not covered, one line each (coverage gaps, failed stages, a stop
    # by signal); non-empty means partial.
    not_covered: list[str] = dataclasses.field(default_factory=list)
    stopped: str | None = None  # "SIGTERM during banners": the run was interrupted
    warnings: list[str] = dataclasses.field(default_factory=list)  # e.g. expired exceptions
    site: str | None = None  # the store's site, for a stored run (None: never stored)
    args: str | None = None  # an imported run's own command line (nmap's `args`), as recorded


@dataclasses.dataclass(slots=True)
class ScanResult:
    run: ScanRun
    devices: list[Device]
    findings: list[Finding] = dataclasses.field(default_factory=list)
    segments: list[Segment] = dataclasses.field(default_factory=list)
    # The [policy] settings the findings were made under (camscan.config.PolicyConfig fields),
    # so a saved result re-renders with the policy it was judged by.
    policy: dict[str, Any] = dataclasses.field(default_factory=dict)


def to_jsonable(obj: Any) -> Any:
    """Dataclasses and enums to plain JSON types."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, list | tuple):
        return [to_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj
