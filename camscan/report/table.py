"""The terminal report: the verdict, a summary per zone and segment, then one line per device,
findings first, fitted to the width and coloured by severity.

Each device is one line as long as severity, address and maker fit (40 columns): the address
and severity are never cut, and lower-priority columns (flag, zone, segment, MAC, model,
confidence, in that order) are left out rather than cut below their shortest; a cut cell ends
in "…". The width is the terminal's, or $COLUMNS, or 80 for a file or a pipe. Narrower than 40
columns each device gets a small block of lines instead.

Device text goes in as rich Text (never parsed as markup) after escaping control characters, so
a banner cannot restyle the output or send escape sequences to the user's terminal.
"""

from __future__ import annotations

import os
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from camscan.contract import ip_sort_key, result_to_contract
from camscan.model import ScanResult, Severity
from camscan.policy.rules import maker_display, severity_rank
from camscan.report.interface import RenderOptions
from camscan.report.remediation import finding_label
from camscan.report.text import exposure_cell, exposure_rank, printable

SEVERITY_STYLE = {
    Severity.CRITICAL.value: "bold white on red",
    Severity.HIGH.value: "bold red",
    Severity.MEDIUM.value: "yellow",
    Severity.INFO.value: "dim",
    Severity.ACCEPTED.value: "cyan",
}
PLAIN_WIDTH = 80  # files and pipes without $COLUMNS: what a terminal, a mail or a log shows
COMPACT_BELOW = 40  # narrower than this: one block per device instead of a line
GAP = 2  # spaces between columns

__all__ = [
    "COMPACT_BELOW",
    "PLAIN_WIDTH",
    "colour_wanted",
    "printable",
    "summary_line",
    "verdict_lines",
    "zone_rows",
]


def colour_wanted(out: TextIO, color: bool | None) -> bool:
    """Colour when asked; else never with NO_COLOR set (no-color.org, and --no-color); else
    always with FORCE_COLOR set (force-color.org: `camscan report r.json | less -R`), unless it
    is 0 or false; else on a terminal. A report written to a file never gets colour."""
    if color is not None:
        return color
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "").strip().lower() not in ("", "0", "false"):
        return True
    return out.isatty()


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
        f"{'; by severity: ' + counts if counts else ''}{overdue}{outside}{partial}"
    )


def _row_order(device: dict[str, Any]) -> tuple[int, int, int, tuple[int, int, str]]:
    sev = device["severity"]
    rank = severity_rank(Severity(sev)) if sev else -1
    return (0 if device["flagged"] else 1, -rank, exposure_rank(device), ip_sort_key(device["ip"]))


def _nothing_known(device: dict[str, Any]) -> bool:
    return not device["maker"] and not device["evidence"] and not device["flagged"]


# Every column in priority order: (header, value, shortest width it may be cut to, or 0 if it
# is never cut). The first three are always shown; the others only while they fit whole or at
# their shortest.
_COLUMNS: tuple[tuple[str, Any, int], ...] = (
    ("Severity", _severity, 0),
    ("IP", lambda d: d["ip"], 0),
    ("Maker (brand)", _maker, 12),
    ("Flag", lambda d: "YES" if d["flagged"] else "", 0),
    ("Zone", lambda d: d["zone"] or "-", 9),
    ("Segment", lambda d: d["segment"] or "-", 10),
    ("MAC", lambda d: d["mac"], 0),
    ("Model", lambda d: d["model"], 8),
    ("Confidence", lambda d: f"{d['confidence']:.2f} {d['confidence_label']}", 0),
    ("Firmware", exposure_cell, 18),  # only when some device has a firmware verdict
    ("IPv6", lambda d: " ".join(d.get("ipv6") or ()), 20),  # only when some device has one
)
_NEEDED = 3


def _longest(devices: list[dict[str, Any]], value: Any) -> int:
    return max((len(printable(value(d))) for d in devices), default=0)


_Layout = tuple[list[tuple[str, Any]], dict[str, int]]


def _layout(devices: list[dict[str, Any]], width: int) -> _Layout:
    """The columns that fit one line of `width`, and their widths: every column at its shortest
    first (whole where it may not be cut), in priority order until one does not fit; then the
    room left lengthens the cut ones, shared out a character at a time. Decided here, not by
    rich, so a needed column is never squeezed to nothing."""
    columns: list[tuple[str, Any]] = []
    widths: dict[str, int] = {}
    longest: dict[str, int] = {}
    for n, (name, value, shortest) in enumerate(_COLUMNS):
        if name in ("Firmware", "IPv6") and not _longest(devices, value):
            continue  # no firmware verdict (results saved before 1.7) or no IPv6: no column
        full = max(_longest(devices, value), len(name))
        short = max(min(full, shortest), len(name)) if shortest else full
        used = sum(widths.values()) + GAP * len(widths)
        if n >= _NEEDED and used + short > width:
            break
        columns.append((name, value))
        widths[name], longest[name] = short, full
    spare = width - (sum(widths.values()) + GAP * (len(widths) - 1))
    growing = [name for name, _ in columns if widths[name] < longest[name]]
    while spare > 0 and growing:  # the room left, shared one character at a time
        for name in list(growing):
            if spare and widths[name] < longest[name]:
                widths[name] += 1
                spare -= 1
            else:
                growing.remove(name)
    return columns, widths


def _table(devices: list[dict[str, Any]], colour: bool, layout: _Layout) -> Table:
    columns, widths = layout
    table = Table(
        box=None, header_style="bold" if colour else "", pad_edge=False, padding=(0, GAP // 2)
    )
    for name, _ in columns:
        table.add_column(name, width=widths[name], overflow="ellipsis", no_wrap=True)
    for device in devices:
        cells = []
        for name, value in columns:
            style = ""
            if name == "Severity":
                style = SEVERITY_STYLE.get(device["severity"] or "", "")
            elif name == "Flag" or (name == "Firmware" and exposure_rank(device) == 0):
                style = "bold red"
            cells.append(_cell(value(device), style))
        table.add_row(*cells, style="on grey11" if device["flagged"] and colour else None)
    return table


_ZONE_ORDER = {"core": 0, "sensitive": 1}


def zone_rows(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per zone and segment: devices, flagged, for review (a listed maker not flagged),
    accepted; core first, then sensitive, then the other zones, devices in no segment last."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for d in devices:
        key = (d["zone"] or "", d["segment"] or "")
        row = groups.setdefault(
            key,
            {"zone": key[0], "segment": key[1], "devices": 0, "flagged": 0, "review": 0,
             "accepted": 0},
        )  # fmt: skip
        row["devices"] += 1
        sev = d["severity"] or "info"
        if d["flagged"]:
            row["flagged"] += 1
        elif sev == Severity.ACCEPTED.value:
            row["accepted"] += 1
        elif sev != Severity.INFO.value:
            row["review"] += 1
    return sorted(
        groups.values(),
        key=lambda r: (not r["segment"], _ZONE_ORDER.get(r["zone"], 2), r["zone"], r["segment"]),
    )


def _zone_lines(rows: list[dict[str, Any]]) -> Text:
    """The per-zone summary as sentences, for a terminal too narrow for its table."""
    text = Text()
    for n, r in enumerate(rows):
        text.append(("\n" if n else "") + printable(f"{r['zone'] or '-'}/{r['segment'] or '-'}"))
        text.append(
            f": {r['devices']} devices, {r['flagged']} flagged, {r['review']} for review, "
            f"{r['accepted']} accepted"
        )
    return text


ZONE_TABLE_FROM = 62  # the summary's table needs this much; below, one sentence per segment


def _zone_table(devices: list[dict[str, Any]], colour: bool, width: int) -> Table | Text | None:
    rows = zone_rows(devices)
    if not rows or all(not r["segment"] for r in rows):
        return None  # no zones configured: the verdict line already says so
    if width < ZONE_TABLE_FROM:
        return _zone_lines(rows)
    counts = ("Devices", "Flagged", "Review", "Accepted")
    fixed = sum(len(c) for c in counts) + GAP * len(counts)
    zone_w = max(len("Zone"), *(len(printable(r["zone"] or "-")) for r in rows))
    seg_w = max(len("Segment"), *(len(printable(r["segment"] or "no segment")) for r in rows))
    room = width - fixed - GAP  # for the zone and segment names; cut when it is short
    zone_w = max(min(zone_w, room // 2), len("Zone"))
    seg_w = max(min(seg_w, room - zone_w), len("Zone"))
    table = Table(
        box=None, header_style="bold" if colour else "", pad_edge=False, padding=(0, GAP // 2)
    )
    table.add_column("Zone", width=zone_w, overflow="ellipsis", no_wrap=True)
    table.add_column("Segment", width=seg_w, overflow="ellipsis", no_wrap=True)
    for name in counts:
        table.add_column(name, justify="right", width=len(name), no_wrap=True)
    for r in rows:
        flagged = Text(str(r["flagged"]), "bold red" if r["flagged"] and colour else "")
        table.add_row(
            _cell(r["zone"] or "-"),
            _cell(r["segment"] or "no segment"),
            str(r["devices"]),
            flagged,
            str(r["review"]),
            str(r["accepted"]),
        )
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
    if firmware := exposure_cell(device):
        details.append(f"firmware {printable(firmware)}")
    if device.get("ipv6"):  # a dual-stack device's IPv6 addresses (`ip` holds one address)
        details.append(f"ipv6 {printable(' '.join(device['ipv6']))}")
    if device.get("ipv6_reported"):  # what its SADP/DHIP/DVRIP reply said, not seen answering
        details.append(f"ipv6 reported {printable(' '.join(device['ipv6_reported']))}")
    for line in _packed(details, max(width - 4, 20)):
        text.append("\n    " + line, "" if device["flagged"] else "dim")
    return text


ROWS_PER_PART = 2000  # rich holds every rendered line of a table until it prints it


def _print_table(console: Console, devices: list[dict[str, Any]], colour: bool) -> None:
    """One table, printed ROWS_PER_PART rows at a time (65,000 devices in one rich Table held
    ~600 MB of rendered segments). The widths are fixed for all parts, so each part's lines
    are the whole table's: the first part keeps its head, the last its bottom edge, and
    the others lose it (a table without a box has no bottom edge)."""
    layout = _layout(devices, console.width)
    if len(devices) <= ROWS_PER_PART:
        console.print(_table(devices, colour, layout))
        return
    parts = range(0, len(devices), ROWS_PER_PART)
    for start in parts:
        with console.capture() as captured:
            console.print(_table(devices[start : start + ROWS_PER_PART], colour, layout))
        lines = captured.get().splitlines(keepends=True)
        console.file.write("".join(lines[(0 if start == 0 else _HEAD_LINES) :]))


_HEAD_LINES = 1  # the header row


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
    for line, style in verdict_lines(contract):  # whole lines: grep finds them, a tty wraps
        console.print(Text(printable(line), style=style if colour else ""), soft_wrap=True)
    devices = sorted(contract["devices"], key=_row_order)
    zones = _zone_table(devices, colour, console.width)
    if zones is not None:
        console.print(zones)
        console.print()
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
    console.print(Text(summary_line(contract), style="bold"), soft_wrap=True)


def write(result: ScanResult, out: TextIO, options: RenderOptions) -> None:
    """The report-format interface (camscan/report/interface.py)."""
    write_table(result, out, color=options.color)
