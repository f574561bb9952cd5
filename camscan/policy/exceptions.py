"""Accepted-risk exceptions: a named person accepts one device (by MAC or serial) until a date."""

from __future__ import annotations

import dataclasses
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
                rationale=finding.rationale
                + f" Accepted by {self.accepted_by} until {self.expires}: {self.reason}.",
            )
        return dataclasses.replace(
            finding,
            rationale=finding.rationale
            + f" An exception ({self.reason}, accepted by {self.accepted_by}) expired on "
            f"{self.expires} and no longer applies.",
        )


def find_exception(
    device: Device, exceptions: list[ExceptionEntry], today: date
) -> ExceptionEntry | None:
    """The matching exception, preferring a valid one over an expired one."""
    matching = [e for e in exceptions if e.matches(device)]
    valid = [e for e in matching if e.is_valid(today)]
    if valid:
        return max(valid, key=lambda e: e.expires)
    return max(matching, key=lambda e: e.expires) if matching else None
