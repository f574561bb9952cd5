"""The `camscan` command: the app with every command registered, and the error boundary.

Exit codes (documented in README, mapped once in camscan.errors): 0 nothing flagged, 1 flagged
findings, 2 usage or configuration error, 3 the scan failed or ended partial. Command modules
keep heavy imports inside the commands so that `camscan --help` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys

from camscan.cli.app import app, linux_only
from camscan.cli.errors import (
    EXIT_FAILED,
    EXIT_FLAGGED,
    EXIT_OK,
    EXIT_USAGE,
    broken_pipe,
    fail,
    report_error,
)

# The command modules; importing one registers its commands on `app`, in this order in --help.
# A new command is one module under camscan/cli/ plus one entry here.
COMMAND_MODULES = (
    "scan_cmd",
    "history_cmd",
    "estate_cmd",
    "identify_cmd",
    "passive_cmd",
    "report_cmd",
    "demo_cmd",
    "lab_cmd",
    "commands",
    "advisories_cmd",
    "man_cmd",
)
for _name in COMMAND_MODULES:
    importlib.import_module(f"camscan.cli.{_name}")

__all__ = ["EXIT_FAILED", "EXIT_FLAGGED", "EXIT_OK", "EXIT_USAGE", "app", "fail", "run"]


def run() -> None:
    try:
        linux_only()
        # standalone: usage errors print one message and exit 2; ours: see cli/app.py
        try:
            app(prog_name="camscan")
        finally:
            sys.stdout.flush()  # here, where a closed pipe is still ours to handle
    except BrokenPipeError:  # a report's last flush, after the app returned
        sys.exit(broken_pipe())
    except Exception as e:  # only what escapes the app's own boundary (e.g. a callback)
        if os.environ.get("CAMSCAN_DEBUG") == "1":
            raise
        sys.exit(report_error(e))
