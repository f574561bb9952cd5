"""The one-line verdict of a run, the same in every format, and never a false "clean".

A run is "clean" only when it covered everything asked for, at least one configured zone was
assessed, and nothing is flagged. Otherwise the line says what it is: action needed, partial
(with what was not covered), or nothing assessed against the policy at all.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from camscan.model import ScanResult

ACTION, PARTIAL, NOT_ASSESSED, CLEAN = "action", "partial", "not_assessed", "clean"
NO_ZONES = "no zones configured: findings are for review, nothing was assessed against the policy"
NO_ZONE_ASSESSED = (
    "no zone assessed: no target lies in a configured segment, so nothing was assessed "
    "against the policy"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # action, partial, not_assessed, clean
    text: str
    partial: bool
    zones_assessed: list[str]  # "segment (zone)" of each segment the scan reached

    def record(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "text": self.text,
            "partial": self.partial,
            "zones_assessed": list(self.zones_assessed),
        }


def _assessed_segments(result: ScanResult) -> list[str]:
    """Segments the scan reached: a covered target part in them, or a device placed in them."""
    run = result.run
    reached: set[str] = {f.segment for f in result.findings if f.segment}
    if run.coverage:
        reached |= {s for c in run.coverage if c.covered for s in c.segments}
    else:  # a result saved before coverage existed: its targets are all it can say
        nets = [ipaddress.ip_network(t, strict=False) for t in run.targets if _is_net(t)]
        reached |= {
            s.name
            for s in result.segments
            if any(
                c.version == n.version and c.overlaps(n)
                for c in map(ipaddress.ip_network, s.cidrs)
                for n in nets
            )
        }
    return [f"{s.name} ({s.zone})" for s in result.segments if s.name in reached]


def _is_net(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _by_type(result: ScanResult) -> str:
    """ "1 listed maker, 2 surveillance equipment on the core network; 1 overdue": both finding
    types counted, even at zero, so a reader sees which rules ran into what."""
    from camscan.policy.rules import LISTED_MAKER, SURVEILLANCE_ON_CORE

    flagged = [f for f in result.findings if f.flagged]
    listed = sum(1 for f in flagged if f.finding_type in (LISTED_MAKER, None))
    core = sum(1 for f in flagged if f.finding_type == SURVEILLANCE_ON_CORE)
    text = f"{listed} listed maker, {core} surveillance equipment on the core network"
    overdue = sum(1 for f in flagged if f.overdue)
    return text + (f"; {overdue} OVERDUE" if overdue else "")


def outcome(result: ScanResult) -> Outcome:
    run = result.run
    flagged = sum(1 for f in result.findings if f.flagged)
    gaps = list(run.not_covered)
    partial = run.partial or bool(gaps)
    zones = _assessed_segments(result)
    gap_text = (
        f"PARTIAL: {'; '.join(gaps[:3])}{' ...' if len(gaps) > 3 else ''}"
        if gaps
        else "PARTIAL: the scan did not complete"
    )
    if flagged:
        text = f"{_plural(flagged, 'device')} must be acted on under the policy"
        text += f" ({_by_type(result)})"
        if partial:
            text += f"; {gap_text}: more may be missing"
        return Outcome(ACTION, text, partial, zones)
    if partial:
        return Outcome(PARTIAL, f"{gap_text}: this is not a clean result", partial, zones)
    if not result.segments:
        return Outcome(NOT_ASSESSED, NO_ZONES, partial, zones)
    if not zones:
        return Outcome(NOT_ASSESSED, NO_ZONE_ASSESSED, partial, zones)
    return Outcome(
        CLEAN,
        f"No device needs action under the policy in the zones assessed: {', '.join(zones)}",
        partial,
        zones,
    )
