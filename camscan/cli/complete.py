"""Values for shell completion (`camscan --install-completion`): formats, --fail-on thresholds,
engines, probes, the segment names of the config in use, and the sites and run ids of the store.

Completion runs on every <Tab>, so each function is quick, reads only, and answers nothing
rather than fail: a missing config or store gives no suggestions, never an error or a new file.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

ENGINES = ("camscan", "nmap")


def formats(incomplete: str) -> list[str]:
    from camscan.report.registry import FORMATS

    return [f for f in FORMATS if f.startswith(incomplete)]


def fail_on(incomplete: str) -> list[str]:
    from camscan.cli.choices import FAIL_ON

    return [f for f in FAIL_ON if f.startswith(incomplete)]


def engines(incomplete: str) -> list[str]:
    return [e for e in ENGINES if e.startswith(incomplete)]


def probes(incomplete: str) -> list[str]:
    """The next probe of a comma-separated list: `arp,ss<Tab>` offers `arp,ssdp`."""
    from camscan.discovery.registry import names

    done, _, last = incomplete.rpartition(",")
    given = set(done.split(",")) if done else set()
    prefix = f"{done}," if done else ""
    return [f"{prefix}{p}" for p in names() if p.startswith(last) and p not in given]


def _config(ctx: Any) -> Any:
    """The config the command line names (--config), else the one camscan would find."""
    from camscan.cli.configfile import load_cfg

    given = ctx.params.get("config") if ctx is not None else None
    return load_cfg(Path(given) if given else None)


def segments(ctx: Any, incomplete: str) -> list[str]:
    with contextlib.suppress(Exception):  # completion never fails the shell
        cfg = _config(ctx)
        if cfg is not None:
            return [s.name for s in cfg.segments if s.name.startswith(incomplete)]
    return []


def _runs(ctx: Any) -> list[Any]:
    """Stored runs, newest first, from --db or the default store, only if it already exists."""
    from camscan.store import default_db_path, is_postgres, open_store

    db = ctx.params.get("db") if ctx is not None else None
    if not db:
        with contextlib.suppress(Exception):
            db = _config(ctx).store.db
    if not db:
        if not default_db_path().exists():
            return []  # completion creates no database
    elif not is_postgres(db) and not Path(db.removeprefix("sqlite://")).exists():
        return []
    store = open_store(db, migrate=False)
    try:
        return list(store.runs(limit=200))
    finally:
        store.close()


def sites(ctx: Any, incomplete: str) -> list[str]:
    with contextlib.suppress(Exception):
        found = sorted({r.site for r in _runs(ctx) if r.site})
        return [s for s in found if s.startswith(incomplete)]
    return []


def run_ids(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Run ids with their site and start as help; only while what is typed could be an id, so
    a path being typed is left to the shell's file completion."""
    if incomplete and not incomplete.isdigit():
        return []
    with contextlib.suppress(Exception):
        return [
            (str(r.id), f"{r.site} {time.strftime('%Y-%m-%d %H:%M', time.localtime(r.started))}")
            for r in _runs(ctx)
            if str(r.id).startswith(incomplete)
        ]
    return []
