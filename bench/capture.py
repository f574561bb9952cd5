"""Counting the scanner's TCP connection attempts on the wire (issue 27).

`dumpcap` (Debian package tshark) captures, in the lab's scanner namespace on every interface,
only the first packet of each TCP handshake (SYN without ACK); `tshark` reads the capture back.
A connection attempt is one (destination, source port, destination port): a SYN the kernel
retransmits is the same attempt. Nothing is sent: the capture only listens.
"""

from __future__ import annotations

import collections
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

SYN_FILTER = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"
TSHARK_FIELDS = ("tshark", "-r", "-n", "-T", "fields", "-e", "ip.dst", "-e", "tcp.srcport")
TSHARK_FIELDS += ("-e", "tcp.dstport")
READY_TIMEOUT = 15.0  # seconds for dumpcap to start capturing (a loaded machine is slow)


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

    def attempts(self) -> collections.Counter[str]:
        """Connection attempts per destination address."""
        out = subprocess.run(
            [*TSHARK_FIELDS[:2], str(self.path), *TSHARK_FIELDS[2:]],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        seen = {tuple(line.split("\t")) for line in out.splitlines() if line.count("\t") == 2}
        return collections.Counter(dst for dst, _, _ in seen)


def connection_stats(
    attempts: collections.Counter[str], devices: list[str], known: set[str]
) -> dict[str, Any]:
    """Total, and the median per device over every lab device and over those discovery
    identified (`known`: asked nothing more, as camscan's evidence says)."""
    every = [attempts.get(ip, 0) for ip in devices]
    mine = [attempts.get(ip, 0) for ip in devices if ip in known]
    return {
        "syn_total": sum(attempts.values()),
        "syn_to_devices": sum(every),
        "syn_median_all": statistics.median(every) if every else None,
        "syn_median_known": statistics.median(mine) if mine else None,
        "known_devices": len(mine),
        "devices": len(every),
    }
