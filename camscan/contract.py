"""The versioned JSON contract (docs/json-contract.md): ScanResult to plain data.

Keys are emitted in a fixed order and devices sorted by IP so two runs diff cleanly. A module of
its own, after policy and before report and store: the `json` format (report/json_contract.py)
and the stores (store/results.py, store/sql.py) both write it, so neither imports the other.
Reading it back is camscan.store.results.
"""

from __future__ import annotations

import io
import ipaddress
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import camscan
from camscan.identify import makers
from camscan.identify.equipment import hidden_note
from camscan.identity import device_key
from camscan.model import (
    SCHEMA_VERSION,
    Device,
    Exposure,
    Finding,
    ScanResult,
    ScanRun,
    Severity,
    to_jsonable,
)

TOOL_NAME = "camscan"
VENDORS = makers.default_listed()  # the makers the `vendor` key may name: Hikvision, Dahua
UNASSIGNED = "unassigned"  # summary key for devices outside every segment
UNKNOWN = "unknown"  # summary key for devices with no maker


def ip_sort_key(ip: str) -> tuple[int, int, str]:
    """Numeric order; anything that is not an address sorts last, by text."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (2, 0, ip)
    return (addr.version - 4, int(addr), ip)


def sorted_devices(devices: list[Device]) -> list[Device]:
    return sorted(devices, key=lambda d: (ip_sort_key(d.ip), d.mac or ""))


class FindingIndex:
    """The findings of one result by device IP, so finding each device's costs O(1) rather
    than a pass over every finding (65,000 devices: 4 * 10^9 comparisons)."""

    def __init__(self, findings: list[Finding]) -> None:
        self._by_ip: dict[str, list[Finding]] = {}
        for f in findings:
            self._by_ip.setdefault(f.device_ip, []).append(f)

    def finding_for(self, device: Device) -> Finding | None:
        """The first finding about this device: same IP, and same MAC when both have one."""
        for f in self._by_ip.get(device.ip, ()):
            if f.device_mac is None or device.mac is None or f.device_mac == device.mac:
                return f
        return None


def finding_for(device: Device, findings: list[Finding]) -> Finding | None:
    """The finding about this device: same IP, and same MAC when both have one. For many
    devices of one result, build a FindingIndex once instead."""
    return FindingIndex(findings).finding_for(device)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def run_record(run: ScanRun) -> dict[str, Any]:
    record: dict[str, Any] = to_jsonable(run)
    record["started_at"] = _iso(run.started)  # for people; readers use `started`
    record["ended_at"] = _iso(run.ended)
    return record


def device_record(
    device: Device, finding: Finding | None, observations: bool = True
) -> dict[str, Any]:
    """`observations=False`: the record without its "observations" key."""
    v = device.verdict
    record = {
        "ip": device.ip,
        "ipv6": list(device.ipv6),
        "ipv6_reported": list(device.ipv6_reported),
        "mac": device.mac,
        "device_id": device_key(device.ip, device.mac, v.serial, v.maker),
        "mac_source": device.mac_source,
        "vendor": v.maker if v.maker in VENDORS else None,
        "maker": v.maker,
        "brand": v.badge,
        "model": v.model,
        "firmware": v.firmware,
        "serial": v.serial,
        "confidence": v.confidence,
        "confidence_label": v.confidence_label,
        "summary": v.summary,
        "conflicts": list(v.conflicts),
        "equipment_class": v.equipment.kind,
        "surveillance": v.equipment.surveillance,
        "equipment": {
            "class": v.equipment.kind,
            "surveillance": v.equipment.surveillance,
            "confidence": v.equipment.confidence,
            "confidence_label": v.equipment.confidence_label,
            "evidence": list(v.equipment.evidence),
            "conflicts": list(v.equipment.conflicts),
            "summary": v.equipment.summary,
        },
        "recorder_channels": v.equipment.channels,
        "segment": finding.segment if finding else None,
        "zone": finding.zone if finding else None,
        "severity": finding.severity.value if finding else None,
        "flagged": finding.flagged if finding else False,
        "rationale": finding.rationale if finding else None,
        "exception": finding.exception if finding else None,
        "segment_by": finding.segment_by if finding else None,
        "finding_type": finding.finding_type if finding else None,
        "deadline": finding.deadline if finding else None,
        "overdue": finding.overdue if finding else False,
        "in_scope": device.in_scope,
        "interface": device.interface,
        "oui_vendor": device.oui_vendor,
        "evidence": [
            {
                "signature_id": e.signature_id,
                "channel": e.channel,
                "raw": e.raw,
                "maker": e.maker,
                "strength": e.strength.value,
                "badge": e.badge,
                "captured": dict(sorted(e.captured.items())),
                "probe": e.probe,
                "description": e.description,
                "class": e.equipment,
                "class_strength": e.equipment_strength.value if e.equipment_strength else None,
            }
            for e in v.evidence
        ],
        "observations": [
            {
                "channel": o.channel,
                "raw": o.raw,
                "probe": o.probe,
                "ip": o.ip,
                "mac": o.mac,
                "fields": dict(sorted(o.fields.items())),
                "at": o.at,
            }
            for o in (device.observations if observations else ())
        ],
        "probe_errors": to_jsonable(device.probe_errors),
        "exposure": exposure_record(device.exposure),
    }
    if not observations:
        del record["observations"]
    return record


def exposure_record(exposure: Exposure | None) -> dict[str, Any] | None:
    """The firmware verdict (added in 1.5): status, the one line, and each CVE's evidence."""
    if exposure is None:
        return None
    return {
        "status": exposure.status.value,
        "summary": exposure.summary,
        "version": exposure.version,
        "note": exposure.note,
        "cves": [
            {
                "cve": h.cve,
                "title": h.title,
                "severity": h.severity,
                "cvss": h.cvss,
                "kev": h.kev,
                "kev_added": h.kev_added,
                "kev_due": h.kev_due,
                "kev_action": h.kev_action,
                "fixed": h.fixed,
                "advisory": h.advisory,
                "source": h.source,
                "note": h.note,
            }
            for h in exposure.hits
        ],
    }


def _count(keys: list[str]) -> dict[str, int]:
    return dict(sorted(Counter(keys).items()))


def split_scope(
    result: ScanResult, index: FindingIndex | None = None
) -> tuple[list[Device], list[Device]]:
    """(devices scanned and assessed, devices heard from outside the targets and not assessed).

    Out-of-scope devices answered multicast from elsewhere: they are reported in their own
    section and never counted as scanned devices."""
    index = index or FindingIndex(result.findings)
    assessed, outside = [], []
    for d in result.devices:
        if d.in_scope or index.finding_for(d) is not None:
            assessed.append(d)
        else:
            outside.append(d)
    return assessed, outside


def verdict_record(result: ScanResult) -> dict[str, Any]:
    from camscan.policy.outcome import outcome

    record = outcome(result).record()
    record["not_covered"] = list(result.run.not_covered)
    return record


def summary_record(result: ScanResult, index: FindingIndex | None = None) -> dict[str, Any]:
    index = index or FindingIndex(result.findings)
    assessed, outside = split_scope(result, index)
    return _summary(assessed, outside, index)


def _summary(assessed: list[Device], outside: list[Device], index: FindingIndex) -> dict[str, Any]:
    pairs = [(d, index.finding_for(d)) for d in assessed]
    flagged = [(d, f) for d, f in pairs if f is not None and f.flagged]
    by_severity = Counter(f.severity.value for _, f in pairs if f is not None)
    recorders = [d.verdict.equipment.channels for d, _ in pairs]
    channels = [n for n in recorders if n is not None]
    return {
        "devices": len(pairs),
        "out_of_scope": len(outside),
        "identified": sum(1 for d, _ in pairs if d.verdict.maker),
        "flagged": len(flagged),
        "by_severity": {s.value: by_severity.get(s.value, 0) for s in Severity},
        "by_maker": _count([d.verdict.maker or UNKNOWN for d, _ in pairs]),
        "by_segment": _count([(f.segment if f else None) or UNASSIGNED for _, f in pairs]),
        "flagged_by_maker": _count([d.verdict.maker or UNKNOWN for d, _ in flagged]),
        "flagged_by_segment": _count([f.segment or UNASSIGNED for _, f in flagged if f]),
        "flagged_by_type": _count([f.finding_type or UNKNOWN for _, f in flagged if f]),
        "overdue": len([f for _, f in flagged if f is not None and f.overdue]),
        "by_class": _count([d.verdict.equipment.kind for d, _ in pairs]),
        "by_surveillance": _count([d.verdict.equipment.surveillance for d, _ in pairs]),
        "hidden_cameras": {
            "recorders": len(channels),
            "channels": sum(channels),
            "note": hidden_note(sum(channels)) if channels else None,
        },
    }


class Contract:
    """One result's contract, read piece by piece: `head` (everything before the devices) at
    once, each device record only as it is iterated. A writer that streams (json, jsonl, csv,
    ecs) so holds one device's record at a time, not a second copy of the whole result."""

    def __init__(self, result: ScanResult) -> None:
        self.index = FindingIndex(result.findings)
        assessed, outside = split_scope(result, self.index)
        self._assessed, self._outside = sorted_devices(assessed), sorted_devices(outside)
        self._result = result
        self.head: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": TOOL_NAME, "version": camscan.__version__},
            "verdict": verdict_record(result),
            "run": run_record(result.run),
            "segments": [to_jsonable(s) for s in result.segments],
            "summary": _summary(assessed, outside, self.index),
        }

    def devices(self, observations: bool = True) -> Iterator[dict[str, Any]]:
        """The assessed devices' records in IP order; `observations=False` leaves out their
        raw observations (the bulk of a record), which no format but json writes."""
        for d in self._assessed:
            yield device_record(d, self.index.finding_for(d), observations)

    def out_of_scope(self, observations: bool = True) -> Iterator[dict[str, Any]]:
        for d in self._outside:
            yield device_record(d, None, observations)

    def tail(self) -> dict[str, Any]:
        """What follows the devices: the findings (in device order) and the policy."""
        findings = sorted(
            self._result.findings, key=lambda f: (ip_sort_key(f.device_ip), f.device_mac or "")
        )
        return {
            "findings": [to_jsonable(f) for f in findings],
            "policy": to_jsonable(self._result.policy),
        }

    def items(self, observations: bool = True) -> Iterator[tuple[str, Any]]:
        """Every top-level key in the contract's order; devices and out_of_scope as iterators."""
        yield from self.head.items()
        yield "devices", self.devices(observations)
        yield "out_of_scope", self.out_of_scope(observations)
        yield from self.tail().items()


def result_to_contract(result: ScanResult, observations: bool = True) -> dict[str, Any]:
    """The whole contract as one dict (a stream of it: Contract)."""
    return {
        key: list(value) if isinstance(value, Iterator) else value
        for key, value in Contract(result).items(observations)
    }


def dumps_contract(result: ScanResult) -> str:
    """The contract as the text `camscan --format json` prints and save_result writes."""
    out = io.StringIO()
    dump_contract(result, out)
    return out.getvalue()


def dump_contract(result: ScanResult, out: TextIO) -> None:
    """Write the contract as it is built, one key per line and one record (device, finding,
    segment) per line: one device's record is held at a time. Each piece goes through json's
    C encoder; indent=2 would take the pure Python one, ~2.5 s and ~130 MB of small strings
    for 1,000 devices."""
    out.write("{\n")
    for n, (key, value) in enumerate(Contract(result).items()):
        out.write(("  " if n == 0 else ",\n  ") + f"{json.dumps(key)}: ")
        if isinstance(value, list | Iterator):
            _dump_records(value, out)
        else:
            out.write(json.dumps(value, ensure_ascii=False))
    out.write("\n}\n")


def _dump_records(records: Iterable[Any], out: TextIO) -> None:
    """A list written one record per line; an empty one as []."""
    first = True
    for record in records:
        out.write("[\n    " if first else ",\n    ")
        out.write(json.dumps(record, ensure_ascii=False))
        first = False
    out.write("[]" if first else "\n  ]")
