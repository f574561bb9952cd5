"""Reading each tool's output: which lab devices it found, and which maker it gave them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from bench.runner import CAMSCAN, ROOT

ARP_SCAN_LINE = re.compile(r"^(\d+\.\d+\.\d+\.\d+)\t[0-9a-fA-F:]{17}", re.MULTILINE)


def camscan_makers(path: Path) -> dict[str, str | None]:
    doc = json.loads(path.read_text())
    return {d["ip"]: d.get("maker") for d in doc.get("devices", [])}


def camscan_stats(path: Path) -> dict[str, Any]:
    """camscan's own per-stage numbers (ms.discovery, banners.connections, ...)."""
    doc = json.loads(path.read_text())
    stats = doc.get("run", {}).get("stats", {})
    return dict(stats) if isinstance(stats, dict) else {}


def nmap_up_hosts(path: Path) -> set[str]:
    from defusedxml import ElementTree

    up: set[str] = set()
    for host in ElementTree.parse(path).getroot().iter("host"):
        status = host.find("status")
        if status is not None and status.get("state") == "up":
            up.update(
                a.get("addr", "") for a in host.iter("address") if a.get("addrtype") == "ipv4"
            )
    return up


def arp_scan_hosts(stdout: Path) -> set[str]:
    return set(ARP_SCAN_LINE.findall(stdout.read_text(errors="replace")))


def makers_correct(reported: dict[str, str | None], truth: dict[str, str | None]) -> int:
    return sum(1 for ip, maker in truth.items() if ip in reported and reported[ip] == maker)


def nmap_import_makers(xml: Path, stem: Path) -> dict[str, str | None]:
    """Attribute nmap's findings with camscan's own signatures (`camscan import`)."""
    out = stem.with_suffix(".import.json")
    subprocess.run(
        [*CAMSCAN, "import", str(xml), "-f", "json", "-o", str(out)],
        capture_output=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )
    return camscan_makers(out) if out.is_file() else {}
