"""The estate's trends, from the runs table and one aggregate count per run: flagged devices
per site run by run, and the burn-down (listed makers' devices in core and sensitive zones,
across every site, day by day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from camscan.store.interface import RunSummary


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def flagged_series(by_site: dict[str, list[RunSummary]]) -> list[dict[str, Any]]:
    """Per site, its complete runs oldest first: when, and how many devices were flagged (a
    partial run may be missing devices, so it would show a drop that is not one)."""
    return [
        {
            "site": site,
            "points": [
                {
                    "run": r.id,
                    "started": r.started,
                    "started_at": _iso(r.started),
                    "flagged": r.flagged,
                }
                for r in runs
                if r.complete
            ],
        }
        for site, runs in sorted(by_site.items())
    ]


def burndown(runs: list[RunSummary], counts: dict[int, int], now: float) -> list[dict[str, Any]]:
    """One point per day from the first complete run to `now`: the sum over sites of the count
    in each site's newest complete run by the end of that day (a site keeps its last count
    until it sweeps again). `runs` oldest first; `counts` per run id (absent: none)."""
    done = [r for r in runs if r.complete]
    if not done:
        return []
    day = datetime.fromtimestamp(done[0].started, UTC).date()
    last = datetime.fromtimestamp(now, UTC).date()
    current: dict[str, int] = {}
    points, i = [], 0
    while day <= last:
        end = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86400
        while i < len(done) and done[i].started < end:
            current[done[i].site] = counts.get(done[i].id, 0)
            i += 1
        points.append({"day": day.isoformat(), "devices": sum(current.values())})
        day += timedelta(days=1)
    return points
