"""Findings grouped for the HTML report: one card per segment, maker and remedy, its devices in
one table and the steps once. 600 devices made 411 near-identical cards (issue 22); the same
steps for 171 cameras of one maker on one core segment are one card now."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from camscan.report.remediation import Remedy, remedy_for

SEVERITY_ORDER = ("critical", "high", "medium")


@dataclasses.dataclass(slots=True)
class FindingGroup:
    severity: str
    remedy: Remedy  # the first device's (each device of the group has the same steps)
    segment: str | None
    zone: str | None
    maker: str | None
    devices: list[dict[str, Any]]
    rationale: str  # the devices' shared rationale, or the first one's when they differ
    same_rationale: bool
    cves: list[dict[str, Any]]  # each CVE once, from every device's firmware verdict
    signatures: list[str]  # every signature that matched a device of the group

    @property
    def overdue(self) -> int:
        return sum(1 for d in self.devices if d.get("overdue"))


def group_findings(
    devices: list[dict[str, Any]], min_confidence: float, expires: date, listed: frozenset[str]
) -> list[FindingGroup]:
    """`devices` worst first (the report's order); groups keep that order of first appearance."""
    groups: dict[tuple[Any, ...], FindingGroup] = {}
    for d in devices:
        remedy = remedy_for(d, min_confidence, expires, listed)
        if remedy is None:
            continue
        key = (d["severity"], d["segment"], d["maker"], remedy.headline, tuple(remedy.steps))
        group = groups.get(key)
        if group is None:
            group = groups[key] = FindingGroup(
                d["severity"], remedy, d["segment"], d["zone"], d["maker"], [],
                d["rationale"] or "", True, [], [],
            )  # fmt: skip
        group.devices.append(d)
        if (d["rationale"] or "") != group.rationale:
            group.same_rationale = False
        exposure = d.get("exposure") or {}
        for c in exposure.get("cves") or []:
            if all(c["cve"] != seen["cve"] for seen in group.cves):
                group.cves.append(c)
        for e in d["evidence"]:
            if e["signature_id"] not in group.signatures:
                group.signatures.append(e["signature_id"])
    return list(groups.values())
