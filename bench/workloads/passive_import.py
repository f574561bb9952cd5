"""Passive discovery at capture scale: `camscan import` of a synthetic camera-LAN pcap (mostly
RTP video, some discovery, HTTP/RTSP and ARP: bench/pcap_mix.py) beside tshark reading the same
file for the same fields (source MAC/IP, ARP, HTTP Server and WWW-Authenticate, RTSP responses,
the discovery ports, TLS certificates). No lab, nothing sent: the capture is written in the
bench's temporary directory and deleted afterwards.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench.measure import GNU_TIME
from bench.pcap_mix import CAMERAS, camera, write_pcap
from bench.runner import CAMSCAN, ROOT, Options, Result, Run, Target, Workload

RATE, RSS_MB = 200_000, 200.0  # targets: packets per second (whole command), peak RSS
TSHARK = "tshark"
TSHARK_FILTER = (
    "arp or http.response or rtsp.response or tls.handshake.type == 11 or "
    "udp.port in {3702,1900,5353,37020,37810,5050,67,68}"
)
TSHARK_FIELDS = (
    "eth.src",
    "ip.src",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "http.server",
    "http.www_authenticate",
    "rtsp.response",
    "udp.srcport",
    "x509if.rdnSequence",
)


def _timed(argv: list[str], out: Path, rss_file: Path) -> tuple[float, float, float, int]:
    """Wall seconds, peak RSS (MB), CPU seconds (user + system: the machine's load does not
    inflate them as it inflates wall time) and the exit code."""
    timed = [GNU_TIME, "-f", "%U %S %M", "-o", str(rss_file), "--"] if GNU_TIME else []
    began = time.perf_counter()
    with out.open("wb") as sink:
        proc = subprocess.run(
            [*timed, *argv], stdout=sink, stderr=subprocess.DEVNULL, check=False, cwd=ROOT
        )
    wall = time.perf_counter() - began
    try:
        user, system, rss_kb = rss_file.read_text().split()[-3:]
        rss_mb, cpu = int(rss_kb) / 1024, float(user) + float(system)
    except (OSError, ValueError, IndexError):
        rss_mb, cpu = 0.0, 0.0
    return wall, rss_mb, cpu, proc.returncode


def _camscan_judged(out: Path) -> tuple[int, int, dict[str, int]]:
    doc = json.loads(out.read_text(encoding="utf-8"))
    makers = {camera(i)[0]: camera(i)[2] for i in range(CAMERAS)}
    devices = {d["ip"]: d["maker"] for d in doc["devices"]}
    right = sum(1 for ip, maker in makers.items() if devices.get(ip) == maker)
    return len(set(devices) & set(makers)), right, doc["run"]["stats"]


def run(opts: Options) -> Result:
    mb = opts.pcap_mb
    result = Result("passive_import", f"import of a {mb} MB mixed capture vs tshark", CAMERAS)
    work = opts.workdir / "passive"
    work.mkdir(exist_ok=True)
    capture = work / "mix.pcap"
    packets, size = write_pcap(capture, mb)
    result.extra.update(packets=packets, bytes=size, megabytes=mb)
    print(f"  capture: {packets} packets, {size / 1e6:.0f} MB", flush=True)
    camscan_name, tshark_name = f"camscan import, {mb} MB", f"tshark -T fields, {mb} MB"
    tshark = shutil.which(TSHARK)
    if tshark is None:
        result.skipped[tshark_name] = "tshark is not installed (apt-get install tshark)"
    fields = [arg for f in TSHARK_FIELDS for arg in ("-e", f)]
    try:
        for n in range(opts.runs):
            order = ["camscan", "tshark"] if n % 2 == 0 else ["tshark", "camscan"]
            for who in order:
                if who == "camscan":
                    out = work / "camscan.json"
                    argv = [*CAMSCAN, "import", str(capture), "-f", "json"]
                    wall, rss, cpu, code = _timed(argv, out, work / "rss")
                    found, right, stats = _camscan_judged(out)
                    run_ = Run(wall, rss, found, right, code in (1, 3), f"cpu {cpu:.2f}", stats)
                    result.tools.setdefault(camscan_name, []).append(run_)
                    read = stats.get("passive.read_ms", 0) / 1000
                    print(
                        f"  camscan: {wall:.2f} s wall ({packets / wall:,.0f} packets/s), "
                        f"{cpu:.2f} s CPU ({packets / max(cpu, 1e-9):,.0f}/s); reading "
                        f"{read:.2f} s ({packets / max(read, 1e-9):,.0f}/s); {rss:.0f} MB; "
                        f"{right}/{CAMERAS} makers right",
                        flush=True,
                    )
                elif tshark is not None:
                    argv = [tshark, "-r", str(capture), "-n", "-Y", TSHARK_FILTER, "-T", "fields"]
                    tsv = work / "tshark.tsv"
                    wall, rss, cpu, code = _timed([*argv, *fields], tsv, work / "rss")
                    lines = tsv.read_bytes().count(b"\n")
                    run_ = Run(wall, rss, lines, None, code == 0, f"cpu {cpu:.2f}")
                    result.tools.setdefault(tshark_name, []).append(run_)
                    print(
                        f"  tshark: {wall:.2f} s wall ({packets / wall:,.0f} packets/s), "
                        f"{cpu:.2f} s CPU ({packets / max(cpu, 1e-9):,.0f}/s); {rss:.0f} MB; "
                        f"{lines} lines",
                        flush=True,
                    )
    finally:
        capture.unlink(missing_ok=True)  # 1 GB: never left behind
    return result


def targets(result: Result, results: dict[str, Result]) -> list[Target]:
    del results
    mb, packets = result.extra["megabytes"], result.extra["packets"]
    mine = result.summary(f"camscan import, {mb} MB")
    if mine is None:
        return []
    rate = packets / mine["wall_median"]
    cpus = [float(r.note.split()[1]) for r in result.tools[f"camscan import, {mb} MB"] if r.note]
    cpu_rate = f"; {packets / statistics.median(cpus):,.0f} per CPU second" if cpus else ""
    out = [
        Target(
            "passive_import:rate",
            f"import of a {mb} MB capture at >= {RATE:,} packets/s (whole command) and "
            f"< {RSS_MB:g} MB, every maker right",
            rate >= RATE and mine["rss_mb_max"] < RSS_MB,
            f"{rate:,.0f} packets/s wall{cpu_rate}, {mine['rss_mb_max']:.0f} MB",
        )
    ]
    other = result.summary(f"tshark -T fields, {mb} MB")
    if other is not None:
        ratio = mine["wall_median"] / other["wall_median"]
        out.append(
            Target(
                "passive_import:tshark",
                "camscan/tshark wall time on the same capture and fields (printed, no bound)",
                None,
                f"{ratio:.3f}x ({mine['wall_median']:.1f} s vs {other['wall_median']:.1f} s; "
                f"tshark {other['rss_mb_max']:.0f} MB)",
            )
        )
    return out


WORKLOAD = Workload(
    "passive_import",
    "import of a synthetic mixed capture (default 1 GB) beside tshark, no lab",
    runs=1,
    run=run,
    targets=targets,
    needs_lab=False,
    bare_runs=False,
)
