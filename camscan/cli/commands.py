"""`camscan config` and `camscan oui`: check a config file; look up and rebuild the OUI data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from camscan.cli.app import app
from camscan.cli.errors import fail

if TYPE_CHECKING:
    from camscan.identify.oui import OuiDB

config_app = typer.Typer(help="Check a camscan.toml.", no_args_is_help=True)
oui_app = typer.Typer(
    help="The MAC OUI data: look up an address, rebuild from IEEE CSVs.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(oui_app, name="oui")


@config_app.command("check")
def config_check(
    path: str = typer.Argument(
        ..., metavar="FILE", help="The camscan.toml to validate; '-' for standard input."
    ),
) -> None:
    """Validate a config file; say exactly what is wrong and where."""
    from camscan.config import config_warnings, load_config

    cfg = load_config(Path("/dev/stdin") if path == "-" else Path(path))
    for warning in config_warnings(cfg):
        typer.echo(f"{path}: warning: {warning}", err=True)
    zones = ", ".join(f"{s.name} ({s.zone}: {' '.join(s.cidrs)})" for s in cfg.segments)
    typer.echo(
        f"{path}: OK: {len(cfg.segments)} segments{': ' + zones if zones else ''}; "
        f"{len(cfg.exceptions)} exceptions"
    )
    from camscan.policy.rules import readings

    p = cfg.policy
    for line in readings(p.core_any_maker, p.core_any_maker_severity, p.deadlines, cfg.segments):
        typer.echo(f"{path}: {line}")


@oui_app.command("lookup")
def oui_lookup(macs: list[str] = typer.Argument(..., help="MAC addresses.")) -> None:
    """Say who holds each MAC's block, and what camscan concludes from it."""
    from camscan.identify.oui import display_vendor
    from camscan.macaddr import normalise_mac

    db = _load_oui()
    for mac in macs:
        norm = normalise_mac(mac)
        if norm is None:
            fail(f"not a MAC address: {mac!r}")
        a = db.lookup(norm)
        if a:
            badge = f", sold as {a.badge}" if a.badge else ""
            typer.echo(
                f"{norm}  {a.maker}{badge} ({a.strength}): {a.registry} {a.prefix} {a.organization}"
            )
        else:
            typer.echo(f"{norm}  not a listed maker: {display_vendor(norm) or 'unregistered'}")


@oui_app.command("update")
def oui_update(
    files: list[Path] = typer.Argument(
        ..., help="IEEE registry CSVs (oui.csv, mam.csv, oui36.csv) you downloaded."
    ),
    output: Path = typer.Option(
        None,
        "--output",
        metavar="DIR",
        help="Directory to write (default: DATA/oui in camscan's user data directory, "
        "$CAMSCAN_DATA_DIR or ~/.local/share/camscan, which upgrades leave alone).",
    ),
) -> None:
    """Rebuild the OUI data from IEEE registry CSV files (camscan never downloads).

    The result goes to the user data directory, outside the installed package: camscan reads
    it from then on, until a camscan upgrade ships newer data of its own.
    """
    import datetime as dt

    from camscan.data import shipped_data_dir, user_data_dir
    from camscan.identify.oui import (
        OuiDB,
        load_rules,
        read_ieee_csv,
        select_assignments,
        write_assignments,
    )

    old = _load_oui()
    shipped = shipped_data_dir("oui")  # the rules ship with camscan and are kept current there
    out_dir = output or user_data_dir() / "oui"
    try:
        rules = load_rules(shipped / "organizations.toml")
        rows = []
        for f in files:
            rows.extend(
                select_assignments(
                    read_ieee_csv(f),
                    rules,
                    f"IEEE registry CSV {f.name} (imported {dt.date.today()})",
                )
            )
        if not rows:
            fail(
                "no assignment in those files matches oui/organizations.toml; are they the "
                "IEEE registry CSVs?"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        if out_dir.resolve() != shipped.resolve():
            (out_dir / "organizations.toml").write_text(
                (shipped / "organizations.toml").read_text(encoding="utf-8"), encoding="utf-8"
            )
        write_assignments(out_dir / "assignments.csv", rows)
        names = ", ".join(f'"{f.name}"' for f in files)
        (out_dir / "provenance.toml").write_text(
            f'generated = {dt.date.today().isoformat()}\nrules = "organizations.toml"\n'
            f"inputs = [{names}]\n",
            encoding="utf-8",
        )
        new = OuiDB.load(out_dir)
    except OSError as e:
        fail(f"cannot write {out_dir}: {e.strerror or e}")
    added = sorted(set(new.by_prefix) - set(old.by_prefix))
    removed = sorted(set(old.by_prefix) - set(new.by_prefix))
    typer.echo(
        f"{out_dir}: {len(new.by_prefix)} blocks ({len(added)} new, {len(removed)} "
        "no longer listed)"
    )
    for p in added:
        typer.echo(f"  + {p} {new.by_prefix[p].organization}")
    for p in removed:
        typer.echo(f"  - {p} {old.by_prefix[p].organization}")


def _load_oui() -> OuiDB:
    from camscan.identify.oui import OuiDB

    return OuiDB.load()
