"""`camscan scan`: its options; camscan/service.py plans and runs the scan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from camscan.cli import complete
from camscan.cli.app import app
from camscan.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from camscan.cli.options import (
    config_option,
    excel_option,
    fail_on_option,
    format_option,
    output_option,
    quiet_option,
)
from camscan.discovery import registry as probe_registry
from camscan.settings import BOUNDS, default

if TYPE_CHECKING:  # kept off the start-up path
    from camscan.cli.output import Output
    from camscan.config import Config
    from camscan.model import ScanResult
    from camscan.service import Flags, ScanPlan, TargetAsk
    from camscan.targets import TargetSet

EXPLAIN_NO_TARGET = """camscan scans only what you name. Give targets, for example:
  camscan scan 192.0.2.0/24                      a network (CIDR) or single addresses
  camscan scan --config camscan.toml --segment cctv   a segment from your config
  camscan scan --config camscan.toml --all-segments   every segment in the config
See `camscan scan --help` for everything else."""


def _bounds(key: str, extra: str = "") -> str:
    """ "1 to 100000 (default 1000)": the flag's range and default, read from the one table the
    config uses too, so help and validation cannot drift apart."""
    b = BOUNDS[key]
    return f"{b.low:g} to {b.high:g} (default {default(key):g}{extra})"


def _setting_option(key: str, what: str, extra: str = "") -> Any:
    """The flag that overrides [scan] `key`: its name from BOUNDS, its help `what` and bounds."""
    return typer.Option(None, BOUNDS[key].flag, help=f"{what}, {_bounds(key, extra)}.")


@app.command("scan")
def scan(
    targets: list[str] = typer.Argument(
        None,
        help="Networks (CIDR) or addresses to scan; IPv6 prefixes too (on an attached link, or "
        "routed and within --max-hosts).",
        show_default=False,
    ),
    config: Path = config_option(),
    segment: list[str] = typer.Option(
        [],
        "--segment",
        "-s",
        help="Scan a segment named in the config (repeatable).",
        autocompletion=complete.segments,
    ),
    all_segments: bool = typer.Option(
        False, "--all-segments", help="Scan every segment in the config."
    ),
    interface: list[str] = typer.Option(
        [],
        "--interface",
        "-i",
        help="Interface to use (repeatable; default: those attached to the targets).",
    ),
    fmt: str = format_option("table, or the config's [output] format"),
    output: list[str] = output_option(),
    fail_on: str = fail_on_option(),
    excel: bool = excel_option(),
    rate: float = _setting_option(
        "rate",
        "Packets per second, all the run sends together: ARP requests, discovery queries, L3 "
        "probes, new connections; any 100 ms holds at most a tenth, +10%",
        "; lower it for a gentler scan",
    ),
    host_rate: float = _setting_option(
        "host_rate",
        "The same to any one host (ARP requests for it, queries, probes, new connections)",
    ),
    engine: str = typer.Option(
        None,
        "--engine",
        help="Routed host discovery and port scan: camscan (default) or nmap (needs nmap).",
        autocompletion=complete.engines,
    ),
    window: float = _setting_option(
        "discovery_window", "Seconds to listen for multicast discovery replies"
    ),
    timeout: float = _setting_option("timeout", "Seconds per banner probe, connect to last byte"),
    read_timeout: float = _setting_option(
        "read_timeout", "Seconds of silence a banner read tolerates", "; at most --timeout"
    ),
    concurrency: int = _setting_option("concurrency", "Banner connections in flight"),
    ask_all: bool = typer.Option(
        False,
        "--ask-all",
        help="Ask every device every camera port and path, even one discovery already knows "
        "(default: ask less; [scan] ask_less).",
    ),
    probes: str = typer.Option(
        None,
        "--probes",
        help=f"Comma-separated subset of {','.join(probe_registry.names())} (default: all but "
        f"{', '.join(sorted(set(probe_registry.names()) - set(probe_registry.defaults())))}, "
        "which its config table adds).",
        autocompletion=complete.probes,
    ),
    allow_public: bool = typer.Option(
        False,
        "--allow-public",
        help="Allow targets outside private ranges (only networks you own).",
    ),
    max_hosts: int = typer.Option(
        None,
        "--max-hosts",
        help="Refuse target sets larger than this, after exclusions (default 65536, or the "
        "config's [scan] max_hosts); routed IPv6 prefixes count their addresses.",
    ),
    input_list: list[str] = typer.Option(
        [],
        "-iL",
        "--input-list",
        help="Read targets from FILE ('-' for stdin), one or more per line, # comments.",
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="Addresses, ranges or CIDRs to leave out (comma-separated)."
    ),
    exclude_file: list[str] = typer.Option(
        [], "--exclude-file", help="Read exclusions from FILE, like -iL."
    ),
    list_targets: bool = typer.Option(
        False,
        "--list-targets",
        help="Print the expanded targets (and resolved host names) and exit; sends nothing.",
    ),
    quiet: bool = quiet_option(),
    db: str = typer.Option(
        None,
        "--db",
        help="Also store the run: a SQLite file, or postgresql://... or a libpq conninfo "
        "(default: [store] db in the config; without either the run is not stored).",
    ),
    site: str = typer.Option(
        None,
        "--site",
        help="Site the stored run belongs to (default: [store] site, else host).",
        autocompletion=complete.sites,
    ),
) -> None:
    """Discover devices, identify their makers with evidence, and flag them by zone.

    Exit codes: 0 nothing flagged, 1 a finding reached --fail-on (default: flagged),
    2 usage or config error, 3 scan failed or partial.
    """
    from camscan import service
    from camscan.cli.configfile import load_cfg
    from camscan.cli.output import check_outputs, plan_outputs
    from camscan.status import check_fail_on

    service.lab_guard()
    cfg = load_cfg(config)
    check_fail_on(fail_on)  # before any packet
    _warn(cfg, quiet)
    values = {"rate": rate, "host_rate": host_rate, "discovery_window": window}
    values |= {"timeout": timeout, "read_timeout": read_timeout, "concurrency": concurrency}
    values |= {"max_hosts": max_hosts}
    flags = service.Flags(values=values, probes=probes, engine=engine, ask_all=ask_all)
    service.checked_values(flags)  # flags obey the config's bounds: checked before anything
    if not output and cfg.output.file:
        output = [cfg.output.file]
    outputs = plan_outputs(
        output, fmt or (cfg.output.format if not output else None), cfg.output.format
    )
    service.chosen_probes(flags, cfg)
    check_outputs(outputs)
    data = service.identify_data(cfg)
    ask = service.TargetAsk(
        texts=targets or [],
        segments=segment,
        all_segments=all_segments,
        input_lists=input_list,
        exclude=exclude,
        exclude_files=exclude_file,
        allow_public=allow_public,
    )
    ts = _targets(cfg, ask, flags)
    if list_targets:
        _print_targets(ts)
        raise typer.Exit(EXIT_OK)
    plan = service.plan_scan(cfg, ts, flags, interfaces=interface, data=data)
    report_scan(plan, outputs, quiet, db or cfg.store.db, site, fail_on, excel)


def _warn(cfg: Config, quiet: bool) -> None:
    if not quiet:
        from camscan.config import config_warnings

        for warning in config_warnings(cfg):
            typer.echo(f"camscan: warning: {warning}", err=True)


def _targets(cfg: Config, ask: TargetAsk, flags: Flags) -> TargetSet:
    from camscan.service import NoTargets, resolve_targets

    try:
        return resolve_targets(cfg, ask, flags)
    except NoTargets:
        typer.echo(EXPLAIN_NO_TARGET, err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _print_targets(ts: TargetSet) -> None:
    for name, addresses in ts.names.items():
        typer.echo(f"# {name} -> {', '.join(addresses)}")
    for net in ts.networks:
        typer.echo(str(net))
    for net6 in ts.v6:
        typer.echo(f"{net6}  # IPv6: asked on its link; if routed, swept within --max-hosts")
    for out6 in ts.excluded6:
        typer.echo(f"# except {out6}")
    typer.echo(f"# {ts.size()} addresses", err=True)


def report_scan(
    plan: ScanPlan,
    outputs: list[Output],
    quiet: bool,
    db: str | None,
    site: str | None,
    fail_on: str,
    excel: bool,
) -> None:
    """Run the planned scan, write the reports and store it (with `db`), exit with its code
    (3 when the store did not take the run: it waits in the spool)."""
    from camscan.cli.progress import make_progress
    from camscan.service import run_scan
    from camscan.status import exit_code
    from camscan.stopping import StopSignal

    stop = StopSignal()
    stop.install()  # SIGINT/SIGTERM end the scan early; its partial result is still written
    try:
        for note in plan.notes if not quiet else ():
            typer.echo(f"camscan: note: {note}", err=True)
        with make_progress(enabled=not quiet) as progress:
            result = run_scan(plan, progress, stop)
        cfg = plan.request.config
        stored = _write_and_store(result, cfg, outputs, quiet, db, site, excel)
    finally:
        stop.restore()
    _tell(result, outputs, quiet)
    raise typer.Exit(exit_code(result.findings, result.run, fail_on) if stored else EXIT_FAILED)


def _write_and_store(
    result: ScanResult,
    cfg: Config,
    outputs: list[Output],
    quiet: bool,
    db: str | None,
    site: str | None,
    excel: bool,
) -> bool:
    """The reports, then the store (a store that fails cannot lose them); an HTML report
    shows the changes since the last run, so with one the store comes first, and its failure
    still leaves the reports written. False when the store did not take the run (it waits in
    the spool)."""
    from camscan.cli.output import write_outputs

    if not db:
        write_outputs(result, outputs, cfg, excel=excel)
        return True
    from camscan.cli.stored import store_result
    from camscan.errors import RunError
    from camscan.history.render import changes_context
    from camscan.report import registry as formats

    if not any(formats.get(o.fmt).shows_changes for o in outputs):
        try:
            write_outputs(result, outputs, cfg, excel=excel)
        except RunError:  # a report that cannot be written (a full disk): the store still may
            store_result(result, db, site, cfg, quiet)
            raise
        return store_result(result, db, site, cfg, quiet)[1]
    try:
        diff, stored = store_result(result, db, site, cfg, quiet)
    except RunError:  # neither the store nor the spool took it: the reports still are written
        write_outputs(result, outputs, cfg, excel=excel)
        raise
    changes = changes_context(diff) if diff else None
    write_outputs(result, outputs, cfg, changes=changes, excel=excel)
    return stored


def _tell(result: ScanResult, outputs: list[Output], quiet: bool) -> None:
    """What went wrong, on stderr even with -q (a partial run is an error, not chatter)."""
    from camscan.cli.output import tell_gaps, tell_written

    tell_gaps(result.run)
    tell_written(result, outputs, quiet)
