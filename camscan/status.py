"""A run's status, decided here and nowhere else: whether it is partial, why, and its exit code.

Every command that makes or reads a result asks this module: the pipeline settles a scan's run
with `settle` (coverage, gaps, partial), `identify` and `import` settle theirs the same way with
no coverage (a passive source: with what it heard, `heard_status`), and `exit_code` and
`sweep_exit_code` are the only rules from a result to 0, 1 or 3. Why a run exits 3 is `gaps`
below, read top to bottom.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from camscan.errors import ExitCode, UsageError
from camscan.model import Coverage, Device, Finding, ProbeError, ScanRun, Severity

FAIL_ON = ("flagged", "overdue", "critical", "high", "medium", "info", "never")  # --fail-on


@dataclasses.dataclass(frozen=True, slots=True)
class RunStatus:
    partial: bool
    coverage: tuple[Coverage, ...] = ()  # each planned part, finished
    not_covered: tuple[str, ...] = ()  # one line per gap; empty for an offline run


def gaps(
    finished: Sequence[Coverage],
    errors: Sequence[ProbeError],
    devices: Sequence[Device],
    stopped: str | None,
) -> list[str]:
    """Everything a scan was asked for and did not cover, one line each."""
    found = [  # a part of a target: unreachable, a failed or stopped stage, a silent routed range
        f"{c.network} (target {c.target}"
        + (f", {c.interface}" if c.interface else "")
        + f"): {c.note or '; '.join(c.failed)}"
        for c in finished
        if not c.covered
    ]
    # a run-level failure no part accounts for (e.g. on an interface carrying no target)
    tied = {f for c in finished for f in c.failed}
    found += [
        f"{e.probe} on {e.target}: {e.error}" for e in errors if f"{e.probe}: {e.error}" not in tied
    ]
    found += identify_failures(devices)  # a device identify could not judge
    if stopped and not finished:  # a stop with nothing planned is still a stop
        found.append(f"stopped: {stopped}")
    return found


def identify_failures(devices: Sequence[Device]) -> list[str]:
    return [
        f"identify failed for {d.ip}: {e.error}"
        for d in devices
        for e in d.probe_errors
        if e.probe == "identify"
    ]


def run_status(
    planned: Sequence[Coverage] | None,
    errors: Sequence[ProbeError],
    devices: Sequence[Device],
    stopped: str | None = None,
) -> RunStatus:
    """A scan (`planned`: its coverage plan) is partial exactly when it has a gap. An offline run
    (identify, import: `planned` None) covers no network, so it lists no gap; it is partial when
    an input line could not be read (its run errors) or a device could not be judged."""
    from camscan import coverage  # netif underneath: kept off the CLI's start-up path

    if planned is None:
        return RunStatus(partial=bool(errors) or bool(identify_failures(devices)))
    finished = coverage.finish(planned, errors, stopped, devices)
    found = gaps(finished, errors, devices, stopped)
    return RunStatus(partial=bool(found), coverage=tuple(finished), not_covered=tuple(found))


def heard_status(coverage: Sequence[Coverage], not_covered: Sequence[str]) -> RunStatus:
    """A passive run (a capture, a listening session, Zeek logs) never proves absence: its
    coverage is what was heard where, none of it covered, and it is always partial."""
    return RunStatus(partial=True, coverage=tuple(coverage), not_covered=tuple(not_covered))


def settle(
    run: ScanRun,
    planned: Sequence[Coverage] | None,
    devices: Sequence[Device],
    heard: RunStatus | None = None,
) -> ScanRun:
    """`run` with its status written in: the one place a run's partial flag is set. `heard`:
    a passive source's status (heard_status), instead of one from a coverage plan."""
    status = heard or run_status(planned, run.errors, devices, run.stopped)
    return dataclasses.replace(
        run,
        partial=status.partial,
        coverage=list(status.coverage),
        not_covered=list(status.not_covered),
    )


def check_fail_on(fail_on: str) -> None:
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on {fail_on!r} is not one of {', '.join(FAIL_ON)}")


def fails(findings: Sequence[Finding], fail_on: str = "flagged") -> bool:
    """Whether a finding reaches the --fail-on threshold (default: flagged by the policy)."""
    from camscan.policy.rules import severity_rank

    check_fail_on(fail_on)
    if fail_on == "flagged":
        return any(f.flagged for f in findings)
    if fail_on == "overdue":  # a flagged device still present after its removal deadline
        return any(f.flagged and f.overdue for f in findings)
    if fail_on == "never":
        return False
    floor = severity_rank(Severity(fail_on))
    return any(
        f.severity is not Severity.ACCEPTED and severity_rank(f.severity) >= floor for f in findings
    )


def exit_code(findings: Sequence[Finding], run: ScanRun, fail_on: str = "flagged") -> ExitCode:
    """1 when a finding reaches --fail-on, else 3 when the run is partial, else 0."""
    return _code(fails(findings, fail_on), run.partial)


def sweep_exit_code(newly_flagged: bool, run: ScanRun) -> ExitCode:
    """A sweep fails on what is new: 1 when a finding is newly flagged, else 3 when partial."""
    return _code(newly_flagged, run.partial)


def _code(failing: bool, partial: bool) -> ExitCode:
    if failing:
        return ExitCode.FLAGGED
    return ExitCode.FAILED if partial else ExitCode.OK
