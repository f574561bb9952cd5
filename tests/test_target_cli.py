"""`camscan scan` target syntax end to end through the CLI, with --list-targets (sends nothing).

Bad input gives one line on stderr and exit 2, before any packet.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def camscan(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camscan", "scan", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def listed(r: subprocess.CompletedProcess[str]) -> list[str]:
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.splitlines() if not line.startswith("#")]


def test_ranges_files_stdin_and_exclusions(tmp_path: Path) -> None:
    targets = tmp_path / "cctv.txt"
    targets.write_text("198.18.41.0/29 # cameras\n198.18.42.1-2\n")
    exclusions = tmp_path / "skip.txt"
    exclusions.write_text("198.18.41.0\n198.18.41.7\n")
    r = camscan(
        "198.18.43.9",
        "-iL",
        str(targets),
        "-iL",
        "-",
        "--exclude",
        "198.18.41.1,198.18.44.0/30",
        "--exclude-file",
        str(exclusions),
        "--list-targets",
        stdin="198.18.44.0/29\n",
    )
    assert listed(r) == [
        "198.18.41.2/31",
        "198.18.41.4/31",
        "198.18.41.6/32",
        "198.18.42.1/32",
        "198.18.42.2/32",
        "198.18.43.9/32",
        "198.18.44.4/30",
    ]
    assert "# 12 addresses" in r.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["198.18.1.5-300"], None, "octet"),
        (["198.18.1.9-198.18.1.1"], None, "ends before"),
        (["198.18.1.0/33"], None, "CIDR"),
        (["-iL", "/nonexistent/targets.txt"], None, "cannot read"),
        (["-iL", "-"], "198.18.1.1\n198.18.1.x\n", "198.18.1.x"),
        (["-iL", "-"], "# nothing\n", "names no target"),
        (["198.18.1.0/24", "--exclude", "198.18.0.0/16"], None, "nothing left"),
        (["198.18.1.0/24", "--exclude", "198.18.1.300"], None, "198.18.1.300"),
        (["9.255.255.250-10.0.0.1"], None, "--allow-public"),
        (["198.18.0.0/23", "--max-hosts", "256"], None, "max-hosts"),
        (["localhost"], None, "cannot be scanned"),  # /etc/hosts: no DNS query
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], stdin: str | None, message: str) -> None:
    r = camscan(*args, "--list-targets", stdin=stdin)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_nmap_octet_syntax_on_the_command_line_as_in_files(tmp_path: Path) -> None:
    # `198.18.0-1.1`, `198.18.9.1,3,5` and `198.18.9.*` were refused on the command line.
    listing = tmp_path / "more.txt"
    listing.write_text("198.18.10.1,2\n")
    r = camscan(
        "198.18.0-1.1",
        "198.18.9.1,3,5",
        "198.18.8.*",
        "198.18.7.1,198.18.7.9",
        "-iL",
        str(listing),
        "--exclude",
        "198.18.8.1-255",
        "--list-targets",
    )
    assert listed(r) == [
        "198.18.0.1/32",
        "198.18.1.1/32",
        "198.18.7.1/32",
        "198.18.7.9/32",
        "198.18.8.0/32",
        "198.18.9.1/32",
        "198.18.9.3/32",
        "198.18.9.5/32",
        "198.18.10.1/32",
        "198.18.10.2/32",
    ]
