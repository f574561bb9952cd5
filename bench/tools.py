"""The tools that several workloads compare: camscan's ARP sweep and full scan, and the anchors."""

from __future__ import annotations

from pathlib import Path

from bench.outputs import (
    arp_scan_hosts,
    camscan_makers,
    camscan_stats,
    makers_correct,
    nmap_import_makers,
    nmap_up_hosts,
)
from bench.runner import CAMSCAN, Tool, found_in

CAMERA_PORTS = "80,443,554,8000,37777"
NMAP_SV = f"nmap -sV -p {CAMERA_PORTS} -n"


def json_to(stem: Path) -> list[str]:
    return ["-f", "json", "-o", str(stem.with_suffix(".json"))]


def camscan_arp(cidr: str, expected: set[str]) -> Tool:
    return Tool(
        "camscan --probes arp",
        lambda s: [*CAMSCAN, "scan", cidr, "--probes", "arp", "-q", *json_to(s)],
        lambda s, _o: (found_in(expected, camscan_makers(s.with_suffix(".json"))), None),
        ok_codes=(0, 1),
        stats=lambda s: camscan_stats(s.with_suffix(".json")),
    )


def nmap_arp(cidr: str, expected: set[str], max_runs: int | None = None) -> Tool:
    return Tool(
        "nmap -sn -PR -n",
        lambda s: ["nmap", "-sn", "-PR", "-n", cidr, "-oX", str(s.with_suffix(".xml"))],
        lambda s, _o: (found_in(expected, nmap_up_hosts(s.with_suffix(".xml"))), None),
        needs="nmap",
        max_runs=max_runs,
    )


def arp_scan(cidr: str, expected: set[str], tuned: bool = False) -> Tool:
    """arp-scan at its defaults, or tuned as in lab-notes (one retry, 10 Mbit/s, 200 ms)."""
    extra = ["--retry=1", "-B", "10M", "--timeout=200"] if tuned else []
    return Tool(
        "arp-scan (tuned)" if tuned else "arp-scan (defaults)",
        lambda _s: ["arp-scan", "-I", "eth0", *extra, cidr],
        lambda _s, o: (found_in(expected, arp_scan_hosts(o)), None),
        needs="arp-scan",
    )


def camscan_scan(cidr: str, truth: dict[str, str | None], name: str = "camscan (defaults)") -> Tool:
    """A full `camscan scan` at its defaults; judged on found and makers right."""
    expected = set(truth)

    def judge(stem: Path, _out: Path) -> tuple[int, int]:
        makers = camscan_makers(stem.with_suffix(".json"))
        return found_in(expected, makers), makers_correct(makers, truth)

    return Tool(
        name,
        lambda s: [*CAMSCAN, "scan", cidr, "-q", *json_to(s)],
        judge,
        ok_codes=(0, 1),
        stats=lambda s: camscan_stats(s.with_suffix(".json")),
    )


def nmap_sv(cidr: str, truth: dict[str, str | None], max_runs: int) -> Tool:
    """nmap -sV on the camera ports; its XML attributed by `camscan import`."""
    expected = set(truth)

    def judge(stem: Path, _out: Path) -> tuple[int, int]:
        xml = stem.with_suffix(".xml")
        makers = nmap_import_makers(xml, stem)
        return found_in(expected, nmap_up_hosts(xml)), makers_correct(makers, truth)

    return Tool(
        NMAP_SV,
        lambda s: [
            "nmap",
            "-sV",
            "-p",
            CAMERA_PORTS,
            "-n",
            cidr,
            "-oX",
            str(s.with_suffix(".xml")),
        ],
        judge,
        needs="nmap",
        max_runs=max_runs,
    )


ATTRIBUTION_NOTE = (
    "nmap's attribution is camscan's own `camscan import` run on nmap's XML (MAC OUI and "
    "service fingerprints), which gives nmap the benefit of camscan's signatures"
)
