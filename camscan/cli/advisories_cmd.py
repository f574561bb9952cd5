"""`camscan advisories`: the firmware advisory data and CISA's KEV catalogue."""

from __future__ import annotations

from pathlib import Path

import typer

from camscan.cli.app import app

advisories_app = typer.Typer(
    help="Firmware advisories and CISA's KEV catalogue: show what is loaded, install a "
    "downloaded catalogue.",
    no_args_is_help=True,
)
app.add_typer(advisories_app, name="advisories")


@advisories_app.command("show")
def advisories_show() -> None:
    """Say which advisory rows and which KEV catalogue camscan uses, and how old it is."""
    from camscan.identify.advisories import AdvisoryData

    data = AdvisoryData.load()
    kev = data.kev
    where = "shipped extract" if kev.shipped else "installed by `camscan advisories update`"
    typer.echo(
        f"advisories: {len(data.table.rows)} rows, {len(data.table.cves)} CVEs "
        f"({', '.join(data.table.files)})"
    )
    typer.echo(
        f"KEV: catalogue {kev.version} released {kev.released} ({kev.age_days()} days ago), "
        f"{len(kev.entries)} entries, {where}: {kev.path}"
    )
    for cve in sorted(data.table.cves):
        entry = kev.entries.get(cve)
        listed = f"KEV since {entry.added}, due {entry.due}" if entry else "not in KEV"
        typer.echo(f"  {cve}: {listed}")
    if warning := kev.staleness_warning():
        typer.echo(f"camscan: note: {warning}", err=True)


@advisories_app.command("update")
def advisories_update(
    file: Path = typer.Argument(
        ...,
        metavar="FILE",
        help="CISA's known_exploited_vulnerabilities.json, downloaded (camscan never downloads).",
    ),
) -> None:
    """Install a downloaded KEV catalogue into camscan's user data directory.

    The file is size-bounded and checked whole first (fields, formats, count); a file that
    fails is one line, exit 2, and the data camscan had stays as it was.
    """
    from camscan.identify.advisories.kev import install, load_catalogue

    old = load_catalogue()
    new = install(file)
    added = sorted(set(new.entries) - set(old.entries))
    typer.echo(
        f"{new.path}: KEV catalogue {new.version} released {new.released}, "
        f"{len(new.entries)} entries ({len(added)} not in the previous {old.version})"
    )
    if warning := new.staleness_warning():
        typer.echo(f"camscan: note: {warning}", err=True)
