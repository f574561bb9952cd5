"""What the lab tests share: running Python or camscan inside a lab's scanner namespace with the
lab guard on, reading the JSON it prints, and writing small topology files.

Every process started here runs in the lab's scanner namespace (`lab.run`, `ip netns exec`),
so its packets can only reach the lab's 198.18.0.0/15 devices.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from camscan.lab import Lab
from camscan.lab.snmpd import snmpd_problem


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


# -- what the scanner sends, on the wire -------------------------------------------------------
WINDOW = 0.1  # seconds: the window of the README's rate promise

# Runs in the scanner's namespace: every frame the scanner sends out of argv[1], with the
# kernel's timestamp (taken where frames are handed to the device), classified by the test's
# `classify(f)` (its source goes between these two parts): one JSON line per frame it keeps,
# (time, kind, destination), once stdin closes.
_CAPTURE_HEAD = """
import ipaddress, json, select, socket, struct, sys
ETH_P_ALL, PACKET_OUTGOING, SO_TIMESTAMPNS = 0x0003, 4, 35
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.bind((sys.argv[1], 0))
print("ready", flush=True)
frames = []
"""
_CAPTURE_LOOP = """
def drain():
    while True:
        try:
            data, anc, _, addr = s.recvmsg(65535, 64, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        if addr[2] != PACKET_OUTGOING:
            continue
        got = classify(data)
        stamp = next((struct.unpack("qq", d[:16]) for l, t, d in anc if t == SO_TIMESTAMPNS), None)
        if got and stamp:
            frames.append((stamp[0] + stamp[1] / 1e9, *got))

while True:
    ready, _, _ = select.select([s, sys.stdin], [], [])
    if s in ready:
        drain()
    if sys.stdin in ready and not sys.stdin.read():
        drain()
        break
for frame in frames:
    print(json.dumps(frame))
"""


@contextlib.contextmanager
def outgoing_frames(lab: Lab, iface: str, classify: str) -> Iterator[list[Any]]:
    """Capture what the scanner sends out of IFACE while the block runs; the list holds
    (time, kind, destination) per frame CLASSIFY's `classify(f)` keeps, once the block ends."""
    script = _CAPTURE_HEAD + textwrap.dedent(classify) + _CAPTURE_LOOP
    cap = subprocess.Popen(
        ["ip", "netns", "exec", lab.scanner_ns, sys.executable, "-c", script, iface],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    frames: list[Any] = []
    try:
        assert cap.stdout is not None and cap.stdout.readline().strip() == "ready"
        yield frames
    finally:
        out, err = cap.communicate("", timeout=60)
    assert cap.returncode == 0, err
    frames.extend(json.loads(line) for line in out.splitlines())


def busiest(stamps: list[float]) -> int:
    """The most packets in any window of WINDOW seconds (half-open: [t, t + WINDOW))."""
    stamps = sorted(stamps)
    most, first = 0, 0
    for last, t in enumerate(stamps):
        while t - stamps[first] >= WINDOW:
            first += 1
        most = max(most, last - first + 1)
    return most


def allowed(rate: float) -> int:
    """The cap the README promises for WINDOW: a tenth of the rate, rounded up, plus 10%."""
    return math.floor(math.ceil(rate * WINDOW) * 1.1)


def snmpd_lab(lab_factory: Any, topology: str) -> Lab:
    """A lab whose router runs Debian's snmpd; the test is skipped, with the reason, where
    snmpd is not installed."""
    if problem := snmpd_problem():
        pytest.skip(problem)
    built: Lab = lab_factory(topology)
    return built
