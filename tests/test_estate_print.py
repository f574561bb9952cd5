"""The estate's HTML printed by a real Chromium (headless --print-to-pdf) and read back with
poppler: page 1 is the one-page summary (the silent site named, the cards, both charts drawn),
the site table starts on page 2, and every page is A4 with the header."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_cli import camscan
from tests.test_estate import VAULT_DEADLINE, build
from tests.test_html_chromium import CHROMIUM, _chromium
from tests.test_html_print import pages

PDFINFO, PDFTOPPM = shutil.which("pdfinfo"), shutil.which("pdftoppm")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or PDFINFO is None or PDFTOPPM is None or not shutil.which("pdftotext"),
    reason="needs chromium and poppler-utils (apt-get install -y chromium poppler-utils)",
)
BURNDOWN_BLUE = (0x1F, 0x4E, 0x79)  # the burn-down line's colour (history/estate_charts.py)


def _printed(store_url: str, where: Path) -> Path:
    build(store_url)
    page = where / "estate.html"
    r = camscan("estate", "--db", store_url, "--since", "4d", "-o", str(page))
    assert r.returncode == 1, r.stderr
    pdf = where / "estate.pdf"
    done = _chromium([f"--print-to-pdf={pdf}", page.as_uri()], where / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    return pdf


def _coloured_pixels(pdf: Path, where: Path, rgb: tuple[int, int, int]) -> int:
    """Pixels of page 1 within a few levels of `rgb` (a drawn line, not text)."""
    assert PDFTOPPM is not None
    subprocess.run(
        [PDFTOPPM, "-r", "50", "-f", "1", "-l", "1", str(pdf), str(where / "p1")], check=True
    )
    ppm = next(where.glob("p1*.ppm")).read_bytes()
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", ppm)
    assert header is not None
    body = ppm[header.end() :]
    return sum(
        1
        for i in range(0, len(body) - 2, 3)
        if all(abs(body[i + k] - rgb[k]) < 24 for k in range(3))
    )


def test_page_one_is_the_summary_with_both_charts(store_url: str, tmp_path: Path) -> None:
    pdf = _printed(store_url, tmp_path)
    assert PDFINFO is not None
    info = subprocess.run([PDFINFO, str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"Pages:\s+(\d+)", info)[1])  # type: ignore[index]
    assert "(A4)" in info, info
    printed = pages(pdf)
    assert len(printed) == count >= 2
    first = printed[0]
    assert "1 of 3 sites unknown: no recent complete run (depot)" in first
    assert first.index("depot: no complete run for 3.0 days") < first.index("Listed makers")
    assert "Listed makers' devices in core and sensitive zones" in first
    assert f"deadline {VAULT_DEADLINE.isoformat()}" in first
    assert "Flagged devices per site, run by run" in first
    assert all(site in first for site in ("depot", "hq", "branch"))  # the trend's legend
    assert "Sites" not in first.split("run by run")[1]  # the site table is not on page 1
    assert printed[1].startswith("camscan estate") and "Sites" in printed[1]
    for n, page in enumerate(printed, 1):
        assert f"page {n} of {count}" in page
    assert _coloured_pixels(pdf, tmp_path, BURNDOWN_BLUE) > 150  # the line is drawn
