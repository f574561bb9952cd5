"""The CLI's one-line error rule: commands raise a CamscanError (or call `fail`), and `run`
turns it into one line on stderr and its exit code (camscan.errors.exit_code_for)."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

from camscan.errors import CamscanError, ExitCode, RunError, UsageError, exit_code_for

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE, EXIT_FAILED = (
    ExitCode.OK,
    ExitCode.FLAGGED,
    ExitCode.USAGE,
    ExitCode.FAILED,
)


def fail(message: str, code: int = ExitCode.USAGE) -> NoReturn:
    """Stop the command with a one-line error: usage (exit 2) or a failed run (exit 3)."""
    raise (RunError if code == ExitCode.FAILED else UsageError)(message)


def report_error(error: BaseException) -> int:
    """Print `error` as camscan's one line on stderr; return the exit code it maps to."""
    if isinstance(error, CamscanError):
        typer.echo(f"camscan: error: {error}", err=True)
    else:
        typer.echo(
            f"camscan: internal error: {type(error).__name__}: {error} "
            "(set CAMSCAN_DEBUG=1 for a traceback)",
            err=True,
        )
    return int(exit_code_for(error))


EXIT_BROKEN_PIPE = 128 + 13  # what the shell reports for a command SIGPIPE ended (nmap, cat)


def broken_pipe() -> int:
    """The reader of standard output went away (`camscan report x -f jsonl | head -1`): stop
    quietly with the shell's convention, as nmap and arp-scan do, nothing on stderr. Standard
    output is pointed at /dev/null so that the interpreter's last flush cannot complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real descriptor (a test's runner)
        pass
    return EXIT_BROKEN_PIPE
