"""What the lab tests share: running Python or camscan inside a lab's scanner namespace with the
lab guard on, reading the JSON it prints, and writing small topology files.

Every process started here runs in the lab's scanner namespace (`lab.run`, `ip netns exec`),
so its packets can only reach the lab's 198.18.0.0/15 devices.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

from camscan.lab import Lab


def guarded_env(lab: Lab, **extra: str) -> dict[str, str]:
    """This checkout's camscan on the path and CAMSCAN_LAB_GUARD=1: a camscan that somehow ran
    outside a lab namespace refuses to scan."""
    return {**lab.python_env(), "CAMSCAN_LAB_GUARD": "1", **extra}


def camscan_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "camscan", *args]


def in_scanner(lab: Lab, code: str, timeout: float = 60) -> str:
    """Run Python inside the lab's scanner namespace; its stdout (a failure fails the test)."""
    done = lab.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=lab.python_env(),
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return str(done.stdout)


def run_camscan(
    lab: Lab, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`camscan ARGS` in the scanner namespace, to its end; the caller judges the exit code."""
    return lab.run(
        camscan_argv(*args),
        capture_output=True,
        text=True,
        env=env or guarded_env(lab),
        timeout=timeout,
        check=False,
    )


def start_camscan(lab: Lab, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`camscan ARGS` started in the scanner namespace and left running (to signal or stop)."""
    return subprocess.Popen(
        ["ip", "netns", "exec", lab.scanner_ns, *camscan_argv(*args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or guarded_env(lab),
    )


def scan_json(lab: Lab, *args: str) -> dict[str, Any]:
    """`camscan scan ARGS -f json` in the lab: the parsed result (exit 0 or 1, flagged or not)."""
    done = run_camscan(lab, "scan", *args, "-f", "json")
    assert done.returncode in (0, 1), done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def topology_toml(
    name: str, networks: list[dict[str, str]], groups: list[dict[str, Any]], **top: str
) -> str:
    """A topology file's text: `name` (and any other top-level strings), then one [[network]]
    and one [[group]] table per dict. Values are strings or lists of strings, written as JSON,
    which TOML reads the same."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in {"name": name, **top}.items()]
    for table, rows in (("network", networks), ("group", groups)):
        for row in rows:
            lines.append(f"[[{table}]]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in row.items()]
    return "\n".join(lines) + "\n"
