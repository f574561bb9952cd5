"""What to do about one finding, as numbered steps, from the zone the policy put it in.

The steps follow the policy's zone actions (camscan.policy.rules.ZONE_ACTIONS: the UK
statement's "not connected to core networks", "consider removing and replacing at sensitive
sites", "review elsewhere"), and each ends with how to record a decision to keep the device as
an exception with an owner and an expiry, in the form camscan.toml reads.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from typing import Any

from camscan.model import Finding, Severity
from camscan.policy.rules import SPECIAL_ZONES, SURVEILLANCE_ON_CORE, maker_display
from camscan.policy.rules import finding_label as _label

ACTIONABLE = (Severity.CRITICAL.value, Severity.HIGH.value, Severity.MEDIUM.value)


@dataclasses.dataclass(slots=True)
class Remedy:
    headline: str
    steps: list[str]
    exception_toml: str  # a ready-to-fill [[exception]] entry for camscan.toml


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def exception_entry(device: dict[str, Any], expires: date) -> str:
    """An [[exception]] for this device, keyed by MAC (or serial when there is no MAC)."""
    if device["mac"]:
        key = f"mac = {_toml_str(device['mac'])}"
    elif device["serial"]:
        key = f"serial = {_toml_str(device['serial'])}"
    else:
        key = '# no MAC or serial was seen: an exception needs one of them\n# mac = ""'
    return "\n".join(
        [
            "[[exception]]",
            key,
            'reason = "why it stays, and the change or ticket that replaces it"',
            'accepted_by = "name and role of the risk owner"',
            f"expires = {expires.isoformat()}  # the last day it applies; keep it short",
        ]
    )


def remedy_for(
    device: dict[str, Any],
    min_confidence: float,
    expires: date,
    listed: frozenset[str] | None = None,
) -> Remedy | None:
    """Steps for a device the policy wants acted on or reviewed; None for the rest.
    `listed`: the policy's listed makers (a camera of another maker is here only for its
    firmware)."""
    sev = device["severity"]
    if sev in ACTIONABLE and device.get("finding_type") == SURVEILLANCE_ON_CORE:
        return _core_remedy(device, expires)
    if sev not in ACTIONABLE or not device["maker"]:
        return None
    exposure = device.get("exposure") or {}
    if listed is not None and device["maker"] not in listed and exposure.get("status") == "kev":
        kev = [c for c in exposure["cves"] if c["kev"]]
        return Remedy(
            "Update or isolate: firmware attackers are known to exploit",
            [
                *(
                    f"{c['cve']}: {c['kev_action']} (KEV due date {c['kev_due']}); fixed in "
                    f"{c['fixed']}."
                    for c in kev
                ),
                "Until it is updated, keep it off networks it does not need to reach.",
            ],
            exception_entry(device, expires),
        )
    maker = maker_display(device["maker"])
    where = device["segment"] or "no configured segment"
    record = (
        "If it has to stay for now, record an exception in camscan.toml with an owner and an "
        "expiry date (entry below): later scans then show it as accepted until that date, and "
        "flag it again after."
    )
    if device["confidence"] < min_confidence:
        return Remedy(
            "Confirm the maker",
            [
                f"camscan's identification ({device['confidence']:.2f}) is below the "
                f"{min_confidence:.2f} needed to flag: check the label or the device's web page "
                f"to confirm it is {maker}-made.",
                "If it is, treat it as the zone requires; if not, add its real maker to the "
                "signatures (see signatures/README.md) so the next scan gets it right.",
            ],
            exception_entry(device, expires),
        )
    zone = device["zone"] if device["zone"] in SPECIAL_ZONES else None
    if zone == "core" and sev == Severity.CRITICAL.value:
        steps = [
            f"Disconnect it from the core network ({where}): shut its switch port, or move it "
            "to a separate camera network with no route to the core.",
            f"Replace it with equipment from a maker the policy does not list, then remove the "
            f"{maker} device.",
            record,
        ]
        return Remedy("Disconnect from the core network", steps, exception_entry(device, expires))
    if zone == "sensitive" and sev == Severity.HIGH.value:
        steps = [
            f"Replace or remove it: {where} is a sensitive site, where the policy says "
            f"{maker} equipment should not stay.",
            "Until then, make sure it cannot reach the core network.",
            record,
        ]
        return Remedy(
            "Replace or remove at a sensitive site", steps, exception_entry(device, expires)
        )
    steps = [
        f"Review it: confirm what it is for and who owns it; {maker} equipment outside core "
        "and sensitive segments is listed for review, not flagged.",
        "Keep it off core and sensitive segments; plan its replacement with the owner.",
        "If it stays, record the decision as an exception with an owner and an expiry date "
        "(entry below).",
    ]
    return Remedy("Review", steps, exception_entry(device, expires))


def _core_remedy(device: dict[str, Any], expires: date) -> Remedy:
    """Instruction 2: no visual surveillance equipment on the core network, whatever its maker."""
    where = device["segment"] or "the core network"
    made = maker_display(device["maker"]) if device["maker"] else "unknown-maker"
    steps = [
        f"Disconnect this {made} surveillance equipment from the core network ({where}): move "
        "it to a separate camera network with no route to the core, or shut its switch port.",
        "The statement's instruction 2 covers visual surveillance equipment of any maker; if "
        "your reading covers only the listed makers, set core_any_maker = false in [policy].",
        "If it has to stay for now, record an exception in camscan.toml with an owner and an "
        "expiry date (entry below).",
    ]
    return Remedy("Disconnect from the core network", steps, exception_entry(device, expires))


def finding_label(device: dict[str, Any]) -> str | None:
    """The finding type in plain words, from a contract device record (None: no finding)."""
    if not device["severity"]:
        return None
    return _label(
        Finding(
            device["ip"],
            device["mac"],
            device["maker"],
            device["segment"],
            device["zone"],
            Severity(device["severity"]),
            device["flagged"],
            "",
            finding_type=device.get("finding_type"),
        )
    )
