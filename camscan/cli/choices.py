"""Fixed value lists of CLI options, kept apart so both the option declarations
(camscan/cli/options.py) and shell completion (camscan/cli/complete.py) read them without
importing each other."""

from __future__ import annotations

from camscan.status import FAIL_ON as FAIL_ON  # --fail-on thresholds: status.fails() reads them
