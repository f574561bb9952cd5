"""Fixed value lists of CLI options, kept apart so both the option declarations
(camscan/cli/options.py) and shell completion (camscan/cli/complete.py) read them without
importing each other."""

from __future__ import annotations

FAIL_ON = (
    "flagged",
    "overdue",
    "critical",
    "high",
    "medium",
    "info",
    "never",
)  # --fail-on thresholds
