"""`camscan history`, `diff` and `report RUN` against stored runs, in-process (no lab, no packets).

Runs are built from real observations through camscan's identify and policy stages (see
tests/test_store.py) and stored on both backends.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from camscan.history.diff import DeviceChange, FieldChange, RunDiff, RunRef
from camscan.history.render import CSV_COLUMNS, write_diff
from camscan.model import SCHEMA_VERSION
from camscan.store import open_store
from tests.test_cli import camscan
from tests.test_store import baseline_devices, later_devices, result


def stored(url: str) -> tuple[int, int, int]:
    """Two complete runs of site hq, then a partial one; one run of site branch."""
    store = open_store(url)
    try:
        t = time.time() - 1000
        a = store.save(result(baseline_devices(), started=t), "hq")
        b = store.save(result(later_devices(), started=t + 10), "hq")
        p = store.save(result(baseline_devices(), partial=True, started=t + 20), "hq")
        store.save(result(baseline_devices(), started=t + 30), "branch")
    finally:
        store.close()
    return a, b, p


def test_history_lists_runs_newest_first(store_url: str) -> None:
    a, b, p = stored(store_url)
    r = camscan("history", "--db", store_url, "-f", "json")
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)
    assert [(x["site"], x["partial"]) for x in runs] == [
        ("branch", False),
        ("hq", True),
        ("hq", False),
        ("hq", False),
    ]
    table = camscan("history", "--db", store_url, "--site", "hq")
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "run",
        "site",
        "started",
        "targets",
        "devices",
        "flagged",
        "partial",
    ]
    assert [line.split()[0] for line in lines[1:]] == [str(p), str(b), str(a)]
    assert lines[1].split()[-1] == "yes" and lines[2].split()[-1] == "no"


def test_diff_defaults_to_the_last_two_complete_runs_of_the_site(store_url: str) -> None:
    a, b, _ = stored(store_url)
    r = camscan("diff", "--db", store_url, "--site", "hq", "-f", "json")
    assert r.returncode == 1, r.stderr  # findings newly flagged
    doc = json.loads(r.stdout)
    assert (doc["before"]["id"], doc["after"]["id"]) == (a, b)  # the partial run is skipped
    assert doc["counts"] == {
        "newly_flagged": 2,
        "new": 1,
        "gone": 1,
        "moved": 1,
        "changed": 1,
        "resolved": 0,
    }
    back = camscan("diff", str(b), str(a), "--db", store_url, "-f", "json")
    assert back.returncode == 0  # the other way round nothing is newly flagged...
    assert json.loads(back.stdout)["counts"]["resolved"] == 2  # ...two are resolved


def test_diff_errors_are_one_line_with_the_usage_code(store_url: str) -> None:
    a, _, _ = stored(store_url)
    for args, needle in (
        (["diff", str(a), "999"], "no run 999"),
        (["diff", "--site", "branch"], "fewer than two complete runs"),
        (["diff", "1", "2", "3"], "at most two run ids"),
        (["diff", "x1"], "not a run id"),
        (["diff", str(a), "-f", "jsonl"], "--format 'jsonl'"),
    ):
        r = camscan(*args, "--db", store_url)
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_report_of_a_stored_run_shows_the_changes_in_html(store_url: str) -> None:
    a, b, _ = stored(store_url)
    page = camscan("report", str(b), "--db", store_url, "-f", "html").stdout
    assert "Changes since the previous run" in page
    assert f"run {a} (" in page and "V5.7.3build 220112" in page
    first = camscan("report", str(a), "--db", store_url, "-f", "html").stdout
    assert "<h1" in first and "Changes since the previous run" not in first  # nothing before it
    as_json = json.loads(camscan("report", str(b), "--db", store_url, "-f", "json").stdout)
    assert {d["device_id"] for d in as_json["devices"]} >= {"mac:58:50:ed:00:00:20"}


def test_every_stored_report_names_its_site(store_url: str) -> None:
    """Issue 22: a stored run's report never named its site; now the HTML header and the JSON
    contract's run.site (1.10) do, and a run never stored says null."""
    a, _, _ = stored(store_url)
    branch = open_store(store_url, readonly=True)
    try:
        other = next(r.id for r in branch.runs("branch"))
    finally:
        branch.close()
    for run_id, site in ((a, "hq"), (other, "branch")):
        page = camscan("report", str(run_id), "--db", store_url, "-f", "html").stdout
        assert f'<div class="meta">Site {site} &middot; Scan started' in page
        doc = json.loads(camscan("report", str(run_id), "--db", store_url, "-f", "json").stdout)
        assert doc["run"]["site"] == site and doc["schema_version"] == SCHEMA_VERSION
    never = json.loads(camscan("report", "-", "-f", "json", stdin=json.dumps(doc)).stdout)
    assert never["run"]["site"] == site  # a saved copy keeps it
    fresh = result(baseline_devices())
    out = io.StringIO()
    from camscan.report import render

    render(fresh, "json", out)
    assert json.loads(out.getvalue())["run"]["site"] is None


def test_hostile_text_stays_inert_in_every_diff_format() -> None:
    # Device text reaches a diff verbatim (models, badges, firmware are what devices say).
    evil = '=HYPERLINK("http://x")\x1b[2J<script>alert(1)</script>'
    change = DeviceChange(
        kind="changed",
        device_id="serial:" + evil,
        ip="198.18.70.10",
        mac=None,
        maker="hikvision",
        brand=evil,
        model=evil,
        segment="servers",
        zone="core",
        severity="critical",
        fields=(FieldChange("firmware", "V5.6.2", evil),),
    )
    diff = RunDiff(RunRef(1, "hq", 0.0, False), RunRef(2, "hq", 10.0, False), (change,))
    out = {}
    for fmt in ("table", "json", "csv", "html"):
        buf = io.StringIO()
        write_diff(diff, fmt, buf)
        out[fmt] = buf.getvalue()
    assert "\x1b" not in out["table"] and "\\x1b[2J" in out["table"]
    rows = list(csv.reader(io.StringIO(out["csv"])))
    assert all(not cell.startswith("=") for row in rows for cell in row)
    assert rows[1][CSV_COLUMNS.index("model")].startswith("'=HYPERLINK")
    assert "<script>" not in out["html"] and "&lt;script&gt;" in out["html"]
    assert "\x1b" not in out["html"]
    assert json.loads(out["json"])["changes"][0]["model"] == evil  # JSON keeps it exactly


def test_diff_output_format_follows_the_file_name(store_url: str, tmp_path: Path) -> None:
    a, b, _ = stored(store_url)
    for name, starts in (
        ("d.csv", "change,device_id,"),
        ("d.html", "<!DOCTYPE html>"),
        ("d.json", "{"),
        ("d.txt", "changes of site 'hq'"),
    ):
        r = camscan("diff", str(a), str(b), "--db", store_url, "-o", str(tmp_path / name))
        assert r.returncode == 1, r.stderr
        assert (tmp_path / name).read_text().startswith(starts), name


def test_diff_and_history_write_every_o_given_as_scan_does(store_url: str, tmp_path: Path) -> None:
    # -o as often as wanted, FORMAT:FILE too, each file written whole (temporary file renamed);
    # a format the command does not write, or a file it cannot write, is one line and exit 2.
    a, b, _ = stored(store_url)
    js, page, listing = tmp_path / "d.json", tmp_path / "changes.out", tmp_path / "runs.csv"
    r = camscan("diff", str(a), str(b), "--db", store_url, "-o", str(js), "-o", f"html:{page}")
    assert r.returncode == 1, r.stderr  # a finding is newly flagged between a and b
    assert json.loads(js.read_text())["after"]["id"] == b
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob(".*.tmp"))
    h = camscan("history", "--db", store_url, "-o", str(listing), "-o", "-")
    assert h.returncode == 0, h.stderr
    assert next(csv.reader(io.StringIO(listing.read_text())))[0] == "run"
    assert h.stdout.split()[:2] == ["run", "site"]  # and the table on standard output
    for args, says in (
        (["diff", "--db", store_url, "-o", str(tmp_path / "d.jsonl")], "format 'jsonl' is not one"),
        (["history", "--db", store_url, "-f", "html"], "'html' is not one of table, json, csv"),
        (["diff", "--db", store_url, "-o", f"json:{tmp_path}"], "is a directory"),
        (
            ["diff", "--db", store_url, "-o", str(tmp_path / "d.out")],
            "formats: table, json, csv, html)",
        ),
    ):
        bad = camscan(*args)
        assert bad.returncode == 2 and says in bad.stderr, (args, bad.stderr)
        assert len(bad.stderr.strip().splitlines()) == 1


def _config(tmp_path: Path, url: str, site: str | None = None) -> Path:
    cfg = tmp_path / "camscan.toml"
    lines = ["[store]", f"db = {json.dumps(url)}"] + (
        [f"site = {json.dumps(site)}"] if site else []
    )
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def test_every_store_reader_honours_the_configs_store_and_db(
    store_url: str, tmp_path: Path
) -> None:
    # Issue 22: `report RUN` read (and created) the default SQLite file whatever [store] db said.
    a, b, _ = stored(store_url)
    cfg = str(_config(tmp_path, store_url))
    elsewhere = str(tmp_path / "never-created.sqlite3")
    for args in (
        ["report", str(b), "-f", "json", "-c", cfg],
        ["history", "-f", "json", "-c", cfg],
        ["diff", str(a), str(b), "-f", "json", "-c", cfg],
    ):
        r = camscan(*args)
        assert r.returncode in (0, 1), (args, r.stderr)
        assert json.loads(r.stdout), args
        other = camscan(*args, "--db", elsewhere)  # --db wins over the config
        assert other.returncode in (0, 3), (args, other.stderr)
        assert str(b) not in other.stdout.split(), args
    assert not Path(elsewhere).exists()  # readers never create a store


def test_history_site_all_lists_every_site_despite_the_config(
    store_url: str, tmp_path: Path
) -> None:
    stored(store_url)
    cfg = str(_config(tmp_path, store_url, site="hq"))
    one = json.loads(camscan("history", "-f", "json", "-c", cfg).stdout)
    assert {x["site"] for x in one} == {"hq"}
    every = camscan("history", "--site", "all", "-f", "json", "-c", cfg)
    assert every.returncode == 0, every.stderr
    assert {x["site"] for x in json.loads(every.stdout)} == {"hq", "branch"}


def test_diff_across_two_sites_needs_a_flag(store_url: str) -> None:
    a, _, _ = stored(store_url)
    branch = max(
        x["run"] for x in json.loads(camscan("history", "--db", store_url, "-f", "json").stdout)
    )
    r = camscan("diff", str(a), str(branch), "--db", store_url, "-f", "json")
    assert r.returncode == 2 and not r.stdout
    assert "needs --across-sites" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    ok = camscan("diff", str(a), str(branch), "--db", store_url, "-f", "json", "--across-sites")
    assert ok.returncode in (0, 1), ok.stderr
    assert json.loads(ok.stdout)["after"]["site"] == "branch"


def test_an_imported_nmap_run_keeps_nmaps_own_time_and_arguments(
    store_url: str, tmp_path: Path
) -> None:
    """Issue 22: an import was stamped with the import time, this host and privileged true.
    Now it keeps nmap's <nmaprun start= args=> and <finished time=>, names no scanner host (the
    XML does not) and says privileged null: not recorded."""
    fixture = Path(__file__).parent / "fixtures" / "nmap_camera_lab.xml"
    r = camscan("import", str(fixture), "-f", "json", "--db", store_url, "--site", "lab", "-q")
    assert r.returncode in (0, 1), r.stderr
    run = json.loads(r.stdout)["run"]
    assert run["started"] == 1699956000.0 and run["ended"] == 1699956050.0
    assert run["args"].startswith("nmap -sV --script http-title")
    assert run["scanner_host"] == "" and run["privileged"] is None
    listed = json.loads(camscan("history", "--db", store_url, "-f", "json").stdout)
    assert [(x["site"], x["started"], x["ended"]) for x in listed] == [
        ("lab", 1699956000.0, 1699956050.0)
    ]
    stored_run = json.loads(
        camscan("report", str(listed[0]["run"]), "--db", store_url, "-f", "json").stdout
    )["run"]
    assert stored_run["privileged"] is None and stored_run["args"] == run["args"]
    page = camscan("report", str(listed[0]["run"]), "--db", store_url, "-f", "html").stdout
    assert "not recorded (an imported run)" in page and "Ran without raw-socket" not in page
