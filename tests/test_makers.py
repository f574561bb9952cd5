"""Maker presets for [policy] listed_makers, and the makers beyond Hikvision and Dahua."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import camscan
from camscan.config import ConfigError, parse_config
from camscan.identify import makers
from camscan.identify.engine import identify_device
from camscan.identify.oui import OuiDB
from camscan.identify.signatures import SignatureDB
from camscan.macaddr import MacSource
from camscan.model import Device, Observation, Strength


def listed(value: object) -> list[str]:
    return parse_config({"policy": {"listed_makers": value}}).policy.listed_makers


def test_ndaa889_preset_is_the_five_makers_section_889_names() -> None:
    assert sorted(listed("ndaa889")) == ["dahua", "hikvision", "huawei", "hytera", "zte"]


def test_nil_preset_is_every_prc_maker() -> None:
    got = set(listed("nil"))
    assert got == makers.prc_makers()
    assert {"hikvision", "dahua", "huawei", "zte", "hytera", "uniview"} <= got


def test_presets_mix_with_maker_names_without_repeats() -> None:
    got = listed(["NDAA889", "uniview", "hikvision"])
    assert got.count("hikvision") == 1 and "uniview" in got and "huawei" in got


def test_default_and_plain_lists_are_unchanged() -> None:
    assert parse_config({}).policy.listed_makers == ["hikvision", "dahua"]
    assert listed(["hikvision"]) == ["hikvision"]


def test_an_unknown_preset_is_one_clear_line() -> None:
    with pytest.raises(ConfigError) as e:
        listed("ndaa")
    assert "not a preset" in str(e.value) and "ndaa889" in str(e.value)
    assert "\n" not in str(e.value)


@given(st.lists(st.sampled_from([*makers.presets(), *makers.display_names()]), max_size=6))
def test_expansion_is_a_set_of_known_slugs_in_order(names: list[str]) -> None:
    out = makers.expand_listed(names)
    assert len(out) == len(set(out))
    assert set(out) <= set(makers.display_names())
    for name in names:
        assert set(makers.presets().get(name, {name})) <= set(out)


def test_every_preset_maker_can_be_recognised() -> None:
    # a preset naming a maker camscan has no signature or MAC block for would be a false "clean"
    sigs, ouis = SignatureDB.load(), OuiDB.load()
    makers_known = {s.maker for s in sigs.signatures} | {a.maker for a in ouis.by_prefix.values()}
    for name, preset in makers.presets().items():
        assert preset <= makers_known, (name, preset - makers_known)


@pytest.mark.parametrize(
    ("mac", "maker"),
    [
        ("00:e0:fc:12:34:56", "huawei"),  # HUAWEI TECHNOLOGIES CO.,LTD (IEEE MA-L 00E0FC)
        ("00:19:c6:12:34:56", "zte"),  # zte corporation (IEEE MA-L 0019C6)
        ("64:69:bc:12:34:56", "hytera"),  # Hytera Communications Co .,ltd (IEEE MA-L 6469BC)
    ],
)
def test_ndaa_makers_by_their_ieee_blocks(mac: str, maker: str) -> None:
    dev = Device(ip="198.18.40.9", mac=mac, mac_source=MacSource.WIRE)
    v = identify_device(dev, SignatureDB.load(), OuiDB.load())
    assert v.maker == maker
    assert v.evidence[0].strength is Strength.STRONG


def test_zte_upnp_manufacturer_is_read_as_a_badge() -> None:
    obs = Observation("upnp.manufacturer", "ZTE", "ssdp", fields={"badge": "ZTE"})
    v = identify_device(Device(ip="198.18.40.9", observations=[obs]), SignatureDB.load(), None)
    assert v.maker == "zte"
    assert any("read from the UPnP manufacturer" in e.description for e in v.evidence)


@pytest.mark.parametrize(
    "mistake",
    [
        "broken = [\n",  # not TOML
        '\n[[maker]]\nslug = "hikvision"\nname = "Hikvision again"\n',  # defined twice
    ],
)
def test_a_mistake_in_makers_toml_is_one_line_and_help_still_works(
    tmp_path: Path, mistake: str
) -> None:
    """Issue 20: the vocabulary was read on import, so a mistake in makers.toml made even
    `camscan --help` a traceback. It is read on first use now: help works, and a command that
    needs it says what is wrong in one line, exit 2. (A copy of the package, the real file
    broken.)"""
    copy = tmp_path / "camscan"
    shutil.copytree(
        Path(camscan.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    vocabulary = copy / "identify" / "makers.toml"
    vocabulary.write_text(vocabulary.read_text() + mistake)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "camscan", *args]
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path)

    shown = run("--help")
    assert shown.returncode == 0, shown.stderr
    assert "Usage: camscan" in shown.stdout
    assert "Traceback" not in shown.stderr
    cfg = tmp_path / "camscan.toml"
    cfg.write_text('[policy]\nlisted_makers = ["hikvision"]\n')
    refused = run("config", "check", str(cfg))
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(f"camscan: error: {vocabulary}: ")
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
