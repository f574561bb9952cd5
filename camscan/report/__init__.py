"""Reports: one ScanResult in, many formats out (the formats: camscan/report/registry.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from camscan.report.interface import RenderOptions
from camscan.report.registry import FORMATS, ReportFormatError, get

if TYPE_CHECKING:
    from camscan.model import ScanResult
    from camscan.policy.rules import PolicySettings


def render(
    result: ScanResult,
    fmt: str,
    out: TextIO,
    *,
    color: bool | None = None,
    policy: PolicySettings | None = None,
    changes: dict[str, Any] | None = None,
    excel: bool = False,
) -> None:
    """Write `result` to `out` as `fmt`. `color` (table only): None means colour on a terminal.

    `policy` (html only) is the policy text shown in the report; defaults to the defaults.
    `changes` (html only): the diff since the previous run (camscan.history.render).
    `excel` (csv only): a byte order mark first, so Excel on Windows decodes UTF-8.
    """
    options = RenderOptions(color=color, policy=policy, changes=changes, excel=excel)
    get(fmt).writer()(result, out, options)


__all__ = ["FORMATS", "RenderOptions", "ReportFormatError", "render"]
