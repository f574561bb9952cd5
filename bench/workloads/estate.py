"""`camscan estate` over a large PostgreSQL store: 50 sites x 90 daily runs x 200 devices (issue
22's target: under 10 s and 300 MB). No lab and no anchor: nothing is sent anywhere.

The server is a throwaway one on a Unix socket only (Debian's postgresql, as the postgres
user), as the tests start it. Each site's first run is stored by camscan itself, built through
identify and policy from real observations; its other 89 runs are copies made in SQL (runs,
devices and findings rows; a copy keeps no observations or evidence rows, which the estate never
reads), one day apart, each with one fewer Hikvision camera in the core than the day before
until none are left, so the burn-down falls. Site 0 stopped three days ago: a gap.
"""

from __future__ import annotations

import datetime
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.runner import CAMSCAN, Options, Result, Run, Target, Workload
from bench.workloads.import_large import _timed

SITES, RUNS, DEVICES = 50, 90, 200
CORE_CAMERAS = 40  # per site, in the core at first; one fewer per run until none
BOUND = (10.0, 300.0)  # seconds, MB
DAY = 86400.0


@contextmanager
def postgres(base: Path) -> Iterator[str]:
    """A PostgreSQL server on a Unix socket in `base` (no TCP listener), stopped after."""
    bindir = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
    if bindir is None:
        raise RuntimeError("Debian's postgresql is not installed (apt-get install postgresql)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data = base / "data"
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "camscan"],
        check=True,
        capture_output=True,
    )
    ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data)]
    opts = f"-k {base} -p 55439 -c listen_addresses='' -c fsync=off"
    subprocess.run([*ctl, "-o", opts, "-l", str(base / "log"), "-w", "start"], check=True)
    try:
        yield f"host={base} port=55439 user=camscan dbname=postgres"
    finally:
        subprocess.run([*ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)


def _site_run(site: int, started: float) -> object:
    """One site's first run: CORE_CAMERAS Hikvision cameras in the core, the rest in offices
    (Axis and Hikvision), from ARP MACs in the makers' OUI blocks through identify and policy."""
    from camscan import channels
    from camscan.config import parse_config
    from camscan.model import Device, Observation, ScanResult, ScanRun
    from camscan.pipeline import apply_policy, identify_devices

    cfg = parse_config(
        {
            "segment": [
                {"name": "core", "cidrs": ["198.18.70.0/24"], "zone": "core"},
                {"name": "office", "cidrs": ["198.18.71.0/24"], "zone": "general"},
            ],
            "policy": {"deadlines": {"core": datetime.date(2027, 3, 31)}},
        }
    )
    devices = []
    for i in range(DEVICES):
        core = i < CORE_CAMERAS
        ip = f"198.18.{70 if core else 71}.{i + 1}"
        oui = "58:50:ed" if core or i % 3 == 0 else "00:40:8c"
        mac = f"{oui}:{site:02x}:{i >> 8:02x}:{i & 0xFF:02x}"
        obs = [Observation(channels.ARP_MAC, mac, "arp", ip=ip, mac=mac)]
        devices.append(Device(ip=ip, mac=mac, observations=obs))
    run = ScanRun(
        targets=["198.18.70.0/23"], probes=["arp"], started=started, ended=started + 300,
        camscan_version="bench",
    )  # fmt: skip
    res = ScanResult(run=run, devices=devices, segments=list(cfg.segments))
    identify_devices(res.devices)
    apply_policy(res, cfg)
    return res


_COPY_RUN = """
INSERT INTO runs (site, started, ended, partial, privileged, targets, device_count,
  flagged_count, schema_version, camscan_version, stored, run_doc, segments_doc, summary_doc,
  policy_doc, extra_doc)
SELECT site, started + %(shift)s, ended + %(shift)s, partial, privileged, targets,
  device_count - %(gone)s, flagged_count - %(gone)s, schema_version, camscan_version, stored,
  run_doc, segments_doc, summary_doc, policy_doc, extra_doc FROM runs WHERE id = %(src)s
RETURNING id
"""
_COPY_DEVICES = """
INSERT INTO devices (run_id, idx, ip, mac, maker, brand, model, firmware, serial, segment, zone,
  severity, flagged, in_scope, device_key, doc)
SELECT %(dst)s, idx, ip, mac, maker, brand, model, firmware, serial, segment, zone, severity,
  flagged, in_scope, device_key, doc FROM devices WHERE run_id = %(src)s AND idx >= %(gone)s
"""
_COPY_FINDINGS = """
INSERT INTO findings (run_id, idx, device_ip, device_mac, maker, segment, zone, severity,
  flagged, doc)
SELECT %(dst)s, idx, device_ip, device_mac, maker, segment, zone, severity, flagged, doc
FROM findings WHERE run_id = %(src)s AND idx >= %(gone)s
"""


def populate(url: str, now: float) -> None:
    import psycopg

    from camscan.store import open_store

    store = open_store(url)
    first = []
    try:
        for s in range(SITES):
            silent = 3 * DAY if s == 0 else 0.0
            started = now - (RUNS - 1) * DAY - silent - 3600
            first.append(store.save(_site_run(s, started), f"site-{s:02d}"))  # type: ignore[arg-type]
    finally:
        store.close()
    with psycopg.connect(url) as conn:
        for src in first:
            for k in range(1, RUNS):
                gone = min(k, CORE_CAMERAS)  # the core cameras come first by address
                args = {"shift": k * DAY, "gone": gone, "src": src}
                dst = conn.execute(_COPY_RUN, args).fetchone()[0]  # type: ignore[index]
                conn.execute(_COPY_DEVICES, {**args, "dst": dst})
                conn.execute(_COPY_FINDINGS, {**args, "dst": dst})
            conn.commit()
        conn.execute("ANALYZE")


def _sites(out: Path, fmt: str) -> int:
    """Sites the estate shows (the JSON's `sites`, the page's site rows)."""
    if not out.exists():
        return 0
    if fmt == "json":
        return len(json.loads(out.read_text(encoding="utf-8"))["sites"])
    return out.read_text(encoding="utf-8").count('<tbody class="site">')


def run(opts: Options) -> Result:
    result = Result("estate", f"camscan estate of {SITES} sites x {RUNS} runs x {DEVICES}", SITES)
    base = Path(tempfile.mkdtemp(prefix="camscan-bench-pg-"))
    try:
        with postgres(base) as url:
            began = time.perf_counter()
            populate(url, time.time())
            print(f"  store of {SITES * RUNS} runs built in {time.perf_counter() - began:.0f} s")
            load = os.getloadavg()
            result.extra["loadavg_before"] = load
            print(f"  machine load (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
            for fmt in ("json", "html"):
                name = f"camscan estate -f {fmt}"
                out = opts.workdir / f"estate.{fmt}"
                for _ in range(opts.runs):
                    argv = [*CAMSCAN, "estate", "--db", url, "-f", fmt]
                    wall, rss_mb, rc = _timed(argv, out, opts.workdir / "rss")
                    result.tools.setdefault(name, []).append(
                        Run(wall, rss_mb, _sites(out, fmt), None, rc in (0, 1))
                    )
                    print(f"  {name}: {wall:.1f} s, {rss_mb:.0f} MB, exit {rc}", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return result


def targets(result: Result, results: dict[str, Result]) -> list[Target]:
    del results
    out = []
    wall, rss = BOUND
    for name in result.tools:
        got = result.summary(name)
        if got is None:
            continue
        ok = got["wall_median"] < wall and got["rss_mb_max"] < rss
        out.append(
            Target(
                f"estate:{name.rsplit(' ', 1)[-1]}",
                f"{name} of {SITES} x {RUNS} x {DEVICES} from PostgreSQL under {wall:g} s "
                f"and {rss:g} MB",
                ok,
                f"{got['wall_median']:.1f} s, {got['rss_mb_max']:.0f} MB",
            )
        )
    return out


WORKLOAD = Workload(
    "estate",
    f"estate of {SITES} sites x {RUNS} runs x {DEVICES} devices from PostgreSQL, no lab",
    runs=3,
    run=run,
    targets=targets,
    needs_lab=False,
    bare_runs=False,
)
