"""The `camscan` Typer app. Command modules register themselves on it when imported
(camscan/cli/main.py imports them); nothing here imports a command, so there is no cycle.

The error boundary sits in the app itself (`_Guarded.invoke`), so a test driving `app` in-process
with typer.testing.CliRunner sees exactly what a user sees: one line on stderr and the exit code.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from camscan import __version__
from camscan.cli.errors import broken_pipe, report_error
from camscan.errors import CamscanError, UsageError


class _Guarded(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CamscanError as e:
            raise typer.Exit(report_error(e)) from None
        except BrokenPipeError:
            raise typer.Exit(broken_pipe()) from None
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
        "unprivileged).\n\n"
        "Configuration: --config FILE, else $CAMSCAN_CONFIG, else the first of ./camscan.toml, "
        "~/.config/camscan/camscan.toml and /etc/camscan.toml. Linux only."
    ),
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Help shows values in words (FILE, N, TEXT), never Python types such as <list[str]>; options
# with a better word name it with metavar=, arguments show their name alone.
_WORDS = {"path": "PATH", "int": "N", "float": "NUMBER", "str": "TEXT", "bool": "BOOLEAN"}


def _display_type(self: Any, ctx: Any) -> str:
    label: str = typer.core._TyperParameter.__dict__["_camscan_original"](self, ctx).strip("<>")
    inner = label.removeprefix("list[").removesuffix("]")
    return _WORDS.get(inner, inner.upper())


if "_camscan_original" not in typer.core._TyperParameter.__dict__:
    typer.core._TyperParameter._camscan_original = typer.core._TyperParameter.display_type  # type: ignore[attr-defined]
    typer.core._TyperParameter.display_type = _display_type  # type: ignore[method-assign]
    typer.core.TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]


def linux_only() -> None:
    """camscan reads Linux interfaces, neighbour tables and namespaces: say so, in one line."""
    if not sys.platform.startswith("linux"):
        raise UsageError(
            f"camscan runs on Linux only (it reads Linux network interfaces and neighbour "
            f"tables); this system is {sys.platform}"
        )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"camscan {__version__}")
        raise typer.Exit()


def _logging(verbose: int, debug: bool) -> None:
    import logging  # only when asked for: it is not free to import

    level = logging.DEBUG if debug or verbose >= 2 else logging.INFO if verbose else None
    if level is None:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("camscan: %(levelname)s: %(name)s: %(message)s"))
    root = logging.getLogger("camscan")
    root.handlers[:] = [handler]
    root.setLevel(level)


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        help="Log what camscan does to stderr (-v steps, -vv details).",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Log everything and show a traceback on an internal error."
    ),
    no_color: bool = typer.Option(
        False, "--no-color", help="No colour in terminal output (as does NO_COLOR=1)."
    ),
) -> None:
    """camscan: evidence-based discovery of Hikvision and Dahua devices."""
    linux_only()
    _logging(verbose, debug)
    if debug:
        os.environ["CAMSCAN_DEBUG"] = "1"
    if no_color:
        os.environ["NO_COLOR"] = "1"  # rich and camscan's table both honour it
