"""`camscan lab ...`: the lab's own command line (camscan.lab.__main__), under camscan's name."""

from __future__ import annotations

import importlib.util

import typer

from camscan.cli.app import app
from camscan.cli.errors import fail

LAB_MISSING = (
    "the camscan lab (emulated devices in network namespaces) is not installed here; it is a "
    "part of its own, camscan-lab: install it (from a clone: `pip install ./lab`) to run "
    "`camscan {command}`"
)


def require_lab(command: str) -> None:
    """The lab is optional (only demo, lab and the tests use it): say so if it is missing."""
    if importlib.util.find_spec("camscan.lab") is None:
        fail(LAB_MISSING.format(command=command))


LAB_HELP = (
    "The emulated camera lab in Linux network namespaces (needs root): `camscan lab up office` "
    "builds one and holds it until Ctrl-C, `list` shows topologies and personas, `clean` removes "
    "labs left by dead processes."
)
LAB_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command("lab", help=LAB_HELP, context_settings=LAB_CONTEXT)
def lab(ctx: typer.Context) -> None:
    require_lab("lab")
    from camscan.lab.__main__ import main

    raise typer.Exit(main(list(ctx.args) or ["--help"]))
