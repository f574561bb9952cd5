"""Accepted-risk exceptions: a named person accepts one device (by MAC or serial) until a date."""

from __future__ import annotations

import dataclasses
import re
from datetime import date

from camscan.macaddr import normalise_mac
from camscan.model import Device, Finding, Severity


def _normalise_serial(serial: str | None) -> str | None:
    return serial.strip().upper() or None if serial else None


@dataclasses.dataclass(slots=True)
class ExceptionEntry:
    reason: str
    accepted_by: str
    expires: date  # last day the exception applies
    mac: str | None = None
    serial: str | None = None

    def matches(self, device: Device) -> bool:
        mac = normalise_mac(self.mac)
        if mac is not None and mac == normalise_mac(device.mac):
            return True
        serial = _normalise_serial(self.serial)
        return serial is not None and serial == _normalise_serial(device.verdict.serial)

    def is_valid(self, today: date) -> bool:
        return today <= self.expires

    def describe(self) -> str:
        key = f"MAC {self.mac}" if self.mac else f"serial {self.serial}"
        return f"{key}: {self.reason} (accepted by {self.accepted_by}, until {self.expires})"

    def apply(self, finding: Finding, today: date) -> Finding:
        """`finding` downgraded if this exception is still valid; otherwise saying it expired."""
        if self.is_valid(today):
            return dataclasses.replace(
                finding,
                severity=Severity.ACCEPTED,
                flagged=False,
                exception=self.reason,
                rationale=finding.rationale + accepted_sentence(self),
            )
        return dataclasses.replace(
            finding,
            rationale=finding.rationale
            + f" An exception ({self.reason}, accepted by {self.accepted_by}) expired on "
            f"{self.expires} and no longer applies.",
        )


def accepted_sentence(entry: ExceptionEntry) -> str:
    """What an accepted finding's rationale ends with; `accepted_until` reads it back."""
    return f" Accepted by {entry.accepted_by} until {entry.expires}: {entry.reason}."


_ACCEPTED = re.compile(r" Accepted by (?P<by>.+?) until (?P<until>\d{4}-\d{2}-\d{2}): ")


def accepted_until(rationale: str) -> tuple[str, date] | None:
    """(who accepted it, its last day) from a stored finding's rationale (accepted_sentence's
    text): a stored run keeps no exception table, so an estate reads the expiry from here."""
    match = _ACCEPTED.search(rationale)
    if match is None:
        return None
    try:
        return match["by"], date.fromisoformat(match["until"])
    except ValueError:
        return None


def find_exception(
    device: Device, exceptions: list[ExceptionEntry], today: date
) -> ExceptionEntry | None:
    """The matching exception, preferring a valid one over an expired one."""
    matching = [e for e in exceptions if e.matches(device)]
    valid = [e for e in matching if e.is_valid(today)]
    if valid:
        return max(valid, key=lambda e: e.expires)
    return max(matching, key=lambda e: e.expires) if matching else None
