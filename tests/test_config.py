"""camscan.toml validation: every mistake is one line naming the place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from camscan.config import ConfigError, expired_exceptions, load_config, parse_config

GOOD = """
[[segment]]
name = "core"
cidrs = ["198.18.10.0/24"]
zone = "core"

[[segment]]
name = "cctv"
cidrs = ["198.18.20.0/25", "198.18.20.128/25"]
zone = "Sensitive"

[scan]
rate = 200
probes = ["arp", "sadp"]

[policy]
listed_makers = ["hikvision", "dahua", "uniview"]
severity = { general = "high" }

[[exception]]
mac = "44:19:B6:00:00:01"
reason = "Legacy door camera, replacement ordered"
accepted_by = "J. Smith, CISO"
expires = 2027-03-31
"""


def test_good_config_parses(tmp_path: Path) -> None:
    p = tmp_path / "camscan.toml"
    p.write_text(GOOD)
    cfg = load_config(p)
    assert [s.name for s in cfg.segments] == ["core", "cctv"]
    assert cfg.segments[1].zone == "sensitive"
    assert cfg.scan.settings.limits.rate == 200.0 and cfg.scan.settings.probes == ("arp", "sadp")
    assert cfg.policy.listed_makers == ["hikvision", "dahua", "uniview"]
    assert cfg.exceptions[0].mac == "44:19:b6:00:00:01"
    assert cfg.segment("cctv").cidrs == ["198.18.20.0/25", "198.18.20.128/25"]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            '[[segment]]\nname="a"\ncidrs=["10.0.0.0/33"]\nzone="core"',
            "cidrs[0] '10.0.0.0/33' is not an IPv4 CIDR",
        ),
        ('[[segment]]\nname="a"\ncidrs=["198.18.1.5/24"]\nzone="core"', "is not an IPv4 CIDR"),
        (
            '[[segment]]\nname="a"\ncidrs=["198.18.1.0/24"]\nzone="core"\nzones="x"',
            "unknown field 'zones'",
        ),
        (
            '[[segment]]\nname="a"\ncidrs=["198.18.1.0/24"]\nzone="core"\n[[segment]]\nname="a"\ncidrs=["198.18.2.0/24"]\nzone="core"',
            "duplicate segment name 'a'",
        ),
        (
            '[[segment]]\nname="a"\ncidrs=["198.18.0.0/16"]\nzone="core"\n[[segment]]\nname="b"\ncidrs=["198.18.2.0/24"]\nzone="general"',
            "segments 'a' (198.18.0.0/16) and 'b' (198.18.2.0/24) overlap",
        ),
        ('[[segment]]\nname="a"\ncidrs=["198.18.1.0/24"]', "needs a zone"),
        ('[[segment]]\nname="a"\nzone="core"', "needs cidrs"),
        ('[scan]\nrate = "fast"', "rate must be float"),
        ('[scan]\nprobes = ["arp", "telnet"]', "unknown probe 'telnet'"),
        ('[output]\nformat = "pdf"', "format 'pdf' is not one of"),
        ('[policy]\nseverity = { core = "urgent" }', "severity.core 'urgent'"),
        (
            '[[exception]]\nreason="x"\naccepted_by="y"\nexpires=2027-01-01',
            "needs a mac or a serial",
        ),
        ('[[exception]]\nmac="aa"\nreason="x"\naccepted_by="y"\nexpires="soon"', "needs expires"),
        ("[colours]\nx=1", "unknown field 'colours'"),
        # Issue 10: "info" means "not a finding", so no zone can make a listed maker info.
        ('[policy]\nseverity = { core = "info" }', "severity.core 'info' is not allowed"),
        # Issue 10: exception MACs were not validated, so a typo silently matched nothing.
        (
            '[[exception]]\nmac="44:19:b6:00:00"\nreason="x"\naccepted_by="y"\nexpires=2027-01-01',
            "mac '44:19:b6:00:00' is not a MAC address",
        ),
        (
            '[[exception]]\nserial=" "\nreason="x"\naccepted_by="y"\nexpires=2027-01-01',
            "serial must be non-empty text",
        ),
    ],
)
def test_bad_configs_name_the_problem(snippet: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(__import__("tomllib").loads(snippet), "camscan.toml")
    text = str(e.value)
    assert message in text
    assert "\n" not in text and text.startswith("camscan.toml:")


def test_config_check_command_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[segment]]\nname = "cctv"\ncidrs = ["198.18.1.0/24"\nzone = "core"\n')
    r = subprocess.run(
        [sys.executable, "-m", "camscan", "config", "check", str(bad)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "not valid TOML" in r.stderr and "Traceback" not in r.stderr
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    r = subprocess.run(
        [sys.executable, "-m", "camscan", "config", "check", str(good)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "OK: 2 segments" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "camscan", "config", "check", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "no such file" in r.stderr


def test_exception_macs_are_normalised_and_expired_ones_warned_about() -> None:
    cfg = parse_config(
        __import__("tomllib").loads(
            '[[exception]]\nmac="44-19-B6-00-00-01"\nreason="door"\naccepted_by="CISO"\n'
            "expires=2025-05-31\n"
            '[[exception]]\nserial="ABC"\nreason="lab"\naccepted_by="CISO"\nexpires=2099-01-01\n'
        )
    )
    assert cfg.exceptions[0].mac == "44:19:b6:00:00:01"
    warnings = expired_exceptions(cfg, __import__("datetime").date(2025, 6, 1))
    assert warnings == [
        "exception 1 (MAC 44:19:b6:00:00:01, door) expired on 2025-05-31: it no longer applies"
    ]


def test_config_check_warns_about_expired_exceptions_and_a_low_floor(tmp_path: Path) -> None:
    p = tmp_path / "camscan.toml"
    p.write_text(
        '[policy]\nmin_confidence = 0.5\n[[exception]]\nmac="44:19:b6:00:00:01"\nreason="door"\n'
        'accepted_by="CISO"\nexpires=2020-01-01\n'
    )
    r = subprocess.run(
        [sys.executable, "-m", "camscan", "config", "check", str(p)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "exception 1 (MAC 44:19:b6:00:00:01, door) expired on 2020-01-01" in r.stderr
    assert "min_confidence 0.5 is below 0.7" in r.stderr
