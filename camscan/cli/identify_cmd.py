"""`camscan identify` (observations you already have) and `camscan import` (nmap -sV XML, or a
pcap/pcapng capture: camscan/cli/passive_cmd.py)."""

from __future__ import annotations

import io
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from camscan.cli.app import app
from camscan.cli.errors import EXIT_FAILED, fail
from camscan.cli.options import (
    config_option,
    excel_option,
    fail_on_option,
    format_option,
    output_option,
    path_or_stdin,
    quiet_option,
)
from camscan.model import Device, ScanRun

if typing.TYPE_CHECKING:
    from camscan.status import RunStatus


@app.command("identify")
def identify(
    source: str = typer.Argument(
        "-",
        metavar="FILE",
        help="JSON lines of {channel, raw[, ip, mac]} or a raw HTTP/RTSP response head; "
        "'-' or nothing: standard input.",
    ),
    fmt: str = format_option(),
    output: list[str] = output_option(),
    config: Path = config_option(),
    fail_on: str = fail_on_option(),
    excel: bool = excel_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Classify observations a user already has, without scanning anything.

    Exit codes as for `camscan scan`: 1 when a finding reaches --fail-on, else 0.
    """
    from camscan.discovery.ingest import MAX_LINE_ERRORS, read_observations

    path = path_or_stdin(source)
    name = str(path) if path else "standard input"
    try:
        if path:
            with path.open("rb") as stream:
                observations, errors = read_observations(stream)
        else:
            observations, errors = read_observations(sys.stdin.buffer)
    except OSError as e:
        fail(f"cannot read {name}: {e.strerror or e}")
    if not observations:
        if errors and errors[0].startswith("no observation"):
            fail(f"{name}: {errors[0]}")
        why = f" ({errors[0]})" if errors else " (expected JSON lines or a banner)"
        fail(f"{name}: no observations in the input{why}")
    for err in errors[:MAX_LINE_ERRORS]:
        typer.echo(f"camscan: {name}: skipped {err}", err=True)
    if len(errors) > MAX_LINE_ERRORS:
        typer.echo(f"camscan: {name}: {len(errors) - MAX_LINE_ERRORS} more lines skipped", err=True)
    devices: dict[str, Device] = {}
    for obs in observations:
        key = obs.ip or obs.mac or "input"
        dev = devices.setdefault(key, Device(ip=obs.ip or "", mac=obs.mac))
        dev.mac = dev.mac or obs.mac
        dev.observations.append(obs)
    _classify_and_report(
        list(devices.values()),
        "identify",
        fmt,
        output,
        config,
        fail_on,
        excel,
        skipped=errors,
        quiet=quiet,
    )


@app.command("import")
def import_nmap(
    xml: str = typer.Argument(
        ...,
        metavar="FILE",
        help="nmap XML output (nmap -sV -oX FILE), a pcap/pcapng capture, or a Zeek log (TSV "
        "or JSON) or directory of logs (both read passively); the type is told from the "
        "file's first bytes; '-' for standard input.",
    ),
    fmt: str = format_option(),
    output: list[str] = output_option(),
    config: Path = config_option(),
    fail_on: str = fail_on_option(),
    excel: bool = excel_option(),
    db: str = typer.Option(
        None, "--db", help="Store the run in this database (as scan --db; default: not stored)."
    ),
    site: str = typer.Option(None, "--site", help="Site the stored run belongs to."),
    quiet: bool = quiet_option(),
) -> None:
    """Check existing nmap scan data, or a packet capture, for Hikvision and Dahua devices.

    A capture is read passively and is never exhaustive: the result is partial (exit 3) unless
    a finding fails it first (exit 1).
    """
    from camscan.discovery.ingest import devices_from_nmap_xml

    path = path_or_stdin(xml)
    if path is not None and path.is_dir():  # a Zeek log directory
        from camscan.cli.passive_cmd import import_zeek

        import_zeek(path, sys.stdin.buffer, fmt, output, config, fail_on, excel, db, site)
    stream = _open_input(path)
    with stream:
        kind = _kind(stream)
        if kind == "capture":
            from camscan.cli.passive_cmd import import_capture

            import_capture(stream, xml, fmt, output, config, fail_on, excel, db, site)
        if kind == "zeek":
            from camscan.cli.passive_cmd import import_zeek

            import_zeek(path, stream, fmt, output, config, fail_on, excel, db, site)
        devices = devices_from_nmap_xml(stream)  # streamed either way
    _classify_and_report(
        devices,
        "import",
        fmt,
        output,
        config,
        fail_on,
        excel,
        store=True,
        db=db,
        site=site,
        quiet=quiet,
    )


def _open_input(path: Path | None) -> typing.BinaryIO:
    if path is None:
        return typing.cast(typing.BinaryIO, io.BufferedReader(_Unclosed(sys.stdin.buffer)))
    try:
        return path.open("rb")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror or e}")


class _Unclosed(io.RawIOBase):
    """Standard input, read through a buffer that can peek, and left open for its owner."""

    def __init__(self, raw: typing.BinaryIO) -> None:
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _kind(stream: typing.BinaryIO) -> str:
    """ "capture" (pcap, pcapng), "zeek" (a TSV or JSON log) or "xml", from the first bytes."""
    from camscan.discovery.passive.pcapio import capture_kind

    peek = getattr(stream, "peek", None)
    head = peek(16)[:16] if peek is not None else b""
    if capture_kind(head[:4]) is not None:
        return "capture"
    if head.startswith(b"#separator") or head.lstrip().startswith(b"{"):
        return "zeek"
    return "xml"


def _classify_and_report(
    devices: list[Device],
    probe: str,
    fmt: str | None,
    output: list[str],
    config: Path | None,
    fail_on: str,
    excel: bool,
    skipped: Sequence[str] = (),
    *,
    quiet: bool = False,
    prepare: Callable[[ScanRun, list[Device]], RunStatus | None] | None = None,
    store: bool = False,
    db: str | None = None,
    site: str | None = None,
) -> typing.NoReturn:
    """`skipped`: input lines that could not be read; the result records them and is partial
    (exit 3 unless a finding fails it first), so a half-read file never passes as clean.
    `prepare` fills in what a source knows of its run (a capture: errors, times) and returns
    the status a passive source decides (camscan/status.py `heard_status`);
    `store`: save the result in `db` (default: the config's [store] db), as scan --db does."""
    import time

    from camscan import __version__
    from camscan.cli.configfile import load_cfg
    from camscan.cli.output import plan_outputs, tell_written, write_outputs
    from camscan.errors import ProbeKind
    from camscan.model import ProbeError, ScanResult, ScanRun
    from camscan.pipeline import assemble, identify_devices, judge
    from camscan.runinfo import data_versions, scanner_host
    from camscan.status import exit_code, settle

    outputs = plan_outputs(output, fmt)
    cfg = load_cfg(config)
    now = time.time()
    run = ScanRun(
        targets=[],
        probes=[probe],
        started=now,
        ended=now,
        camscan_version=__version__,
        scanner_host=scanner_host(),
        data_versions=data_versions(),
        errors=[ProbeError(probe, None, line, ProbeKind.MALFORMED) for line in skipped[:1000]],
    )
    heard = prepare(run, devices) if prepare is not None else None
    identify_devices(devices, listed=frozenset(cfg.policy.listed_makers))
    judged = ScanResult(
        run=settle(run, None, devices, heard), devices=devices, segments=list(cfg.segments)
    )
    result = assemble(judged, judge(judged, cfg), cfg)
    code = exit_code(result.findings, result.run, fail_on)
    changes = None
    if store and (db := db or cfg.store.db):
        from camscan.cli.history_cmd import store_result
        from camscan.history.render import changes_context

        diff, stored = store_result(result, db, site, cfg, quiet=quiet)
        changes = changes_context(diff) if diff else None
        code = code if stored else EXIT_FAILED  # not stored: kept in the spool
    write_outputs(result, outputs, cfg, excel=excel, changes=changes)
    tell_written(result, outputs, quiet)
    if prepare is not None:
        from camscan.cli.output import tell_gaps

        tell_gaps(result.run)
    raise typer.Exit(code)
