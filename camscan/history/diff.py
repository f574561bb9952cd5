"""What changed between two runs: devices new, gone, moved, changed, newly flagged, resolved.

Devices are matched by their id (camscan.identity: MAC, else serial, else address plus maker),
so a camera that changed address is "moved", not "gone" plus "new". Only in-scope devices
count: a device that merely answered discovery from outside the targets says nothing about
the networks that were scanned.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from camscan.contract import ip_sort_key, result_to_contract
from camscan.model import ScanResult

DIFF_SCHEMA_VERSION = "1.0"
# The order changes are listed in: what needs action first.
KINDS = ("newly_flagged", "new", "gone", "moved", "changed", "resolved")
KIND_TITLES = {
    "newly_flagged": "newly flagged",
    "new": "new",
    "gone": "gone",
    "moved": "moved",
    "changed": "changed",
    "resolved": "resolved",
}
MOVE_FIELDS = ("ip", "segment", "zone")
# "verdict" is the maker the evidence names; the badge is the brand on the box.
CHANGE_FIELDS = (
    ("firmware", "firmware"),
    ("model", "model"),
    ("brand", "badge"),
    ("maker", "verdict"),
)


@dataclasses.dataclass(frozen=True, slots=True)
class RunRef:
    """Which run a side of the diff is."""

    id: int | None  # the store's run id; None for a result that was never stored
    site: str | None
    started: float
    partial: bool


ALL_SITES = "all"  # `history --site all`: every site, whatever the config's [store] site says


def sites_chosen(given: str | None, configured: str | None) -> str | None:
    """The one site a listing shows, or None for every site (`--site all`, or none named)."""
    chosen = given or configured
    return None if chosen == ALL_SITES else chosen


def across_sites(before: RunRef | None, after: RunRef) -> str | None:
    """Why a diff of these two runs compares unlike things (two sites), or None: the devices of
    two sites differ by design, so "60 new, 600 gone" would say nothing about either."""
    if before is None or before.site == after.site:
        return None
    return (
        f"run {before.id} is of site {before.site!r} and run {after.id} of site {after.site!r}: "
        "a diff across two sites needs --across-sites"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class FieldChange:
    field: str  # ip, segment, zone, firmware, model, badge, verdict, flagged
    before: str | None
    after: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceChange:
    kind: str  # one of KINDS
    device_id: str
    ip: str  # where it is now (where it was, for "gone")
    mac: str | None
    maker: str | None
    brand: str | None
    model: str | None
    segment: str | None
    zone: str | None
    severity: str | None
    fields: tuple[FieldChange, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class RunDiff:
    before: RunRef | None  # None: no earlier complete run, so everything is new
    after: RunRef
    changes: tuple[DeviceChange, ...]

    def of_kind(self, kind: str) -> list[DeviceChange]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def newly_flagged(self) -> int:
        return len(self.of_kind("newly_flagged"))

    def counts(self) -> dict[str, int]:
        got = Counter(c.kind for c in self.changes)
        return {k: got.get(k, 0) for k in KINDS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": DIFF_SCHEMA_VERSION,
            "before": dataclasses.asdict(self.before) if self.before else None,
            "after": dataclasses.asdict(self.after),
            "counts": self.counts(),
            "changes": [dataclasses.asdict(c) for c in self.changes],
        }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _keyed(devices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """device id -> record; two devices sharing an id (a proxy ARP, say) are told apart by IP."""
    counts = Counter(d["device_id"] for d in devices)
    keyed = {}
    for d in devices:
        key = d["device_id"] if counts[d["device_id"]] == 1 else f"{d['device_id']}@{d['ip']}"
        keyed[key] = d
    return keyed


def _change(kind: str, d: dict[str, Any], fields: list[FieldChange] | None = None) -> DeviceChange:
    return DeviceChange(
        kind=kind,
        device_id=d["device_id"],
        ip=d["ip"],
        mac=d["mac"],
        maker=d["maker"],
        brand=d["brand"],
        model=d["model"],
        segment=d["segment"],
        zone=d["zone"],
        severity=d["severity"],
        fields=tuple(fields or ()),
    )


def _differences(a: dict[str, Any], b: dict[str, Any], names: Any) -> list[FieldChange]:
    return [
        FieldChange(label, _text(a[key]), _text(b[key])) for key, label in names if a[key] != b[key]
    ]


def in_scope_devices(result: ScanResult) -> list[dict[str, Any]]:
    return [d for d in result_to_contract(result)["devices"] if d["in_scope"]]


def diff_results(
    before: ScanResult | None, after: ScanResult, before_ref: RunRef | None, after_ref: RunRef
) -> RunDiff:
    old = in_scope_devices(before) if before is not None else None
    return diff_records(old, in_scope_devices(after), before_ref, after_ref)


def diff_records(
    before: list[dict[str, Any]] | None,
    after: list[dict[str, Any]],
    before_ref: RunRef | None,
    after_ref: RunRef,
) -> RunDiff:
    """The diff of two runs' in-scope device records (the contract's, as the store's
    `device_records` returns them): what an estate compares without loading runs whole."""
    old = _keyed([d for d in before if d["in_scope"]]) if before is not None else {}
    new = _keyed([d for d in after if d["in_scope"]])
    changes: list[DeviceChange] = []
    for key, d in new.items():
        was = old.get(key)
        if was is None:
            changes.append(_change("new", d))
            if d["flagged"]:
                changes.append(_change("newly_flagged", d))
            continue
        moved = _differences(was, d, [(f, f) for f in MOVE_FIELDS])
        if moved:
            changes.append(_change("moved", d, moved))
        changed = _differences(was, d, CHANGE_FIELDS)
        if changed:
            changes.append(_change("changed", d, changed))
        if d["flagged"] and not was["flagged"]:
            changes.append(_change("newly_flagged", d))
        elif was["flagged"] and not d["flagged"]:
            changes.append(_change("resolved", d, [FieldChange("flagged", "true", "false")]))
    for key, was in old.items():
        if key not in new:
            changes.append(_change("gone", was))
            if was["flagged"]:
                changes.append(_change("resolved", was, [FieldChange("flagged", "true", None)]))
    changes.sort(key=lambda c: (KINDS.index(c.kind), ip_sort_key(c.ip), c.device_id))
    return RunDiff(before_ref, after_ref, tuple(changes))
