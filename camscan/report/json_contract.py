"""The `json` report format: the versioned JSON contract, written by camscan/contract.py."""

from __future__ import annotations

from typing import TextIO

from camscan.contract import dump_contract
from camscan.model import ScanResult
from camscan.report.interface import RenderOptions


def write(result: ScanResult, out: TextIO, options: RenderOptions) -> None:
    """The report-format interface (camscan/report/interface.py)."""
    dump_contract(result, out)
