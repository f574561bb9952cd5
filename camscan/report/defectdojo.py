"""DefectDojo's "Generic Findings Import" JSON: one finding per device of a listed maker, and
per device of any maker that is surveillance equipment on the core network (its finding type
names which rule; a removal deadline is `planned_remediation_date`, an overdue one is tagged);
and one finding per CVE per device whose firmware an advisory names (issue 24).

Only the keys DefectDojo's generic JSON parser accepts are written (the tests check them against
its published list). Devices of other makers, or none, are not findings. A device covered by an
exception is imported as risk-accepted, with the severity its zone carries, so the exception's
expiry is DefectDojo's to track too.

Re-imports must find the same finding again. DefectDojo deduplicates Generic Findings Import by
hash code (DEDUPLICATION_ALGORITHM_PER_PARSER in its settings.dist.py), and with no
HASHCODE_FIELDS_PER_SCANNER entry for the parser that hash is its legacy one: sha256 of title,
cwe, line, file_path and description, casefolded. So the title names the device by its stable
identity (MAC, else serial; the address only when neither is known) and the description holds
only what stays the same for that device; where it was seen, the evidence and the confidence of
this run go to `impact`, `steps_to_reproduce` and `severity_justification`, outside the hash.
`unique_id_from_tool` is the same identity, for admins who switch the parser to
unique_id_from_tool (docs/defectdojo.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from camscan.contract import Contract
from camscan.identity import device_key
from camscan.model import ScanResult, Severity
from camscan.policy.rules import (
    CORE_RULE_SOURCE,
    POLICY_SOURCE,
    SURVEILLANCE_ON_CORE,
    PolicySettings,
    maker_display,
)
from camscan.report.interface import RenderOptions
from camscan.report.remediation import remedy_for

DOJO_SEVERITY = {
    Severity.CRITICAL.value: "Critical",
    Severity.HIGH.value: "High",
    Severity.MEDIUM.value: "Medium",
    Severity.INFO.value: "Info",
}


def _md_code(text: str) -> str:
    """Device text inside a Markdown code span that it cannot close."""
    longest = 0
    run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}"


def _evidence(device: dict[str, Any]) -> str:
    """What this run saw: it varies from run to run, so it stays out of the hashed fields."""
    lines = [
        f"**{device['summary'] or 'Identified by camscan'}**",
        "",
        device["rationale"] or "",
        "",
        f"- IP: {_md_code(device['ip'])}",
        f"- MAC: {_md_code(device['mac'] or '-')}",
        f"- Segment: {device['segment'] or 'none'} (zone {device['zone'] or 'none'})",
        f"- Confidence: {device['confidence']:.2f} ({device['confidence_label']})",
        f"- Equipment: {device['equipment']['summary'] or device['equipment_class']} "
        f"(visual surveillance equipment: {device['surveillance']})",
        f"- Finding type: {device['finding_type'] or 'none'}",
        f"- Removal deadline: {device['deadline'] or 'none'}"
        + (" (OVERDUE)" if device["overdue"] else ""),
        "",
        "Evidence:",
    ]
    for e in device["evidence"]:
        lines.append(
            f"- {_md_code(e['signature_id'])} ({e['strength']}, {e['channel']}, probe "
            f"{e['probe'] or '-'}): {_md_code(e['raw'][:300])}"
        )
    return "\n".join(lines)


def identity(device: dict[str, Any]) -> tuple[str, str]:
    """(key, words): the device's stable identity, as camscan's store keys it (MAC, else
    serial, else address and maker), and how a title says it."""
    key = device_key(device["ip"], device["mac"], device["serial"], device["maker"])
    kind, _, value = key.partition(":")
    if kind == "mac":
        return key, f"MAC {value}"
    if kind == "serial":
        return key, f"serial {value}"
    return key, f"at {device['ip']} (no MAC or serial known)"


def _description(maker: str, words: str, kind: str, source: str) -> str:
    """Only what stays the same for one device from run to run (DefectDojo hashes it)."""
    why = (
        "Surveillance equipment on the core network"
        if kind == SURVEILLANCE_ON_CORE
        else f"{maker} is a listed maker under the policy"
    )
    made = "A device of unknown make" if maker == maker_display(None) else f"A {maker}-made device"
    return (
        f"{made}, {words}. {why} ({source}).\n\n"
        "camscan names the device by its MAC or serial, which stay the same when it moves or "
        "its evidence varies. Where it was seen and the evidence of each scan are under Impact "
        "and Steps to reproduce; the remediation under Mitigation."
    )


def finding(
    device: dict[str, Any], contract: dict[str, Any], policy: PolicySettings
) -> dict[str, Any]:
    run = contract["run"]
    scan_day = datetime.fromtimestamp(run["started"], UTC).date()
    accepted = device["severity"] == Severity.ACCEPTED.value
    severity = (
        policy.severity_for(device["zone"]).value if accepted else device["severity"] or "info"
    )
    maker = maker_display(device["maker"])
    badge = f" (sold as {device['brand']})" if device["brand"] else ""
    remedy = remedy_for(
        {**device, "severity": severity},
        policy.min_confidence,
        scan_day + timedelta(days=90),
        policy.listed_makers,
    )
    steps = ""
    if remedy:
        steps = "\n".join(f"{n}. {s}" for n, s in enumerate(remedy.steps, 1))
        steps += f"\n\n```toml\n{remedy.exception_toml}\n```"
    key, words = identity(device)
    place = device["segment"] or "an unassigned network"
    kind = device["finding_type"] or "listed-maker"
    title = f"{maker} device, {words}"
    if kind == SURVEILLANCE_ON_CORE:
        title = f"Surveillance equipment on the core network ({maker}), {words}"
    source = CORE_RULE_SOURCE if kind == SURVEILLANCE_ON_CORE else POLICY_SOURCE
    extra: dict[str, Any] = {}
    if device["deadline"]:
        extra["planned_remediation_date"] = device["deadline"]
    return {
        "title": title,
        "severity": DOJO_SEVERITY.get(severity, "Info"),
        "description": _description(maker, words, kind, source),
        "date": scan_day.isoformat(),
        "mitigation": steps,
        "impact": f"{maker}{badge} at {device['ip']} on {place} (zone {device['zone'] or 'none'})"
        f": {source}",
        "steps_to_reproduce": _evidence(device),
        "severity_justification": device["rationale"] or "",
        "references": source,
        "active": not accepted,
        "verified": False,
        "false_p": False,
        "risk_accepted": accepted,
        "dynamic_finding": True,
        "static_finding": False,
        "component_name": " ".join(x for x in (maker, device["model"]) if x),
        "component_version": device["firmware"] or "",
        "unique_id_from_tool": f"camscan:{key}",
        "vuln_id_from_tool": f"camscan.{kind}.{device['zone'] or 'unassigned'}",
        "endpoints": [device["ip"]],
        "tags": [
            "camscan",
            kind,
            *([device["maker"]] if device["maker"] else []),
            *([device["zone"]] if device["zone"] else []),
            *(["overdue"] if device["overdue"] else []),
        ],
        **extra,
    }


CVE_SEVERITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}


def cve_findings(device: dict[str, Any], contract: dict[str, Any]) -> list[dict[str, Any]]:
    """One finding per CVE the device's firmware is affected by (any maker: a camera on
    KEV-listed firmware matters whoever made it). Title and description name only the device's
    stable identity, the CVE and the advisory (DefectDojo hashes them); the version, address and
    KEV dates of this run go to impact and steps_to_reproduce."""
    exp = device.get("exposure") or {}
    scan_day = datetime.fromtimestamp(contract["run"]["started"], UTC).date()
    maker = maker_display(device["maker"])
    badge = f" (sold as {device['brand']})" if device["brand"] else ""
    key, words = identity(device)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for hit in exp.get("cves", []):
        if hit["cve"] in seen:
            continue
        seen.add(hit["cve"])
        kev = (
            f"On CISA's KEV list since {hit['kev_added']}; required action: "
            f"{hit['kev_action']} (federal due date {hit['kev_due']})."
            if hit["kev"]
            else "Not on CISA's KEV list."
        )
        steps = [
            f"**{exp['summary']}**",
            "",
            f"- Device: {_md_code(device['ip'])} {maker}{badge} {device['model'] or ''}",
            f"- Firmware: {_md_code(exp.get('version') or '-')} (as the device reported it; "
            "no probe was sent to test the vulnerability)",
            f"- Advisory row: {_md_code(hit['advisory'])}; source: {hit['source']}",
            f"- {kev}",
            *([f"- Note: {hit['note']}"] if hit.get("note") else []),
        ]
        finding: dict[str, Any] = {
            "title": f"{hit['cve']} in the firmware of a {maker}-made device, {words}",
            "severity": CVE_SEVERITY.get(hit["severity"], "Info"),
            "description": (
                f"{hit['cve']} ({hit['title']}): camscan's advisory row {hit['advisory']} covers "
                f"this {maker}-made device's model and firmware version ({hit['source']})."
            ),
            "date": scan_day.isoformat(),
            "mitigation": (
                f"{hit['kev_action'] + ' ' if hit['kev'] else ''}Update the firmware: fixed in "
                f"{hit['fixed']}. Where no update is possible, isolate or remove the device."
            ),
            "impact": f"{maker}{badge} at {device['ip']} (zone {device['zone'] or 'none'}): "
            f"{hit['title']}. {kev}",
            "steps_to_reproduce": "\n".join(steps),
            "references": f"https://nvd.nist.gov/vuln/detail/{hit['cve']}\n{hit['source']}",
            "active": True,
            "verified": False,
            "false_p": False,
            "risk_accepted": False,
            "dynamic_finding": True,
            "static_finding": False,
            "component_name": " ".join(x for x in (maker, device["model"]) if x),
            "component_version": exp.get("version") or "",
            "unique_id_from_tool": f"camscan:{key}:{hit['cve']}",
            "vuln_id_from_tool": hit["cve"],
            "cve": hit["cve"],
            "vulnerability_ids": [hit["cve"]],
            "known_exploited": bool(hit["kev"]),
            "endpoints": [device["ip"]],
            "tags": ["camscan", "firmware", *(["kev"] if hit["kev"] else [])],
        }
        if hit.get("cvss") is not None:
            finding["cvssv3_score"] = hit["cvss"]
        if hit["kev"] and hit.get("kev_added"):
            finding["kev_date"] = hit["kev_added"]
        out.append(finding)
    return out


def dojo_document(result: ScanResult, policy: PolicySettings | None = None) -> dict[str, Any]:
    policy = policy or PolicySettings()
    streamed = Contract(result)
    contract = streamed.head
    run = contract["run"]
    listed, firmware = [], []
    for d in streamed.devices(observations=False):  # one pass; only findings are kept
        if d["maker"] in policy.listed_makers or d["finding_type"] == SURVEILLANCE_ON_CORE:
            listed.append(finding(d, contract, policy))
        firmware.extend(cve_findings(d, contract))
    partial = " PARTIAL RUN: devices may be missing." if run["partial"] else ""
    return {
        "name": (
            f"camscan {', '.join(run['targets']) or 'import'} {run['started_at'] or ''}".strip()
        ),
        "version": contract["tool"]["version"],
        "description": (
            f"camscan scan from {run.get('scanner_host') or 'an unrecorded host'}: "
            f"{contract['summary']['devices']} devices, {len(listed)} findings, "
            f"{contract['summary']['flagged']} flagged.{partial}"
        ),
        "dynamic_tool": True,
        "static_tool": False,
        "findings": listed + firmware,
    }


def write(result: ScanResult, out: TextIO, options: RenderOptions) -> None:
    """The report-format interface (camscan/report/interface.py)."""
    # json.dumps(doc, indent=2) written as it is encoded, 64 KiB at a time, not held whole
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False)
    pending: list[str] = []
    size = 0
    for chunk in encoder.iterencode(dojo_document(result, options.policy), _one_shot=True):
        pending.append(chunk)
        size += len(chunk)
        if size >= 1 << 16:
            out.write("".join(pending))
            pending, size = [], 0
    out.write("".join(pending) + "\n")
