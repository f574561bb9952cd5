"""The HTML report printed by a real Chromium (headless --print-to-pdf), read back with poppler:
evidence is there on paper, no finding or device row is split across pages, every page carries
the scope and date, and the first page is a real picture with the severity colours kept."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from camscan.contract import result_to_contract
from camscan.policy.rules import maker_display
from camscan.report import render
from camscan.report.finding_groups import group_findings
from camscan.report.html import _device_order
from tests.html_sample import office_result
from tests.test_html_chromium import CHROMIUM, _chromium

PDFTOTEXT, PDFTOPPM = shutil.which("pdftotext"), shutil.which("pdftoppm")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or PDFTOTEXT is None or PDFTOPPM is None,
    reason="needs chromium and poppler-utils (apt-get install -y chromium poppler-utils)",
)


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("print")
    out = io.StringIO()
    render(office_result(), "html", out)
    page = where / "report.html"
    page.write_text(out.getvalue(), encoding="utf-8")
    pdf = where / "report.pdf"
    done = _chromium([f"--print-to-pdf={pdf}", page.as_uri()], where / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    return pdf


def pages(pdf: Path) -> list[str]:
    assert PDFTOTEXT is not None
    text = subprocess.run(
        [PDFTOTEXT, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    found = [" ".join(p.split()) for p in text.split("\f")]
    return [p for p in found if p]


def test_more_than_one_page_and_each_has_the_header(pdf: Path) -> None:
    printed = pages(pdf)
    assert len(printed) > 2
    for n, page in enumerate(printed, 1):
        assert "camscan report · 198.18.0.0/22 · scanned 2025-06-01 10:00:00 UTC" in page, n
        assert f"page {n} of {len(printed)}" in page, n


def test_evidence_is_printed_for_every_identified_device(pdf: Path) -> None:
    text = " ".join(pages(pdf))
    for d in result_to_contract(office_result())["devices"]:
        for e in d["evidence"]:
            if e["channel"] == "rtsp.header.www-authenticate":
                realm = e["raw"].split(",")[0]  # 'Digest realm="HIKVISION-3"'
                assert realm in text, d["ip"]


def test_no_finding_is_split_across_pages(pdf: Path) -> None:
    """Each finding card (one per segment, maker and remedy) starts and ends on one page: its
    heading, every device of its table and its [[exception]] entry."""
    printed = pages(pdf)
    devices = result_to_contract(office_result())["devices"]
    groups = group_findings(
        sorted(devices, key=_device_order),
        0.7,
        date(2025, 8, 30),
        frozenset({"hikvision", "dahua"}),
    )
    assert sum(len(g.devices) for g in groups) == 11  # 5 critical, 3 high, 3 for review
    for g in groups:
        head = f"{maker_display(g.maker)} in {g.segment} ({len(g.devices)} device"
        starts = [n for n, p in enumerate(printed) if head in p]
        assert len(starts) == 1, head
        page = printed[starts[0]]
        for d in g.devices:
            assert d["ip"] in page, (head, d["ip"])
        assert f'mac = "{g.devices[0]["mac"]}"' in page, head


def test_no_device_row_is_split_from_its_evidence(pdf: Path) -> None:
    printed = pages(pdf)
    for d in result_to_contract(office_result())["devices"]:
        for e in d["evidence"]:
            if e["channel"] == "rtsp.header.www-authenticate":
                realm = e["raw"].split(",")[0]
                where = [n for n, p in enumerate(printed) if realm in p]
                assert len(where) == 1
                page = printed[where[0]]
                assert d["ip"] in page and "V5.5.82" in page, d["ip"]


def test_unknown_devices_are_printed_as_a_short_list(pdf: Path) -> None:
    text = " ".join(pages(pdf))
    assert text.count("devices with no maker identified and no evidence") == 3
    assert "198.18.2.102" in text


def test_first_page_picture_has_content_and_severity_colours(pdf: Path, tmp_path: Path) -> None:
    assert PDFTOPPM is not None
    subprocess.run(
        [PDFTOPPM, "-f", "1", "-l", "1", "-r", "50", str(pdf), str(tmp_path / "p")], check=True
    )
    ppm = next(tmp_path.glob("p*.ppm")).read_bytes()
    magic, width, height, maxval, pixels = ppm.split(maxsplit=4)
    assert (magic, maxval) == (b"P6", b"255")
    w, h = int(width), int(height)
    assert 380 < w < 440 and 540 < h < 600  # A4 at 50 dpi
    rgb = [pixels[i : i + 3] for i in range(0, w * h * 3, 3)]
    ink = sum(1 for p in rgb if max(p) < 200)
    critical_red = sum(1 for r, g, b in rgb if r > 150 and g < 70 and b < 70)
    assert ink > 0.01 * len(rgb)  # text and tables, not a blank page
    assert critical_red > 50  # the CRITICAL badges kept their colour on paper
    png = tmp_path / "page1.png"
    subprocess.run(
        [PDFTOPPM, "-f", "1", "-l", "1", "-r", "50", "-png", "-singlefile", str(pdf),
         str(png.with_suffix(""))],
        check=True,
    )  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _ppm_pixels(pdf: Path, where: Path) -> list[bytes]:
    assert PDFTOPPM is not None
    subprocess.run(
        [PDFTOPPM, "-f", "1", "-l", "1", "-r", "30", str(pdf), str(where / "t")], check=True
    )
    ppm = next(where.glob("t*.ppm")).read_bytes()
    _, width, height, _, pixels = ppm.split(maxsplit=4)
    return [pixels[i : i + 3] for i in range(0, int(width) * int(height) * 3, 3)]


def test_only_the_reports_own_styles_apply(tmp_path: Path) -> None:
    out = io.StringIO()
    render(office_result(), "html", out)
    page = out.getvalue()
    assert "'unsafe-inline'" not in page
    magenta = "<style>body, main, section { background:#ff00ff !important; }</style>"
    for name, text in (("own", page), ("injected", page.replace("</head>", magenta + "</head>"))):
        html = tmp_path / f"{name}.html"
        html.write_text(text, encoding="utf-8")
        pdf = tmp_path / f"{name}.pdf"
        done = _chromium([f"--print-to-pdf={pdf}", html.as_uri()], tmp_path / f"profile-{name}")
        assert done.returncode == 0, done.stderr[-2000:]
        (tmp_path / name).mkdir()
        pixels = _ppm_pixels(pdf, tmp_path / name)
        pink = sum(1 for r, g, b in pixels if r > 200 and g < 60 and b > 200)
        red = sum(1 for r, g, b in pixels if r > 150 and g < 70 and b < 70)
        assert pink == 0, name  # the extra, unhashed <style> is refused by the page's CSP
        assert red > 10, name  # while the report's own stylesheet applies
