"""The terminal report fits the terminal: one line per device at every width from 40 columns (a
real tmux pane at 80, and rendered widths around it), a summary per zone above the table, 80
columns on a pipe unless $COLUMNS says otherwise; colour only where wanted (NO_COLOR,
--no-color, pipes)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from camscan.contract import result_to_contract
from camscan.policy.rules import maker_display
from camscan.report import render
from camscan.report.table import write_table
from camscan.store.results import save_result
from tests.samples import sample_result

TMUX = shutil.which("tmux")


def flagged_facts() -> list[tuple[str, str, str]]:
    """(severity, ip, maker as shown) of every flagged device in the sample."""
    facts = []
    for d in result_to_contract(sample_result())["devices"]:
        if d["flagged"]:
            maker = maker_display(d["maker"]) + (f" ({d['brand']})" if d["brand"] else "")
            facts.append((d["severity"].upper(), d["ip"], maker))
    return facts


def table_at(width: int) -> str:
    out = io.StringIO()
    write_table(sample_result(), out, color=False, width=width)
    return out.getvalue()


def _line_with_all(text: str, parts: tuple[str, ...]) -> bool:
    return any(all(p in line for p in parts) for line in text.splitlines())


WIDTHS = [40, 60, 80, 99, 100, 120, 132, 160, 200]


def fitted(text: str) -> list[str]:
    """The lines fitted to the width: all but the verdict and summary lines, which stay whole
    (one line each for grep; a terminal wraps them)."""
    lines = text.splitlines()
    skip = ("camscan verdict:", "  not covered:", "  coverage:")
    return [x for x in lines[:-1] if not x.startswith(skip)]


def device_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.split(" ", 1)[0] in SEVERITY_WORDS]


SEVERITY_WORDS = {"CRITICAL", "HIGH", "MEDIUM", "INFO", "ACCEPTED"}


@pytest.mark.parametrize("width", WIDTHS)
def test_every_width_keeps_severity_address_and_maker_on_one_line_per_device(width: int) -> None:
    # At 80 columns each device was a 2-3 line block (617 devices: 1,729 lines).
    text = table_at(width)
    assert max(len(line) for line in fitted(text)) <= width
    devices = result_to_contract(sample_result())["devices"]
    rows = device_lines(text)
    assert len(rows) == len(devices)  # one line each, nothing wrapped
    for d in devices:
        assert sum(1 for line in rows if f" {d['ip']} " in line) == 1, (width, d["ip"])
    for sev, ip, maker in flagged_facts():
        row = next(line for line in rows if f" {ip} " in line)
        assert row.startswith(sev)
        assert " YES " in f"{row} " or width < 41  # the flag column is the first left out
        shown = row.split(f" {ip} ", 1)[1].strip()
        # a maker is whole, or cut with the cut marked: never silently short
        assert shown.startswith(maker) or (
            "…" in shown and maker.startswith(shown.split("…")[0].strip())
        ), (width, shown)


def test_a_cut_is_marked_and_needed_columns_are_never_cut() -> None:
    text = table_at(80)
    hostile = next(line for line in device_lines(text) if " 198.18.0.66 " in line)
    assert "…" in hostile and "calc" in hostile  # cut, and said to be
    assert hostile.startswith("CRITICAL  198.18.0.66  Dahua (")


def test_a_summary_per_zone_comes_above_the_table() -> None:
    lines = table_at(80).splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("Zone "))
    first_row = next(i for i, line in enumerate(lines) if line.startswith("CRITICAL"))
    assert head < first_row
    zones = [line.split() for line in lines[head + 1 : head + 5]]
    assert zones == [
        ["core", "hq-core", "3", "3", "0", "0"],
        ["sensitive", "evidence-store", "2", "1", "0", "1"],
        ["general", "car-park", "2", "0", "1", "0"],
        ["-", "no", "segment", "1", "0", "0", "0"],
    ]


def test_findings_come_first() -> None:
    for width in (80, 160):
        lines = table_at(width).splitlines()
        first = {
            ip: next(i for i, line in enumerate(lines) if f" {ip} " in f" {line} ")
            for ip in ("198.18.0.9", "198.18.1.20", "198.18.2.5", "198.18.1.21")
        }
        # flagged (critical, then high) before those for review, before accepted
        assert first["198.18.0.9"] < first["198.18.1.20"] < first["198.18.2.5"]
        assert first["198.18.2.5"] < first["198.18.1.21"]


def test_narrower_than_40_columns_each_device_gets_a_block() -> None:
    text = table_at(39)
    assert max(len(line) for line in fitted(text)) <= 39
    joined = " ".join(text.split())
    assert "core/hq-core: 3 devices, 3 flagged" in joined
    assert "No maker identified, no evidence (1): 198.18.3.99" in joined
    assert "Out of scope, not assessed (1" in text
    assert "FLAGGED" in text


def test_wide_table_drops_low_priority_columns_before_shrinking_needed_ones() -> None:
    narrowish, wide = table_at(100), table_at(200)
    assert "Confidence" in wide
    assert "Confidence" not in narrowish
    assert "44:19:b6:12:34:57" in narrowish  # MAC still fits whole at 100
    assert "MAC" not in table_at(80)  # at 80: severity, IP, maker, flag, zone, segment


def _pty_table(env: dict[str, str], color: bool | None = None) -> str:
    """Render to a real pseudo-terminal so the terminal check is what decides colour."""
    master, slave = os.openpty()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with os.fdopen(slave, "w", encoding="utf-8") as tty:
            assert tty.isatty()
            write_table(sample_result(), tty, color=color, width=120)
            tty.flush()
            chunks = []
            os.set_blocking(master, False)
            while True:
                try:
                    chunk = os.read(master, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(master)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return b"".join(chunks).decode("utf-8", "replace")


def test_colour_on_a_terminal_unless_no_color_is_set() -> None:
    assert "\x1b[" in _pty_table({"NO_COLOR": ""})
    assert "\x1b[" not in _pty_table({"NO_COLOR": "1"})
    assert "\x1b[" not in _pty_table({"NO_COLOR": ""}, color=False)  # --no-color


def test_files_and_pipes_get_no_colour_and_80_columns_unless_columns_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A pipe got a 116-column table (160 allowed) whatever the reader's terminal.
    monkeypatch.delenv("COLUMNS", raising=False)
    out = io.StringIO()
    render(sample_result(), "table", out)
    assert "\x1b" not in out.getvalue()
    assert max(len(line) for line in fitted(out.getvalue())) <= 80
    assert "Confidence" not in out.getvalue()
    monkeypatch.setenv("COLUMNS", "200")
    out = io.StringIO()
    render(sample_result(), "table", out)
    assert "Confidence" in out.getvalue()
    assert max(len(line) for line in fitted(out.getvalue())) > 80


def test_a_pipe_from_the_cli_gets_80_columns(tmp_path: Path) -> None:
    result_file = tmp_path / "result.json"
    save_result(sample_result(), result_file)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = str(Path(__file__).parents[1])
    done = subprocess.run(
        [sys.executable, "-m", "camscan", "report", str(result_file), "--fail-on", "never"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert max(len(line) for line in fitted(done.stdout)) <= 80
    assert len(device_lines(done.stdout)) == 8


@pytest.mark.skipif(TMUX is None, reason="tmux not installed (apt-get install -y tmux)")
@pytest.mark.parametrize("colour", ["auto", "NO_COLOR", "--no-color"])
def test_tmux_at_80_columns_shows_every_flagged_device_whole(tmp_path: Path, colour: str) -> None:
    assert TMUX is not None
    result_file = tmp_path / "result.json"
    save_result(sample_result(), result_file)
    no_color = colour != "auto"
    sock = f"camscan-test-{os.getpid()}-{colour.strip('-')}"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    prefix = "NO_COLOR=1 " if colour == "NO_COLOR" else ""
    flag = " --no-color" if colour == "--no-color" else ""
    command = (
        f"{prefix}{sys.executable} -m camscan{flag} report {result_file} --fail-on never; "
        "echo __END__; sleep 60"
    )
    tmux = [TMUX, "-L", sock, "-f", "/dev/null"]
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "80", "-y", "100", "-s", "t", command],
        env=env,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    try:
        screen = ""
        for _ in range(300):  # a bounded wait for the command to finish, not a timing check
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-e", "-t", "t", "-S", "0", "-E", "99"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if "__END__" in screen:
                break
            time.sleep(0.1)
        width = subprocess.run(
            [*tmux, "display-message", "-p", "-t", "t", "#{pane_width}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
    assert width == "80"
    assert "__END__" in screen, screen
    assert ("\x1b[" in screen) is not no_color
    plain = _strip_escapes(screen)
    rows = device_lines(plain)
    assert len(rows) == 8  # one line per device on the 80-column pane
    for sev, ip, _maker in flagged_facts():
        assert _line_with_all(plain, (sev, f" {ip} ", "YES")), (ip, plain)
    assert "Zone " in plain and "4 flagged" in plain


def _strip_escapes(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;:]*[A-Za-z]", "", text)
