"""`camscan identify` (observations you already have) and `camscan import` (nmap -sV XML)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from camscan.cli.app import app
from camscan.cli.errors import EXIT_FLAGGED, EXIT_OK, fail
from camscan.model import Device
from camscan.report.registry import FORMATS


@app.command("identify")
def identify(
    source: Path = typer.Argument(
        None,
        help="JSON lines of {channel, raw[, ip, mac]} or a raw "
        "HTTP/RTSP response head; default: standard input.",
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="|".join(FORMATS)),
    config: Path = typer.Option(None, "--config", "-c", help="camscan.toml for zones."),
) -> None:
    """Classify observations a user already has, without scanning anything."""
    from camscan.identify.ingest import observations_from_banner, observations_from_jsonl
    from camscan.model import Observation

    try:
        text = source.read_text(encoding="utf-8", errors="replace") if source else sys.stdin.read()
    except OSError as e:
        fail(f"cannot read {source}: {e.strerror or e}")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    observations: list[Observation]
    if lines and all(ln.lstrip().startswith("{") for ln in lines):
        observations, errors = observations_from_jsonl(lines)
        for err in errors:
            typer.echo(f"camscan: skipped: {err}", err=True)
    else:
        observations = observations_from_banner(text)
    if not observations:
        fail("no observations in the input (expected JSON lines or a banner)")
    devices: dict[str, Device] = {}
    for obs in observations:
        key = obs.ip or obs.mac or "input"
        dev = devices.setdefault(key, Device(ip=obs.ip or "", mac=obs.mac))
        dev.mac = dev.mac or obs.mac
        dev.observations.append(obs)
    _classify_and_report(list(devices.values()), fmt, config, "identify")


@app.command("import")
def import_nmap(
    xml: Path = typer.Argument(..., help="nmap XML output (nmap -sV -oX FILE)."),
    fmt: str = typer.Option("table", "--format", "-f", help="|".join(FORMATS)),
    config: Path = typer.Option(None, "--config", "-c", help="camscan.toml for zones."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the report to this file."),
) -> None:
    """Check existing nmap scan data for Hikvision and Dahua devices."""
    from camscan.identify.ingest import devices_from_nmap_xml

    devices = devices_from_nmap_xml(xml)
    _classify_and_report(devices, fmt, config, "import", output)


def _classify_and_report(
    devices: list[Device], fmt: str, config: Path | None, probe: str, output: Path | None = None
) -> None:
    import time

    from camscan import __version__
    from camscan.cli.output import write_report
    from camscan.config import load_config, parse_config
    from camscan.model import ScanResult, ScanRun
    from camscan.pipeline import apply_policy, identify_devices
    from camscan.runinfo import data_versions, scanner_host

    if fmt not in FORMATS:
        fail(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    cfg = load_config(config) if config else parse_config({})
    now = time.time()
    run = ScanRun(
        targets=[],
        probes=[probe],
        started=now,
        ended=now,
        camscan_version=__version__,
        scanner_host=scanner_host(),
        data_versions=data_versions(),
    )
    identify_devices(devices, run)
    result = ScanResult(run=run, devices=devices, segments=list(cfg.segments))
    apply_policy(result, cfg)
    write_report(result, fmt, output, quiet=False)
    raise typer.Exit(EXIT_FLAGGED if any(f.flagged for f in result.findings) else EXIT_OK)
