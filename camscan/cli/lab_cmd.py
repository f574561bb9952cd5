"""`camscan lab ...`: the lab's own command line (camscan.lab.__main__), under camscan's name."""

from __future__ import annotations

import typer

from camscan.cli.app import app

LAB_HELP = (
    "The emulated camera lab in Linux network namespaces (needs root): `camscan lab up office` "
    "builds one and holds it until Ctrl-C, `list` shows topologies and personas, `clean` removes "
    "labs left by dead processes."
)
LAB_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command("lab", help=LAB_HELP, context_settings=LAB_CONTEXT)
def lab(ctx: typer.Context) -> None:
    from camscan.lab.__main__ import main

    raise typer.Exit(main(list(ctx.args) or ["--help"]))
