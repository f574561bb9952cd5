"""`camscan lab`: build and hold a lab for hands-on work, list topologies, clean up leftovers."""

from __future__ import annotations

import os
import time

import typer

from camscan.cli.main import EXIT_FAILED, fail

lab_app = typer.Typer(
    help="The emulated camera lab (Linux network namespaces; needs root).", no_args_is_help=True
)


def _need_root() -> None:
    if os.geteuid() != 0:
        fail("the lab creates network namespaces and needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)")


@lab_app.command("up")
def lab_up(topology: str = typer.Argument("office", help="Bundled topology name or file.")) -> None:
    """Build a lab and keep it up until Ctrl-C; prints how to scan it."""
    from camscan.lab import Lab, LabError, load_topology

    _need_root()
    try:
        topo = load_topology(topology)
        with Lab(topo) as lab:
            typer.echo(f"lab {topo.name!r} is up: {len(lab.devices)} devices")
            for net, ifname in lab.interfaces.items():
                typer.echo(f"  network {net}: scanner interface {ifname}")
            typer.echo(f"scan it:  ip netns exec {lab.scanner_ns} camscan scan <cidr>")
            typer.echo("Ctrl-C tears it down.")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        typer.echo("lab torn down")
    except LabError as e:
        fail(f"lab: {e}", EXIT_FAILED)


@lab_app.command("clean")
def lab_clean() -> None:
    """Remove labs left behind by processes that no longer exist."""
    from camscan.lab import remove_stale

    _need_root()
    removed = remove_stale()
    typer.echo(
        f"removed {len(removed)} stale namespaces" + (f": {' '.join(removed)}" if removed else "")
    )
