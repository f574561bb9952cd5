"""Habits shell pipelines and cron teach: a closed pipe ends camscan quietly (exit 141, as nmap
and arp-scan end on SIGPIPE), and every command that reports takes -q."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from camscan.model import Device, ScanResult
from camscan.store.results import save_result
from tests.samples import sample_result, sample_run

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A result far larger than a pipe's buffer (64 KiB) once rendered as JSON lines."""
    path = tmp_path_factory.mktemp("big") / "big.json"
    devices = [Device(ip=f"198.18.{n // 250}.{n % 250 + 1}") for n in range(3000)]
    save_result(ScanResult(run=sample_run(["arp"], {}), devices=devices), path)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "table"])
def test_a_closed_pipe_ends_quietly_with_the_shells_code(big: Path, fmt: str) -> None:
    # `camscan report big.json -f jsonl | head -1` was an internal error, exit 3.
    done = subprocess.run(
        [
            "bash",
            "-c",
            'set -o pipefail; "$0" -m camscan report "$1" -f "$2" | head -c 10 >/dev/null',
            sys.executable,
            str(big),
            fmt,
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert done.stderr == ""
    assert done.returncode == 141


def test_a_closed_pipe_on_the_last_flush_is_quiet_too(tmp_path: Path) -> None:
    # A short report sits in stdout's buffer until exit; the reader is gone by then.
    result = tmp_path / "r.json"
    save_result(sample_result(), result)
    code = (
        "import os, sys, runpy; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
        f"sys.argv = ['camscan', 'report', {str(result)!r}, '-f', 'jsonl']; "
        "runpy.run_module('camscan', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120
    )
    assert done.stderr == ""
    assert done.returncode == 141


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camscan", *args],
        capture_output=True,
        text=True,
        env=ENV,
        input=stdin,
        timeout=120,
    )


@pytest.mark.parametrize("command", ["report", "import", "identify"])
def test_every_reporting_command_takes_q(tmp_path: Path, command: str) -> None:
    result = tmp_path / "r.json"
    save_result(sample_result(), result)
    source = {
        "report": str(result),
        "import": str(FIXTURES / "nmap_camera_lab.xml"),
        "identify": "-",
    }[command]
    banner = 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="DS-2CD2042WD"\r\n\r\n'
    out = tmp_path / "out.json"
    loud = _run(command, source, "-o", str(out), stdin=banner)
    assert loud.returncode in (0, 1), loud.stderr
    assert "report written to" in loud.stderr
    quiet = _run(command, source, "-q", "-o", str(out), stdin=banner)
    assert quiet.returncode == loud.returncode, quiet.stderr
    assert quiet.stderr == ""
    assert out.read_text().startswith("{")
    # -q never hides the report asked for on standard output
    shown = _run(command, source, "-q", "-f", "jsonl", stdin=banner)
    assert shown.stderr == "" and '"type": "run"' in shown.stdout.replace(
        '"type":"run"', '"type": "run"'
    )
