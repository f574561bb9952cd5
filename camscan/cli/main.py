"""The `camscan` command: sub-commands, exit codes and the one-line error rule.

Exit codes (documented in README): 0 nothing flagged, 1 flagged findings, 2 usage or
configuration error, 3 the scan failed or ended partial. Heavy modules are imported inside the
commands so that `camscan --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

from camscan import __version__

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3

app = typer.Typer(
    name="camscan",
    help=(
        "Find Hikvision and Dahua cameras (and the badges they are sold under) on your networks, "
        "with the evidence for every verdict, and flag those on core or sensitive segments.\n\n"
        "Start with `camscan demo` (needs root: it builds an emulated lab), or scan your own "
        "network: `camscan scan 192.0.2.0/24` (ARP needs CAP_NET_RAW; everything else runs "
        "unprivileged)."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class CliError(Exception):
    """A one-line error with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    raise CliError(message, code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"camscan {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """camscan: evidence-based discovery of Hikvision and Dahua devices."""


def _register() -> None:
    from camscan.cli import commands, scan_cmd

    app.command("scan")(scan_cmd.scan)
    commands.register(app)


def run() -> None:
    debug = os.environ.get("CAMSCAN_DEBUG") == "1"
    try:
        _register()
        app()  # standalone: usage errors print one message and exit 2
    except CliError as e:
        typer.echo(f"camscan: error: {e}", err=True)
        sys.exit(e.code)
    except Exception as e:
        if debug:
            raise
        typer.echo(
            f"camscan: internal error: {type(e).__name__}: {e} "
            "(set CAMSCAN_DEBUG=1 for a traceback)",
            err=True,
        )
        sys.exit(EXIT_FAILED)
