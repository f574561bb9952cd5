"""`camscan scan` output plumbing against the lab: -q keeps the report on stdout (a pipe into
jq works), and one scan writes several formats at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import LabFactory
from tests.labtools import guarded_env
from tests.test_output_targets import private_dev
from tests.test_scan_lab import camscan

pytestmark = pytest.mark.lab


def test_quiet_scan_still_prints_the_report_and_writes_every_output(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    lab = lab_factory("mixed")
    html, ecs = tmp_path / "scan.html", tmp_path / "scan.ecs.jsonl"
    r = camscan(
        lab,
        "scan",
        "198.18.40.0/24",
        "--probes",
        "arp,sadp,dhip,banners",
        "-q",
        "-f",
        "jsonl",
        "-o",
        "-",
        "-o",
        f"html:{html}",
        "-o",
        f"ecs:{ecs}",
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # -q: no notes, no progress, no summary
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[-1]["type"] == "run"
    devices = [x for x in lines if x["type"] == "device"]
    assert len(devices) >= 20
    assert html.read_text().startswith("<!DOCTYPE html>")
    events = [json.loads(line) for line in ecs.read_text().splitlines()]
    assert len(events) == len(devices) + 1
    assert {e["host"]["ip"][0] for e in events[:-1]} == {d["ip"] for d in devices}


def test_scan_as_root_to_dev_null_leaves_dev_null_a_device(lab_factory: LabFactory) -> None:
    # In a private mount namespace with its own /dev (tests/test_output_targets.py), inside the
    # lab's scanner namespace: a root scan with -o /dev/null renamed a file over the node.
    lab = lab_factory("mixed")
    got = private_dev(
        """
        done = camscan("scan", "198.18.40.0/24", "--probes", "arp,sadp,dhip", "-q",
                       "-o", "/dev/null", "-o", "json:/dev/stdout")
        st = os.stat("/dev/null")
        print(json.dumps({"rc": done.returncode, "err": done.stderr, "out": done.stdout,
                          "kind": kind("/dev/null"), "rdev": [os.major(st.st_rdev),
                          os.minor(st.st_rdev)]}))
        """,
        via=["ip", "netns", "exec", lab.scanner_ns],
        env=guarded_env(lab),
    )
    assert got["rc"] in (0, 1), got["err"]
    assert json.loads(got["out"])["devices"]
    assert got["kind"] == "chr" and got["rdev"] == [1, 3]
