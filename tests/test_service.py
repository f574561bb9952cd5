"""One application service between the CLI and the pipeline (camscan/service*.py).

Before, `cli/scan_cmd.py` was the application layer (`scan()` was 159 lines), `sweep` imported
three of its private helpers (an import cycle scan_cmd <-> history_cmd, inside functions where
the architecture test did not look) and re-implemented the diff.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from camscan.config import parse_config
from camscan.errors import UsageError
from camscan.model import Observation
from camscan.service import plan_sweep
from camscan.service_offline import OfflineInput, classify

PACKAGE = Path(__file__).resolve().parents[1] / "camscan"
CLI = PACKAGE / "cli"
MAX_COMMAND_LINES = 45  # a command parses its options and calls the service


def _imports(tree: ast.AST) -> list[ast.ImportFrom]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]


def test_command_modules_import_no_private_name_and_no_cycle() -> None:
    found: list[str] = []
    edges: dict[str, set[str]] = {}
    for path in sorted(CLI.glob("*.py")):
        me = f"camscan.cli.{path.stem}"
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            module = str(node.module)
            if module.startswith("camscan.cli."):  # at module level or inside a function
                edges.setdefault(me, set()).add(module)
            private = [a.name for a in node.names if a.name.startswith("_")]
            if module.startswith("camscan.") and private:
                found.append(f"{path.name}:{node.lineno} imports {module}.{private[0]}")
    for src, dsts in edges.items():
        found += [f"{src} <-> {dst}" for dst in dsts if src in edges.get(dst, set())]
    assert found == []


def _commands() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in [CLI / f"{name}_cmd.py" for name in ("scan", "history", "identify", "report")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command"
                for d in node.decorator_list
            ):
                found.append((f"{path.name}:{node.name}", node))
    return found


def test_commands_are_option_parsing_and_a_call_to_the_service() -> None:
    commands = _commands()
    assert {name for name, _ in commands} >= {
        "scan_cmd.py:scan",
        "history_cmd.py:sweep",
        "identify_cmd.py:identify",
        "identify_cmd.py:import_nmap",
    }
    long = {}
    for name, fn in commands:  # their bodies, the lines after the docstring
        body = fn.body[1:] if isinstance(fn.body[0], ast.Expr) else fn.body  # after the docstring
        lines = (body[-1].end_lineno or 0) - body[0].lineno + 1
        if lines > MAX_COMMAND_LINES:
            long[name] = lines
    assert long == {}


def test_every_command_diffs_runs_through_one_function() -> None:
    callers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "diff_results":
                callers.append(str(path.relative_to(PACKAGE)))
    assert callers == ["service_store.py"]  # diff_runs: scan --db, diff, report, sweep


def test_a_sweep_is_refused_before_anything_without_segments(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="none was found"):
        plan_sweep(parse_config({}))
    cfg = parse_config({"store": {"keep_runs": 2}})
    cfg.path = tmp_path / "camscan.toml"
    with pytest.raises(UsageError, match="has no \\[\\[segment\\]\\]"):
        plan_sweep(cfg)


def test_an_offline_result_is_assembled_once_partial_on_an_unread_line() -> None:
    from camscan.model import Device

    obs = Observation("http.header.server", "App-webs/", "identify", ip="198.18.0.5")
    cfg = parse_config({"segment": [{"name": "core", "cidrs": ["198.18.0.0/24"], "zone": "core"}]})
    given = OfflineInput([Device("198.18.0.5", observations=[obs])], ("line 2: not JSON",))
    result = classify(given, "identify", cfg)
    assert result.run.partial and result.run.not_covered == []
    [error] = result.run.errors
    assert (error.probe, error.error) == ("identify", "line 2: not JSON")
    [finding] = result.findings
    assert finding.flagged and finding.maker == "hikvision" and finding.zone == "core"
    assert result.policy["listed_makers"] == cfg.policy.listed_makers
    clean = classify(OfflineInput(given.devices), "identify", cfg)
    assert not clean.run.partial


def test_sweep_places_ipv6_segments_as_scan_does(tmp_path: Path) -> None:
    """Issue 20 left sweep's planning without the IPv6 placement scan had: a segment's /64 on no
    attached link was taken as a target nothing would ask. Both now plan through
    service.place_targets and refuse it with the same line (reads this host's interfaces and
    routes; sends nothing)."""
    from camscan.service import Flags, TargetAsk, plan_scan, resolve_targets
    from camscan.targets import TargetError

    segment = {"name": "cctv6", "cidrs": ["2001:db8:99::/64"], "zone": "sensitive"}
    cfg = parse_config({"segment": [segment]})
    cfg.path = tmp_path / "camscan.toml"
    with pytest.raises(TargetError) as swept:
        plan_sweep(cfg, db=str(tmp_path / "runs.db"))
    targets = resolve_targets(cfg, TargetAsk(segments=["cctv6"]))
    with pytest.raises(TargetError) as scanned:
        plan_scan(cfg, targets, Flags())
    assert str(swept.value) == str(scanned.value)
    assert str(swept.value).startswith("2001:db8:99::/64 is ")  # no link: routed or not at all
