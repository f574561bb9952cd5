"""`camscan estate`: every site of a store at a glance (camscan/history/estate.py builds it,
camscan/history/estate_render.py writes it). Reads the store only; never creates one."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import typer

from camscan.cli.app import app
from camscan.cli.errors import fail
from camscan.cli.history_cmd import (
    db_option,
    listing_format_option,
    listing_output_option,
    load_cfg,
)
from camscan.cli.options import config_option
from camscan.report.registry import DEFAULT, ESTATE_FORMATS

WEEK = 7 * 86400.0


def _since(text: str | None, now: float) -> float:
    """--since: a date (2026-12-01, midnight UTC), a time (2026-12-01T08:00), or an age (7d)."""
    from camscan.config import duration

    if text is None:
        return now - WEEK
    ago = duration(text)
    if ago is not None:
        return now - ago
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since {text!r}: give a date (2026-12-01), a time (2026-12-01T08:00) or 7d")
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _duration(text: str | None, default: float, flag: str) -> float:
    from camscan.config import duration

    if text is None:
        return default
    seconds = duration(text)
    if seconds is None:
        fail(f'{flag} {text!r}: give a time like "2d", "36h" or "90m"')
    return seconds


@app.command("estate")
def estate(
    db: str = db_option(),
    config: Path = config_option(),
    since: str = typer.Option(
        None, "--since", help="New, gone and resolved since DATE, TIME or AGE (default: 7d)."
    ),
    silent_after: str = typer.Option(
        None,
        "--silent-after",
        help="A site with no complete run for this long is a gap, e.g. 2d, 36h "
        "(default: [estate] silent_after, else 2d).",
    ),
    expiring_within: str = typer.Option(
        None,
        "--expiring-within",
        help="List exceptions ending within this, e.g. 30d (default: [estate] expiring_within).",
    ),
    fmt: str = listing_format_option(ESTATE_FORMATS),
    output: list[str] = listing_output_option(),
) -> None:
    """Every site of a store: latest complete run, gaps, counts, changes, deadlines, trends.

    Exit codes: 0 every site swept of late and nothing overdue, 1 a site is a gap (no complete
    run within --silent-after) or a flagged device is past its deadline, 2 usage, 3 store error.
    """
    from camscan.cli.output import check_outputs, plan_outputs, write_text_outputs
    from camscan.history.estate import EstateSettings, exit_code
    from camscan.history.estate_render import write_estate
    from camscan.service_store import estate as estate_document

    outputs = plan_outputs(output, fmt, DEFAULT, ESTATE_FORMATS)
    check_outputs(outputs)  # before the store is read
    cfg = load_cfg(config)
    now = time.time()
    settings = EstateSettings(
        now=now,
        since=_since(since, now),
        silent_after=_duration(silent_after, cfg.estate.silent_after, "--silent-after"),
        expiring_within=_duration(expiring_within, cfg.estate.expiring_within, "--expiring-within"),
        listed_makers=tuple(sorted(cfg.policy.listed_makers)),
    )
    doc = estate_document(db, cfg, settings)
    write_text_outputs(outputs, lambda fmt, out: write_estate(doc, fmt, out))
    raise typer.Exit(exit_code(doc))
