"""A scan's settings are one frozen value, built once from config + flags + environment.

Before, `--rate` went through a dict, a mutated Config, a positional ScanRequest (rate, window
and timeout adjacent floats) and an 18-field ProbeContext, and the banner limiter's default
rate (500) disagreed with the config's (1000).
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from camscan.config import ConfigError, parse_config
from camscan.discovery import rate
from camscan.discovery.banners.limits import Limits as BannerLimits
from camscan.discovery.base import ProbeContext
from camscan.discovery.registry import defaults
from camscan.errors import UsageError
from camscan.pipeline import ScanRequest
from camscan.service import Flags, build_settings
from camscan.settings import BOUNDS, Limits, ScanSettings, Timeouts, default, value
from camscan.targets import TargetSet

PACKAGE = Path(__file__).resolve().parents[1] / "camscan"


@pytest.mark.parametrize("cls", [ScanSettings, Limits, Timeouts, ScanRequest])
def test_settings_and_the_request_are_frozen_and_keyword_only(cls: type) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert all(f.kw_only for f in dataclasses.fields(cls)), cls
    with pytest.raises(TypeError):
        cls(1000.0)  # a positional float could land in the wrong field


def test_a_probe_is_handed_the_settings_whole_not_copies_of_them() -> None:
    fields = {f.name for f in dataclasses.fields(ProbeContext)}
    copied = {"rate", "host_rate", "window", "timeout", "read_timeout", "concurrency"}
    assert "settings" in fields and not fields & (copied | {"engine", "probes", "privileged"})
    chosen = ScanSettings(limits=Limits(rate=200.0))
    ctx = ProbeContext([], TargetSet([]), settings=chosen)
    assert ctx.settings is chosen


def test_each_default_is_declared_once() -> None:
    run, wait = Limits(), Timeouts()
    banner = BannerLimits()
    assert banner.concurrency == run.concurrency
    assert (banner.deadline, banner.read_timeout) == (wait.probe, wait.read)
    assert (run.rate, run.host_rate) == (rate.DEFAULT_RATE, rate.DEFAULT_HOST_RATE)
    # every probe but the opt-in ones (an [snmp] table adds snmp)
    assert parse_config({}).scan.settings == ScanSettings(probes=defaults())
    assert ProbeContext([], TargetSet([])).settings == ScanSettings()
    for key in BOUNDS:  # every bounded setting's default is within its bounds
        assert BOUNDS[key].low <= default(key) <= BOUNDS[key].high, key


def test_settings_are_built_from_config_flags_and_environment_and_change_no_config() -> None:
    doc = {"scan": {"rate": 300, "timeout": 6, "probes": ["arp", "sadp", "l3"]}}
    cfg = parse_config(doc)
    flags = Flags(values={"rate": 200.0, "read_timeout": 1.0, "timeout": None}, probes="arp")
    built = build_settings(cfg, flags, privileged=False)
    assert cfg == parse_config(doc)  # the config is as it was read
    assert (value(built, "rate"), value(built, "timeout"), value(built, "read_timeout")) == (
        200.0,
        6.0,
        1.0,
    )
    assert (built.probes, built.engine, built.privileged) == (("arp",), "camscan", False)
    from_config = build_settings(cfg, Flags(), privileged=True)
    assert from_config.probes == ("arp", "sadp", "l3") and value(from_config, "rate") == 300.0


def test_ask_less_is_on_by_default_and_off_by_config_or_ask_all() -> None:
    on = parse_config({})
    off = parse_config({"scan": {"ask_less": False}})
    assert build_settings(on, Flags(), privileged=True).ask_less is True
    assert build_settings(on, Flags(ask_all=True), privileged=True).ask_less is False
    assert build_settings(off, Flags(), privileged=True).ask_less is False
    with pytest.raises(ConfigError, match="ask_less"):
        parse_config({"scan": {"ask_less": "yes"}})


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (Flags(values={"rate": -5.0}), "--rate must be between 1 and 100000 packets/s, got -5.0"),
        (Flags(values={"discovery_window": float("nan")}), "--window must be between"),
        (Flags(probes="arp,telnet"), "unknown probe 'telnet'"),
        (Flags(engine="masscan"), "--engine 'masscan' is not one of camscan, nmap"),
    ],
)
def test_a_bad_flag_is_one_line_before_any_packet(flags: Flags, says: str) -> None:
    with pytest.raises(UsageError, match=says.replace("(", r"\(")):
        build_settings(parse_config({}), flags, privileged=False)


def test_the_cli_changes_no_config_it_loaded() -> None:
    changed = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                continue
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                root = t
                while isinstance(root, ast.Attribute | ast.Subscript):
                    root = root.value
                names = {"cfg", "config", "s", "scan", "settings"}
                if t is not root and isinstance(root, ast.Name) and root.id in names:
                    changed.append(f"{path.name}:{node.lineno} {ast.unparse(t)}")
    assert changed == []
