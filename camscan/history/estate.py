"""The estate: every site of one store at a glance, from the runs it holds.

Per site its latest complete run and how old it is; a site with no complete run within
`silent_after` is a gap (listed first, never counted clean), and so is one whose newer runs
sit only in this machine's spool. Counts come from each site's latest complete run; changes
since a date diff that run against the site's latest complete run at the date; trends read
only the runs table and one aggregate query, so a store of thousands of runs is never loaded
whole. The result is plain data in the published shape (camscan/schemas/estate.schema.json),
which every format renders, so they cannot disagree.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import camscan
from camscan.contract import UNASSIGNED, UNKNOWN, ip_sort_key
from camscan.history.diff import RunRef, diff_records
from camscan.history.estate_trends import burndown, flagged_series
from camscan.policy.exceptions import accepted_until

if TYPE_CHECKING:
    from camscan.store.interface import RunStore, RunSummary
    from camscan.store.spool import Waiting

ESTATE_SCHEMA = "camscan-estate"
ESTATE_SCHEMA_VERSION = "1.0"
DAY = 86400.0
ZONES = ("core", "sensitive")  # where listed makers' devices must go: the burn-down's scope
SEVERITIES = ("critical", "high", "medium", "info", "accepted", "none")
CHANGE_KINDS = ("new", "gone", "resolved", "newly_flagged")


@dataclasses.dataclass(frozen=True, slots=True)
class EstateSettings:
    now: float  # the estate's "today": ages, gaps, overdue and expiry are measured from it
    since: float  # new, gone and resolved since this time
    silent_after: float = 2 * DAY  # seconds without a complete run that make a site a gap
    expiring_within: float = 30 * DAY  # exceptions ending within this are listed
    listed_makers: tuple[str, ...] = ()


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def _counts(records: list[dict[str, Any]], today: date) -> dict[str, Any]:
    """What the estate counts of one run's devices (the contract's assessed devices)."""

    def tally(values: list[str]) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    return {
        "devices": len(records),
        "flagged": sum(1 for d in records if d["flagged"]),
        "overdue": sum(1 for d in records if _overdue(d, today)),
        "by_zone": tally([d["zone"] or UNASSIGNED for d in records]),
        "by_maker": tally([d["maker"] or UNKNOWN for d in records]),
        "by_class": tally([d.get("equipment_class") or UNKNOWN for d in records]),
        "by_severity": {s: sum(1 for d in records if (d["severity"] or "none") == s)
                        for s in SEVERITIES},
    }  # fmt: skip


def _overdue(d: dict[str, Any], today: date) -> bool:
    """Flagged and past its deadline today (the run said so, or the deadline passed since)."""
    if not d["flagged"] or not d.get("deadline"):
        return False
    return bool(d.get("overdue")) or date.fromisoformat(d["deadline"]) < today


def _merge(into: dict[str, Any], counts: dict[str, Any]) -> None:
    for key, value in counts.items():
        if isinstance(value, dict):
            bucket = into.setdefault(key, {})
            for k, n in value.items():
                bucket[k] = bucket.get(k, 0) + n
        else:
            into[key] = into.get(key, 0) + value


def _device(site: str, run: int, d: dict[str, Any]) -> dict[str, Any]:
    return {
        "site": site,
        "run": run,
        "device_id": d["device_id"],
        "ip": d["ip"],
        "mac": d["mac"],
        "maker": d["maker"],
        "model": d["model"],
        "segment": d["segment"],
        "zone": d["zone"],
        "severity": d["severity"],
    }


def _gap(
    latest: RunSummary | None, last: RunSummary | None, spooled: list[Waiting], s: EstateSettings
) -> str | None:
    """Why the site is a gap, in one line, or None when it swept completely of late."""
    why = None
    if latest is None:
        why = "no complete run stored"
        if last is not None:
            why += f"; its last run ({iso(last.started)}) is partial"
    elif s.now - (latest.ended or latest.started) > s.silent_after:
        days = (s.now - (latest.ended or latest.started)) / DAY
        why = f"no complete run for {days:.1f} days (silent after {s.silent_after / DAY:g} days)"
    if spooled and (why is not None or not spooled[-1].partial):
        newest = max(w.started for w in spooled)
        stored = "" if why is None else f"{why}; "
        why = (
            f"{stored}{len(spooled)} run{'s' if len(spooled) != 1 else ''} (newest "
            f"{iso(newest)}) wait in this machine's spool, not in the store: "
            "`camscan store flush` stores them"
        )
    return why


def read_estate(
    store: RunStore, spooled: list[Waiting], settings: EstateSettings
) -> dict[str, Any]:
    """The estate document (estate.schema.json) of `store`, plus the runs in the spool for it."""
    runs = sorted(store.runs(), key=lambda r: (r.started, r.id))  # oldest first
    by_site: dict[str, list[RunSummary]] = defaultdict(list)
    for r in runs:
        by_site[r.site].append(r)
    waiting: dict[str, list[Waiting]] = defaultdict(list)
    for w in spooled:
        waiting[w.site].append(w)
    latest = {site: _newest(rs, settings.now) for site, rs in by_site.items()}
    then = {site: _newest(rs, settings.since) for site, rs in by_site.items()}
    wanted = {r.id for r in [*latest.values(), *then.values()] if r is not None}
    records = store.device_records(sorted(wanted))
    today = _day(settings.now)
    sites, changes, overdue, expiring = [], [], [], []
    totals: dict[str, Any] = {}
    for site in sorted(set(by_site) | set(waiting)):
        rs, now_run, old_run = by_site.get(site, []), latest.get(site), then.get(site)
        gap = _gap(now_run, rs[-1] if rs else None, waiting.get(site, []), settings)
        recs = records[now_run.id] if now_run else []
        counts = _counts(recs, today)
        _merge(totals, counts)
        diff = None
        if now_run is not None:
            before = records[old_run.id] if old_run else None
            diff = diff_records(
                before, recs, _ref(old_run), RunRef(now_run.id, site, now_run.started, False)
            )
            changes += [
                {**_device(site, now_run.id, dataclasses.asdict(c)), "kind": c.kind}
                for c in diff.changes
                if c.kind in CHANGE_KINDS
            ]
            overdue += [
                _overdue_line(site, now_run.id, d, today) for d in recs if _overdue(d, today)
            ]
            expiring += _expiring(site, now_run.id, recs, settings)
        kinds = diff.counts() if diff else {}
        flagged_or_late = counts["flagged"] or counts["overdue"]
        sites.append(
            {
                "site": site,
                "status": "gap" if gap else "action" if flagged_or_late else "clean",
                "gap": gap,
                "latest_run": now_run.id if now_run else None,
                "latest_started_at": iso(now_run.started) if now_run else None,
                "age_days": _age(now_run, settings.now),
                "last_run": rs[-1].id if rs else None,
                "runs": len(rs),
                "spooled": len(waiting.get(site, [])),
                **counts,
                "since_run": old_run.id if old_run else None,
                **{k: kinds.get(k, 0) for k in CHANGE_KINDS},
            }
        )
    sites.sort(key=_site_order)
    listed = list(settings.listed_makers)
    trend = burndown(runs, store.counts_in(ZONES, listed), settings.now)
    return {
        "schema": ESTATE_SCHEMA,
        "schema_version": ESTATE_SCHEMA_VERSION,
        "tool": {"name": "camscan", "version": camscan.__version__},
        "generated": settings.now,
        "generated_at": iso(settings.now),
        "store": store.url,
        "settings": {
            "since": settings.since,
            "since_at": iso(settings.since),
            "silent_after_days": settings.silent_after / DAY,
            "expiring_within_days": settings.expiring_within / DAY,
            "listed_makers": listed,
            "zones": list(ZONES),
        },
        "verdict": _verdict(sites, overdue),
        "totals": _totals(sites, totals, changes, expiring),
        "sites": sites,
        "changes": sorted(changes, key=_change_order),
        "overdue": sorted(overdue, key=lambda d: (d["deadline"], d["site"], ip_sort_key(d["ip"]))),
        "expiring": sorted(expiring, key=lambda e: (e["expires"], e["site"], ip_sort_key(e["ip"]))),
        "trends": {
            "flagged": flagged_series(by_site),
            "burndown": {
                "zones": list(ZONES),
                "makers": listed,
                "deadline": _deadline([records[r.id] for r in latest.values() if r], settings),
                "points": trend,
            },
        },
    }


def _change_order(c: dict[str, Any]) -> tuple[Any, ...]:
    return (c["site"], CHANGE_KINDS.index(c["kind"]), ip_sort_key(c["ip"]))


def _newest(runs: list[RunSummary], at: float) -> RunSummary | None:
    """The site's newest complete run started by `at`."""
    done = [r for r in runs if r.complete and r.started <= at]
    return done[-1] if done else None


def _ref(r: RunSummary | None) -> RunRef | None:
    return RunRef(r.id, r.site, r.started, r.partial) if r else None


def _age(r: RunSummary | None, now: float) -> float | None:
    return None if r is None else round((now - (r.ended or r.started)) / DAY, 2)


def _site_order(s: dict[str, Any]) -> tuple[Any, ...]:
    """Gaps first, longest silent first; then sites with findings, most first; then clean."""
    rank = {"gap": 0, "action": 1, "clean": 2}[s["status"]]
    age = s["age_days"] if s["age_days"] is not None else float("inf")
    key = -age if rank == 0 else -(s["overdue"] * 1_000_000 + s["flagged"]) if rank == 1 else 0
    return (rank, key, s["site"])


def _overdue_line(site: str, run: int, d: dict[str, Any], today: date) -> dict[str, Any]:
    late = (today - date.fromisoformat(d["deadline"])).days
    return {**_device(site, run, d), "deadline": d["deadline"], "days_overdue": late}


def _expiring(
    site: str, run: int, records: list[dict[str, Any]], s: EstateSettings
) -> list[dict[str, Any]]:
    """Accepted devices whose exception ends within the window (or ended since the run)."""
    found = []
    last = _day(s.now) + timedelta(seconds=s.expiring_within)
    for d in records:
        if d["severity"] != "accepted" or not d.get("rationale"):
            continue
        got = accepted_until(d["rationale"])
        if got is None or got[1] > last:
            continue
        who, until = got
        found.append(
            {
                **_device(site, run, d),
                "reason": d.get("exception"),
                "accepted_by": who,
                "expires": until.isoformat(),
                "days_left": (until - _day(s.now)).days,
            }
        )
    return found


def _deadline(latest: list[list[dict[str, Any]]], s: EstateSettings) -> str | None:
    """The earliest removal deadline of a listed maker's device in a core or sensitive zone."""
    found = [
        d["deadline"]
        for recs in latest
        for d in recs
        if d.get("deadline") and d["zone"] in ZONES and d["maker"] in s.listed_makers
    ]
    return min(found, default=None)


def _verdict(sites: list[dict[str, Any]], overdue: list[dict[str, Any]]) -> dict[str, Any]:
    gaps = [s["site"] for s in sites if s["status"] == "gap"]
    flagged = sum(s["flagged"] for s in sites)
    if gaps:
        status = "gaps"
        text = (
            f"{len(gaps)} of {len(sites)} sites unknown: no recent complete run ({', '.join(gaps)})"
        )
    elif overdue:
        status, text = "overdue", f"{len(overdue)} flagged devices past their removal deadline"
    elif flagged:
        status, text = "action", f"{flagged} flagged devices across {len(sites)} sites"
    else:
        status, text = "clean", f"all {len(sites)} sites swept recently; nothing flagged"
    if not sites:
        status, text = "gaps", "no site has a stored run"
    return {"status": status, "text": text, "gaps": len(gaps), "overdue": len(overdue)}


def _totals(
    sites: list[dict[str, Any]],
    counts: dict[str, Any],
    changes: list[dict[str, Any]],
    expiring: list[dict[str, Any]],
) -> dict[str, Any]:
    status = Counter(s["status"] for s in sites)
    kinds = Counter(c["kind"] for c in changes)
    base: dict[str, Any] = {"devices": 0, "flagged": 0, "overdue": 0, "by_zone": {}, "by_maker": {},
            "by_class": {}, "by_severity": dict.fromkeys(SEVERITIES, 0)}  # fmt: skip
    base.update(counts)
    return {
        "sites": len(sites),
        "gaps": status["gap"],
        "action": status["action"],
        "clean": status["clean"],
        **{k: base[k] for k in ("devices", "flagged", "overdue")},
        **{k: dict(sorted(base[k].items())) for k in ("by_zone", "by_maker", "by_class")},
        "by_severity": base["by_severity"],
        **{k: kinds.get(k, 0) for k in CHANGE_KINDS},
        "expiring": len(expiring),
    }


def exit_code(doc: dict[str, Any]) -> int:
    """1 when a site is a gap or a device is overdue (something needs a person), else 0."""
    return 1 if doc["verdict"]["gaps"] or doc["verdict"]["overdue"] else 0
