"""Policy: which segment each device sits in, and how serious its maker is there.

`evaluate_result` is the pipeline's entry point: it reads the user's validated config
(camscan.config) and judges every device of a result.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from camscan.macaddr import normalise_mac
from camscan.model import Finding, ScanResult, Severity
from camscan.policy.exceptions import ExceptionEntry, find_exception
from camscan.policy.rules import (
    CORE_RULE_SOURCE,
    DEFAULT_ZONE_SEVERITY,
    FINDING_TYPES,
    LISTED_MAKER,
    POLICY_SOURCE,
    SURVEILLANCE_ON_CORE,
    PolicySettings,
    assign_segment,
    evaluate,
    finding_label,
    maker_display,
    severity_rank,
)

if TYPE_CHECKING:
    from camscan.config import Config, ExceptionConfig, PolicyConfig


def settings_from_config(cfg: PolicyConfig) -> PolicySettings:
    """The config's [policy] table (already validated) as PolicySettings."""
    zone_severity = dict(DEFAULT_ZONE_SEVERITY)
    zone_severity.update({zone: Severity(sev) for zone, sev in cfg.severity.items()})
    return PolicySettings(
        listed_makers=frozenset(cfg.listed_makers),
        zone_severity=zone_severity,
        min_confidence=cfg.min_confidence,
        core_any_maker=cfg.core_any_maker,
        core_any_maker_severity=Severity(cfg.core_any_maker_severity),
        deadlines={zone: date.fromisoformat(d) for zone, d in cfg.deadlines.items()},
        kev_severity=None if cfg.kev_severity == "off" else Severity(cfg.kev_severity),
    )


def exceptions_from_config(entries: list[ExceptionConfig]) -> list[ExceptionEntry]:
    return [
        ExceptionEntry(e.reason, e.accepted_by, e.expires, mac=e.mac, serial=e.serial)
        for e in entries
    ]


def evaluate_result(
    result: ScanResult, config: Config, today: date | None = None
) -> tuple[Finding, ...]:
    """One finding per device of `result`, under the config's segments, policy and exceptions.
    Frozen values, handed forward: the pipeline puts them in the ScanResult."""
    return evaluate(
        result.devices,
        config.segments,
        settings_from_config(config.policy),
        exceptions_from_config(config.exceptions),
        today or date.today(),
    )


__all__ = [
    "CORE_RULE_SOURCE",
    "FINDING_TYPES",
    "LISTED_MAKER",
    "POLICY_SOURCE",
    "SURVEILLANCE_ON_CORE",
    "ExceptionEntry",
    "PolicySettings",
    "assign_segment",
    "evaluate",
    "evaluate_result",
    "exceptions_from_config",
    "find_exception",
    "finding_label",
    "maker_display",
    "normalise_mac",
    "settings_from_config",
    "severity_rank",
]
