"""CLI conventions admins expect (no lab needed: nmap data and saved results as input):
repeatable -o with the format from the name, -o - for stdout, - for stdin, one exit-code rule
with --fail-on, config discovery, --verbose, completion, help in words, Linux only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "nmap_camera_lab.xml"
ROOT = Path(__file__).parents[1]
CORE = '[[segment]]\nname = "hq"\ncidrs = ["198.18.0.64/32"]\nzone = "core"\n'


def camscan(
    *args: str,
    stdin: str | bytes | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("CAMSCAN_CONFIG", "NO_COLOR")}
    base["PYTHONPATH"] = str(ROOT)
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "camscan", *args],
        input=stdin.decode() if isinstance(stdin, bytes) else stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or ROOT,
        env=base,
    )


@pytest.fixture
def core_cfg(tmp_path: Path) -> Path:
    cfg = tmp_path / "core.toml"
    cfg.write_text(CORE)
    return cfg


@pytest.fixture
def saved(tmp_path: Path, core_cfg: Path) -> Path:
    out = tmp_path / "flagged.json"
    r = camscan("import", str(FIXTURE), "-c", str(core_cfg), "-o", str(out))
    assert r.returncode == 1, r.stderr  # one Hikvision on the core segment
    return out


def test_repeatable_outputs_take_the_format_from_the_name(tmp_path: Path) -> None:
    names = ["r.json", "r.jsonl", "r.csv", "r.html", "r.txt", "r.ecs.jsonl", "r.defectdojo.json"]
    args = [a for n in names for a in ("-o", str(tmp_path / n))]
    r = camscan("import", str(FIXTURE), *args)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # every report went to its file
    assert json.loads((tmp_path / "r.json").read_text())["schema_version"]
    assert json.loads((tmp_path / "r.jsonl").read_text().splitlines()[-1])["type"] == "run"
    assert (tmp_path / "r.csv").read_text().startswith("record,ip,mac,")
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert "3 devices, 3 identified" in (tmp_path / "r.txt").read_text()
    ecs = json.loads((tmp_path / "r.ecs.jsonl").read_text().splitlines()[0])
    assert ecs["ecs"]["version"]
    assert "findings" in json.loads((tmp_path / "r.defectdojo.json").read_text())


def test_dash_is_standard_output_not_a_file_named_dash(tmp_path: Path) -> None:
    csv_out = "csv:" + str(tmp_path / "x.out")
    r = camscan("import", str(FIXTURE), "-o", "-", "-o", csv_out, "-f", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["devices"]
    assert not (tmp_path / "-").exists()
    assert (tmp_path / "x.out").read_text().startswith("record,ip,mac,")  # FORMAT:FILE wins over -f


def test_unknown_extension_or_two_stdouts_are_one_line_usage_errors(tmp_path: Path) -> None:
    for args in (["-o", str(tmp_path / "report.out")], ["-o", "-", "-o", "-"]):
        r = camscan("import", str(FIXTURE), *args)
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "cannot tell the format" in camscan("import", str(FIXTURE), "-o", "x.out").stderr


def test_identify_writes_files_too(tmp_path: Path) -> None:
    head = "HTTP/1.1 401 Unauthorized\r\nServer: App-webs/\r\n\r\n"
    r = camscan("identify", "-", "-o", str(tmp_path / "i.json"), stdin=head)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "i.json").read_text())["devices"][0]["maker"] == "hikvision"


def test_config_check_reads_standard_input() -> None:
    r = camscan("config", "check", "-", stdin=CORE)
    assert r.returncode == 0, r.stderr
    first, *policy = r.stdout.splitlines()
    assert first == "-: OK: 1 segments: hq (core: 198.18.0.64/32); 0 exceptions"
    assert policy and all(line.startswith("-: policy: ") for line in policy)
    bad = camscan("config", "check", "-", stdin="[[segment]]\nname = 1\n")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_import_and_report_read_standard_input(saved: Path) -> None:
    r = camscan("import", "-", "-f", "json", stdin=FIXTURE.read_text())
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["devices"]) == 3
    r = camscan("report", "-", "-f", "csv", stdin=saved.read_text())
    assert r.returncode == 1, r.stderr  # the same exit rule as the scan that made it
    assert "198.18.0.64" in r.stdout
    bad = camscan("report", "-", stdin="{not json")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "camscan: error: standard input: not JSON (line 1, column 2: Expecting property name "
        "enclosed in double quotes)"
    )


def test_every_reporting_command_exits_by_the_same_rule(saved: Path, core_cfg: Path) -> None:
    head = "HTTP/1.1 401 Unauthorized\r\nServer: App-webs/\r\n\r\n"
    flagged = [
        camscan("import", str(FIXTURE), "-c", str(core_cfg)),
        camscan("report", str(saved)),
        camscan("report", str(saved), "-f", "json"),
    ]
    assert [r.returncode for r in flagged] == [1, 1, 1]
    clean = [camscan("import", str(FIXTURE)), camscan("identify", stdin=head)]
    assert [r.returncode for r in clean] == [0, 0]


def test_fail_on_chooses_the_threshold(saved: Path) -> None:
    codes = {
        level: camscan("report", str(saved), "--fail-on", level, "-f", "json").returncode
        for level in ("flagged", "overdue", "critical", "high", "medium", "info", "never")
    }
    # .64 critical (flagged), .108 medium, .90 info; no removal deadline: nothing overdue
    assert codes == {
        "flagged": 1,
        "overdue": 0,
        "critical": 1,
        "high": 1,
        "medium": 1,
        "info": 1,
        "never": 0,
    }
    clean = camscan("import", str(FIXTURE), "-f", "json", "--fail-on", "medium")
    assert clean.returncode == 1  # two listed makers outside any segment: medium, for review
    assert camscan("import", str(FIXTURE), "-f", "json", "--fail-on", "high").returncode == 0
    bad = camscan("report", str(saved), "--fail-on", "severe")
    assert bad.returncode == 2
    assert "--fail-on 'severe' is not one of flagged, overdue, critical" in bad.stderr


def test_partial_saved_run_exits_3_unless_something_fails_first(tmp_path: Path) -> None:
    doc = json.loads(camscan("import", str(FIXTURE), "-f", "json").stdout)
    doc["run"]["partial"] = True
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(doc))
    assert camscan("report", str(path), "-f", "json").returncode == 3
    assert camscan("report", str(path), "-f", "json", "--fail-on", "medium").returncode == 1


def test_config_is_found_where_admins_put_it(tmp_path: Path) -> None:
    home_cfg = tmp_path / "xdg" / "camscan"
    home_cfg.mkdir(parents=True)
    (home_cfg / "camscan.toml").write_text(CORE)
    here = tmp_path / "work"
    here.mkdir()
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}

    def segment_of_64(cwd: Path, extra: dict[str, str] | None = None) -> str | None:
        r = camscan("import", str(FIXTURE), "-f", "json", cwd=cwd, env={**env, **(extra or {})})
        assert r.returncode in (0, 1), r.stderr
        seg: str | None = next(
            d["segment"] for d in json.loads(r.stdout)["devices"] if d["ip"] == "198.18.0.64"
        )
        return seg

    assert segment_of_64(here) == "hq"  # the user config dir
    (here / "camscan.toml").write_text(CORE.replace('"hq"', '"local"'))
    assert segment_of_64(here) == "local"  # ./camscan.toml comes first
    named = tmp_path / "named.toml"
    named.write_text(CORE.replace('"hq"', '"from-env"'))
    assert segment_of_64(here, {"CAMSCAN_CONFIG": str(named)}) == "from-env"
    missing = camscan("import", str(FIXTURE), env={"CAMSCAN_CONFIG": str(tmp_path / "no.toml")})
    assert missing.returncode == 2
    assert "no.toml" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    top = camscan("--help").stdout
    assert "$CAMSCAN_CONFIG" in top
    assert "./camscan.toml" in top
    assert "/etc/camscan.toml" in top


def test_verbose_logs_to_stderr_and_keeps_stdout_clean(tmp_path: Path) -> None:
    quiet = camscan("import", str(FIXTURE), "-f", "json")
    loud = camscan("-v", "import", str(FIXTURE), "-f", "json")
    assert quiet.stderr == ""
    assert "camscan: INFO: camscan.cli: config: none found" in loud.stderr
    assert "writing json to standard output" in loud.stderr
    assert json.loads(loud.stdout) and loud.stdout.count("\n") == quiet.stdout.count("\n")
    debug = camscan("--debug", "import", str(FIXTURE), "-f", "json")
    assert "camscan: INFO: camscan.cli: writing json" in debug.stderr


def test_completion_and_version() -> None:
    top = camscan("--help").stdout
    assert "--install-completion" in top
    assert "--show-completion" in top
    script = camscan("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert script.returncode == 0, script.stderr
    assert "complete" in script.stdout and "_CAMSCAN_COMPLETE" in script.stdout
    assert re.fullmatch(r"camscan \d+\.\d+\.\d+\S*\n", camscan("--version").stdout)


def _all_help() -> str:
    texts = [camscan("--help").stdout]
    for cmd in ("scan", "report", "identify", "import", "demo", "history", "diff", "sweep"):
        texts.append(camscan(cmd, "--help").stdout)
    for group, sub in (("oui", "lookup"), ("oui", "update"), ("config", "check")):
        texts.append(camscan(group, sub, "--help").stdout)
    return "\n".join(texts)


def test_help_speaks_words_not_python_types() -> None:
    text = _all_help()
    assert not re.findall(r"<(?:list\[)?(?:str|int|float|path|bool)\]?>", text)
    assert "<" not in text.replace("<=", "")
    scan = camscan("scan", "--help").stdout
    assert "-o, --output FILE" in scan
    assert "--fail-on SEVERITY" in scan


def test_no_color_flag_and_env(tmp_path: Path) -> None:
    # Colour is only ever for a terminal; here the flag must at least be accepted everywhere.
    r = camscan("--no-color", "import", str(FIXTURE))
    assert r.returncode == 0 and "\x1b" not in r.stdout


def test_other_systems_get_one_line_not_a_traceback() -> None:
    code = (
        "import sys; sys.platform = 'darwin'; sys.argv = ['camscan', 'scan', '192.0.2.0/24'];"
        "from camscan.cli.main import run; run()"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert r.returncode == 2
    assert r.stderr == (
        "camscan: error: camscan runs on Linux only (it reads Linux network interfaces and "
        "neighbour tables); this system is darwin\n"
    )


def test_history_and_diff_take_dash_for_standard_output(tmp_path: Path) -> None:
    from camscan.store import open_store
    from tests.samples import sample_result

    db = tmp_path / "runs.sqlite"
    store = open_store(str(db))
    try:
        first, second = sample_result(), sample_result()
        second.run.started += 3600
        second.devices = second.devices[1:]
        store.save(first, "hq")
        store.save(second, "hq")
    finally:
        store.close()
    r = camscan("diff", "--db", str(db), "--site", "hq", "-f", "json", "-o", "-", cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    assert json.loads(r.stdout)
    h = camscan("history", "--db", str(db), "-f", "csv", "-o", "-", cwd=tmp_path)
    assert h.returncode == 0, h.stderr
    assert len(h.stdout.strip().splitlines()) == 3  # header and two runs
    assert not (tmp_path / "-").exists()
    out = tmp_path / "runs.csv"
    assert camscan("history", "--db", str(db), "-f", "csv", "-o", str(out)).returncode == 0
    assert out.read_text() == h.stdout
