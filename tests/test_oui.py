"""OUI data: every block attributes as the rules say; refresh from IEEE CSVs works offline."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from camscan.data import data_dir
from camscan.identify.oui import OuiDB, load_rules
from camscan.macaddr import normalise_mac
from camscan.model import Strength


@pytest.fixture(scope="module")
def db() -> OuiDB:
    return OuiDB.load()


@pytest.mark.parametrize(
    ("mac", "maker", "badge", "strength"),
    [
        ("44:19:B6:12:34:56", "hikvision", None, Strength.STRONG),  # Hikvision MA-L
        ("54-c4-15-9a-38-74", "hikvision", None, Strength.STRONG),  # EZVIZ unit on a Hik block
        ("0c:a6:4c:00:00:01", "hikvision", "EZVIZ", Strength.STRONG),
        ("b0:b3:53:60:00:01", "hikvision", "Hikrobot", Strength.STRONG),  # MA-M B0B3536
        ("3c:ef:8c:61:01:c0", "dahua", None, Strength.STRONG),
        ("b4:4c:3b:f4:e3:01", "dahua", None, Strength.STRONG),  # Intelbras DHIP capture
        ("00:1f:54:01:02:03", "dahua", "Lorex", Strength.MEDIUM),
        ("9c:8e:cd:01:02:03", "dahua", "Amcrest", Strength.MEDIUM),
        ("1c:4d:89:aa:bb:cc", "dahua", "Imou", Strength.MEDIUM),
    ],
)
def test_listed_blocks(
    db: OuiDB, mac: str, maker: str, badge: str | None, strength: Strength
) -> None:
    ev = db.evidence(mac)
    assert ev is not None
    assert (ev.maker, ev.badge, ev.strength) == (maker, badge, strength)
    assert ev.channel == "arp.mac" and ev.raw == normalise_mac(mac)


@pytest.mark.parametrize(
    "mac",
    [
        "40:2c:76:10:00:01",  # Shanghai Dahua Scale Factory: another company
        "02:00:00:00:00:01",  # locally administered
        "00:1b:21:00:00:01",  # Intel
        "not-a-mac",
    ],
)
def test_other_vendors_not_attributed(db: OuiDB, mac: str) -> None:
    assert db.evidence(mac) is None


@pytest.mark.parametrize(
    ("mac", "maker"),
    [
        ("00:40:8c:00:00:01", "axis"),
        ("ec:71:db:00:00:01", "reolink"),
        ("00:02:d1:00:00:01", "vivotek"),
    ],
)
def test_lookalike_makers_are_named(db: OuiDB, mac: str, maker: str) -> None:
    ev = db.evidence(mac)
    assert ev is not None
    assert ev.maker == maker


def test_every_assignment_follows_a_rule() -> None:
    rules = load_rules(data_dir("oui") / "organizations.toml")
    with (data_dir("oui") / "assignments.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 140
    for row in rows:
        rule = next(r for r in rules if r.match.search(row["organization"]))
        assert (row["maker"], row["badge"] or None, row["strength"]) == (
            rule.maker,
            rule.badge,
            rule.strength.value,
        ), row


def test_data_is_dated(db: OuiDB) -> None:
    assert db.generated is not None
    assert db.age_days() is not None


def test_oui_update_from_ieee_csv(tmp_path: Path) -> None:
    ieee = tmp_path / "oui.csv"
    ieee.write_text(
        "Registry,Assignment,Organization Name,Organization Address\n"
        'MA-L,4419B6,"Hangzhou Hikvision Digital Technology Co.,Ltd.","Hangzhou CN"\n'
        'MA-L,AABBCC,"Hangzhou Hikvision Digital Technology Co.,Ltd.","Hangzhou CN"\n'
        'MA-L,00408C,Axis Communications AB,"Lund SE"\n'
        'MA-M,402C761,Shanghai Dahua Scale Factory,"Shanghai CN"\n'
        'MA-L,3CEF8C,"Zhejiang Dahua Technology Co., Ltd.","Hangzhou CN"\n'
    )
    out = tmp_path / "ouidata"
    r = subprocess.run(
        [sys.executable, "-m", "camscan", "oui", "update", str(ieee), "--output", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "4 blocks" in r.stdout and "+ AABBCC" in r.stdout
    new = OuiDB.load(out)
    assert new.lookup("aa:bb:cc:00:00:01").maker == "hikvision"  # type: ignore[union-attr]
    assert new.lookup("40:2c:76:10:00:01") is None
    assert new.age_days() == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("just,some,columns\n1,2,3\n")
    r = subprocess.run(
        [sys.executable, "-m", "camscan", "oui", "update", str(bad), "--output", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "not an IEEE registry CSV" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_staleness_warning_after_a_year(db: OuiDB) -> None:
    import datetime as dt

    assert db.generated is not None
    assert db.staleness_warning(db.generated + dt.timedelta(days=30)) is None
    warning = db.staleness_warning(db.generated + dt.timedelta(days=400))
    assert warning is not None
    assert "400 days old" in warning
    assert "camscan oui update" in warning
