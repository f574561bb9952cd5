"""Weigh evidence into a verdict: who made the device, how sure, sold under which badge.

Rules (signatures.md section 7): one strong hit decides; two independent medium hits decide;
one medium hit names a maker with low confidence; weak hits only corroborate. A signature counts
once per device however many replies it matched (the same title served on four HTTP paths is one
hint, not four), and two signatures matching the same reply (channel and probe) count once too.
Makers other than the winner with strong or medium evidence are listed as conflicts and lower the
confidence.
"""

from __future__ import annotations

import dataclasses

from camscan import channels
from camscan.identify import makers
from camscan.model import HIGH_CONFIDENCE, MEDIUM_CONFIDENCE, Evidence, Strength, Verdict

_RANK = {Strength.STRONG: 0, Strength.MEDIUM: 1, Strength.WEAK: 2}
_CAPTURED = ("model", "firmware", "serial")


@dataclasses.dataclass(slots=True)
class _Tally:
    """Independent hits per strength for one maker: the signature ids that counted."""

    strong: set[str] = dataclasses.field(default_factory=set)
    medium: set[str] = dataclasses.field(default_factory=set)
    weak: set[str] = dataclasses.field(default_factory=set)
    signatures: set[str] = dataclasses.field(default_factory=set)
    sources: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    def add(self, ev: Evidence) -> None:
        """Count `ev` unless its signature or its reply (channel, probe) has counted already.

        Evidence arrives strongest first, so a repeated hit never displaces a stronger one."""
        source = (ev.channel, ev.probe)
        if ev.signature_id in self.signatures or source in self.sources:
            return
        self.signatures.add(ev.signature_id)
        self.sources.add(source)
        {Strength.STRONG: self.strong, Strength.MEDIUM: self.medium, Strength.WEAK: self.weak}[
            ev.strength
        ].add(ev.signature_id)

    def key(self) -> tuple[int, int, int]:
        return len(self.strong), len(self.medium), len(self.weak)

    def decides(self) -> bool:
        return bool(self.strong or self.medium)

    def counts_text(self) -> str:
        parts = [
            f"{n} {name}"
            for n, name in zip(self.key(), ("strong", "medium", "weak"), strict=True)
            if n
        ]
        return ", ".join(parts)


def label_for(confidence: float) -> str:
    if confidence >= HIGH_CONFIDENCE:
        return "high"
    if confidence >= MEDIUM_CONFIDENCE:
        return "medium"
    return "low" if confidence > 0 else "none"


def _confidence(tally: _Tally, rivals: list[_Tally]) -> float:
    strong, medium, weak = tally.key()
    if strong:
        base = min(0.9 + 0.03 * (strong - 1) + 0.02 * min(medium, 2), 0.98)
    elif medium >= 2:
        base = min(0.8 + 0.02 * (medium - 2), 0.84)
    else:
        base = 0.55
    base += min(0.01 * weak, 0.02)  # corroboration: a little, never a label change on its own
    for rival in rivals:
        if rival.strong:
            base -= 0.35 if strong else 0.45
        elif rival.medium:
            base -= 0.1 if strong else 0.2
    return round(max(base, 0.05), 2)


def _by_strength(evidence: list[Evidence]) -> list[Evidence]:
    return sorted(evidence, key=lambda ev: _RANK[ev.strength])


def decide(evidence: list[Evidence], listed: frozenset[str] | None = None) -> Verdict:
    """The verdict over `evidence`. On an exact tie the maker the policy lists wins (`listed`:
    the configured [policy] listed_makers; None: the vocabulary's default), so a tie never
    hides a maker the user asked about behind one they did not."""
    prefer = frozenset(makers.default_listed()) if listed is None else listed
    tallies: dict[str, _Tally] = {}
    for ev in _by_strength(evidence):
        if ev.maker is not None and ev.maker != "generic":
            tallies.setdefault(ev.maker, _Tally()).add(ev)
    deciding = sorted(
        (m for m, t in tallies.items() if t.decides()),
        key=lambda m: (tuple(-n for n in tallies[m].key()), m not in prefer, m),
    )
    verdict = Verdict(evidence=list(evidence))
    claims = _discovery_claims(evidence)
    if len(claims) > 1:  # two makers' own discovery protocols: a conflict, not a verdict
        deciding = []
        verdict.conflicts = sorted(claims)
    winner = deciding[0] if deciding else None
    # Facts come from evidence for the winner or naming no maker; the strongest source first.
    usable = _by_strength([ev for ev in evidence if ev.maker in (winner, None, "generic")])
    for name in _CAPTURED:
        value = next((ev.captured[name] for ev in usable if ev.captured.get(name)), None)
        setattr(verdict, name, value)
    if winner is None:
        verdict.summary = _undecided_summary(tallies, evidence, claims)
        return verdict
    rivals = [tallies[m] for m in deciding[1:]]
    verdict.maker = winner
    verdict.conflicts = deciding[1:]
    verdict.badge = next(
        (b for ev in usable if (b := makers.normalise_badge(ev.badge, winner))), None
    )
    verdict.confidence = _confidence(tallies[winner], rivals)
    verdict.confidence_label = label_for(verdict.confidence)
    verdict.summary = _summary(verdict, tallies[winner])
    return verdict


def _summary(verdict: Verdict, tally: _Tally) -> str:
    text = f"{makers.display_name(verdict.maker)}-made"
    if verdict.badge:
        text += f", sold as {verdict.badge}"
    if verdict.model:
        text += f", model {verdict.model}"
    text += f" ({verdict.confidence_label} confidence: {tally.counts_text()})"
    if verdict.conflicts:
        names = ", ".join(makers.display_name(m) for m in verdict.conflicts)
        text += f"; conflicting evidence names {names}"
    return text


def _discovery_claims(evidence: list[Evidence]) -> dict[str, list[str]]:
    """Maker -> the signatures by which the device answered that maker's own discovery."""
    claims: dict[str, list[str]] = {}
    for ev in evidence:
        if ev.channel not in channels.MAKER_DISCOVERY or ev.strength is Strength.WEAK:
            continue
        if ev.maker is not None and ev.maker != "generic":
            claims.setdefault(ev.maker, []).append(ev.signature_id)
    return claims


def _undecided_summary(
    tallies: dict[str, _Tally], evidence: list[Evidence], claims: dict[str, list[str]]
) -> str:
    if len(claims) > 1:
        said = "; ".join(
            f"{makers.display_name(m)} ({', '.join(sorted(set(ids)))})"
            for m, ids in sorted(claims.items())
        )
        return f"Maker unknown: conflicting claims, it answers several makers' discovery: {said}"
    if tallies:
        hinted = ", ".join(makers.display_name(m) for m in sorted(tallies))
        return f"Maker unknown (only weak hints: {hinted})"
    if evidence:
        return "Maker unknown (only generic embedded-stack hints)"
    return "Maker unknown (no identifying evidence)"
