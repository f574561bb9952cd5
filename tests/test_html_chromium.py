"""The HTML report in a real browser: flagged devices render, and no device text ever runs.

Chromium loads only a local file. Where the test may create a network namespace (root, `unshare`)
the browser runs in an empty one, so it cannot send a packet anywhere; the flags below also turn
off its background traffic and point any request at a closed loopback port.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from camscan.model import (
    Device,
    Evidence,
    Observation,
    ScanResult,
    ScanRun,
    Strength,
    Verdict,
)
from camscan.report import render
from tests.samples import assessed

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"
)

PWN_TITLE = "<script>document.title='pwned'</script>"


def _device(
    ip: str,
    mac: str,
    maker: str,
    model: str,
    raw: str,
    badge: str | None = None,
    channel: str = "http.header.server",
) -> Device:
    ev = Evidence(
        signature_id=f"{maker}.{channel}",
        channel=channel,
        raw=raw,
        maker=maker,
        strength=Strength.STRONG,
        badge=badge,
        probe="http:80",
    )
    return Device(
        ip=ip,
        mac=mac,
        observations=[Observation(channel=channel, raw=raw, probe="http:80", ip=ip)],
        verdict=Verdict(
            maker=maker,
            badge=badge,
            model=model,
            confidence=0.95,
            confidence_label="high",
            evidence=[ev],
            summary=f"{maker.title()}-made (high confidence: 1 strong)",
        ),
    )


def report_result() -> ScanResult:
    devices = [
        _device("198.18.0.10", "44:19:b6:12:34:56", "hikvision", "DS-2CD2385G1-I", "App-webs/"),
        _device(
            "198.18.0.11",
            "3c:ef:8c:61:01:c0",
            "dahua",
            "IPC-HDW1431T1-S4",
            'Digest realm="Login to 6C01E93PAG69A7D"',
            channel="rtsp.header.www-authenticate",
        ),
        _device(
            "198.18.1.20",
            "b4:4c:3b:f4:e3:01",
            "dahua",
            f"SS 3530 {PWN_TITLE}",
            f'{{"Vendor":"Intelbras"}} {PWN_TITLE}',
            badge="Intelbras",
            channel="dhip.reply",
        ),
        _device(
            "198.18.2.5", "54:c4:15:00:00:01", "hikvision", "CS-C6N", "App-webs/", badge="EZVIZ"
        ),
        _device(
            "198.18.2.9", "00:40:8c:01:02:03", "axis", "P3245", 'Digest realm="AXIS_ACCC8E010203"'
        ),
    ]
    run = ScanRun(
        targets=["198.18.0.0/22"],
        probes=["arp", "sadp", "dhip", "http", "rtsp"],
        started=1748772000.0,
        ended=1748772009.5,
    )
    return assessed(devices, [], run)


def _isolated() -> list[str]:
    """A prefix that runs the browser in a fresh, empty network namespace, when allowed."""
    unshare = shutil.which("unshare")
    if unshare and os.geteuid() == 0:
        probe = subprocess.run([unshare, "--net", "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [unshare, "--net"]
    return []


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        *_isolated(),
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--disable-extensions",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = io.StringIO()
    render(report_result(), "html", out)
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_dom_shows_flagged_devices_and_no_script_ran(report_file: Path, tmp_path: Path) -> None:
    done = _chromium(["--dump-dom", report_file.as_uri()], tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<title>camscan report: 3 flagged of 5 devices</title>" in dom
    assert "pwned" not in dom.split("</title>")[0]
    assert "<script" not in dom.lower()  # the hostile text stayed text
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    flagged_table = dom.split("Flagged devices</h3>")[1].split("</table>")[0]
    for ip in ("198.18.0.10", "198.18.0.11", "198.18.1.20"):
        assert ip in flagged_table
    assert "198.18.2.5" not in flagged_table
    assert "198.18.2.9" not in flagged_table
    assert "must not be connected to the core network" in flagged_table


def test_screenshot_renders(report_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _chromium(
        [f"--screenshot={shot}", "--window-size=1280,2000", report_file.as_uri()],
        tmp_path / "profile",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # IHDR
    assert (width, height) == (1280, 2000)
    assert len(png) > 50_000  # a blank page compresses to a few kB; this one has content
    keep = os.environ.get("CAMSCAN_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
