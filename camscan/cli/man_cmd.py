"""`camscan man`: the manual page, built from the CLI itself (every command, argument and
option with its help), so it cannot drift from `--help`. `camscan man | man -l -` reads it;
docs/camscan.1 is the same page, shipped in the wheel as share/man/man1/camscan.1 (a test
checks that the file is what this command prints)."""

from __future__ import annotations

from typing import Any

import typer

from camscan.cli.app import app

NAME = "camscan \\- find Hikvision and Dahua cameras on your networks, with evidence"

# What --help cannot say: how camscan behaves in the environment it runs in.
TAIL = r""".SH EXIT STATUS
.TP
.B 0
completed; nothing reached \fB\-\-fail\-on\fR
.TP
.B 1
a finding reached \fB\-\-fail\-on\fR (by default: a flagged device)
.TP
.B 2
usage or configuration error (one line on standard error)
.TP
.B 3
the scan failed or ended partial (something asked for was not covered); results so far are
still written
.TP
.B 141
standard output's reader went away; camscan stops quietly, as a command SIGPIPE ends
.SH ENVIRONMENT
.TP
.B CAMSCAN_CONFIG
the configuration file, when \fB\-\-config\fR is not given
.TP
.B CAMSCAN_DATA_DIR
camscan's data directory (refreshed OUI data)
.TP
.BR XDG_CONFIG_HOME ", " XDG_DATA_HOME
where the user's configuration and the default run store live
.TP
.B NO_COLOR
no colour (as \fB\-\-no\-color\fR)
.TP
.B FORCE_COLOR
colour even on a pipe (\fBcamscan report r.json | less \-R\fR); NO_COLOR wins
.TP
.B COLUMNS
the table's width on a pipe or file (default 80)
.SH FILES
.TP
.I ./camscan.toml, ~/.config/camscan/camscan.toml, /etc/camscan.toml
the configuration, the first that exists
.TP
.I ~/.local/share/camscan/runs.sqlite3
the default store of runs (\fBsweep\fR, \fBhistory\fR, \fBdiff\fR)
.SH SEE ALSO
.BR nmap (1),
.BR arp\-scan (1)
"""


def _roff(text: str) -> str:
    """Plain text as roff: backslashes escaped, no line starting with a control character."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        line = line.strip()
        lines.append(f"\\&{line}" if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _flag(text: str) -> str:
    return "\\fB" + text.replace("-", "\\-") + "\\fR"


def _metavar(param: Any, ctx: Any) -> str:
    """The value's name as --help shows it (FILE, N, TEXT, ...)."""
    if param.metavar:
        return str(param.metavar)
    try:
        return str(param.display_type(ctx)) or "VALUE"
    except Exception:  # typer's display helpers are not a public API
        return "VALUE"


def _argument(param: Any) -> str:
    return str(param.metavar or param.name.upper())


def _param(param: Any, ctx: Any) -> tuple[str, str] | None:
    """(term, help) for one option or argument, as --help shows it."""
    if getattr(param, "hidden", False) or param.name in ("install_completion", "show_completion"):
        return None
    if param.param_type_name == "argument":
        return f"\\fI{_argument(param)}\\fR", getattr(param, "help", None) or ""
    names = ", ".join(_flag(n) for n in [*param.opts, *param.secondary_opts])
    metavar = "" if param.is_flag or param.count else f" \\fI{_metavar(param, ctx)}\\fR"
    return names + metavar, param.help or ""


def _usage(path: str, command: Any, ctx: Any) -> str:
    pieces = ["[OPTIONS]"]
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            name = _argument(param) + ("..." if param.nargs == -1 else "")
            pieces.append(name if param.required else f"[{name}]")
    if hasattr(command, "list_commands"):
        pieces.append("COMMAND")
    return f"{path} {' '.join(pieces)}"


def _command(path: str, command: Any, parent: Any) -> list[str]:
    ctx = typer.Context(command, info_name=path.split(" ")[-1], parent=parent)
    out = [f'.SS "{_usage(path, command, ctx)}"', _roff(command.help or "")]
    for param in command.get_params(ctx):
        entry = _param(param, ctx)
        if entry is None or param.name == "help":
            continue
        out += [".TP", entry[0], _roff(entry[1])]
    if hasattr(command, "list_commands"):  # a group: its commands follow
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += _command(f"{path} {name}", sub, ctx)
    return out


def manual() -> str:
    """The whole page, in roff (man(7))."""
    from camscan import __version__

    group: Any = typer.main.get_command(app)
    ctx = typer.Context(group, info_name="camscan")
    out = [
        f'.TH CAMSCAN 1 "" "camscan {__version__}" "User Commands"',
        ".SH NAME",
        NAME,
        ".SH SYNOPSIS",
        ".B camscan",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        _roff(group.help or ""),
        ".SH OPTIONS",
    ]
    for param in group.get_params(ctx):
        entry = _param(param, ctx)
        if entry is not None and param.name != "help":
            out += [".TP", entry[0], _roff(entry[1])]
    out.append(".SH COMMANDS")
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            out += _command(f"camscan {name}", command, ctx)
    return "\n".join(line for line in out if line != "") + "\n" + TAIL


@app.command("man")
def man() -> None:
    """Print camscan's manual page (roff): `camscan man | man -l -`."""
    typer.echo(manual(), nl=False)
