"""Lab fixtures: emulated camera LANs in network namespaces (see camscan/lab).

`lab_factory(name)` builds a bundled topology (or a TOML path) once per test session and hands
back the running `Lab`; everything is torn down at the end of the session. `lab` is the "mixed"
topology (every persona once). Tests that need a lab are marked `@pytest.mark.lab`; they skip
with the reason when this machine cannot build one (not root, no `ip netns`).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from camscan.lab import Lab, lab_problem

LabFactory = Callable[[str | Path], Lab]

# Hermetic runs: a developer's own camscan.toml or refreshed OUI data must not change what the
# tests see. Every camscan the tests start inherits these (tests that try the places set their
# own); the directories stay empty unless a test writes there.
_HOME = Path(tempfile.mkdtemp(prefix="camscan-tests-"))
_HOME.chmod(0o755)
os.environ["CAMSCAN_DATA_DIR"] = str(_HOME / "data")
os.environ["XDG_CONFIG_HOME"] = str(_HOME / "config")
os.environ.pop("CAMSCAN_CONFIG", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = lab_problem()
    if problem is None:
        return
    skip = pytest.mark.skip(reason=f"lab unavailable: {problem}")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)


_SETTING_UP: list[pytest.Item] = []  # the test whose fixtures are being set up


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _SETTING_UP[:] = [item]


@pytest.fixture(scope="session")
def lab_factory() -> Iterator[LabFactory]:
    problem = lab_problem()
    if problem:
        pytest.skip(f"lab unavailable: {problem}")
    running: dict[str, Lab] = {}

    def build(topology: str | Path) -> Lab:
        # `-m "not lab"` (CI's other Pythons, a developer's quick run) must never build a lab:
        # a test that does so without the marker fails here, naming itself.
        if _SETTING_UP and "lab" not in _SETTING_UP[0].keywords:
            pytest.fail(f"{_SETTING_UP[0].nodeid} builds a lab but is not marked lab")
        key = str(topology)
        if key not in running:
            lab = Lab(topology)
            lab.start()
            running[key] = lab
        return running[key]

    try:
        yield build
    finally:
        for lab in running.values():
            lab.close()


@pytest.fixture(scope="session")
def lab(lab_factory: LabFactory) -> Lab:
    return lab_factory("mixed")


# -- a throwaway PostgreSQL server (Debian's postgresql package) --------------------------------
PG_ENV = "CAMSCAN_TEST_PG"  # a libpq conninfo of a server to use instead of starting one


def _pg_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _pg_missing(reason: str) -> None:
    # CI installs Debian's postgresql: there a missing server is a failure, never a skip.
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}")
    pytest.skip(f"no PostgreSQL server: {reason}")


PG_PREFIX = "camscan-pg-"


def _remove_stale_pg(bindir: Path, as_user: list[str]) -> None:
    """Stop and delete throwaway servers whose test session died (SIGKILL skips teardown)."""
    for base in Path(tempfile.gettempdir()).glob(f"{PG_PREFIX}*"):
        try:
            owner = int((base / "owner.pid").read_text())
            os.kill(owner, 0)
            continue  # its session is alive
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue  # not ours to judge
        if (base / "data").is_dir():
            subprocess.run(
                [
                    *as_user,
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(base / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                check=False,
                capture_output=True,
            )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The conninfo of a PostgreSQL server listening on a Unix socket only (nothing on the network).

    Uses $CAMSCAN_TEST_PG when set; else starts one from /usr/lib/postgresql/*/bin (as the
    postgres user when we are root: the server refuses to run as root) and stops it at the end.
    """
    if os.environ.get(PG_ENV):
        yield os.environ[PG_ENV]
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _pg_missing("psycopg is not installed (pip install '.[test]')")
    bindir = _pg_bindir()
    if bindir is None:
        _pg_missing("Debian's postgresql is not installed (apt-get install postgresql)")
    assert bindir is not None
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    _remove_stale_pg(bindir, as_user)
    base = Path(tempfile.mkdtemp(prefix=PG_PREFIX))
    (base / "owner.pid").write_text(f"{os.getpid()}\n")
    if as_user:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data, port = base / "data", "55432"
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "camscan"],
        check=True,
        capture_output=True,
    )
    ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [
            *ctl,
            "-o",
            f"-k {base} -p {port} -c listen_addresses=''",
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"host={base} port={port} user=camscan dbname=postgres"
    finally:
        subprocess.run([*ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the throwaway server for one test."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"camscan_t{os.getpid()}_{next(_DB_COUNTER)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(pg_server)
    params["dbname"] = name
    try:
        yield make_conninfo(**{k: str(v) for k, v in params.items()})
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_DB_COUNTER = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs against both backends: a SQLite file and a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "runs.sqlite3")
    url: str = request.getfixturevalue("pg_url")
    return url
