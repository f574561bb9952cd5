"""The `camscan` Typer app. Command modules register themselves on it when imported
(camscan/cli/main.py imports them); nothing here imports a command, so there is no cycle.

The error boundary sits in the app itself (`_Guarded.invoke`), so a test driving `app` in-process
with typer.testing.CliRunner sees exactly what a user sees: one line on stderr and the exit code.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from camscan import __version__
from camscan.cli.errors import report_error
from camscan.errors import CamscanError


class _Guarded(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CamscanError as e:
            raise typer.Exit(report_error(e)) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # the framework's own exits and usage errors
        except Exception as e:
            if os.environ.get("CAMSCAN_DEBUG") == "1":
                raise
            raise typer.Exit(report_error(e)) from None


app = typer.Typer(
    cls=_Guarded,
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
