"""Habits shell pipelines and cron teach: a closed pipe ends camscan quietly (exit 141, as nmap
and arp-scan end on SIGPIPE), and every command that reports takes -q."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from camscan.model import Device, ScanResult
from camscan.store.results import save_result
from tests.samples import sample_result, sample_run

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A result far larger than a pipe's buffer (64 KiB) once rendered as JSON lines."""
    path = tmp_path_factory.mktemp("big") / "big.json"
    devices = [Device(ip=f"198.18.{n // 250}.{n % 250 + 1}") for n in range(3000)]
    save_result(ScanResult(run=sample_run(["arp"], {}), devices=devices), path)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "table"])
def test_a_closed_pipe_ends_quietly_with_the_shells_code(big: Path, fmt: str) -> None:
    # `camscan report big.json -f jsonl | head -1` was an internal error, exit 3.
    done = subprocess.run(
        [
            "bash",
            "-c",
            'set -o pipefail; "$0" -m camscan report "$1" -f "$2" | head -c 10 >/dev/null',
            sys.executable,
            str(big),
            fmt,
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert done.stderr == ""
    assert done.returncode == 141


def test_a_closed_pipe_on_the_last_flush_is_quiet_too(tmp_path: Path) -> None:
    # A short report sits in stdout's buffer until exit; the reader is gone by then.
    result = tmp_path / "r.json"
    save_result(sample_result(), result)
    code = (
        "import os, sys, runpy; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
        f"sys.argv = ['camscan', 'report', {str(result)!r}, '-f', 'jsonl']; "
        "runpy.run_module('camscan', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120
    )
    assert done.stderr == ""
    assert done.returncode == 141


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camscan", *args],
        capture_output=True,
        text=True,
        env=ENV,
        input=stdin,
        timeout=120,
    )


@pytest.mark.parametrize("command", ["report", "import", "identify"])
def test_every_reporting_command_takes_q(tmp_path: Path, command: str) -> None:
    result = tmp_path / "r.json"
    save_result(sample_result(), result)
    source = {
        "report": str(result),
        "import": str(FIXTURES / "nmap_camera_lab.xml"),
        "identify": "-",
    }[command]
    banner = 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="DS-2CD2042WD"\r\n\r\n'
    out = tmp_path / "out.json"
    loud = _run(command, source, "-o", str(out), stdin=banner)
    assert loud.returncode in (0, 1), loud.stderr
    assert "report written to" in loud.stderr
    quiet = _run(command, source, "-q", "-o", str(out), stdin=banner)
    assert quiet.returncode == loud.returncode, quiet.stderr
    assert quiet.stderr == ""
    assert out.read_text().startswith("{")
    # -q never hides the report asked for on standard output
    shown = _run(command, source, "-q", "-f", "jsonl", stdin=banner)
    assert shown.stderr == "" and '"type": "run"' in shown.stdout.replace(
        '"type":"run"', '"type": "run"'
    )


# --- shell completion offers values, not only commands and flags --------------------------------


def complete(line: str, **env: str) -> list[str]:
    """What bash completion offers for `line` (the word being typed is its last, maybe empty)."""
    words = line.split(" ")
    done = subprocess.run(
        [sys.executable, "-m", "camscan"],
        capture_output=True,
        text=True,
        env={
            **ENV,
            **env,
            "_CAMSCAN_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.split()


def test_completion_offers_formats_thresholds_engines_and_probes() -> None:
    # Completion offered commands and flags but no values.
    assert complete("camscan report r.json -f ") == [
        "table", "json", "jsonl", "csv", "html", "ecs", "defectdojo"
    ]  # fmt: skip
    assert complete("camscan scan --fail-on h") == ["high"]
    assert complete("camscan scan --engine ") == ["camscan", "nmap"]
    assert complete("camscan scan --probes arp,ss") == ["arp,ssdp"]
    assert "arp,wsd" in complete("camscan scan --probes arp,")
    assert "arp,arp" not in complete("camscan scan --probes arp,")


def test_completion_offers_segments_sites_and_run_ids(tmp_path: Path) -> None:
    config = tmp_path / "camscan.toml"
    config.write_text(
        '[[segment]]\nname = "hq-cctv"\ncidrs = ["198.18.4.0/24"]\nzone = "sensitive"\n'
        '[[segment]]\nname = "hq-core"\ncidrs = ["198.18.0.0/24"]\nzone = "core"\n'
    )
    assert complete(f"camscan scan -c {config} -s hq-") == ["hq-cctv", "hq-core"]
    data = tmp_path / "data"
    empty = complete("camscan history --site ", XDG_DATA_HOME=str(data))
    assert empty == [] and not data.exists()  # completion creates no database
    db = tmp_path / "runs.sqlite3"
    for site in ("hq", "depot"):
        done = _run(
            "import", str(FIXTURES / "nmap_camera_lab.xml"), "--db", str(db), "--site", site,
            "-q", "-o", str(tmp_path / "r.json"),
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stderr
    assert complete(f"camscan history --db {db} --site ") == ["depot", "hq"]
    assert complete(f"camscan report --db {db} ") == ["2", "1"]  # newest first
    assert complete(f"camscan diff --db {db} 2") == ["2"]
    assert complete(f"camscan report --db {db} ./") == []  # a path: the shell's own completion


# --- a man page built from the CLI, shipped ------------------------------------------------------


def test_the_shipped_man_page_is_the_one_the_cli_builds() -> None:
    from camscan.cli.main import app  # every command registered
    from camscan.cli.man_cmd import manual

    del app
    shipped = (ROOT / "docs" / "camscan.1").read_text(encoding="utf-8")
    assert shipped == manual(), (
        "docs/camscan.1 is stale: regenerate it with `camscan man > docs/camscan.1`"
    )


def test_the_man_page_covers_every_command_and_renders_cleanly(tmp_path: Path) -> None:
    import shutil

    import typer

    from camscan.cli.main import app

    page = _run("man").stdout
    group = typer.main.get_command(app)
    ctx = typer.Context(group, info_name="camscan")
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        assert f'.SS "camscan {name} ' in page, name
    for flag in ("\\-\\-fail\\-on", "\\-\\-output", "\\-\\-exclude", "FORCE_COLOR", ".B 141"):
        assert flag in page
    if shutil.which("groff") is None:
        pytest.skip("groff not installed: the page's syntax is not checked")
    (tmp_path / "camscan.1").write_text(page)
    done = subprocess.run(
        ["groff", "-man", "-ww", "-z", str(tmp_path / "camscan.1")],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr


# --- FORCE_COLOR for `| less -R`, NO_COLOR and --no-color win ------------------------------------


def test_force_color_colours_a_pipe_and_no_color_wins(tmp_path: Path) -> None:
    result = tmp_path / "r.json"
    save_result(sample_result(), result)

    def report(*flags: str, **env: str) -> str:
        argv = [
            sys.executable,
            "-m",
            "camscan",
            *flags,
            "report",
            str(result),
            "--fail-on",
            "never",
        ]
        base = {k: v for k, v in ENV.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        done = subprocess.run(argv, capture_output=True, text=True, env={**base, **env})
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "\x1b[" not in report()  # a pipe: no colour by default
    assert "\x1b[" in report(FORCE_COLOR="1")
    assert "\x1b[" not in report(FORCE_COLOR="0")
    assert "\x1b[" not in report(FORCE_COLOR="1", NO_COLOR="1")
    assert "\x1b[" not in report("--no-color", FORCE_COLOR="1")
    out = tmp_path / "r.txt"
    report_file = subprocess.run(
        [sys.executable, "-m", "camscan", "report", str(result), "-o", str(out)],
        capture_output=True,
        text=True,
        env={**ENV, "FORCE_COLOR": "1"},
    )
    assert report_file.returncode == 1
    assert "\x1b[" not in out.read_text()  # a file never gets colour
