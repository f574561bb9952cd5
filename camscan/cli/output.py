"""Where command output goes: a rendered report to stdout or a file, with one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camscan.cli.errors import EXIT_FAILED, fail

if TYPE_CHECKING:  # kept off the start-up path
    from camscan.config import Config
    from camscan.model import ScanResult
    from camscan.policy.rules import PolicySettings


def saved_policy(result: ScanResult) -> PolicySettings | None:
    """The policy a saved result was judged by (schema 1.1+), if it is readable."""
    from camscan.config import ConfigError, parse_config
    from camscan.policy import settings_from_config

    if not result.policy:
        return None
    try:
        return settings_from_config(parse_config({"policy": result.policy}, "saved result").policy)
    except ConfigError:
        return None  # a hand-edited or foreign file: fall back to the defaults


def write_report(
    result: ScanResult,
    fmt: str,
    out_path: Path | None,
    quiet: bool,
    cfg: Config | None = None,
    *,
    changes: dict[str, Any] | None = None,
) -> None:
    """`changes` (html): the diff since the previous run, shown in its own section."""
    from camscan.policy import settings_from_config
    from camscan.report import render

    policy = settings_from_config(cfg.policy) if cfg else saved_policy(result)
    if out_path is None:
        if not quiet:
            render(result, fmt, sys.stdout, policy=policy, changes=changes)
        return
    try:
        with out_path.open("w", encoding="utf-8", newline="") as f:
            render(result, fmt, f, color=False, policy=policy, changes=changes)
    except OSError as e:
        fail(f"cannot write {out_path}: {e.strerror or e}", EXIT_FAILED)
