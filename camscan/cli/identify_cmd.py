"""`camscan identify` (observations you already have) and `camscan import` (nmap -sV XML, or a
pcap/pcapng capture: camscan/cli/passive_cmd.py)."""

from __future__ import annotations

import io
import sys
import typing
from pathlib import Path

import typer

from camscan.cli.app import app
from camscan.cli.errors import fail
from camscan.cli.options import (
    config_option,
    excel_option,
    fail_on_option,
    format_option,
    output_option,
    path_or_stdin,
    quiet_option,
)


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
    from camscan.cli.offline import ReportAsk, report_offline
    from camscan.discovery.ingest import MAX_LINE_ERRORS
    from camscan.service_offline import read_identify_input

    given = read_identify_input(path_or_stdin(source))
    name, errors = given.name, given.skipped
    for err in errors[:MAX_LINE_ERRORS]:
        typer.echo(f"camscan: {name}: skipped {err}", err=True)
    if len(errors) > MAX_LINE_ERRORS:
        typer.echo(f"camscan: {name}: {len(errors) - MAX_LINE_ERRORS} more lines skipped", err=True)
    report_offline(given, "identify", ReportAsk(fmt, tuple(output), config, fail_on, excel, quiet))


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
    from camscan.cli.offline import ReportAsk, report_offline
    from camscan.discovery.ingest import read_nmap_xml
    from camscan.service_offline import OfflineInput, nmap_run

    ask = ReportAsk(fmt, tuple(output), config, fail_on, excel, quiet, store=True, db=db, site=site)
    path = path_or_stdin(xml)
    if path is not None and path.is_dir():  # a Zeek log directory
        from camscan.cli.passive_cmd import import_zeek

        import_zeek(path, sys.stdin.buffer, ask)
    stream = _open_input(path)
    with stream:
        kind = _kind(stream)
        if kind == "capture":
            from camscan.cli.passive_cmd import import_capture

            import_capture(stream, xml, ask)
        if kind == "zeek":
            from camscan.cli.passive_cmd import import_zeek

            import_zeek(path, stream, ask)
        devices, info = read_nmap_xml(stream)  # streamed either way
    report_offline(OfflineInput(devices), "import", ask, prepare=nmap_run(info))


def _open_input(path: Path | None) -> typing.BinaryIO:
    from camscan.discovery.ingest import Borrowed  # stdin stays open for its owner

    if path is None:
        return typing.cast(typing.BinaryIO, io.BufferedReader(Borrowed(sys.stdin.buffer)))
    try:
        return path.open("rb")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror or e}")


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
