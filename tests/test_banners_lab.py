"""Banner probes against the emulated camera LAN, run inside the lab's scanner namespace.

One scheduler run (`python -m camscan.discovery.banners.scheduler --json`) covers every persona of
the "mixed" topology; the tests read its JSON. Nothing here sends a packet outside the lab.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.lab

TOPOLOGY = "mixed"
DEADLINE = 2.0
HOST_DEADLINE = 12.0
SLACK = 3.0  # process start, imports and a loaded 2-core machine
BOUNDED_ERRORS = re.compile(
    r"timeout after [0-9.]+s|no data for [0-9.]+s|reply head over \d+ bytes|not an HTTP reply"
    r"|not an RTSP reply|connection reset by peer|connection closed without a reply"
    r"|TLS handshake (failed|stalled)|host budget of [0-9.]+s spent|reply head not whole after"
    r"|host stopped: "
)


@pytest.fixture(scope="module")
def scan(request: pytest.FixtureRequest) -> dict[str, Any]:
    """{"lab": Lab, "report": parsed JSON of one scheduler run over every device}."""
    try:
        lab_factory = request.getfixturevalue("lab_factory")
    except pytest.FixtureLookupError:
        pytest.skip("tests/conftest.py has no lab_factory fixture yet")
    lab = lab_factory(TOPOLOGY)
    ips = [device.ip for device in lab.devices]
    argv = [
        sys.executable,
        "-m",
        "camscan.discovery.banners.scheduler",
        "--json",
        f"--deadline={DEADLINE}",
        f"--host-deadline={HOST_DEADLINE}",
        *ips,
    ]
    env = lab.python_env() if hasattr(lab, "python_env") else None
    done = lab.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return {"lab": lab, "report": json.loads(done.stdout)}


def host(scan: dict[str, Any], persona: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Observations and errors of the first device playing `persona`."""
    devices = [d for d in scan["lab"].devices if d.persona == persona]
    if not devices:
        pytest.skip(f"topology {TOPOLOGY!r} has no {persona} device")
    entry = scan["report"]["hosts"][devices[0].ip]
    return entry["observations"], entry["errors"]


def raws(found: list[dict[str, Any]], channel: str) -> list[str]:
    return [o["raw"] for o in found if o["channel"] == channel]


def test_hikvision_http_server_header(scan: dict[str, Any]) -> None:
    found, _ = host(scan, "hik-only-http-server")
    servers = raws(found, "http.header.server")
    assert servers
    assert all(re.fullmatch(r"(?:Hikvision|DNVRS|DVRDVS|App)-[Ww]ebs/?", s) for s in servers)


def test_dahua_rtsp_server_header(scan: dict[str, Any]) -> None:
    found, _ = host(scan, "dahua-only-rtsp-server")
    assert "Dahua Rtsp Server" in raws(found, "rtsp.header.server")
    assert all(o["probe"] == "rtsp:554" for o in found if o["channel"].startswith("rtsp."))


def test_hikvision_ipc_every_channel(scan: dict[str, Any]) -> None:
    found, errors = host(scan, "hikvision-ipc")
    assert errors == []
    assert "Hikvision-Webs" in raws(found, "http.header.server")
    assert any("O=HIKVISION" in s for s in raws(found, "tls.subject"))
    realms = raws(found, "rtsp.header.www-authenticate") + raws(
        found, "http.header.www-authenticate"
    )
    assert any(re.search(r'realm="IP Camera\([0-9A-Za-z]{4,6}\)"', r) for r in realms)
    assert raws(found, "tcp.banner.8000") == ["000000100000001e0000001e00000000"]


def test_dahua_ipc_every_channel(scan: dict[str, Any]) -> None:
    found, errors = host(scan, "dahua-ipc")
    assert errors == []
    assert raws(found, "http.header.server") == []  # Dahua web servers send none
    assert "WEB SERVICE" in raws(found, "http.title")
    realms = raws(found, "rtsp.header.www-authenticate")
    assert any(re.search(r'realm="Login to [0-9A-Za-z]{6,20}"', r) for r in realms)
    assert "37777" in raws(found, "tcp.open")


@pytest.mark.parametrize("persona", ["hostile-slow", "hostile-garbage", "hostile-huge-headers"])
def test_hostile_personas_fail_within_bounds(scan: dict[str, Any], persona: str) -> None:
    _, errors = host(scan, persona)
    assert errors, f"{persona} produced no probe error"
    for error in errors:
        assert BOUNDED_ERRORS.match(error["error"]), error
        assert "\n" not in error["error"]


def test_whole_lab_scan_is_bounded(scan: dict[str, Any]) -> None:
    report = scan["report"]
    assert set(report["hosts"]) == {d.ip for d in scan["lab"].devices}
    # Hosts run in parallel: even a hostile one costs at most its own host budget.
    assert report["elapsed"] <= HOST_DEADLINE + SLACK
    for ip, entry in report["hosts"].items():
        for error in entry["errors"]:
            assert not error["error"].startswith("internal error"), (ip, error)
