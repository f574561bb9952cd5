"""A run's status comes from one function (camscan/status.py); nothing else writes `partial`.

Before, `partial` was written in six places (pipeline, coverage, the identify command),
`coverage.finish` changed the plan in place and the scan command wrote into the result it was
handed: why a run exited 3 took five functions in three modules to learn.
"""

from __future__ import annotations

import ast
import ipaddress
from pathlib import Path

import pytest

from camscan import coverage, status
from camscan.errors import ExitCode, ProbeKind, UsageError
from camscan.model import Device, ProbeError, ScanRun
from camscan.netif import Interface
from camscan.targets import TargetSet

PACKAGE = Path(__file__).resolve().parents[1] / "camscan"
# Readers of a saved run keep the status it was saved with; they decide nothing.
READERS = {"store"}
STATUS_FIELDS = {"partial", "not_covered", "coverage"}
HANDED = {"result", "res", "run", "judged", "changes"}  # what the CLI is handed to print


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(p.relative_to(PACKAGE)), ast.parse(p.read_text(encoding="utf-8")))
        for p in sorted(PACKAGE.rglob("*.py"))
    ]


def test_partial_is_written_only_by_the_status_module() -> None:
    writers = []
    for name, tree in _modules():
        if name == "status.py" or name.split("/")[0] in READERS:
            continue
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            for t in targets:
                for leaf in ast.walk(t):
                    if isinstance(leaf, ast.Attribute) and leaf.attr in STATUS_FIELDS:
                        writers.append(f"{name}:{leaf.lineno} .{leaf.attr} =")
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg in STATUS_FIELDS:
                        writers.append(f"{name}:{node.lineno} {kw.arg}=")
    assert writers == []


def test_the_cli_changes_no_result_it_is_handed() -> None:
    changed = []
    for name, tree in _modules():
        if not name.startswith("cli/"):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                root = t
                while isinstance(root, ast.Attribute | ast.Subscript):
                    root = root.value
                if t is not root and isinstance(root, ast.Name) and root.id in HANDED:
                    changed.append(f"{name}:{node.lineno} {ast.unparse(t)}")
    assert changed == []


def _iface() -> Interface:
    net = ipaddress.IPv4Network("198.18.1.0/24")
    return Interface("eth0", 2, None, ipaddress.IPv4Address("198.18.1.1"), net)


def _run(**kw: object) -> ScanRun:
    return ScanRun(targets=["198.18.1.0/24"], probes=["arp"], started=0.0, **kw)  # type: ignore[arg-type]


def test_finishing_coverage_leaves_the_plan_as_it_was() -> None:
    planned = coverage.plan(TargetSet.parse(["198.18.1.0/24"]), [_iface()], [], ["arp", "sadp"])
    before = [repr(c) for c in planned]
    error = ProbeError("arp", "eth0", "ARP sweep failed", ProbeKind.OTHER)
    [done] = coverage.finish(planned, [error], None, [Device("198.18.1.7")])
    assert [repr(c) for c in planned] == before
    assert (done.covered, done.answered, done.probes) == (False, 1, ["sadp"])


def test_every_reason_for_partial_is_a_line_from_one_function() -> None:
    planned = coverage.plan(TargetSet.parse(["198.18.1.0/24"]), [_iface()], [], ["arp"])
    assert status.run_status(planned, [], [Device("198.18.1.7")]) == status.RunStatus(
        partial=False, coverage=tuple(coverage.finish(planned, [], None, [Device("198.18.1.7")]))
    )
    stopped = status.run_status(planned, [], [], "SIGTERM during discovery")
    assert stopped.partial and stopped.not_covered == (
        "198.18.1.0/24 (target 198.18.1.0/24, eth0): stopped: SIGTERM during discovery",
    )
    # an error on an interface that carries no target is still a gap
    elsewhere = status.run_status(planned, [ProbeError("sadp", "eth9", "down")], [])
    assert elsewhere.not_covered[-1] == "sadp on eth9: down"
    judged = Device("198.18.1.7", probe_errors=[ProbeError("identify", "198.18.1.7", "bad")])
    assert status.run_status(planned, [], [judged]).not_covered == (
        "identify failed for 198.18.1.7: bad",
    )
    # a stop before anything was planned
    assert status.run_status([], [], [], "SIGINT during discovery").not_covered == (
        "stopped: SIGINT during discovery",
    )


def test_an_offline_run_lists_no_gap_and_is_partial_on_an_unread_line() -> None:
    unread = ProbeError("identify", None, "line 2: not JSON", ProbeKind.MALFORMED)
    assert status.run_status(None, [unread], []) == status.RunStatus(partial=True)
    assert status.run_status(None, [], [Device("198.18.1.7")]) == status.RunStatus(partial=False)
    settled = status.settle(_run(errors=[unread]), None, [])
    assert settled.partial and settled.not_covered == [] and settled.coverage == []


def test_the_exit_code_rule() -> None:
    partial = status.settle(_run(stopped="SIGINT during discovery"), [], [])
    complete = status.settle(_run(), [], [])
    assert status.exit_code([], complete) is ExitCode.OK
    assert status.exit_code([], partial) is ExitCode.FAILED
    assert status.sweep_exit_code(True, partial) is ExitCode.FLAGGED
    assert status.sweep_exit_code(False, partial) is ExitCode.FAILED
    with pytest.raises(UsageError, match="--fail-on 'sometimes' is not one of"):
        status.exit_code([], complete, "sometimes")
