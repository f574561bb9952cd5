"""The commands that classify data a user already has: identify, import, report (no lab).

They run in-process through typer's CliRunner (so coverage of camscan/cli is measured); the
app carries its own error boundary, so what a test sees is what a user sees. One test runs the
real entry point in a subprocess.
"""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from camscan.cli.main import app

FIXTURE = Path(__file__).parent / "fixtures" / "nmap_camera_lab.xml"


@dataclasses.dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def camscan(*args: str, stdin: str | None = None) -> Ran:
    r = CliRunner().invoke(app, list(args), input=stdin, prog_name="camscan")
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception  # escaped the app's error boundary: a bug in the boundary itself
    return Ran(r.exit_code, r.stdout, r.stderr)


def test_the_entry_point_runs_as_a_program() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "camscan", "report", "/nonexistent/result.json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.startswith("camscan: error: /nonexistent/result.json: cannot read")
    assert len(r.stderr.strip().splitlines()) == 1


def test_identify_a_raw_rtsp_banner_from_stdin() -> None:
    head = (
        "RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest "
        'realm="Login to 4M0747EPAA1D284", nonce="745449738fdf77164f570c37c9186b52"\r\n\r\n'
    )
    r = camscan("identify", "-f", "json", stdin=head)
    assert r.returncode == 0, r.stderr
    dev = json.loads(r.stdout)["devices"][0]
    assert dev["vendor"] == "dahua"
    assert any("Login to" in e["raw"] for e in dev["evidence"])


def test_identify_json_lines_reports_bad_lines_and_keeps_the_rest() -> None:
    lines = "\n".join(
        [
            json.dumps(
                {"channel": "http.header.server", "raw": "Hikvision-Webs", "ip": "192.0.2.7"}
            ),
            "{not json",
            json.dumps({"channel": "http.header.server", "raw": "webserver", "ip": "192.0.2.8"}),
        ]
    )
    r = camscan("identify", "-f", "json", stdin=lines)
    assert r.returncode == 3, r.stderr  # partial input: never passes as a clean result
    assert "line 2" in r.stderr
    result = json.loads(r.stdout)
    assert result["run"]["partial"] is True
    assert any("line 2" in e["error"] for e in result["run"]["errors"])
    devices = {d["ip"]: d for d in result["devices"]}
    assert devices["192.0.2.7"]["vendor"] == "hikvision"
    assert devices["192.0.2.8"]["maker"] is None  # a weak generic hint alone decides nothing


def test_identify_with_no_input_is_one_line_error() -> None:
    r = camscan("identify", stdin="")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1


def test_import_nmap_then_report_in_every_format(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    r = camscan("import", str(FIXTURE), "-f", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert {d["vendor"] for d in doc["devices"]} >= {"hikvision", "dahua"}
    for fmt in ("table", "jsonl", "csv", "html"):
        r = camscan("report", str(out), "-f", fmt)
        assert r.returncode == 0, (fmt, r.stderr)
        assert doc["devices"][0]["ip"] in r.stdout
    assert json.loads(camscan("report", str(out), "-f", "json").stdout) == doc


def test_report_of_a_bad_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "1.0", "devices": [{"ip": 5}]}')
    for path in (bad, tmp_path / "missing.json"):
        r = camscan("report", str(path))
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1
        assert "Traceback" not in r.stderr


def test_help_and_version() -> None:
    r = camscan("--help")
    assert r.returncode == 0
    for cmd in ("scan", "demo", "identify", "import", "report", "config", "oui", "lab"):
        assert cmd in r.stdout
    assert camscan("--version").stdout.startswith("camscan ")
    r = camscan("scan", "--help")
    assert "Exit codes" in r.stdout


def test_saved_result_rerenders_with_the_policy_it_was_judged_by(tmp_path: Path) -> None:
    cfg = tmp_path / "camscan.toml"
    cfg.write_text(
        '[policy]\nlisted_makers = ["hikvision", "dahua", "axis"]\nmin_confidence = 0.7\n'
    )
    out = tmp_path / "result.json"
    r = camscan("import", str(FIXTURE), "-c", str(cfg), "-f", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["policy"]["listed_makers"] == ["hikvision", "dahua", "axis"]
    html = camscan("report", str(out), "-f", "html").stdout
    assert "Axis" in html.split("Listed makers:")[1][:200]
    assert "0.70" in html
    default = camscan("import", str(FIXTURE), "-f", "html").stdout
    assert "Axis" not in default.split("Listed makers:")[1][:200]


def test_scan_help_states_the_bounds_the_config_enforces() -> None:
    from camscan.settings import BOUNDS, default

    text = " ".join(camscan("scan", "--help").stdout.split())
    for key, flag in [
        ("rate", "--rate"),
        ("host_rate", "--host-rate"),
        ("discovery_window", "--window"),
        ("timeout", "--timeout"),
        ("read_timeout", "--read-timeout"),
        ("concurrency", "--concurrency"),
    ]:
        b = BOUNDS[key]
        assert b.flag == flag
        after_flag = text.split(f"{flag} ", 1)[1][:200]
        assert f"{b.low:g} to {b.high:g} (default {default(key):g}" in after_flag, key


def test_identify_says_what_it_recognised_and_what_it_dropped(tmp_path: Path) -> None:
    """Issue 25: 1 MB of random bytes was one device whose Server was 97 characters of garbage,
    exit 0; a 5 MB Server line was cut to 65,528 characters without a word."""
    noise = tmp_path / "noise.bin"
    noise.write_bytes(random.Random(25).randbytes(1_000_000))
    r = camscan("identify", str(noise), "-f", "json")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        f"camscan: error: {noise}: no observation recognised in 1 MB of input: not JSON lines, "
        "an HTTP or RTSP response head, a discovery reply or one Server value"
    ]
    long = tmp_path / "server.txt"
    long.write_text("Server: " + "A" * 5_000_000 + "\n")
    r = camscan("identify", str(long), "-f", "json")
    assert r.returncode == 3, r.stderr  # a value was cut: the run is partial, and says so
    assert "a value cut at 65,528 characters" in r.stderr and "5 MB of input" in r.stderr
    result = json.loads(r.stdout)
    assert result["run"]["partial"] is True
    assert any("cut at 65,528" in e["error"] for e in result["run"]["errors"])
