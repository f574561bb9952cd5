"""`-o` targets behave as the shell's `>`: a regular file (or a symlink to one) is replaced
atomically, a device, FIFO, /dev/stdout or process substitution is written through in place.

The special-file tests run in a private mount namespace with its own tmpfs on /dev (a real
/dev/null node made with mknod, a FIFO, the /dev/fd and /dev/stdout links), never against the
machine's /dev: before the fix, `-o /dev/null` as root renamed a file over the device node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, TextIO

import pytest

from camscan.store.outfile import check_writable, write_file
from camscan.store.results import save_result
from tests.samples import sample_result

ROOT = Path(__file__).resolve().parents[1]

# The namespace's own /dev: everything a test may write to, nothing of the machine's.
PRELUDE = """
import json, os, stat, subprocess, sys, threading
subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "camscan-test-dev", "/dev"], check=True)
os.mknod("/dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
os.symlink("/proc/self/fd", "/dev/fd")
for n, name in enumerate(("stdin", "stdout", "stderr")):
    os.symlink(f"/proc/self/fd/{n}", f"/dev/{name}")
os.mkfifo("/dev/report.fifo")
CAMSCAN = [sys.executable, "-m", "camscan"]

def camscan(*args, **kw):
    return subprocess.run([*CAMSCAN, *args], capture_output=True, text=True, **kw)

def kind(path):
    mode = os.lstat(path).st_mode
    return "chr" if stat.S_ISCHR(mode) else "fifo" if stat.S_ISFIFO(mode) else (
        "link" if stat.S_ISLNK(mode) else "file" if stat.S_ISREG(mode) else "other")
"""


def private_dev(
    script: str, *args: str, via: list[str] | None = None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run PRELUDE + `script` as root in a new private mount namespace with a tmpfs /dev; the
    script prints one JSON object, returned here. `via`: a command to start it through (the
    lab's `ip netns exec`)."""
    code = PRELUDE + textwrap.dedent(script)
    argv = ["unshare", "-m", "--propagation", "private", sys.executable, "-c", code, *args]
    env = {**(env or os.environ), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*(via or []), *argv], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare(1) for a private mount namespace",
)


@pytest.fixture
def result_file(tmp_path: Path) -> Path:
    path = tmp_path / "result.json"
    save_result(sample_result(), path)
    return path


@needs_root
def test_report_to_dev_null_leaves_the_device_node(result_file: Path) -> None:
    got = private_dev(
        """
        done = camscan("report", sys.argv[1], "-f", "json", "-o", "/dev/null")
        plain = camscan("report", sys.argv[1], "-o", "/dev/null")  # no extension: the default
        st = os.stat("/dev/null")
        print(json.dumps({"rc": [done.returncode, plain.returncode],
                          "err": done.stderr + plain.stderr, "kind": kind("/dev/null"),
                          "dev": [os.major(st.st_rdev), os.minor(st.st_rdev)],
                          "dev_entries": sorted(os.listdir("/dev"))}))
        """,
        str(result_file),
    )
    assert got["rc"] == [1, 1], got["err"]  # the sample has flagged findings
    assert got["kind"] == "chr" and got["dev"] == [1, 3]
    assert got["dev_entries"] == ["fd", "null", "report.fifo", "stderr", "stdin", "stdout"]


@needs_root
def test_dev_stdout_prints_and_keeps_the_link(result_file: Path) -> None:
    got = private_dev(
        """
        done = camscan("report", sys.argv[1], "-f", "jsonl", "-o", "/dev/stdout")
        print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr,
                          "kind": kind("/dev/stdout")}))
        """,
        str(result_file),
    )
    assert got["rc"] == 1, got["err"]
    assert json.loads(got["out"].splitlines()[-1])["type"] == "run"
    assert got["kind"] == "link"


@needs_root
def test_a_fifo_reader_gets_the_report_and_the_fifo_stays(result_file: Path) -> None:
    got = private_dev(
        """
        received = []
        def reader():
            with open("/dev/report.fifo") as f:
                received.append(f.read())
        t = threading.Thread(target=reader)
        t.start()
        done = camscan("report", sys.argv[1], "-o", "json:/dev/report.fifo", timeout=120)
        t.join(120)
        print(json.dumps({"rc": done.returncode, "err": done.stderr, "got": received,
                          "kind": kind("/dev/report.fifo")}))
        """,
        str(result_file),
    )
    assert got["rc"] == 1, got["err"]
    assert json.loads(got["got"][0])["schema_version"]
    assert got["kind"] == "fifo"


@needs_root
def test_process_substitution_dev_fd_is_written_through(result_file: Path) -> None:
    # `-o >(cmd)` hands camscan /dev/fd/N, a pipe it inherited; it failed with exit 3.
    got = private_dev(
        """
        r, w = os.pipe()
        proc = subprocess.Popen([*CAMSCAN, "report", sys.argv[1], "-o", f"csv:/dev/fd/{w}"],
                                pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        os.close(w)
        with os.fdopen(r) as f:
            text = f.read()
        err = proc.stderr.read()
        print(json.dumps({"rc": proc.wait(), "err": err, "text": text}))
        """,
        str(result_file),
    )
    assert got["rc"] == 1, got["err"]
    assert got["text"].splitlines()[0].startswith("#") or "," in got["text"].splitlines()[0]
    assert "198.18.0.10" in got["text"]


def test_a_symlink_to_a_report_keeps_the_link_and_replaces_its_target(
    tmp_path: Path, result_file: Path
) -> None:
    from typer.testing import CliRunner

    from camscan.cli.main import app

    day = tmp_path / "2026-12-06.json"
    day.write_text("yesterday's report\n")
    latest = tmp_path / "latest.json"
    latest.symlink_to(day.name)
    done = CliRunner().invoke(app, ["report", str(result_file), "-o", str(latest)])
    assert done.exit_code == 1, done.output
    assert latest.is_symlink() and os.readlink(latest) == day.name
    assert json.loads(day.read_text())["devices"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [day.name, "latest.json", "result.json"]


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "latest.json"
    link.symlink_to("new.json")
    assert check_writable(link) is None

    def fill(out: TextIO) -> None:
        out.write("{}\n")

    write_file(link, fill)
    assert link.is_symlink() and (tmp_path / "new.json").read_text() == "{}\n"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert check_writable(tmp_path) == f"{tmp_path} is a directory"
