"""Identify one device: match its observations and MAC against the signatures, then decide."""

from __future__ import annotations

from typing import Protocol

from camscan import channels
from camscan.identify import makers
from camscan.identify.signatures import MAX_EVIDENCE_RAW, SignatureDB
from camscan.identify.verdict import decide
from camscan.model import Device, Evidence, Observation, Strength, Verdict

# Facts a discovery parser read with certainty, carried into the verdict with its evidence.
FACT_FIELDS = (
    channels.FIELD_MODEL,
    channels.FIELD_SERIAL,
    channels.FIELD_FIRMWARE,
    channels.FIELD_BADGE,
)


class OuiSource(Protocol):
    """What identify needs of camscan.identify.oui.OuiDB."""

    def evidence(self, mac: str) -> Evidence | None: ...


def _facts(obs: Observation) -> dict[str, str]:
    return {
        k: " ".join(v.split())[:128]
        for k in FACT_FIELDS
        if isinstance(v := obs.fields.get(k), str) and v.strip()
    }


def _with_facts(ev: Evidence, facts: dict[str, str]) -> Evidence:
    """Parser facts override regex captures: the parser read the structure, the regex guessed."""
    ev.captured = {**ev.captured, **facts}
    if badge := makers.normalise_badge(facts.get(channels.FIELD_BADGE), ev.maker):
        ev.badge = badge
    return ev


def _fact_evidence(obs: Observation, facts: dict[str, str]) -> Evidence:
    """Facts from an observation no signature matched: they describe, they name no maker."""
    return Evidence(
        signature_id=f"facts.{obs.channel}",
        channel=obs.channel,
        raw=obs.raw[:MAX_EVIDENCE_RAW],
        maker=None,
        strength=Strength.WEAK,
        badge=makers.normalise_badge(facts.get(channels.FIELD_BADGE), None),
        captured=facts,
        description=f"fields read by the {obs.probe or 'unknown'} parser",
        probe=obs.probe,
    )


def device_evidence(device: Device, sigs: SignatureDB, ouis: OuiSource | None) -> list[Evidence]:
    """Every signature hit on the device's observations, plus its MAC block; no duplicates."""
    found: list[Evidence] = []
    seen: set[tuple[str, str, str, str]] = set()
    for obs in device.observations:
        facts = _facts(obs)
        hits = sigs.match(obs)
        if facts:
            hits = [_with_facts(ev, facts) for ev in hits] or [_fact_evidence(obs, facts)]
        for ev in hits:
            key = (ev.signature_id, ev.channel, ev.probe, ev.raw)
            if key not in seen:
                seen.add(key)
                found.append(ev)
    mac = device.mac or next((o.mac for o in device.observations if o.mac), None)
    if mac and ouis is not None and (oui := ouis.evidence(mac)) is not None:
        found.append(oui)
    return found


def identify_device(device: Device, sigs: SignatureDB, ouis: OuiSource | None) -> Verdict:
    return decide(device_evidence(device, sigs, ouis))
