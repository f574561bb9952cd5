"""Identify one device: match its observations and MAC against the signatures, then decide."""

from __future__ import annotations

from typing import Protocol

from camscan import channels
from camscan.identify import makers
from camscan.identify.derive import CHANNEL, Derived, Kind, derive
from camscan.identify.equipment import decide_class
from camscan.identify.signatures import MAX_EVIDENCE_RAW, SignatureDB
from camscan.identify.verdict import decide
from camscan.macaddr import MacSource, normalise_mac
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


_FACT_KEYS = frozenset(FACT_FIELDS)


def _facts(obs: Observation) -> dict[str, str]:
    if _FACT_KEYS.isdisjoint(obs.fields):  # most observations (headers, statuses) carry none
        return {}
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


# A MAC a device reports, or one decoded from another value, can be spoofed: it counts one
# strength lower than a MAC seen on the wire. So does a fact only mentioned in free text.
_REPORTED_STRENGTH = {
    Strength.STRONG: Strength.MEDIUM,
    Strength.MEDIUM: Strength.WEAK,
    Strength.WEAK: Strength.WEAK,
}


def wire_mac(device: Device) -> str | None:
    """The device's MAC when it was seen on the wire (ARP), else None."""
    if device.mac and device.mac_source in (None, MacSource.WIRE):
        return normalise_mac(device.mac)
    return None


def _derived_from(ev: Evidence, obs: Observation, fact: Derived, note: str = "") -> Evidence:
    """Evidence from a derived fact keeps the observation it was read from (channel, probe,
    raw), so it counts as that observation's source, and says how it was read."""
    return Evidence(
        signature_id=ev.signature_id,
        channel=obs.channel,
        raw=obs.raw[:MAX_EVIDENCE_RAW],
        maker=ev.maker,
        strength=ev.strength,
        badge=ev.badge,
        captured=ev.captured,
        description=f"{fact.kind} {fact.value} read from {fact.how} -> {ev.description}{note}",
        probe=obs.probe,
        equipment=ev.equipment,
        equipment_strength=ev.equipment_strength,
    )


def derived_evidence(device: Device, sigs: SignatureDB, ouis: OuiSource | None) -> list[Evidence]:
    """Evidence from facts read out of the device's observations (camscan.identify.derive):
    MACs through the OUI blocks, models, badges and serials through the derived.* signatures.
    A MAC equal to the wire MAC adds nothing; each other MAC counts once, however many values
    carry it."""
    found: list[Evidence] = []
    macs: set[str] = {m for m in [wire_mac(device)] if m}
    hits: set[tuple[str, str]] = set()
    for obs in device.observations:
        for fact in derive(obs):
            if fact.kind is Kind.MAC:
                if fact.value in macs or ouis is None:
                    continue
                macs.add(fact.value)
                oui = ouis.evidence(fact.value)
                if oui is not None:
                    oui.strength = _REPORTED_STRENGTH[oui.strength]
                    note = f" (counted {oui.strength}: a MAC not seen on the wire can be spoofed)"
                    found.append(_derived_from(oui, obs, fact, note))
                continue
            synthetic = Observation(CHANNEL[fact.kind], fact.value, obs.probe, obs.ip)
            for ev in sigs.match(synthetic):
                if (ev.signature_id, obs.probe) in hits:
                    continue
                hits.add((ev.signature_id, obs.probe))
                note = ""
                if fact.mention:
                    ev.strength = _REPORTED_STRENGTH[ev.strength]
                    note = f" (counted {ev.strength}: named in free text, not a device field)"
                found.append(_derived_from(ev, obs, fact, note))
    return found


def device_evidence(device: Device, sigs: SignatureDB, ouis: OuiSource | None) -> list[Evidence]:
    """Every signature hit on the device's observations, its wire MAC's block, and what the
    derived facts say; no duplicates."""
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
    for ev in sigs.match_rules(device.observations):
        found.append(ev)
    mac = wire_mac(device)
    if mac and ouis is not None and (oui := ouis.evidence(mac)) is not None:
        found.append(oui)
    found.extend(derived_evidence(device, sigs, ouis))
    return found


def identify_device(
    device: Device,
    sigs: SignatureDB,
    ouis: OuiSource | None,
    listed: frozenset[str] | None = None,
) -> Verdict:
    """The maker verdict (`listed`: the configured listed makers, preferred on a tie; None: the
    default ones), and beside it the equipment class from the same evidence."""
    evidence = device_evidence(device, sigs, ouis)
    verdict = decide(evidence, listed)
    verdict.equipment = decide_class(evidence, device.observations)
    return verdict
