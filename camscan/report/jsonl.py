"""JSON Lines for SIEMs: one line per device with its finding merged, then one run line.

Device lines leave out raw observations (they can be large); evidence stays. Every line carries
`type` and `schema_version` so a consumer can route and check them one at a time.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from camscan.contract import Contract
from camscan.model import SCHEMA_VERSION, ScanResult
from camscan.report.interface import RenderOptions


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_jsonl(result: ScanResult, out: TextIO) -> None:
    streamed = Contract(result)  # device lines are written as they are built
    contract = streamed.head
    started = contract["run"]["started_at"]
    # The verdict first, so a consumer reading one line knows whether the rest is complete.
    out.write(
        _line(
            {
                "type": "verdict",
                "schema_version": SCHEMA_VERSION,
                "run_started": started,
                "verdict": contract["verdict"],
            }
        )
    )
    for kind, devices in (
        ("device", streamed.devices(observations=False)),
        ("out_of_scope", streamed.out_of_scope(observations=False)),
    ):
        for device in devices:
            record = {"type": kind, "schema_version": SCHEMA_VERSION, "run_started": started}
            record.update(device)
            out.write(_line(record))
    out.write(
        _line(
            {
                "type": "run",
                "schema_version": SCHEMA_VERSION,
                "tool": contract["tool"],
                "run": contract["run"],
                "segments": contract["segments"],
                "summary": contract["summary"],
                "verdict": contract["verdict"],
            }
        )
    )


def write(result: ScanResult, out: TextIO, options: RenderOptions) -> None:
    """The report-format interface (camscan/report/interface.py)."""
    write_jsonl(result, out)
