"""Geometry of the estate's two line charts, drawn as inline SVG by the template (no script):
the burn-down against its deadline, and flagged devices per site over time."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

COLOURS = ("#1f4e79", "#c55a11", "#6f42c1", "#2e7d32", "#8d6e63", "#00838f", "#ad1457")
MOST_SITES = 6  # lines one chart can show apart; the rest are summed as "other sites"


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    name: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline>
    dashed: bool = False
    last: tuple[float, float, int] | None = None  # where the line ends, and its value


@dataclasses.dataclass(frozen=True, slots=True)
class Mark:
    x: float
    label: str
    label_right: bool = False  # at the chart's left edge: the label goes right of the line


@dataclasses.dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    lines: tuple[Line, ...]
    y_ticks: tuple[tuple[float, int], ...]  # (y, value)
    x_ticks: tuple[tuple[float, str], ...]  # (x, label)
    marks: tuple[Mark, ...] = ()  # vertical lines: the deadline
    width: int = 700
    height: int = 210
    left: int = 44
    top: int = 12
    bottom: int = 28

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom


def _ts(day: str) -> float:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp()


class _Scale:
    def __init__(self, x0: float, x1: float, ymax: int, width: int, height: int) -> None:
        self.x0, self.x1 = x0, max(x1, x0 + 1)
        self.ymax = max(ymax, 1)
        self.left, self.top, self.right, self.bottom = 44, 12, width - 90, height - 28

    def x(self, t: float) -> float:
        return round(self.left + (t - self.x0) / (self.x1 - self.x0) * (self.right - self.left), 1)

    def y(self, v: float) -> float:
        return round(self.bottom - v / self.ymax * (self.bottom - self.top), 1)

    def y_ticks(self) -> tuple[tuple[float, int], ...]:
        step = max(1, round(self.ymax / 4))
        return tuple((self.y(v), v) for v in range(0, self.ymax + 1, step))

    def x_ticks(self) -> tuple[tuple[float, str], ...]:
        ticks = []
        for n in range(5):
            t = self.x0 + (self.x1 - self.x0) * n / 4
            ticks.append((self.x(t), datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")))
        return tuple(ticks)


def _poly(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def burndown_chart(burn: dict[str, Any]) -> LineChart | None:
    points = burn["points"]
    if not points:
        return None
    deadline = burn["deadline"]
    first, x1 = _ts(points[0]["day"]), _ts(points[-1]["day"])
    x0 = min(first, _ts(deadline)) if deadline else first
    x1 = max(x1, _ts(deadline)) if deadline else x1
    s = _Scale(x0, x1, max(p["devices"] for p in points), 700, 210)
    xy = [(s.x(_ts(p["day"])), s.y(p["devices"])) for p in points]
    end = (xy[-1][0], xy[-1][1], points[-1]["devices"])
    lines = [Line("devices still in place", COLOURS[0], _poly(xy), last=end)]
    marks: tuple[Mark, ...] = ()
    if deadline:
        if _ts(deadline) > first:  # the straight line from the first count to none by then
            target = [(xy[0][0], xy[0][1]), (s.x(_ts(deadline)), s.y(0))]
            lines.append(Line("on course for the deadline", "#8a94a3", _poly(target), True))
        marks = (Mark(s.x(_ts(deadline)), f"deadline {deadline}", _ts(deadline) <= first),)
    return LineChart(
        "Listed makers' devices in core and sensitive zones",
        tuple(lines),
        s.y_ticks(),
        s.x_ticks(),
        marks,
    )


def flagged_chart(series: list[dict[str, Any]], order: list[str]) -> LineChart | None:
    """One line per site (the first MOST_SITES of `order`, the sites in the estate's order),
    the others summed, each point a complete run."""
    runs = [(s["site"], p) for s in series for p in s["points"]]
    if not runs:
        return None
    shown = [name for name in order if any(s["site"] == name and s["points"] for s in series)]
    shown = shown[:MOST_SITES]
    x0, x1 = min(p["started"] for _, p in runs), max(p["started"] for _, p in runs)
    s = _Scale(x0, x1, max(p["flagged"] for _, p in runs), 700, 210)
    lines = []
    for n, name in enumerate(shown):
        pts = next(x["points"] for x in series if x["site"] == name)
        xy = [(s.x(p["started"]), s.y(p["flagged"])) for p in pts]
        end = (xy[-1][0], xy[-1][1], pts[-1]["flagged"])
        lines.append(Line(name, COLOURS[n % len(COLOURS)], _poly(xy), last=end))
    rest = len({x["site"] for x in series if x["points"]}) - len(shown)
    title = "Flagged devices per site, run by run"
    if rest > 0:
        title += f" (the {len(shown)} sites listed first; {rest} more in the table)"
    return LineChart(title, tuple(lines), s.y_ticks(), s.x_ticks())
