"""Firmware advisories: the shipped rows check themselves, versions parse safely, verdicts are
the four the issue names, and `camscan advisories update` refuses a bad KEV file whole."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.data import shipped_data_dir
from camscan.identify.advisories import NO_ADVISORY, VERSION_UNKNOWN, AdvisoryData, assess
from camscan.identify.advisories.kev import KevError, read_catalogue
from camscan.identify.advisories.table import AdvisoryError, load_table
from camscan.identify.advisories.versions import DahuaVersion, Scheme, compare, parse
from camscan.model import ExposureStatus, Verdict

ADVISORIES = shipped_data_dir("signatures") / "advisories"
DATA = AdvisoryData.load()
KEV_SAMPLE = ADVISORIES / "kev.json"


def _raw_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in sorted(ADVISORIES.glob("*.toml")):
        rows.extend(tomllib.loads(path.read_text(encoding="utf-8")).get("advisory", []))
    return rows


def test_every_shipped_row_loads_with_its_examples() -> None:
    raw = _raw_rows()
    assert len(raw) == len(DATA.table.rows) >= 15
    for r in raw:
        assert r["source"] and r["examples"] and r["counter_examples"]
    by_id = {row.id: row for row in DATA.table.rows}
    for r in raw:
        row = by_id[str(r["id"])]
        for ex in r["examples"]:  # type: ignore[attr-defined]
            assert row.matches(row.maker, ex["model"], ex["version"]), (row.id, ex)
        for ex in r["counter_examples"]:  # type: ignore[attr-defined]
            assert not row.matches(row.maker, ex["model"], ex["version"]), (row.id, ex)


def test_every_cve_has_a_source_and_the_kev_extract_names_the_issue_cves() -> None:
    for cve in DATA.table.cves.values():
        assert cve.source.startswith("https://")
    kev = read_catalogue(KEV_SAMPLE, shipped=True)
    for cve_id in ("CVE-2021-36260", "CVE-2017-7921", "CVE-2021-33044", "CVE-2021-33045"):
        assert cve_id in kev.entries
    assert kev.entries["CVE-2020-5735"].vendor == "Amcrest"


def _copy_data(tmp_path: Path) -> Path:
    d = tmp_path / "advisories"
    shutil.copytree(ADVISORIES, d)
    return d


def _edit_first_row(d: Path, old: str, new: str) -> None:
    path = d / "hikvision.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_row_without_a_source_fails_to_load(tmp_path: Path) -> None:
    d = _copy_data(tmp_path)
    path = d / "hikvision.toml"
    text = path.read_text(encoding="utf-8")
    first_source = re.search(r"^source = .*\n", text, re.MULTILINE)
    assert first_source
    path.write_text(text.replace(first_source.group(), "", 1), encoding="utf-8")
    with pytest.raises(AdvisoryError, match=r"hikvision\.cve-2017-7921.*'source'"):
        load_table(d)


def test_a_row_whose_example_does_not_match_fails_to_load(tmp_path: Path) -> None:
    d = _copy_data(tmp_path)
    _edit_first_row(
        d, 'last_affected = "V5.4.0 build 160530"', 'last_affected = "V5.3.0 build 150101"'
    )
    with pytest.raises(AdvisoryError, match=r"example DS-2CD2032F-I .* does not match"):
        load_table(d)


def test_a_row_whose_counter_example_matches_fails_to_load(tmp_path: Path) -> None:
    d = _copy_data(tmp_path)
    _edit_first_row(d, 'introduced = "V5.2.0 build 140721"\n', "")
    with pytest.raises(AdvisoryError, match=r"counter-example .* matches the row"):
        load_table(d)


def test_a_row_naming_an_unknown_cve_or_maker_fails(tmp_path: Path) -> None:
    d = _copy_data(tmp_path)
    _edit_first_row(d, 'cves = ["CVE-2017-7921"]', 'cves = ["CVE-2099-0001"]')
    with pytest.raises(AdvisoryError, match=r"CVE-2099-0001 has no entry in cves\.toml"):
        load_table(d)
    d2 = _copy_data(tmp_path / "b")
    _edit_first_row(d2, 'maker = "hikvision"', 'maker = "hikvisionn"')
    with pytest.raises(AdvisoryError, match="not in the maker vocabulary"):
        load_table(d2)


# --- versions ------------------------------------------------------------------------------


def test_versions_as_the_makers_write_them() -> None:
    a = parse("V5.6.2build 190701", Scheme.HIKVISION)
    b = parse("V5.5.0 build 170725", Scheme.HIKVISION)
    assert a and b and compare(b, a) == -1
    d1 = parse("2.800.0000000.29.R.210630", Scheme.DAHUA)
    d2 = parse("2.800.0000000.13.R", Scheme.DAHUA)
    d3 = parse("v2.420.ac00.18.r.20200217", Scheme.DAHUA)
    assert d1 and d2 and d3 and compare(d2, d1) == -1
    assert isinstance(d3, DahuaVersion)
    assert d3.date == 200217 and d3.variant == "AC00"
    # Only the build date tells them apart and one has none: no order, never a guess.
    d4 = parse("2.800.0000000.29.R", Scheme.DAHUA)
    assert d4 and compare(d4, d1) is None
    # Another OEM variant: no order either.
    amc = parse("2.800.00AC000.5.R", Scheme.DAHUA)
    assert amc and compare(amc, d1) is None
    for junk in ("", "V5.6.2", "5.6.2 build 991399", "2.800.R", "latest", "V5.6.2build 190701x"):
        assert parse(junk, Scheme.HIKVISION) is None or junk == ""
        assert parse(junk, Scheme.DAHUA) is None


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_fuzzed_versions_never_crash_and_unparseable_never_match(text: str) -> None:
    parsed = {scheme: parse(text, scheme) for scheme in Scheme}
    for row in DATA.table.rows:
        hit = row.matches(row.maker, "DS-2CD2032F-I", text) or row.matches(
            row.maker, "IPC-HDW3441T-ZS", text
        )
        if parsed[row.scheme] is None:
            assert not hit
    for maker, model in (("hikvision", "DS-2CD2385G1-I"), ("dahua", "IPC-HDW3441T-ZS")):
        exposure = assess(Verdict(maker=maker, model=model, firmware=text), DATA)
        scheme = Scheme(maker)
        if parsed[scheme] is None:
            assert exposure.status in (ExposureStatus.UNKNOWN, ExposureStatus.NONE)
            assert not exposure.hits
        assert "safe" not in exposure.summary


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(r"V?\d{1,3}\.\d{1,4}\.[0-9A-Z]{1,12}\.\d{1,6}\.[A-Z](\.\d{6})?", fullmatch=True)
    | st.from_regex(r"V?\d{1,3}\.\d{1,4}\.\d{1,4} ?build ?\d{6}", fullmatch=True),
    st.text(alphabet=" \t\x00x", max_size=3),
)
def test_fuzzed_near_versions_parse_or_are_refused_whole(text: str, junk: str) -> None:
    for scheme in Scheme:
        got = parse(text + junk, scheme)
        if junk.strip(" \t"):
            assert got is None  # trailing rubbish: the whole string is not a version


# --- verdicts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maker", "model", "firmware", "status", "words"),
    [
        ("hikvision", "DS-2CD2385G1-I", "V5.6.2build 190701", "kev", "CVE-2021-36260"),
        ("hikvision", "DS-2CD2032F-I", "V5.3.0 build 151016", "kev", "CVE-2017-7921"),
        ("hikvision", "DS-2CD2386G2-IU", "V5.7.3build 220112", "none", NO_ADVISORY),
        ("dahua", "IPC-HDW3441T-ZS", "2.800.0000000.16.R.200611", "kev", "CVE-2021-33045"),
        ("dahua", "IPC-HDW3441T-ZS", "2.800.0000000.31.R.220301", "none", NO_ADVISORY),
        ("dahua", "IP2M-841", "2.420.AC00.15.R", "kev", "CVE-2020-5735"),
        ("dahua", "IPC-HDW3441T-ZS", None, "unknown", VERSION_UNKNOWN),
        ("dahua", "IPC-HDW3441T-ZS", "2.800.0000000.29.R", "unknown", VERSION_UNKNOWN),
        ("hikvision", "DS-2CD2385G1-I", "5.6.2 (beta)", "unknown", VERSION_UNKNOWN),
        ("hikvision", None, "V5.6.2build 190701", "unknown", VERSION_UNKNOWN),
    ],
)
def test_exposure_verdicts(
    maker: str, model: str | None, firmware: str | None, status: str, words: str
) -> None:
    exposure = assess(Verdict(maker=maker, model=model, firmware=firmware), DATA)
    assert exposure.status == status
    assert words in exposure.summary
    if status == "kev":
        assert exposure.summary.startswith("known exploited (KEV): ")
        assert "fixed in" in exposure.summary
        hit = next(h for h in exposure.hits if h.cve in exposure.summary)
        assert hit.kev_due and hit.kev_action and hit.source


def test_a_cve_not_on_the_kev_list_is_affected_not_kev() -> None:
    import dataclasses

    kev = dataclasses.replace(
        DATA.kev,
        entries={
            k: v
            for k, v in DATA.kev.entries.items()
            if k not in ("CVE-2017-7921", "CVE-2021-36260")
        },
    )
    data = AdvisoryData(DATA.table, kev)
    verdict = Verdict(maker="hikvision", model="DS-2DF8223I-AEL", firmware="V5.4.5 build 160928")
    exposure = assess(verdict, data)
    assert exposure.status is ExposureStatus.AFFECTED
    assert exposure.summary.startswith("affected by a known CVE: CVE-2017-7921")
    assert not any(h.kev for h in exposure.hits)
    assert assess(verdict, DATA).status is ExposureStatus.KEV


# --- camscan advisories update --------------------------------------------------------------


def _update(tmp_path: Path, file: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMSCAN_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "camscan", "advisories", "update", str(file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _catalogue(n: int = 3) -> dict[str, object]:
    doc = json.loads(KEV_SAMPLE.read_text(encoding="utf-8"))
    doc["vulnerabilities"] = doc["vulnerabilities"][:n]
    doc["count"] = n
    doc["dateReleased"] = "2026-11-30T17:00:00.000Z"
    doc["catalogVersion"] = "2026.11.30"
    catalogue: dict[str, object] = doc
    return catalogue


def test_update_installs_a_good_catalogue_and_refuses_bad_ones_keeping_it(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_catalogue()), encoding="utf-8")
    ok = _update(tmp_path, good)
    assert ok.returncode == 0, ok.stderr
    assert "KEV catalogue 2026.11.30" in ok.stdout
    installed = tmp_path / "data" / "kev" / "known_exploited_vulnerabilities.json"
    before = installed.read_bytes()

    text = good.read_text(encoding="utf-8")
    bad_cases = {
        "truncated.json": text[: len(text) // 2],
        "count.json": json.dumps({**_catalogue(), "count": 999}),
        "missing.json": json.dumps(
            {**_catalogue(), "vulnerabilities": [{"cveID": "CVE-2021-36260"}], "count": 1}
        ),
        "wrongtype.json": json.dumps(
            {
                **_catalogue(1),
                "vulnerabilities": [
                    {**_catalogue(1)["vulnerabilities"][0], "dueDate": 20220124}  # type: ignore[index]
                ],
            }
        ),
        "notkev.json": json.dumps({"resultsPerPage": 1, "vulnerabilities": [{"cve": {}}]}),
        "array.json": "[1, 2, 3]",
        "badcve.json": json.dumps(
            {
                **_catalogue(1),
                "vulnerabilities": [
                    {**_catalogue(1)["vulnerabilities"][0], "cveID": "CVE-21-1"}  # type: ignore[index]
                ],
            }
        ),
        "deep.json": "[" * 100_000,
        "binary.json": "\udcff",
    }
    for name, body in bad_cases.items():
        path = tmp_path / name
        path.write_bytes(body.encode("utf-8", "surrogateescape"))
        r = _update(tmp_path, path)
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("camscan: error: "), (name, r.stderr)
        assert "Traceback" not in r.stderr
        assert installed.read_bytes() == before, name

    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:
        f.write(b'{"catalogVersion": "x", "pad": "')
        f.truncate(40 << 20)
    r = _update(tmp_path, huge)
    assert r.returncode == 2 and "larger than" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert installed.read_bytes() == before

    missing = _update(tmp_path, tmp_path / "nope.json")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_extra_fields_cisa_may_add_are_accepted_and_a_stale_catalogue_warns(tmp_path: Path) -> None:
    doc = _catalogue()
    doc["newTopLevel"] = {"x": 1}
    doc["vulnerabilities"][0]["newField"] = "y"  # type: ignore[index]
    path = tmp_path / "extra.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    cat = read_catalogue(path)
    assert len(cat.entries) == 3
    old = read_catalogue(KEV_SAMPLE, shipped=True)
    import datetime as dt

    assert old.staleness_warning(dt.date(2030, 1, 1))
    assert old.staleness_warning(old.released) is None
    with pytest.raises(KevError):
        read_catalogue(tmp_path / "missing.json")


def test_an_unreadable_data_dir_falls_back_to_the_shipped_kev_extract(tmp_path: Path) -> None:
    # Seen: a user who cannot search root's data dir got "internal error: PermissionError".
    # Root reads everything, so the unreadable path here is one the kernel refuses to stat.
    from camscan.identify.advisories.kev import load_catalogue, shipped_path

    env = {**os.environ, "CAMSCAN_DATA_DIR": str(tmp_path / ("x" * 300))}
    probe = (
        "from camscan.identify.advisories.kev import load_catalogue;print(load_catalogue().path)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(shipped_path())
    assert load_catalogue().path == shipped_path()  # and the usual case is unchanged
