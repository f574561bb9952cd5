"""`camscan scan`: resolve targets safely, run the pipeline, report, set the exit code."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from camscan.cli import complete
from camscan.cli.app import app
from camscan.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail
from camscan.cli.options import (
    config_option,
    excel_option,
    fail_on_option,
    format_option,
    output_option,
    quiet_option,
)
from camscan.config import Config
from camscan.discovery import registry as probe_registry
from camscan.settings import BOUNDS, default

if TYPE_CHECKING:  # kept off the start-up path
    from camscan.cli.output import Output
    from camscan.model import ScanResult
    from camscan.netif import Interface
    from camscan.pipeline import IdentifyData
    from camscan.settings import ScanSettings
    from camscan.stopping import StopSignal
    from camscan.targets import TargetSet

EXPLAIN_NO_TARGET = """camscan scans only what you name. Give targets, for example:
  camscan scan 192.0.2.0/24                      a network (CIDR) or single addresses
  camscan scan --config camscan.toml --segment cctv   a segment from your config
  camscan scan --config camscan.toml --all-segments   every segment in the config
See `camscan scan --help` for everything else."""


def _targets(
    texts: list[str],
    cfg: Config,
    segments: list[str],
    all_segments: bool,
    allow_public: bool,
    max_hosts: int,
    input_lists: list[str] | None = None,
    exclude: list[str] | None = None,
    exclude_files: list[str] | None = None,
) -> TargetSet:
    from camscan.targets import TargetSet, read_target_file, split_exclusions

    chosen = list(texts)
    for path in input_lists or []:
        chosen.extend(read_target_file(path))
    excluded = split_exclusions(exclude or [])
    for path in exclude_files or []:
        excluded.extend(read_target_file(path))
    names = [s.name for s in cfg.segments] if all_segments else segments
    for name in names:
        chosen.extend(cfg.segment(name).cidrs)
    if not chosen and not input_lists:
        chosen = list(cfg.scan.targets)
    if not chosen:
        if input_lists:
            fail(f"the target list {', '.join(input_lists)} names no target")
        typer.echo(EXPLAIN_NO_TARGET, err=True)
        raise typer.Exit(EXIT_USAGE)
    return TargetSet.parse(
        chosen,
        allow_public=allow_public or cfg.scan.allow_public,
        max_hosts=max_hosts,
        exclude=excluded,
    )


def _interfaces(names: list[str], targets: TargetSet, probes: Sequence[str]) -> list[Interface]:
    """The interfaces attached to the targets; the rest of the targets is routed (L3), and
    must have a kernel route: nothing is silently dropped."""
    from camscan.netif import has_route, select_interfaces

    chosen = select_interfaces(names or None)
    carrying = [i for i in chosen if any(i.network.overlaps(n) for n in targets.networks)]
    _, routed = targets.split([i.network for i in carrying])
    if routed and probe_registry.sweep(probe_registry.Reach.ROUTED) not in probes:
        fail(
            f"{routed} is on no attached network and the l3 probe is not selected; add l3 to "
            "--probes to reach it through a router",
        )
    unroutable = [n for n in routed.networks if not has_route(n)]
    if unroutable:
        where = ", ".join(f"{i.name} {i.network}" for i in chosen) or "none"
        fail(
            f"no route to {', '.join(map(str, unroutable[:4]))}"
            f"{' ...' if len(unroutable) > 4 else ''}: no interface is attached to it "
            f"(interfaces: {where}) and the kernel has no route for it",
            EXIT_FAILED,
        )
    return carrying


def _print_targets(ts: TargetSet) -> None:
    for name, addresses in ts.names.items():
        typer.echo(f"# {name} -> {', '.join(addresses)}")
    for net in ts.networks:
        typer.echo(str(net))
    for net6 in ts.v6:
        typer.echo(f"{net6}  # IPv6: discovered on its link, not swept")
    for out6 in ts.excluded6:
        typer.echo(f"# except {out6}")
    typer.echo(f"# {ts.size()} addresses", err=True)


def _lab_guard() -> None:
    # Tests and the demo set this so that a mistake can never scan a real network.
    if os.environ.get("CAMSCAN_LAB_GUARD") == "1":
        from camscan.labguard import lab_namespace_problem

        problem = lab_namespace_problem()
        if problem:
            fail(f"lab guard: refusing to scan: {problem}", EXIT_USAGE)


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
        help="Networks (CIDR) or addresses to scan; IPv6 prefixes on attached links too.",
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
    probes: str = typer.Option(
        None,
        "--probes",
        help=f"Comma-separated subset of {','.join(probe_registry.names())} (default: all).",
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
        "config's [scan] max_hosts).",
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
    from camscan.cli.configfile import load_cfg
    from camscan.cli.output import check_outputs, plan_outputs
    from camscan.service import Flags, build_settings, checked_values, chosen_probes
    from camscan.status import check_fail_on

    _lab_guard()
    cfg = load_cfg(config)
    check_fail_on(fail_on)  # before any packet
    if not quiet:
        from camscan.config import config_warnings

        for warning in config_warnings(cfg):
            typer.echo(f"camscan: warning: {warning}", err=True)
    # Flags override [scan] and obey the same bounds: checked here, before any packet.
    flags = Flags(
        values={
            "rate": rate,
            "discovery_window": window,
            "timeout": timeout,
            "read_timeout": read_timeout,
            "concurrency": concurrency,
            "max_hosts": max_hosts,
            "host_rate": host_rate,
        },
        probes=probes,
        engine=engine,
    )
    given = checked_values(flags)
    if not output and cfg.output.file:
        output = [cfg.output.file]
    outputs = plan_outputs(
        output, fmt or (cfg.output.format if not output else None), cfg.output.format
    )
    probe_list = chosen_probes(flags, cfg)
    check_outputs(outputs)
    data = _identify_data(cfg)
    ts = _targets(
        targets or [],
        cfg,
        segment,
        all_segments,
        allow_public,
        int(given.get("max_hosts", cfg.scan.settings.limits.max_hosts)),
        input_list,
        exclude,
        exclude_file,
    )
    if list_targets:
        _print_targets(ts)
        raise typer.Exit(EXIT_OK)
    from camscan.targets import place_ipv6

    ts = place_ipv6(ts, interface or cfg.scan.interfaces)  # IPv6 prefixes: on attached links only
    ifaces = _interfaces(interface or cfg.scan.interfaces, ts, probe_list)
    run_scan_and_report(
        cfg,
        build_settings(cfg, flags),
        ts,
        ifaces,
        outputs,
        quiet,
        db=db or cfg.store.db,
        site=site,
        fail_on=fail_on,
        excel=excel,
        data=data,
    )


def _identify_data(cfg: Config) -> IdentifyData:
    """Signatures and OUI data loaded and checked before discovery (DataError, exit 2,
    otherwise); the listed makers were checked when the config was loaded."""
    from camscan.pipeline import IdentifyData

    return IdentifyData.load()


def run_scan_and_report(
    cfg: Config,
    settings: ScanSettings,
    ts: TargetSet,
    ifaces: list[Interface],
    outputs: list[Output],
    quiet: bool,
    *,
    db: str | None = None,
    site: str | None = None,
    fail_on: str = "flagged",
    excel: bool = False,
    data: IdentifyData | None = None,
) -> None:
    """Scan under `settings`, store the run (with `db`), write the reports, and exit with the
    code the result and `fail_on` give."""
    from camscan.status import exit_code
    from camscan.stopping import StopSignal

    stop = StopSignal()
    stop.install()  # SIGINT/SIGTERM end the scan early; its partial result is still written
    try:
        result = execute_scan(cfg, settings, ts, ifaces, quiet, data=data, stop=stop)
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
    from camscan.cli.history_cmd import store_result
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
    from camscan.cli.output import tell_gaps
    from camscan.contract import split_scope

    tell_gaps(result.run)
    files = [str(o.path) for o in outputs if o.path is not None]
    if files and not quiet:
        flagged = sum(1 for f in result.findings if f.flagged)
        assessed, outside = split_scope(result)
        more = f", {len(outside)} out of scope" if outside else ""
        typer.echo(
            f"camscan: {len(assessed)} devices{more}, {flagged} flagged; report written to "
            f"{', '.join(files)}",
            err=True,
        )


def execute_scan(
    cfg: Config,
    settings: ScanSettings,
    ts: TargetSet,
    ifaces: list[Interface],
    quiet: bool,
    *,
    data: IdentifyData | None = None,
    stop: StopSignal | None = None,
) -> ScanResult:
    """Run the pipeline under `settings`, after the notes a user should see first; return the
    result."""
    from camscan.cli.progress import make_progress
    from camscan.pipeline import ScanRequest
    from camscan.pipeline import scan as run_pipeline
    from camscan.stopping import StopSignal

    if not settings.privileged and not quiet:
        _explain_unprivileged(settings.probes)
    if not quiet:
        _warn_if_oui_stale()
    req = ScanRequest(
        targets=ts,
        interfaces=ifaces,
        config=cfg,
        settings=settings,
        stop=stop or StopSignal(),
    )
    with make_progress(enabled=not quiet) as progress:
        return run_pipeline(req, progress, data)


def _explain_unprivileged(probe_list: tuple[str, ...]) -> None:
    """One note per chosen probe that needs CAP_NET_RAW: what it does instead, or that it is
    skipped (the registry says which)."""
    from camscan.discovery.registry import Need, get

    for spec in map(get, probe_list):
        if Need.RAW_SOCKET in spec.needs:
            instead = spec.unprivileged or "skipped"
            typer.echo(
                f"camscan: note: {spec.name.upper()} needs CAP_NET_RAW (run as root, or give "
                f"camscan alone the capability: README, 'What needs root'); {instead}",
                err=True,
            )


def _warn_if_oui_stale() -> None:
    from camscan.identify.oui import data_date, staleness_warning

    warning = staleness_warning(data_date())
    if warning:
        typer.echo(f"camscan: note: {warning}", err=True)
