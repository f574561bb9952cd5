"""The error hierarchy, its one mapping to exit codes, and the CLI boundary that applies it.

CLI cases run in-process (typer's CliRunner). Every scan case here fails validation before any
packet could be sent; `no_scan` makes sure of it by refusing to reach the pipeline.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from camscan import errors
from camscan.cli import scan_cmd
from camscan.cli.app import _Guarded
from camscan.cli.main import app
from camscan.config import ConfigError
from camscan.discovery.arp import RawSocketDenied
from camscan.discovery.banners.tcpports import ProbeFailure as BannerFailure
from camscan.discovery.ingest import IngestError
from camscan.errors import ExitCode, ProbeKind, exit_code_for, kind_of
from camscan.identify.oui import OuiDataError
from camscan.identify.signatures import SignatureError
from camscan.model import ProbeError
from camscan.netif import InterfaceError
from camscan.report import ReportFormatError, render
from camscan.store.results import ResultFileError
from camscan.targets import TargetError


def test_each_error_maps_once_to_its_documented_exit_code() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3]
    usage = (errors.UsageError, TargetError, InterfaceError, ReportFormatError)
    data = (errors.DataError, ConfigError, ResultFileError, OuiDataError, IngestError)
    for cls in (*usage, *data):
        assert exit_code_for(cls("x")) == ExitCode.USAGE, cls
    assert exit_code_for(SignatureError(["x"])) == ExitCode.USAGE
    for exc in (errors.RunError("x"), errors.InternalError("x"), BannerFailure("x")):
        assert exit_code_for(exc) == ExitCode.FAILED
    assert exit_code_for(KeyError("a bug")) == ExitCode.FAILED
    assert issubclass(ReportFormatError, ValueError)  # still what older callers caught


def test_probe_failures_carry_a_kind_a_caller_can_act_on() -> None:
    assert RawSocketDenied("eth0").kind == ProbeKind.PERMISSION
    assert BannerFailure("not an HTTP reply").kind == ProbeKind.MALFORMED
    assert kind_of(TimeoutError()) == ProbeKind.TIMEOUT
    assert kind_of(ConnectionRefusedError()) == ProbeKind.REFUSED
    assert kind_of(PermissionError()) == ProbeKind.PERMISSION
    assert kind_of(OSError(errno.EHOSTUNREACH, "No route to host")) == ProbeKind.UNREACHABLE
    assert kind_of(RecursionError()) == ProbeKind.OVERFLOW
    assert kind_of(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad")) == ProbeKind.MALFORMED
    assert kind_of(ZeroDivisionError()) == ProbeKind.INTERNAL
    caught = ProbeError.caught("identify", "192.0.2.1", KeyError("model\nname"))
    assert caught.kind == ProbeKind.INTERNAL
    assert caught.error == "KeyError: 'model\\nname'"  # one line


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ReportFormatError, match="choose one of table, json"):
        render(None, "pdf", None)  # type: ignore[arg-type]


@pytest.fixture
def no_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("validation let a scan through")

    monkeypatch.setattr(scan_cmd, "report_scan", refuse)
    monkeypatch.delenv("CAMSCAN_LAB_GUARD", raising=False)


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args), prog_name="camscan")
    assert not isinstance(r.exception, AssertionError), r.exception
    return r.exit_code, r.stderr


@pytest.mark.usefixtures("no_scan")
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["scan", "8.8.8.0/24"], "allow-public"),
        (["scan", "--probes", "arp,telnet", "198.18.0.0/24"], "unknown probe 'telnet'"),
        (["scan", "-f", "pdf", "198.18.0.0/24"], "--format 'pdf' is not one of"),
        (["scan", "-c", "/nonexistent/camscan.toml"], "no such file"),
        (["scan", "-s", "cctv", "198.18.0.0/24"], "no segment named 'cctv'"),
        (["scan", "-i", "no-such-if0", "198.18.0.0/24"], "no-such-if0"),
        (["config", "check", "/nonexistent/camscan.toml"], "no such file"),
        (["oui", "lookup", "not-a-mac"], "not a MAC address"),
        (["import", "/nonexistent/scan.xml"], "/nonexistent/scan.xml"),
    ],
)
def test_usage_and_data_errors_are_one_line_and_exit_2(args: list[str], says: str) -> None:
    code, stderr = run(*args)
    assert code == 2, stderr
    assert stderr.startswith("camscan: error: ")
    assert says in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_a_bad_config_names_the_file_and_place(tmp_path: Path) -> None:
    cfg = tmp_path / "camscan.toml"
    cfg.write_text('[[segment]]\nname = "cctv"\ncidrs = ["10.0.0.0/33"]\nzone = "core"\n')
    code, stderr = run("config", "check", str(cfg))
    assert code == 2
    assert f'{cfg}: segment "cctv" (segment 1): cidrs[0]' in stderr.replace("'", '"')


def test_no_target_explains_how_to_give_one(no_scan: None) -> None:
    code, stderr = run("scan")
    assert code == 2
    assert "camscan scans only what you name" in stderr


def test_a_bug_is_one_line_and_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMSCAN_DEBUG", raising=False)
    buggy = typer.Typer(cls=_Guarded)

    @buggy.command()
    def boom() -> None:
        raise KeyError("oops")

    @buggy.command()
    def other() -> None:
        pass

    r = CliRunner().invoke(buggy, ["boom"])
    assert r.exit_code == 3
    assert r.stderr.startswith("camscan: internal error: KeyError: 'oops'")
    assert len(r.stderr.strip().splitlines()) == 1
    monkeypatch.setenv("CAMSCAN_DEBUG", "1")
    r = CliRunner().invoke(buggy, ["boom"])
    assert isinstance(r.exception, KeyError)  # the traceback is there when asked for


def test_lab_errors_are_in_the_error_tree() -> None:
    """Issue 20: the lab's errors were plain Exceptions (hence an `except Exception` in the
    demo). A bad topology or persona file is a data error, a lab that will not run a run
    error; each maps to its exit code like any other."""
    from camscan.lab.emulator import EmulatorError
    from camscan.lab.instance import LabError
    from camscan.lab.netns import NetnsError
    from camscan.lab.persona import PersonaError
    from camscan.lab.topology import TopologyError

    for bad_file in (TopologyError, PersonaError):
        assert issubclass(bad_file, errors.DataError), bad_file
        assert exit_code_for(bad_file("x")) == ExitCode.USAGE
    for failed in (LabError, NetnsError, EmulatorError):
        assert issubclass(failed, errors.RunError), failed
        assert exit_code_for(failed("x")) == ExitCode.FAILED
    demo = Path(errors.__file__).parent / "cli" / "demo_cmd.py"
    assert "except Exception" not in demo.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="the demo refuses to start without root first")
@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name = [\n", "not valid"),  # not TOML
        ('name = "t"\n[[network]]\nname = 3\n', "topology"),  # not a topology
        (
            'name = "t"\n[[network]]\nname = "n"\ncidr = "198.18.9.0/24"\n'
            '[[device]]\nnetwork = "n"\npersona = "no-such-persona"\n',
            "no persona named",
        ),
    ],
)
def test_a_bad_demo_topology_is_one_line_and_exit_2(tmp_path: Path, text: str, says: str) -> None:
    topo = tmp_path / "bad.toml"
    topo.write_text(text)
    r = CliRunner().invoke(
        app, ["demo", "--topology", str(topo), "-o", str(tmp_path / "out")], prog_name="camscan"
    )
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith(f"camscan: error: topology {str(topo)!r}: "), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written or built
