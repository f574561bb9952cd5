"""The run report at scale (issue 22): a 600-device import printed by a real Chromium and read
back with poppler. The summary, its chart and the changes fit two pages; findings are grouped
cards; every device and its evidence follow as an appendix; the whole is at most 60 pages
(617 devices printed 404 before)."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest

from bench.nmap_xml import write_nmap_xml
from camscan.config import parse_config
from camscan.contract import result_to_contract
from camscan.discovery.ingest import devices_from_nmap_xml
from camscan.history.diff import RunRef, diff_records
from camscan.history.render import changes_context
from camscan.model import ScanResult, ScanRun
from camscan.pipeline import apply_policy, identify_devices
from camscan.report.html import write_html
from tests.test_estate_print import PDFINFO, pytestmark  # noqa: F401 - chromium and poppler
from tests.test_html_chromium import _chromium
from tests.test_html_print import pages

DEVICES = 600
CONFIG = {
    "segment": [
        {"name": "cctv", "cidrs": ["198.18.0.0/24"], "zone": "sensitive"},
        {"name": "corp", "cidrs": ["198.18.1.0/24"], "zone": "core"},
        {"name": "lab", "cidrs": ["198.18.2.0/23"], "zone": "lab"},
    ]
}


def big_run(where: Path) -> ScanResult:
    """The nmap fixture's cameras over 600 lab addresses, judged under three zones."""
    xml = where / "600.xml"
    write_nmap_xml(xml, DEVICES, repeats=1)
    devices = devices_from_nmap_xml(xml)
    identify_devices(devices)
    run = ScanRun(["198.18.0.0/22"], ["import"], 1_700_000_000.0, 1_700_000_030.0)
    result = ScanResult(run=run, devices=devices)
    cfg = parse_config(CONFIG)
    result.segments = list(cfg.segments)
    apply_policy(result, cfg)
    return result


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanResult, Path, list[str]]:
    """The run printed with its changes since a run that lacked 40 devices."""
    where = tmp_path_factory.mktemp("scale")
    result = big_run(where)
    out = io.StringIO()
    now = result_to_contract(result)["devices"]
    before = [{**d, "flagged": False} if n % 50 == 0 else d for n, d in enumerate(now[40:])]
    since = diff_records(before, now, RunRef(6, "hq", 1.6e9, False), RunRef(7, "hq", 1.7e9, False))
    write_html(result, out, changes=changes_context(since))
    assert since.counts()["new"] == 40 and len(since.changes) > 12 + 20
    page = where / "report.html"
    page.write_text(out.getvalue(), encoding="utf-8")
    pdf = where / "report.pdf"
    done = _chromium([f"--print-to-pdf={pdf}", page.as_uri()], where / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    return result, pdf, pages(pdf)


def test_600_devices_summary_in_two_pages_and_60_in_all(
    printed: tuple[ScanResult, Path, list[str]],
) -> None:
    result, pdf, text = printed
    assert PDFINFO is not None
    info = subprocess.run([PDFINFO, str(pdf)], capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"Pages:\s+(\d+)", info)[1])  # type: ignore[index]
    assert len(text) == total <= 60
    devices = result_to_contract(result)["devices"]
    assert len(devices) == DEVICES and sum(d["flagged"] for d in devices) > 300
    findings = next(n for n, p in enumerate(text) if "Findings and what to do Every device" in p)
    assert findings <= 2  # the summary part is pages 1-2 at most (0-based: findings on 3)
    summary = " ".join(text[:findings])
    assert "Executive summary" in text[0] and "DEVICES SCANNED" in text[0].upper()
    assert "Flagged devices by segment and maker" in summary
    assert "Summary by zone and segment" in summary
    assert "Changes since the previous run" in summary  # the first rows, and the count of all
    assert "40 new" in summary and re.search(r"And \d+ more: every change is listed", summary)
    assert "Appendix: every change since the previous run" in " ".join(text[findings:])
    appendix = next(n for n, p in enumerate(text) if "Appendix: every device by segment" in p)
    assert findings < appendix
    grouped = " ".join(text[findings:appendix])
    for d in devices:
        if d["flagged"]:
            assert d["ip"] in grouped, d["ip"]
    back = " ".join(text[appendix:])
    for d in devices:  # every device and its evidence in the appendix
        assert d["ip"] in back, d["ip"]
        for e in d["evidence"][:1]:
            assert e["signature_id"] in back, (d["ip"], e["signature_id"])
