"""Firmware exposure: which identified devices run firmware a published advisory names.

After identify, before policy: `assess(verdict, data)` reads the maker of record, model and
firmware version identify already gathered (SADP SoftwareVersion, DHIP Version, ONVIF, HTTP),
matches them against the advisory rows (signatures/advisories/*.toml) and marks the CVEs on
CISA's KEV list. Read-only: no probe, nothing sent. A version it cannot read or order is
"unknown", never a match, and nothing here ever says "safe".
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from camscan.data import shipped_data_dir
from camscan.identify.advisories.kev import KevCatalogue, load_catalogue
from camscan.identify.advisories.table import Advisory, AdvisoryTable, load_table
from camscan.identify.advisories.versions import parse
from camscan.model import CveHit, Exposure, ExposureStatus, Verdict

VERSION_UNKNOWN = "version unknown"
NO_ADVISORY = "no known advisory for this version"


@dataclasses.dataclass(frozen=True, slots=True)
class AdvisoryData:
    table: AdvisoryTable
    kev: KevCatalogue

    @classmethod
    def load(cls, directory: Path | None = None) -> AdvisoryData:
        return cls(
            load_table(directory or shipped_data_dir("signatures") / "advisories"),
            load_catalogue(),
        )

    def version_label(self) -> str:
        where = "shipped extract" if self.kev.shipped else "advisories update"
        return (
            f"{len(self.table.rows)} rows; KEV catalogue {self.kev.version} released "
            f"{self.kev.released} ({where})"
        )


def _hits(row: Advisory, data: AdvisoryData) -> list[CveHit]:
    out = []
    for cid in row.cves:
        cve = data.table.cves[cid]
        kev = data.kev.entries.get(cid)
        out.append(
            CveHit(
                cve=cid,
                advisory=row.id,
                title=cve.title,
                severity=cve.severity,
                cvss=cve.cvss,
                fixed=row.fixed_text,
                source=row.source,
                kev=kev is not None,
                kev_added=kev.added if kev else None,
                kev_due=kev.due if kev else None,
                kev_action=kev.action if kev else None,
                note=row.note,
            )
        )
    return out


def _cve_list(hits: list[CveHit]) -> str:
    seen: dict[str, str] = {}
    for h in hits:
        seen.setdefault(h.cve, h.fixed)
    return "; ".join(f"{cve}, fixed in {fixed}" for cve, fixed in seen.items())


def assess(verdict: Verdict, data: AdvisoryData) -> Exposure:
    """The exposure verdict for one identified device, with its evidence."""
    version = (verdict.firmware or "").strip() or None
    if version is None:
        return Exposure(
            ExposureStatus.UNKNOWN, VERSION_UNKNOWN, None, note="no firmware version heard"
        )
    rows = data.table.for_maker(verdict.maker)
    if verdict.maker is None:
        return Exposure(ExposureStatus.UNKNOWN, VERSION_UNKNOWN, version, note="maker unknown")
    if not rows:
        return Exposure(
            ExposureStatus.NONE,
            NO_ADVISORY,
            version,
            note=f"no advisory rows for {verdict.maker}",
        )
    hits: list[CveHit] = []
    undecided: list[str] = []
    parsed_any = False
    for row in rows:
        parsed = parse(version, row.scheme)
        if parsed is None:
            continue
        parsed_any = True
        applies = row.applies_to(verdict.maker, verdict.model)
        if applies is False:
            continue
        if applies is None:
            undecided.append(f"{row.id}: no model heard")
            continue
        affected = row.affects(parsed)
        if affected:
            hits.extend(_hits(row, data))
        elif affected is None:
            undecided.append(f"{row.id}: {version} cannot be ordered against the row's bounds")
    if not parsed_any:
        return Exposure(
            ExposureStatus.UNKNOWN,
            VERSION_UNKNOWN,
            version,
            note=f"cannot read {version!r} as a {verdict.maker} firmware version",
        )
    if hits:
        kev = [h for h in hits if h.kev]
        if kev:
            summary = f"known exploited (KEV): {_cve_list(kev)}"
            rest = [h for h in hits if not h.kev]
            if rest:
                summary += f"; also affected by {_cve_list(rest)}"
            return Exposure(ExposureStatus.KEV, summary, version, tuple(hits))
        return Exposure(
            ExposureStatus.AFFECTED,
            f"affected by a known CVE: {_cve_list(hits)}",
            version,
            tuple(hits),
        )
    if undecided:
        return Exposure(ExposureStatus.UNKNOWN, VERSION_UNKNOWN, version, note="; ".join(undecided))
    return Exposure(ExposureStatus.NONE, NO_ADVISORY, version)


__all__ = [
    "NO_ADVISORY",
    "VERSION_UNKNOWN",
    "AdvisoryData",
    "assess",
]
