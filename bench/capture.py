"""Counting the scanner's TCP connection attempts on the wire (issue 27).

`dumpcap` (Debian package tshark) captures, in the lab's scanner namespace on every interface,
only the first packet of each TCP handshake (SYN without ACK); `tshark` reads the capture back.
A connection attempt is one (destination, source port, destination port): a SYN the kernel
retransmits is the same attempt. Nothing is sent: the capture only listens.

The counted run is one extra camscan run after a workload's timed ones (`--capture-runs`), so
the capture's own work never inflates a timed run.

"Identified by discovery" is read from camscan's own JSON: the observations of the discovery
probes alone (the registry's DISCOVER phase: arp, sadp, dhip, dvrip, wsd, mdns, ssdp, ...; not
the banners) are given to `camscan identify`, and a device counts when its maker verdict from
them is high confidence. Those whose model and firmware are also known from them are counted
apart ("fully"), as are devices whose evidence says banners skipped asking them.
"""

from __future__ import annotations

import collections
import json
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.runner import CAMSCAN, ROOT, Result, Target, Tool, run_in_lab

SYN_FILTER = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"
TSHARK_FIELDS = ("-n", "-T", "fields", "-e", "ip.dst", "-e", "tcp.srcport", "-e", "tcp.dstport")
READY_TIMEOUT = 15.0  # seconds for dumpcap to start capturing (a loaded machine is slow)
MEDIAN_ALL = 6.0  # issue 27: connections per device, median over every device
MEDIAN_KNOWN = 4.0  # ... and over the devices discovery identified with high confidence
DROPPED = re.compile(r"dropped on interface \S+: \d+/(\d+)")


def missing() -> str | None:
    """Why no capture can be taken here, or None."""
    for tool in ("dumpcap", "tshark"):
        if shutil.which(tool) is None:
            return f"needs `{tool}` (Debian package tshark) to count connections on the wire"
    return None


class SynCapture:
    """`with SynCapture(lab, path) as cap:` run the tool; then `cap.attempts()`."""

    def __init__(self, lab: Any, path: Path) -> None:
        self.lab = lab
        self.path = path
        self.log = path.with_suffix(".dumpcap.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SynCapture:
        argv = ["ip", "netns", "exec", self.lab.scanner_ns, "dumpcap", "-q", "-i", "any"]
        argv += ["-f", SYN_FILTER, "-w", str(self.path)]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + READY_TIMEOUT
        while b"Capturing on" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"dumpcap did not start: {self.log.read_text()[-300:]}")
            time.sleep(0.05)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            time.sleep(0.3)  # the last SYNs reach the file
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def dropped(self) -> int | None:
        """Packets the capture dropped, as dumpcap's closing line says (None: not said)."""
        found = DROPPED.findall(self.log.read_text(errors="replace"))
        return sum(int(n) for n in found) if found else None

    def attempts(self) -> collections.Counter[str]:
        """Connection attempts per destination address."""
        out = subprocess.run(
            ["tshark", "-r", str(self.path), *TSHARK_FIELDS],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        seen = {tuple(line.split("\t")) for line in out.splitlines() if line.count("\t") == 2}
        return collections.Counter(dst for dst, _, _ in seen)


def discovery_known(report: Path, stem: Path) -> dict[str, set[str]]:
    """Which devices of a camscan JSON report discovery alone identified (see the docstring).

    Returns sets of addresses: "maker" (maker verdict high confidence from the discovery
    probes' observations), "fully" (also model and firmware), "skipped" (a banners.skipped
    observation: ask-less left them, or some of their ports, unasked)."""
    from camscan.discovery.registry import REGISTRY, Phase

    discovery = {p.name for p in REGISTRY if p.phase is not Phase.INSPECT}
    doc = json.loads(report.read_text())
    lines = stem.with_suffix(".discovery.jsonl")
    skipped: set[str] = set()
    with lines.open("w", encoding="utf-8") as out:
        for device in doc.get("devices", []):
            for obs in device.get("observations", []):
                if obs.get("channel") == "banners.skipped":
                    skipped.add(device["ip"])
                if str(obs.get("probe", "")).split(":")[0] in discovery:
                    out.write(json.dumps(obs) + "\n")
    proc = subprocess.run(
        [*CAMSCAN, "identify", "-f", "json", str(lines)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
    )
    verdicts = json.loads(proc.stdout).get("devices", []) if proc.stdout.strip() else []
    maker = {d["ip"] for d in verdicts if d.get("maker") and d.get("confidence_label") == "high"}
    fully = {d["ip"] for d in verdicts if d["ip"] in maker and d.get("model") and d.get("firmware")}
    return {"maker": maker, "fully": fully, "skipped": skipped}


def _median(values: list[int]) -> float | None:
    return statistics.median(values) if values else None


def connection_stats(
    attempts: collections.Counter[str], devices: list[str], known: dict[str, set[str]]
) -> dict[str, Any]:
    """Total, and the median per device over every lab device and over each known set."""
    every = [attempts.get(ip, 0) for ip in devices]
    out: dict[str, Any] = {
        "syn_total": sum(attempts.values()),
        "syn_to_devices": sum(every),
        "devices": len(every),
        "median_all": _median(every),
        "max_all": max(every, default=None),
    }
    for name, ips in known.items():
        mine = [attempts.get(ip, 0) for ip in devices if ip in ips]
        out[f"known_{name}"] = len(mine)
        out[f"median_known_{name}"] = _median(mine)
        out[f"syn_known_{name}"] = sum(mine)
    return out


def counted_run(
    lab: Any, tool: Tool, workdir: Path, label: str, result: Result, devices: list[str]
) -> None:
    """One run of `tool` (a camscan scan writing JSON) under a SYN capture; its numbers go to
    result.extra["connections"][tool.name] (or the reason none were taken)."""
    table = result.extra.setdefault("connections", {})
    problem = missing()
    if problem:
        table[tool.name] = {"skipped": problem}
        print(f"  connection capture skipped: {problem}")
        return
    stem = workdir / f"{label}-capture"
    with SynCapture(lab, stem.with_suffix(".pcapng")) as cap:
        run = run_in_lab(lab, tool, stem)
    if not run.ok:
        table[tool.name] = {"skipped": f"the counted run failed: {run.note}"}
        print(f"  [{label} capture] FAILED: {run.note}")
        return
    known = discovery_known(stem.with_suffix(".json"), stem)
    stats = connection_stats(cap.attempts(), devices, known)
    stats.update(
        wall=round(run.wall, 2),
        found=run.found,
        correct=run.correct,
        dropped=cap.dropped(),
        camscan_connections=run.stats.get("banners.connections"),
        camscan_reused=run.stats.get("banners.reused"),
    )
    table[tool.name] = stats
    print(f"  [{label} capture] {describe(stats)}", flush=True)


def describe(s: dict[str, Any]) -> str:
    return (
        f"{s['syn_total']} connection attempts ({s['syn_to_devices']} to the {s['devices']} "
        f"devices), median {s['median_all']:g} per device (max {s['max_all']}), median "
        f"{_g(s['median_known_maker'])} for the {s['known_maker']} discovery identified "
        f"(maker high), {_g(s['median_known_fully'])} for the {s['known_fully']} also with model "
        f"and firmware, {_g(s['median_known_skipped'])} for the {s['known_skipped']} with "
        f"banners.skipped; counted run {s['wall']:.2f} s, {s['correct']}/{s['devices']} right, "
        f"capture dropped {s['dropped']}"
    )


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def connection_target(result: Result, tool: str, label: str) -> Target:
    """Issue 27: median connections per device at most 6, and 4 for those discovery knew."""
    text = (
        f"connection attempts on the wire, median per device at most {MEDIAN_ALL:g} over all "
        f"devices and at most {MEDIAN_KNOWN:g} over those discovery identified (maker high)"
    )
    s = result.extra.get("connections", {}).get(tool)
    if not s or "skipped" in s:
        return Target(label, text, None, s["skipped"] if s else "no counted run (--capture-runs 0)")
    known = s["median_known_maker"]
    ok = s["median_all"] <= MEDIAN_ALL and (known is None or known <= MEDIAN_KNOWN)
    return Target(label, text, ok, describe(s))
