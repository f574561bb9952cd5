"""The terminal report: findings first, fitted to the terminal's width, coloured by severity.

From 100 columns up it is a table whose address, maker and severity columns never shrink (the
others wrap); below that each device gets a small block of lines, so an 80-column terminal still
shows every flagged device's address, maker and severity in full. Devices with no maker and no
evidence are listed by address only, in one wrapped paragraph at the end.

Device text goes in as rich Text (never parsed as markup) after escaping control characters, so
a banner cannot restyle the output or send escape sequences to the user's terminal.
"""

from __future__ import annotations

import os
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from camscan.contract import ip_sort_key, result_to_contract
from camscan.model import ScanResult, Severity
from camscan.policy.rules import maker_display, severity_rank
from camscan.report.interface import RenderOptions
from camscan.report.remediation import finding_label
from camscan.report.text import printable

SEVERITY_STYLE = {
    Severity.CRITICAL.value: "bold white on red",
    Severity.HIGH.value: "bold red",
    Severity.MEDIUM.value: "yellow",
    Severity.INFO.value: "dim",
    Severity.ACCEPTED.value: "cyan",
}
PLAIN_WIDTH = 160  # files and pipes without $COLUMNS: wide enough that rows rarely wrap
COMPACT_BELOW = 100  # narrower than this: one block per device instead of a table

__all__ = [
    "COMPACT_BELOW",
    "PLAIN_WIDTH",
    "colour_wanted",
    "printable",
    "summary_line",
    "verdict_lines",
]


def colour_wanted(out: TextIO, color: bool | None) -> bool:
    """Colour when asked, else on a terminal unless NO_COLOR is set (no-color.org)."""
    if color is not None:
        return color
    return out.isatty() and not os.environ.get("NO_COLOR")


def _width(out: TextIO, width: int | None) -> int | None:
    """None lets rich ask the terminal (it honours $COLUMNS first)."""
    if width is not None:
        return width
    if out.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else PLAIN_WIDTH


def _cell(value: Any, style: str = "") -> Text:
    return Text(printable(value), style=style)


def _maker(device: dict[str, Any]) -> str:
    if not device["maker"]:
        return "unknown"
    name = maker_display(device["maker"])
    return f"{name} ({device['brand']})" if device["brand"] else name


def _where(device: dict[str, Any]) -> str:
    if not device["segment"]:
        return "-"
    return f"{device['segment']} ({device['zone']})"


def _severity(device: dict[str, Any]) -> str:
    return (device["severity"] or "-").upper()


VERDICT_STYLE = {
    "action": "bold white on red",
    "partial": "bold black on yellow",
    "not_assessed": "bold yellow",
    "clean": "bold green",
}


def verdict_lines(contract: dict[str, Any]) -> list[tuple[str, str]]:
    """The verdict, then one line per thing not covered: printed above everything else."""
    verdict = contract["verdict"]
    lines = [(f"camscan verdict: {verdict['text']}", VERDICT_STYLE.get(verdict["status"], "bold"))]
    lines += [(f"  not covered: {gap}", "yellow") for gap in verdict["not_covered"]]
    hidden = contract["summary"].get("hidden_cameras", {}).get("note")
    if hidden:  # a coverage note, never found devices
        lines.append((f"  coverage: {hidden}", "yellow"))
    return lines


def finding_lines(devices: list[dict[str, Any]]) -> list[str]:
    """One line per flagged device naming its finding type plainly, its kind and deadline."""
    lines = []
    for d in devices:
        if not d["flagged"]:
            continue
        label = finding_label(d) or "flagged"
        kind = d["equipment"]["summary"] or d["equipment_class"]
        due = ""
        if d["deadline"]:
            due = f"; deadline {d['deadline']}" + (" OVERDUE" if d["overdue"] else "")
        channels = d["recorder_channels"]
        hidden = (
            f"; up to {channels} cameras out of the network's sight" if channels is not None else ""
        )
        lines.append(printable(f"{d['ip']}: {label}; {kind}{hidden}{due}"))
    return lines


def summary_line(contract: dict[str, Any]) -> str:
    s = contract["summary"]
    counts = ", ".join(f"{n} {sev}" for sev, n in s["by_severity"].items() if n)
    run = contract["run"]
    partial = " (partial run)" if run["partial"] else ""
    outside = f"; {s['out_of_scope']} out of scope" if s.get("out_of_scope") else ""
    overdue = f"; {s['overdue']} OVERDUE" if s.get("overdue") else ""
    return (
        f"{s['devices']} devices, {s['identified']} identified, {s['flagged']} flagged"
        f"{': ' + counts if counts else ''}{overdue}{outside}{partial}"
    )


def _row_order(device: dict[str, Any]) -> tuple[int, int, tuple[int, int, str]]:
    sev = device["severity"]
    rank = severity_rank(Severity(sev)) if sev else -1
    return (0 if device["flagged"] else 1, -rank, ip_sort_key(device["ip"]))


def _nothing_known(device: dict[str, Any]) -> bool:
    return not device["maker"] and not device["evidence"] and not device["flagged"]


# Columns after the first three in the order they are dropped last: (header, value, wrap width).
_OPTIONAL: tuple[tuple[str, Any, int], ...] = (
    ("Flag", lambda d: "YES" if d["flagged"] else "", 0),
    ("Segment (zone)", _where, 14),
    ("MAC", lambda d: d["mac"], 17),
    ("Model", lambda d: d["model"], 12),
    ("Confidence", lambda d: f"{d['confidence']:.2f} {d['confidence_label']}", 10),
)


def _longest(devices: list[dict[str, Any]], value: Any) -> int:
    return max((len(printable(value(d))) for d in devices), default=0)


_Layout = tuple[list[tuple[str, Any]], dict[str, int]]


def _layout(devices: list[dict[str, Any]], width: int) -> _Layout:
    """The widest table that fits: severity, IP and maker whole, then as many others as fit.

    Widths are decided here, not by rich, so a needed column is never squeezed to nothing.
    """
    needed = [
        ("Severity", _severity, _longest(devices, _severity)),
        ("IP", lambda d: d["ip"], _longest(devices, lambda d: d["ip"])),
        ("Maker (brand)", _maker, min(_longest(devices, _maker), 40)),
    ]
    widths = {name: max(w, len(name)) for name, _, w in needed}
    columns: list[tuple[str, Any]] = [(name, value) for name, value, _ in needed]

    def used(extra: int) -> int:
        return sum(widths.values()) + extra + 3 * (len(widths) + (1 if extra else 0))

    wrapped: list[tuple[str, int]] = []  # optional columns that could use more room
    for name, value, wrap in _OPTIONAL:
        longest = max(_longest(devices, value), len(name))  # headers stay whole too
        want = min(longest, max(wrap, len(name))) if wrap else longest
        if used(want) > width:
            break
        widths[name] = want
        columns.append((name, value))
        if longest > want:
            wrapped.append((name, longest))
    spare = width - used(0)
    while spare > 0 and wrapped:  # leftover room, shared one column at a time
        for name, longest in list(wrapped):
            if spare and widths[name] < longest:
                widths[name] += 1
                spare -= 1
            else:
                wrapped.remove((name, longest))
    return columns, widths


def _table(devices: list[dict[str, Any]], colour: bool, layout: _Layout) -> Table:
    columns, widths = layout
    table = Table(
        box=box.SIMPLE_HEAVY if colour else box.ASCII, header_style="bold", pad_edge=False
    )
    for name, _ in columns:
        table.add_column(name, width=widths[name], overflow="fold", no_wrap=False)
    for device in devices:
        cells = []
        for name, value in columns:
            style = ""
            if name == "Severity":
                style = SEVERITY_STYLE.get(device["severity"] or "", "")
            elif name == "Flag":
                style = "bold red"
            cells.append(_cell(value(device), style))
        table.add_row(*cells, style="on grey11" if device["flagged"] and colour else None)
    return table


def _packed(items: list[str], width: int) -> list[str]:
    """Items joined by two spaces into lines of at most `width`; an item is split only if it
    alone is longer than a line."""
    lines: list[str] = []
    line = ""
    for item in items:
        while len(item) > width:  # only hostile or odd text is this long
            if line:
                lines.append(line)
                line = ""
            lines.append(item[:width])
            item = item[width:]
        if line and len(line) + 2 + len(item) > width:
            lines.append(line)
            line = ""
        line = f"{line}  {item}" if line else item
    if line:
        lines.append(line)
    return lines


def _block(device: dict[str, Any], width: int) -> Text:
    """One device in a few lines: what a reader acts on first, whole; the details indented."""
    sev = device["severity"] or ""
    text = Text(overflow="fold")
    text.append(printable(_severity(device)), SEVERITY_STYLE.get(sev, ""))
    if device["flagged"]:
        text.append(" FLAGGED", "bold red")
    text.append("  ")
    text.append(printable(device["ip"]), "bold")
    text.append("  ")
    text.append(printable(_maker(device)))
    details = [
        f"mac {printable(device['mac'])}",
        f"model {printable(device['model'])}",
        f"segment {printable(_where(device))}",
        f"confidence {device['confidence']:.2f} {device['confidence_label']}",
        f"kind {printable(device['equipment_class'])}",
    ]
    for line in _packed(details, max(width - 4, 20)):
        text.append("\n    " + line, "" if device["flagged"] else "dim")
    return text


ROWS_PER_PART = 2000  # rich holds every rendered line of a table until it prints it


def _print_table(console: Console, devices: list[dict[str, Any]], colour: bool) -> None:
    """One table, printed ROWS_PER_PART rows at a time (65,000 devices in one rich Table held
    ~600 MB of rendered segments). The widths are fixed for all parts, so each part's lines
    are the whole table's: the first part keeps its head, the last its bottom edge, and
    the others lose both. Both boxes used draw a last row like any other row."""
    layout = _layout(devices, console.width)
    if len(devices) <= ROWS_PER_PART:
        console.print(_table(devices, colour, layout))
        return
    parts = range(0, len(devices), ROWS_PER_PART)
    for start in parts:
        with console.capture() as captured:
            console.print(_table(devices[start : start + ROWS_PER_PART], colour, layout))
        lines = captured.get().splitlines(keepends=True)
        first, last = start == parts[0], start == parts[-1]
        lines = lines[(0 if first else _HEAD_LINES) : (None if last else -1)]
        console.file.write("".join(lines))


_HEAD_LINES = 3  # top edge, header row, the rule under it


def write_table(
    result: ScanResult, out: TextIO, *, color: bool | None = None, width: int | None = None
) -> None:
    colour = colour_wanted(out, color)
    console = Console(
        file=out,
        force_terminal=colour,
        no_color=not colour,
        color_system="auto" if colour else None,
        width=_width(out, width),
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    contract = result_to_contract(result, observations=False)
    for line, style in verdict_lines(contract):
        console.print(Text(printable(line), style=style if colour else ""))
    devices = sorted(contract["devices"], key=_row_order)
    if console.width >= COMPACT_BELOW:
        _print_table(console, devices, colour)
    else:
        known = [d for d in devices if not _nothing_known(d)]
        unknown = [d for d in devices if _nothing_known(d)]
        for device in known:
            console.print(_block(device, console.width))
        if unknown:
            ips = "  ".join(printable(d["ip"]) for d in unknown)
            console.print(Text(f"No maker identified, no evidence ({len(unknown)}): {ips}", "dim"))
    outside = contract["out_of_scope"]
    if outside:
        listed = "  ".join(
            printable(f"{d['ip']} ({maker_display(d['maker']) if d['maker'] else 'unknown'})")
            for d in outside
        )
        console.print(
            Text(
                f"Out of scope, not assessed ({len(outside)}: answered discovery from outside "
                f"the targets): {listed}",
                "dim",
            )
        )
    flagged = finding_lines(devices)
    if flagged:
        console.print(Text("Findings:", style="bold"))
        for line in flagged:
            console.print(Text("  " + line, style="bold red" if colour else ""))
    console.print(Text(summary_line(contract), style="bold"))


def write(result: ScanResult, out: TextIO, options: RenderOptions) -> None:
    """The report-format interface (camscan/report/interface.py)."""
    write_table(result, out, color=options.color)
