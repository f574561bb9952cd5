"""`camscan demo`: build the emulated office lab, scan it as a user would, report, tear down."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from camscan.cli.app import app
from camscan.cli.errors import EXIT_FAILED, fail
from camscan.errors import DataError

if TYPE_CHECKING:
    from camscan.lab.topology import Topology
    from camscan.model import ScanResult

SPECIAL = ("core", "sensitive")


def demo_config(topology: Topology) -> str:
    """A camscan.toml with one segment per lab network (zone from the network's name)."""
    lines = ["# Written by `camscan demo`: one segment per lab network.", ""]
    for net in topology.networks:
        zone = net.name if net.name in SPECIAL else "general"
        lines += [
            "[[segment]]",
            f'name = "{net.name}"',
            f'cidrs = ["{net.cidr}"]',
            f'zone = "{zone}"',
            "",
        ]
    return "\n".join(lines)


def say(msg: str) -> None:
    typer.echo(msg, err=True)


@app.command("demo")
def demo(
    topology: str = typer.Option(
        "office", "--topology", help="A bundled lab topology name or a topology file."
    ),
    out_dir: Path = typer.Option(
        Path("camscan-demo"),
        "--output-dir",
        "-o",
        help="Where the config, JSON result and HTML report go.",
    ),
) -> None:
    """Build an emulated small-office network (needs root), scan it, and write the reports.

    The lab lives in Linux network namespaces with addresses from 198.18.0.0/15 only; nothing
    is sent to any real network, and the lab is torn down at the end (even on Ctrl-C).
    """
    from camscan.cli.lab_cmd import require_lab
    from camscan.cli.output import write_report

    require_lab("demo")
    from camscan.lab import Lab, LabError, load_topology
    from camscan.report import registry as formats
    from camscan.store.results import load_result

    if os.geteuid() != 0:
        fail(
            "camscan demo builds a network-namespace lab and needs root (CAP_SYS_ADMIN and "
            "CAP_NET_ADMIN): run it with sudo"
        )
    try:
        topo = load_topology(topology)
    except DataError as e:  # TopologyError / PersonaError: a bad file given by the user
        fail(f"topology {topology!r}: {e}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg_path, json_path, html_path = (
        out_dir / "camscan.toml",
        out_dir / "result.json",
        out_dir / "report.html",
    )
    cfg_path.write_text(demo_config(topo), encoding="utf-8")
    say(
        f"camscan demo: building lab {topo.name!r}: {len(topo.networks)} networks, "
        f"{len(topo.devices)} emulated devices (namespaces, 198.18.0.0/15 only)"
    )
    t0 = time.monotonic()
    try:
        with Lab(topo) as lab:
            say(
                f"camscan demo: lab up in {time.monotonic() - t0:.1f}s; scanning it from "
                f"namespace {lab.scanner_ns}"
            )
            env = dict(os.environ, CAMSCAN_LAB_GUARD="1")
            t1 = time.monotonic()
            proc = lab.run(
                [
                    sys.executable,
                    "-m",
                    "camscan",
                    "scan",
                    "--config",
                    str(cfg_path.resolve()),
                    "--all-segments",
                    "--output",  # the JSON contract: its name says the format
                    str(json_path.resolve()),
                    "--quiet",
                ],
                env=env,
            )
            scan_s = time.monotonic() - t1
    except LabError as e:
        fail(f"lab: {e}", EXIT_FAILED)
    if proc.returncode not in (0, 1):
        fail(f"the scan inside the lab failed (exit {proc.returncode}); see above", EXIT_FAILED)
    result = load_result(json_path)
    write_report(result, formats.DEFAULT, None, quiet=False)
    write_report(result, formats.format_for_file(html_path.name) or "", html_path, quiet=True)
    flagged = sum(1 for f in result.findings if f.flagged)
    say(
        f"camscan demo: scanned {len(topo.devices)} devices in {scan_s:.1f}s: "
        f"{len(result.devices)} found, {flagged} flagged"
    )
    say(_truth(topo, result))
    say(f"camscan demo: wrote {cfg_path}, {json_path} and {html_path}; lab torn down")


def _truth(topo: Topology, result: ScanResult) -> str:
    """How the verdicts compare with what the lab knows each persona to be."""
    got = {d.ip: d.verdict.maker for d in result.devices}
    right = sum(1 for d in topo.devices if got.get(d.ip) == d.expected_maker)
    wrong = [
        f"{d.ip} ({d.persona}: expected {d.expected_maker}, got {got.get(d.ip)})"
        for d in topo.devices
        if got.get(d.ip) != d.expected_maker
    ]
    line = f"camscan demo: makers right for {right}/{len(topo.devices)} devices (lab ground truth)"
    return line + ("; wrong: " + "; ".join(wrong[:5]) if wrong else "")
