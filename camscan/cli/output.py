"""Where command output goes, as nmap users expect: `-o FILE` as often as wanted, each in the
format its extension names (or `-f`, or `FORMAT:FILE`), `-o -` for standard output, and the
report on standard output when no `-o` is given. `-q` silences chatter, never a report.

The exit code is the same rule for every command that reports: camscan/status.py `exit_code`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from camscan.cli.errors import EXIT_FAILED, fail
from camscan.report.registry import DEFAULT, FORMATS, format_for_file

if TYPE_CHECKING:  # kept off the start-up path
    from camscan.config import Config
    from camscan.model import ScanResult, ScanRun
    from camscan.policy.rules import PolicySettings

log = logging.getLogger("camscan.cli")

STDOUT = "-"


@dataclasses.dataclass(frozen=True, slots=True)
class Output:
    fmt: str
    path: Path | None  # None: standard output

    def describe(self) -> str:
        return f"{self.fmt} to {'standard output' if self.path is None else self.path}"


def format_from_name(name: str) -> str | None:
    """The format a file name's ending says (the registry's `extensions`), if any."""
    return format_for_file(name)


def check_format(fmt: str, flag: str = "--format", formats: tuple[str, ...] | None = None) -> str:
    allowed = tuple(FORMATS) if formats is None else formats
    if fmt not in allowed:
        fail(f"{flag} {fmt!r} is not one of {', '.join(allowed)}")
    return fmt


def plan_outputs(
    outputs: list[str],
    fmt: str | None,
    default_fmt: str = DEFAULT,
    formats: tuple[str, ...] | None = None,
) -> list[Output]:
    """What to write where. `-f` (fmt) sets the format of every output that does not say its
    own with FORMAT:FILE; without -f each file's extension decides. `formats`: the formats this
    command writes (default: every report format)."""
    allowed = tuple(FORMATS) if formats is None else formats
    if fmt is not None:
        check_format(fmt, formats=allowed)
    if not outputs:
        return [Output(fmt or default_fmt, None)]
    planned: list[Output] = []
    for text in outputs:
        prefix, sep, rest = text.partition(":")
        if sep and prefix in FORMATS and rest:
            chosen, target = prefix, rest
        else:
            chosen, target = "", text
        if not chosen:
            if fmt is not None:
                chosen = fmt
            elif target == STDOUT:
                chosen = default_fmt
            else:
                found = format_from_name(target)
                if found is None and _in_place(target):
                    found = default_fmt  # /dev/null, /dev/stdout, >(cmd): as -o - would
                if found is None:
                    fail(
                        f"-o {target}: cannot tell the format from the file name; name it "
                        f"with -f FORMAT or -o FORMAT:{target} (formats: {', '.join(allowed)})"
                    )
                chosen = found
        check_format(chosen, f"-o {text}: format", allowed)
        planned.append(Output(chosen, None if target == STDOUT else Path(target)))
    if sum(1 for o in planned if o.path is None) > 1:
        fail("-o - given more than once: only one report can go to standard output")
    return planned


def _in_place(target: str) -> bool:
    from camscan.store.outfile import in_place

    return in_place(Path(target))


def check_outputs(outputs: list[Output]) -> None:
    """A file that cannot be written is found now (exit 2), not after the scan or the query."""
    from camscan.store.outfile import check_writable

    for out in outputs:
        if out.path is not None and (problem := check_writable(out.path)):
            fail(f"cannot write the report to {out.path}: {problem}")


def write_text_outputs(outputs: list[Output], render: Callable[[str, TextIO], None]) -> None:
    """`render(fmt, out)` once per output: standard output directly, each file through a
    temporary file renamed over it (a kill midway leaves the old file, never half a new one);
    a file that cannot be written is a one-line error (exit 3)."""
    from camscan.store.outfile import write_file

    for out in outputs:
        if out.path is None:
            render(out.fmt, sys.stdout)
            continue
        try:
            write_file(out.path, functools.partial(render, out.fmt))
        except OSError as e:
            fail(f"cannot write {out.path}: {e.strerror or e}", EXIT_FAILED)


def saved_policy(result: ScanResult) -> PolicySettings | None:
    """The policy a saved result was judged by (schema 1.1+), if it is readable."""
    from camscan.config import ConfigError, parse_config
    from camscan.policy import settings_from_config

    if not result.policy:
        return None
    try:
        return settings_from_config(parse_config({"policy": result.policy}, "saved result").policy)
    except ConfigError:
        return None  # a hand-edited or foreign file: fall back to the defaults


def write_outputs(
    result: ScanResult,
    outputs: list[Output],
    cfg: Config | None = None,
    *,
    changes: dict[str, Any] | None = None,
    excel: bool = False,
) -> None:
    """Write every planned output; a file is written whole or the command fails (exit 3)."""
    from camscan.policy import settings_from_config
    from camscan.report import render
    from camscan.store.outfile import write_file

    policy = settings_from_config(cfg.policy) if cfg else saved_policy(result)
    for out in outputs:
        log.info("writing %s", out.describe())
        if out.path is None:
            render(result, out.fmt, sys.stdout, policy=policy, changes=changes, excel=excel)
            sys.stdout.flush()
            continue

        def fill(stream: TextIO, fmt: str = out.fmt) -> None:
            render(result, fmt, stream, color=False, policy=policy, changes=changes, excel=excel)

        # Rendered into a temporary file that replaces the report only once complete: a
        # failure or a kill -9 midway never leaves a half-written or empty file in place of
        # the previous report, and a large report is not held whole in memory on the way.
        try:
            write_file(out.path, fill)
        except OSError as e:
            fail(f"cannot write {out.path}: {e.strerror or e}", EXIT_FAILED)


def write_report(
    result: ScanResult,
    fmt: str,
    out_path: Path | None,
    quiet: bool = False,
    cfg: Config | None = None,
    *,
    changes: dict[str, Any] | None = None,
) -> None:
    """One report to a file or standard output (`quiet` no longer hides a report)."""
    del quiet  # kept for callers: -q silences chatter, not the report asked for
    write_outputs(result, [Output(fmt, out_path)], cfg, changes=changes)


def tell_gaps(run: ScanRun) -> None:
    """What a partial run did not cover, on stderr, even with -q: a partial run is an error,
    not chatter, whichever command ran it (scan, sweep)."""
    import typer

    if run.partial or run.not_covered:
        gaps = run.not_covered or ["a probe stage failed"]
        typer.echo(f"camscan: error: partial scan, {len(gaps)} not covered:", err=True)
        for gap in gaps:
            typer.echo(f"camscan:   not covered: {gap}", err=True)


def tell_written(result: ScanResult, outputs: list[Output], quiet: bool) -> None:
    """The one-line summary after reports went to files (stderr; -q silences it)."""
    import typer

    from camscan.contract import split_scope

    files = [str(o.path) for o in outputs if o.path is not None]
    if files and not quiet:
        flagged = sum(1 for f in result.findings if f.flagged)
        assessed, outside = split_scope(result)
        more = f", {len(outside)} out of scope" if outside else ""
        typer.echo(
            f"camscan: {len(assessed)} devices{more}, {flagged} flagged; report written to "
            f"{', '.join(files)}",
            err=True,
        )
