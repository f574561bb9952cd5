"""JSON lines for SIEMs in Elastic Common Schema (ECS 8.17) field names: one line per device.

Only fields ECS defines (checked in the tests against ECS's published field list) plus
camscan's own under `camscan.*` (custom fields go in a namespace of their own, as ECS asks).
The device is the `host` and, for what ECS's `device.*` set names (maker, model, serial, a
stable id), the `device`; camscan, which saw it, is the `observer`. A device line is an
inventory record, `event.kind: asset`; a flagged one is `event.kind: alert`, so a SIEM rule can
fire on the kind alone. A device of a listed maker carries the policy rule it falls under in
`rule.*`. The last line is the run, `event.kind: event`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TextIO

from camscan.contract import Contract
from camscan.model import SCHEMA_VERSION, ScanResult
from camscan.policy.rules import (
    CORE_RULE_SOURCE,
    FINDING_TYPES,
    LISTED_MAKER,
    POLICY_SOURCE,
    SURVEILLANCE_ON_CORE,
    maker_display,
)
from camscan.report.interface import RenderOptions

ECS_VERSION = "8.17.0"  # every field used here is in ECS 8.17's field list (tests/fixtures)
# event.severity is a number in ECS; higher is worse (the scale is the source's own).
SEVERITY_NUMBER = {"critical": 4, "high": 3, "medium": 2, "info": 1, "accepted": 0}
RISK_SCORE = {"critical": 90.0, "high": 70.0, "medium": 40.0, "info": 0.0, "accepted": 0.0}


def ecs_mac(mac: str | None) -> list[str]:
    """ECS writes MACs in IEEE RA notation: upper case, hyphen separated."""
    return [mac.upper().replace(":", "-")] if mac else []


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def policy_rule(device: dict[str, Any], maker: str | None) -> dict[str, Any]:
    """`rule.*` for a device with a finding (a listed maker, or surveillance equipment on the
    core network; any severity above info): the policy rule it falls under, the same id as the
    DefectDojo export's vuln_id_from_tool."""
    if (device["severity"] or "info") == "info":
        return {}
    kind = device["finding_type"] or LISTED_MAKER
    zone = device["zone"] or "unassigned"
    core = kind == SURVEILLANCE_ON_CORE
    what = FINDING_TYPES.get(kind, kind)
    return {
        "id": f"camscan.{kind}.{zone}",
        "name": f"{what[:1].upper()}{what[1:]}"
        + (f" ({maker})" if maker else "")
        + f", zone {zone}",
        "category": what,
        "ruleset": "camscan policy",
        "description": device["rationale"] or None,
        "reference": CORE_RULE_SOURCE if core else POLICY_SOURCE,
    }


def device_event(device: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    run = contract["run"]
    sev = device["severity"] or "info"
    maker = maker_display(device["maker"]) if device["maker"] else None
    where = device["segment"] or "no configured segment"
    message = (
        f"{device['ip']}: {device['summary'] or 'no maker identified'}; {where}; "
        f"severity {sev}{', flagged' if device['flagged'] else ''}"
        + (f" ({device['finding_type']})" if device["finding_type"] else "")
        + (f", OVERDUE since {device['deadline']}" if device["overdue"] else "")
    )
    labels = {
        k: v
        for k, v in {
            "segment": device["segment"],
            "zone": device["zone"],
            "severity": sev,
            "maker": device["maker"],
            "finding_type": device["finding_type"],
            "overdue": "true" if device["overdue"] else None,
        }.items()
        if v
    }
    return {
        "@timestamp": _iso(run["ended"] if run["ended"] is not None else run["started"]),
        "ecs": {"version": ECS_VERSION},
        "message": message,
        "tags": [
            "camscan",
            *(["flagged"] if device["flagged"] else []),
            *(["overdue"] if device["overdue"] else []),
            *(["kev"] if (device.get("exposure") or {}).get("status") == "kev" else []),
        ],
        "labels": labels,
        "event": {
            "kind": "alert" if device["flagged"] else "asset",
            "category": "host",
            "type": "info",
            "module": "camscan",
            "dataset": "camscan.device",
            "severity": SEVERITY_NUMBER[sev],
            "risk_score": RISK_SCORE[sev],
            "start": _iso(run["started"]),
            "end": _iso(run["ended"]),
            "id": f"{device.get('device_id') or device['ip']}@{_iso(run['started'])}",
        },
        "host": {
            "ip": [device["ip"]] if device["ip"] else [],
            "mac": ecs_mac(device["mac"]),
            "type": "camera" if device["vendor"] or device["surveillance"] == "yes" else "device",
            **({"id": device["device_id"]} if device.get("device_id") else {}),
        },
        "device": {
            "id": device.get("device_id") or None,
            "manufacturer": maker,
            "model": {"identifier": device["model"]} if device["model"] else None,
            "serial_number": device["serial"] or None,
        },
        "rule": policy_rule(device, maker),
        "network": {"name": device["segment"]} if device["segment"] else {},
        "observer": {
            "type": "scanner",
            "vendor": "camscan",
            "product": "camscan",
            "version": contract["tool"]["version"],
            "hostname": run.get("scanner_host") or None,
        },
        "related": {"ip": [device["ip"]] if device["ip"] else []},
        "vulnerability": vulnerability(device),
        "camscan": {
            "schema_version": SCHEMA_VERSION,
            "maker": device["maker"],
            "brand": device["brand"],
            "firmware": device["firmware"],
            "confidence": device["confidence"],
            "confidence_label": device["confidence_label"],
            "zone": device["zone"],
            "severity": sev,
            "flagged": device["flagged"],
            "rationale": device["rationale"],
            "exception": device["exception"],
            "equipment_class": device["equipment_class"],
            "surveillance": device["surveillance"],
            "recorder_channels": device["recorder_channels"],
            "finding_type": device["finding_type"],
            "deadline": device["deadline"],
            "overdue": device["overdue"],
            "in_scope": device["in_scope"],
            "partial_run": run["partial"],
            "exposure": (device.get("exposure") or {}).get("status"),
            "exposure_summary": (device.get("exposure") or {}).get("summary"),
            "kev": [c["cve"] for c in (device.get("exposure") or {}).get("cves", []) if c["kev"]],
            "signatures": [e["signature_id"] for e in device["evidence"]],
            "evidence": [
                {k: e[k] for k in ("signature_id", "channel", "raw", "strength", "probe")}
                for e in device["evidence"]
            ],
        },
    }


_CVE_SEVERITY = ("critical", "high", "medium", "low")


def vulnerability(device: dict[str, Any]) -> dict[str, Any]:
    """ECS vulnerability.* for the CVEs an advisory says the firmware is affected by (ECS
    allows arrays: one event per device, every CVE in vulnerability.id); {} when none."""
    cves = (device.get("exposure") or {}).get("cves") or []
    if not cves:
        return {}
    ids = list(dict.fromkeys(c["cve"] for c in cves))
    scores = [c["cvss"] for c in cves if c.get("cvss") is not None]
    worst = min((c["severity"] for c in cves), key=lambda s: _rank(s))
    return {
        "id": ids,
        "enumeration": "CVE",
        "classification": "CVSS",
        "category": ["camera firmware"],
        "description": device["exposure"]["summary"],
        "reference": list(dict.fromkeys(f"https://nvd.nist.gov/vuln/detail/{i}" for i in ids)),
        "severity": worst.capitalize(),
        "scanner": {"vendor": "camscan"},
        **({"score": {"base": max(scores)}} if scores else {}),
    }


def _rank(severity: str) -> int:
    return _CVE_SEVERITY.index(severity) if severity in _CVE_SEVERITY else len(_CVE_SEVERITY)


def run_event(contract: dict[str, Any]) -> dict[str, Any]:
    """The last line: the run itself, so an ingest can tell a partial sweep from a clean one."""
    run, s = contract["run"], contract["summary"]
    partial = run["partial"]
    return {
        "@timestamp": _iso(run["ended"] if run["ended"] is not None else run["started"]),
        "ecs": {"version": ECS_VERSION},
        "message": (
            f"camscan scan of {', '.join(run['targets']) or 'given input'}: {s['devices']} "
            f"devices, {s['flagged']} flagged"
            + (f"; {s['hidden_cameras']['note']}" if s["hidden_cameras"]["note"] else "")
            + ("; PARTIAL: devices may be missing" if partial else "")
        ),
        "tags": ["camscan", *(["partial"] if partial else [])],
        "event": {
            "kind": "event",
            "category": "host",
            "type": "info",
            "module": "camscan",
            "dataset": "camscan.run",
            "outcome": "failure" if partial else "success",
            "start": _iso(run["started"]),
            "end": _iso(run["ended"]),
        },
        "observer": {
            "type": "scanner",
            "vendor": "camscan",
            "product": "camscan",
            "version": contract["tool"]["version"],
            "hostname": run.get("scanner_host") or None,
        },
        "camscan": {
            "schema_version": SCHEMA_VERSION,
            "partial_run": partial,
            "targets": run["targets"],
            "probes": run["probes"],
            "privileged": run["privileged"],
            "errors": [f"{e['probe']}: {e['error']}" for e in run["errors"]],
            "summary": s,
        },
    }


def _pruned(event: dict[str, Any]) -> dict[str, Any]:
    """ECS fields with no value are left out rather than null; camscan.* keeps its nulls."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key != "camscan" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if v not in (None, [], {})}
        if value in (None, [], {}):
            continue
        out[key] = value
    return out


def write_ecs(result: ScanResult, out: TextIO) -> None:
    streamed = Contract(result)  # events are written as they are built
    for device in streamed.devices(observations=False):
        out.write(json.dumps(_pruned(device_event(device, streamed.head)), ensure_ascii=False))
        out.write("\n")
    out.write(json.dumps(_pruned(run_event(streamed.head)), ensure_ascii=False) + "\n")


def write(result: ScanResult, out: TextIO, options: RenderOptions) -> None:
    """The report-format interface (camscan/report/interface.py)."""
    write_ecs(result, out)
