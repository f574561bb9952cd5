"""The one interface every report format implements, and what it is handed.

A format is a module with a `write(result, out, options)` function: it reads a finished
ScanResult (findings included) and writes text to `out`. It never changes the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from camscan.model import ScanResult
    from camscan.policy.rules import PolicySettings


@dataclasses.dataclass(frozen=True, slots=True)
class RenderOptions:
    color: bool | None = None  # formats that colour (table): None means on a terminal only
    policy: PolicySettings | None = None  # formats that explain the policy (html); None: defaults
    # html: the changes since the previous run (camscan.history.render.changes_context), if any
    changes: dict[str, Any] | None = None
    excel: bool = False  # csv: start with a UTF-8 byte order mark so Excel reads it as UTF-8


class Writer(Protocol):
    def __call__(self, result: ScanResult, out: TextIO, options: RenderOptions) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class ReportFormat:
    """One registered format: its name on the command line, and the module that writes it."""

    name: str
    summary: str  # one line, for help texts and docs
    module: str  # imported only when the format is used: rich and jinja2 are not free to import
    extensions: tuple[str, ...] = ()  # file name endings that choose it (`-o report.html`)
    shows_changes: bool = False  # renders the changes since the previous run (a stored run)

    def writer(self) -> Writer:
        import importlib

        write: Writer = importlib.import_module(self.module).write
        return write


@dataclasses.dataclass(frozen=True, slots=True)
class DiffFormat:
    """One format of run history (`diff`, `sweep`'s changes, `history`'s run list): functions
    in camscan/history/render.py, imported only when used."""

    name: str
    diff: str  # writes a RunDiff: (diff, out) -> None
    runs: str | None = None  # writes `camscan history`'s list of runs; None: not offered there

    def diff_writer(self) -> Callable[[Any, TextIO], None]:
        import importlib

        write: Callable[[Any, TextIO], None] = getattr(
            importlib.import_module(HISTORY_RENDERER), self.diff
        )
        return write

    def runs_writer(self) -> Callable[[Any, TextIO], None]:
        import importlib

        assert self.runs is not None, self.name
        write: Callable[[Any, TextIO], None] = getattr(
            importlib.import_module(HISTORY_RENDERER), self.runs
        )
        return write


HISTORY_RENDERER = "camscan.history.render"


@dataclasses.dataclass(frozen=True, slots=True)
class EstateFormat:
    """One format of `camscan estate`: a function in camscan/history/estate_render.py that
    writes the estate document, imported only when used."""

    name: str
    function: str  # (doc, out) -> None

    def writer(self) -> Callable[[Any, TextIO], None]:
        import importlib

        write: Callable[[Any, TextIO], None] = getattr(
            importlib.import_module(ESTATE_RENDERER), self.function
        )
        return write


ESTATE_RENDERER = "camscan.history.estate_render"
