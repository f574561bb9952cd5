"""Packaging: refreshed OUI data lives outside the package and survives upgrades; the wheel
carries LICENSE, the schemas and the templates; the privilege recipe in the README grants raw
sockets to camscan's own interpreter copy only."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from camscan import __version__
from camscan.data import shipped_data_dir

ROOT = Path(__file__).parents[1]
IEEE = (
    "Registry,Assignment,Organization Name,Organization Address\n"
    'MA-L,4419B6,"Hangzhou Hikvision Digital Technology Co.,Ltd.","Hangzhou CN"\n'
    'MA-L,AABBCC,"Hangzhou Hikvision Digital Technology Co.,Ltd.","Hangzhou CN"\n'
    'MA-L,3CEF8C,"Zhejiang Dahua Technology Co., Ltd.","Hangzhou CN"\n'
)


def camscan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camscan", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_oui_update_writes_the_user_data_dir_and_camscan_reads_it(tmp_path: Path) -> None:
    shipped = shipped_data_dir("oui") / "assignments.csv"
    before = shipped.read_bytes()
    ieee = tmp_path / "oui.csv"
    ieee.write_text(IEEE)
    env = {"CAMSCAN_DATA_DIR": str(tmp_path / "data")}
    assert "not a listed maker" in camscan("oui", "lookup", "aa:bb:cc:00:00:01", env=env).stdout
    r = camscan("oui", "update", str(ieee), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{tmp_path / 'data' / 'oui'}: 3 blocks")
    assert shipped.read_bytes() == before  # the installed package is never written
    assert {p.name for p in (tmp_path / "data" / "oui").iterdir()} == {
        "assignments.csv",
        "organizations.toml",
        "provenance.toml",
    }
    found = camscan("oui", "lookup", "aa:bb:cc:00:00:01", env=env).stdout
    assert "hikvision" in found and "AABBCC" in found  # read from the refreshed copy
    # an upgrade replaces the package, not the data directory: a fresh process still reads it
    assert "hikvision" in camscan("oui", "lookup", "aa:bb:cc:00:00:02", env=env).stdout


def test_shipped_data_wins_when_the_refresh_is_older_or_broken(tmp_path: Path) -> None:
    ieee = tmp_path / "oui.csv"
    ieee.write_text(IEEE)
    env = {"CAMSCAN_DATA_DIR": str(tmp_path / "data")}
    assert camscan("oui", "update", str(ieee), env=env).returncode == 0
    provenance = tmp_path / "data" / "oui" / "provenance.toml"
    provenance.write_text(
        provenance.read_text().replace("generated = ", "generated = 2001-01-01 #")
    )
    older = camscan("oui", "lookup", "aa:bb:cc:00:00:01", "44:19:b6:00:00:01", env=env).stdout
    assert "not a listed maker" in older.splitlines()[0]  # newer shipped data is read instead
    assert "hikvision" in older.splitlines()[1]
    (tmp_path / "data" / "oui" / "assignments.csv").unlink()
    provenance.write_text('generated = 2999-01-01\nrules = "organizations.toml"\n')
    broken = camscan("oui", "lookup", "44:19:b6:00:00:01", env=env)
    assert broken.returncode == 0 and "hikvision" in broken.stdout  # falls back, no error


def test_wheel_carries_license_schemas_and_templates(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("camscan-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    licence = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert licence, names
    text = zipfile.ZipFile(wheel).read(licence[0]).decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    for needed in (
        "camscan/schemas/result.schema.json",
        "camscan/schemas/ecs.schema.json",
        "camscan/report/templates/report.css",
        "camscan/_data/oui/assignments.csv",
        f"camscan-{__version__}.data/data/share/man/man1/camscan.1",  # pip: PREFIX/share/man
    ):
        assert needed in names, needed
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in zipfile.ZipFile(wheel).read(meta).decode()
    # the lab is a part of its own (camscan-lab); the scanner's wheel no longer ships it
    assert not [n for n in names if n.startswith("camscan/lab/")]


def test_the_lab_is_a_part_of_its_own_that_demo_and_tests_install(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(ROOT / "lab"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob("camscan_lab-*.whl"))).namelist()
    shipped = {n for n in names if not n.startswith("camscan_lab-")}
    source = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "camscan" / "lab").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped == source  # the whole lab, and nothing of the scanner's own
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    installs = [line for line in readme.splitlines() if "pip install" in line and "apt-get" in line]
    assert len(installs) == 2 and all(" ./lab " in line for line in installs)  # demo and tests


RAW_TRY = "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW); print('raw ok')"


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setcap") or not shutil.which("setpriv"),
    reason="needs root, setcap (libcap2-bin) and setpriv to try the privilege recipe",
)
def test_privilege_recipe_grants_raw_sockets_to_the_copy_only() -> None:
    base = Path(tempfile.mkdtemp(prefix="camscan-cap-"))
    try:
        base.chmod(0o755)
        venv = base / "venv"
        subprocess.run(
            [sys.executable, "-m", "venv", "--copies", "--without-pip", str(venv)], check=True
        )
        copy = venv / "bin" / "python3"
        assert not copy.is_symlink()  # --copies: the capability stays on this file
        for p in [base, *venv.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if p.is_dir() else 0))
        copy.chmod(0o755)
        subprocess.run(["setcap", "cap_net_raw+ep", str(copy)], check=True)

        def as_nobody(python: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "--inh-caps=-all", python, "-c", RAW_TRY],
                capture_output=True, text=True, timeout=60, cwd=base,
            )  # fmt: skip

        started = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(copy), "-c", "0"],
            capture_output=True, timeout=60, cwd=base,
        )  # fmt: skip
        if started.returncode != 0:  # e.g. pyenv's 3.12 under /root (mode 700) in CI
            pytest.skip("this interpreter's installation cannot be read by an unprivileged user")
        assert as_nobody(str(copy)).stdout.strip() == "raw ok"
        system = os.path.realpath(sys.executable)
        refused = as_nobody(system)
        assert refused.returncode != 0 and "PermissionError" in refused.stderr
        assert socket.AF_PACKET  # the check above is about permission, not a missing family
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_readme_recipe_never_caps_the_system_interpreter() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setcaps = [line.strip() for line in readme.splitlines() if "setcap cap_net_raw" in line]
    assert setcaps == ["sudo setcap cap_net_raw+ep /opt/camscan/venv/bin/python3"]
    assert "python3 -m venv --copies /opt/camscan/venv" in readme
    assert "AmbientCapabilities=CAP_NET_RAW" in readme
    sources = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "camscan").rglob("*.py"))
    assert "on the interpreter" not in sources  # no message tells users to cap python3


def test_the_sdist_is_complete_and_its_tests_run_from_it(tmp_path: Path) -> None:
    # The sdist lacked docs/, so the tests failed at collection from an unpacked sdist.
    import tarfile

    done = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "-o", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 and "No module named build" in done.stderr:
        pytest.skip("python -m build is not installed")
    assert done.returncode == 0, done.stderr[-2000:]
    sdist = next(tmp_path.glob("camscan-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    top = next((tmp_path / "unpacked").iterdir())
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0:
        tracked = [f for f in listed.stdout.split() if f != ".gitignore"]
    else:  # not a git checkout (itself an unpacked sdist): what is here
        tracked = [
            p.relative_to(ROOT).as_posix()
            for d in ("camscan", "tests", "docs", "bench", "oui", "signatures", ".ci")
            for p in (ROOT / d).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".hypothesis" not in p.parts
        ]
    missing = [f for f in tracked if not (top / f).exists()]
    assert not missing, missing  # everything in the repository is in the sdist
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not lab",
         "tests/test_targets.py", "tests/test_exports.py", "tests/test_shell_habits.py",
         "-k", "not closed_pipe"],
        cwd=top, capture_output=True, text=True, timeout=900,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only"],
        cwd=top, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout[-3000:]  # every test file collects


def test_ci_runs_the_unit_suite_on_every_python_the_package_claims() -> None:
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    claimed = [c.rsplit(":: ", 1)[1] for c in meta["classifiers"] if c.count("::") == 2 and
               c.startswith("Programming Language :: Python :: 3.")]  # fmt: skip
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for version in claimed:
        assert version == "3.11" or f"for v in {' '.join(claimed[1:])};" in ci, version
    assert meta["requires-python"] == f">={claimed[0]}"


# --- the lab is an optional part --------------------------------------------------------------

LAB_USERS = {"camscan/cli/demo_cmd.py", "camscan/cli/lab_cmd.py"}


def test_nothing_but_demo_and_lab_imports_the_lab() -> None:
    # The lab (camscan/lab) ships apart, as camscan-lab: that works only if nothing else needs it.
    import ast

    for path in sorted((ROOT / "camscan").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("camscan/lab/") or rel in LAB_USERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            assert not any(n == "camscan.lab" or n.startswith("camscan.lab.") for n in names), rel


def test_without_the_lab_demo_and_lab_say_how_to_get_it(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "camscan", tmp_path / "camscan", ignore=shutil.ignore_patterns("lab"))
    for data in ("oui", "signatures"):
        shutil.copytree(ROOT / data, tmp_path / data)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "camscan", *args],
            capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
        )  # fmt: skip

    for command in (["demo"], ["lab", "list"]):
        done = run(*command)
        assert done.returncode == 2, done.stderr
        assert (
            done.stderr.startswith("camscan: error: the camscan lab")
            and "camscan-lab" in done.stderr
        )
        assert len(done.stderr.splitlines()) == 1
    assert run("--help").returncode == 0
    listed = run("scan", "198.18.0.0/30", "--list-targets")
    assert listed.returncode == 0 and "198.18.0.0/30" in listed.stdout


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    # The README promises `.ci/run` runs exactly its test command; a drift (a package added to
    # one and not the other) would test a machine no newcomer can build.
    if not (ROOT / ".ci" / "run").exists():
        pytest.skip("not a checkout: an sdist carries no .ci/")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line.strip() for line in readme.splitlines() if "pytest -q" in line and "apt-get" in line
    ]
    assert len(commands) == 1
    assert commands[0] in [line.strip() for line in ci.splitlines()]
    for part in ("chromium", "nmap", "postgresql", "tshark", "snmpd"):  # real parts the tests meet
        assert f" {part} " in commands[0]
