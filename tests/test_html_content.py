"""What the HTML report says: summary by zone and segment, per-finding remediation steps, scan
context, unknown devices grouped and collapsed, sections other stages add; still no script."""

from __future__ import annotations

import io
import re
import tomllib
from html.parser import HTMLParser

from camscan.contract import result_to_contract
from camscan.report.html import HtmlSection, write_html
from camscan.report.remediation import remedy_for
from tests.html_sample import office_result


def page(**kw: object) -> str:
    out = io.StringIO()
    write_html(office_result(), out, **kw)  # type: ignore[arg-type]
    return out.getvalue()


def section(html: str, name: str) -> str:
    return re.split(f'<section id="{name}"[^>]*>', html)[1].split("</section>")[0]


def cells(html: str) -> list[list[str]]:
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows]  # fmt: skip


def test_summary_by_zone_and_segment_counts_each_segment() -> None:
    rows = [r for r in cells(section(page(), "zones")) if r]
    by_segment = {r[1]: r for r in rows}
    # zone, segment, networks, devices, identified, listed, flagged, critical, high, medium, accepted
    assert by_segment["hq-core"] == ["core", "hq-core", "198.18.0.0/24", "10", "5", "5", "5",
                                     "5", "0", "0", "0"]  # fmt: skip
    assert by_segment["evidence-store"][3:] == ["9", "4", "4", "3", "0", "3", "0", "1"]
    assert by_segment["car-park"][3:] == ["9", "4", "3", "0", "0", "0", "3", "0"]
    assert [r[0] for r in rows] == ["core", "sensitive", "general"]  # core first


def test_findings_are_grouped_with_steps_once_and_an_exception_entry() -> None:
    """One card per segment, maker and remedy (issue 22): its devices in one table, the steps
    and the [[exception]] entry once; every finding's device in exactly one card."""
    html = section(page(), "findings")
    blocks = html.split('<div class="finding ')[1:]
    actionable = [
        d for d in result_to_contract(office_result())["devices"]
        if d["severity"] in ("critical", "high", "medium") and d["maker"]
    ]  # fmt: skip
    assert len(actionable) == 11
    for d in actionable:
        assert sum(f'<td class="mono">{d["ip"]}</td>' in b for b in blocks) == 1, d["ip"]
    assert len(blocks) < len(actionable)  # grouped, not one card per device
    core = next(b for b in blocks if '<td class="mono">198.18.0.11</td>' in b)
    assert "Disconnect from the core network" in core
    assert core.count("Disconnect it from the core network (hq-core)") == 1  # the steps once
    assert core.count("<tr") - 1 == sum(1 for d in actionable if d["segment"] == "hq-core")
    sensitive = next(b for b in blocks if '<td class="mono">198.18.1.16</td>' in b)
    assert "Replace or remove it: evidence-store is a sensitive site" in sensitive
    review = next(b for b in blocks if '<td class="mono">198.18.2.19</td>' in b)
    assert "Review it" in review
    for block in blocks:
        assert block.count('<pre class="toml">') == 1
        toml = block.split('<pre class="toml">')[1].split("</pre>")[0].replace("&#34;", '"')
        entry = tomllib.loads(toml)["exception"][0]
        assert set(entry) == {"mac", "reason", "accepted_by", "expires"}
        assert str(entry["expires"]) == "2025-08-30"  # 90 days after the scan
    assert not [b for b in blocks if "198.18.1.40" in b]  # accepted: nothing to do


def test_low_confidence_finding_asks_to_confirm_the_maker() -> None:
    device = result_to_contract(office_result())["devices"][0] | {
        "confidence": 0.4,
        "severity": "medium",
    }
    from datetime import date

    remedy = remedy_for(device, 0.7, date(2025, 1, 1))
    assert remedy is not None
    assert remedy.headline == "Confirm the maker"
    assert "below the 0.70 needed to flag" in remedy.steps[0]


def test_scan_context_names_host_interfaces_probes_coverage_and_data() -> None:
    ctx = section(page(), "context")
    text = re.sub(r"<[^>]+>", " ", ctx)
    text = " ".join(text.split())
    assert "Scanner host scanner-01" in text
    assert "Interfaces eth0" in text
    assert "Probes arp, sadp, dhip, wsd, http, rtsp" in text
    assert "complete: every probe stage ran; 1 run-level probe error" in text
    assert "probe wsd timed out" in text
    assert "arp.replies 28, arp.sent 1022" in text
    assert "OUI data generated 2025-05-01" in text
    assert "Signatures 6 files, sha256 0123456789ab" in text


def test_run_fields_added_later_show_up_in_the_context() -> None:
    result = office_result()
    out = io.StringIO()
    contract_run = result_to_contract(result)["run"]
    assert "coverage_note" not in contract_run
    from camscan.report import html as html_mod

    facts = html_mod._other_run_facts({**contract_run, "coverage_note": {"arp": "253/254"}})
    assert facts == [("coverage_note", '{"arp": "253/254"}')]
    write_html(result, out)


def test_unknown_devices_are_grouped_and_collapsed_on_screen() -> None:
    html = section(page(), "segments")
    groups = re.findall(
        r'<details class="unknowns"><summary>(\d+) devices with no maker identified and no '
        r'evidence</summary></details>\s*<div class="ev-body unknown-list">(.*?)</div>',
        html,
        re.S,
    )
    assert [int(n) for n, _ in groups] == [5, 5, 5]
    assert sum(body.count("<tr>") for _, body in groups) == 15 + 3  # rows + header rows
    # none of them is a full row of the device tables
    main_rows = html.split('<details class="unknowns">')[0]
    assert "198.18.0.100" not in main_rows
    css = page().split("<style>")[1]
    assert ".ev-body { display:none; } details[open] + .ev-body { display:block; }" in css


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def test_extra_sections_render_after_the_summary_and_stay_escaped() -> None:
    source = '<section id="extra"><h2>{{ section.values.title }}</h2></section>\n'
    html = page(
        sections=[HtmlSection("extra.html.j2", {"title": "<script>x</script> changes"}, source)]
    )
    assert html.index('id="summary"') < html.index('id="extra"') < html.index('id="zones"')
    assert "&lt;script&gt;x&lt;/script&gt; changes" in html
    parser = _Tags()
    parser.feed(html)
    assert "script" not in parser.tags


def test_print_header_text_cannot_break_out_of_css() -> None:
    result = office_result()
    result.run.targets = ['198.18.0.0/22"; } body { display:none } @x { "\\']
    out = io.StringIO()
    write_html(result, out)
    style = out.getvalue().split("<style>")[1].split("</style>")[0]
    header = re.search(r'@top-left \{ content:"([^"]*)"', style)
    assert header is not None
    assert "body { display:none }" not in style
    assert not set(header.group(1)) & set("{};\"'<>")  # inert text inside one CSS string
