"""`camscan listen` (a mirror port or any interface, receive-only) and the capture half of
`camscan import` (pcap/pcapng). Both report like a scan, marked "passive: not exhaustive"."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NoReturn

import typer

from camscan.cli.app import app
from camscan.cli.options import (
    config_option,
    excel_option,
    fail_on_option,
    format_option,
    output_option,
)

if TYPE_CHECKING:
    from camscan.cli.offline import ReportAsk
    from camscan.discovery.passive.dissect import Heard
    from camscan.discovery.passive.heard import Source


@app.command("listen")
def listen(
    interface: str = typer.Option(
        ..., "--interface", "-i", metavar="IFACE", help="Interface to listen on (a mirror port)."
    ),
    duration: float = typer.Option(
        None,
        "--duration",
        "-d",
        metavar="SECONDS",
        help="Listen this long (default: until Ctrl-C or SIGTERM).",
    ),
    fmt: str = format_option(),
    output: list[str] = output_option(),
    config: Path = config_option(),
    fail_on: str = fail_on_option(),
    excel: bool = excel_option(),
    db: str = typer.Option(None, "--db", help="Store the run in this database (as scan --db)."),
    site: str = typer.Option(None, "--site", help="Site the stored run belongs to."),
) -> None:
    """Identify cameras from what they say on the wire, without sending a single packet.

    Needs CAP_NET_RAW. Passive listening is never exhaustive: the result is partial (exit 3)
    unless a finding fails it first (exit 1).
    """
    from camscan.cli.errors import fail
    from camscan.discovery.passive.listen import listen as hear
    from camscan.stopping import StopSignal

    if duration is not None and not 0 < duration <= 7 * 86400:
        fail("--duration must be more than 0 and at most a week (604800 seconds)")
    stop = StopSignal()
    stop.install()  # Ctrl-C/SIGTERM end the listening; what was heard is still reported
    try:
        heard, source = hear(interface, duration, lambda: stop.stopped)
    finally:
        stop.restore()
    from camscan.cli.offline import ReportAsk

    ask = ReportAsk(fmt, tuple(output), config, fail_on, excel, store=True, db=db, site=site)
    _report(heard, [source], "listen", ask)


def import_capture(
    stream: BinaryIO,
    name: str,
    ask: ReportAsk,
) -> NoReturn:
    """`camscan import` of a pcap or pcapng file (already recognised by its magic bytes)."""
    from camscan.discovery.passive.heard import read_capture

    try:
        heard, source = read_capture(stream, "standard input" if name == "-" else name)
    except OSError as e:
        from camscan.cli.errors import fail

        fail(f"cannot read {name}: {e.strerror or e}")
    _report(heard, [source], "import", ask)


def import_zeek(
    path: Path | None,
    stream: BinaryIO,
    ask: ReportAsk,
) -> NoReturn:
    """`camscan import` of a Zeek log (TSV or JSON) or a directory of them."""
    import contextlib

    from camscan.cli.errors import fail
    from camscan.discovery.passive.dissect import Heard
    from camscan.discovery.passive.heard import Source
    from camscan.discovery.passive.zeek import log_files, read_logs
    from camscan.errors import ProbeKind
    from camscan.model import ProbeError

    name = str(path) if path else "standard input"
    opened: list[tuple[str, BinaryIO]]
    with contextlib.ExitStack() as stack:
        if path is not None and path.is_dir():
            files = log_files(path)
            if not files:
                fail(f"{path}: no Zeek log camscan reads (software, ssl, x509, dhcp, known_*)")
            try:
                opened = [(str(f), stack.enter_context(f.open("rb"))) for f in files]
            except OSError as e:
                fail(f"cannot read a log in {path}: {e.strerror or e}")
        else:
            opened = [(name, stream)]
        observations, problems, count = read_logs(opened)
    heard = Heard()
    heard.observations = observations
    heard.errors = [ProbeError("zeek", None, p, ProbeKind.MALFORMED) for p in problems[:1000]]
    source = Source("zeek", name, count, count, 0.0)
    _report(heard, [source], "import", ask)


def _report(
    heard: Heard,
    sources: list[Source],
    probe: str,
    ask: ReportAsk,
) -> NoReturn:
    from camscan.cli.configfile import load_cfg
    from camscan.cli.offline import report_offline
    from camscan.discovery.passive.heard import devices_from
    from camscan.service_offline import OfflineInput, passive_run

    devices = devices_from(heard.observations)
    cfg = load_cfg(ask.config)
    report_offline(OfflineInput(devices), probe, ask, prepare=passive_run(heard, sources, cfg))
