"""A terminal table coloured by severity, with a one-line summary under it.

Device text goes in as rich Text (never parsed as markup) after escaping control characters, so
a banner cannot restyle the table or send escape sequences to the user's terminal.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from camscan.model import ScanResult, Severity
from camscan.policy.rules import maker_display, severity_rank
from camscan.report.json_contract import ip_sort_key, result_to_contract

SEVERITY_STYLE = {
    Severity.CRITICAL.value: "bold white on red",
    Severity.HIGH.value: "bold red",
    Severity.MEDIUM.value: "yellow",
    Severity.INFO.value: "dim",
    Severity.ACCEPTED.value: "cyan",
}
PLAIN_WIDTH = 160  # files and pipes: wide enough that rows do not wrap

# C0, DEL, C1 controls and the bidi overrides used to make text display differently than it reads.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(value: Any, keep: str = "") -> str:
    """Control characters (except those in `keep`) shown as \\xNN instead of acted on."""
    if value is None:
        return "-"
    return _UNSAFE.sub(
        lambda m: m.group() if m.group() in keep else f"\\x{ord(m.group()):02x}", str(value)
    )


def _cell(value: Any, style: str = "") -> Text:
    return Text(printable(value), style=style)


def _maker_cell(device: dict[str, Any]) -> Text:
    if not device["maker"]:
        return _cell("unknown", "dim")
    name = maker_display(device["maker"])
    return _cell(f"{name} ({device['brand']})" if device["brand"] else name)


def _where_cell(device: dict[str, Any]) -> Text:
    if not device["segment"]:
        return _cell("-", "dim")
    return _cell(f"{device['segment']} ({device['zone']})")


def summary_line(contract: dict[str, Any]) -> str:
    s = contract["summary"]
    counts = ", ".join(f"{n} {sev}" for sev, n in s["by_severity"].items() if n)
    run = contract["run"]
    partial = " (partial run)" if run["partial"] else ""
    return (
        f"{s['devices']} devices, {s['identified']} identified, {s['flagged']} flagged"
        f"{': ' + counts if counts else ''}{partial}"
    )


def _row_order(device: dict[str, Any]) -> tuple[int, tuple[int, int, str]]:
    sev = device["severity"]
    rank = severity_rank(Severity(sev)) if sev else -1
    return (-rank, ip_sort_key(device["ip"]))


def write_table(result: ScanResult, out: TextIO, *, color: bool | None = None) -> None:
    terminal = out.isatty() if color is None else color
    console = Console(
        file=out,
        force_terminal=terminal,
        color_system="auto" if terminal else None,
        width=None if out.isatty() else PLAIN_WIDTH,
        highlight=False,
        emoji=False,
    )
    contract = result_to_contract(result)
    table = Table(box=box.SIMPLE_HEAVY if terminal else box.ASCII, header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("IP", "left"),
        ("MAC", "left"),
        ("Maker (brand)", "left"),
        ("Model", "left"),
        ("Segment (zone)", "left"),
        ("Severity", "left"),
        ("Flagged", "center"),
        ("Confidence", "right"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for device in sorted(contract["devices"], key=_row_order):
        sev = device["severity"] or "-"
        style = SEVERITY_STYLE.get(sev, "")
        table.add_row(
            _cell(device["ip"]),
            _cell(device["mac"]),
            _maker_cell(device),
            _cell(device["model"]),
            _where_cell(device),
            _cell(sev.upper(), style),
            _cell("YES" if device["flagged"] else "", "bold red"),
            _cell(f"{device['confidence']:.2f} {device['confidence_label']}"),
            style="on grey11" if device["flagged"] and terminal else None,
        )
    console.print(table)
    console.print(Text(summary_line(contract), style="bold"))
