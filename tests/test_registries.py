"""Each extension point has one registry; everything that lists its entries must agree with it.

A probe or format that is registered but missing from the config schema, the CLI help or the
documents (and the other way round) fails here, so a new entry cannot be half-added.
"""

from __future__ import annotations

import inspect
import io
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from camscan.cli.main import app
from camscan.config import ConfigError, parse_config
from camscan.discovery import registry as probes
from camscan.errors import ProbeKind
from camscan.model import ScanResult, ScanRun
from camscan.report import registry as formats
from camscan.report import render

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = (ROOT / "docs" / "json-contract.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def help_of(*command: str) -> str:
    r = CliRunner().invoke(app, [*command, "--help"], prog_name="camscan")
    assert r.exit_code == 0, r.output
    return " ".join(r.stdout.split())


def test_probe_names_are_unique_and_every_probe_implements_the_interface() -> None:
    assert len(set(probes.NAMES)) == len(probes.NAMES)
    for spec in probes.REGISTRY:
        probe = spec.create()
        assert probe.name == spec.name
        assert inspect.iscoroutinefunction(probe.run)
        assert spec.summary and spec.needs, spec.name
        if probes.Need.RAW_SOCKET in spec.needs:
            assert spec.unprivileged, f"{spec.name}: say what it does without CAP_NET_RAW"


def test_every_probe_is_in_the_config_schema_the_cli_help_and_the_contract() -> None:
    assert parse_config({}).scan.probes == list(probes.NAMES)  # default: every probe
    for name in probes.NAMES:
        assert parse_config({"scan": {"probes": [name]}}).scan.probes == [name]
        assert f"`{name}`" in CONTRACT, f"docs/json-contract.md: run.probes misses {name}"
    with pytest.raises(ConfigError, match="unknown probe"):
        parse_config({"scan": {"probes": ["telnet"]}})
    listed = re.search(r"subset of ([a-z0-9,-]+)", help_of("scan"))
    assert listed and tuple(listed.group(1).split(",")) == probes.NAMES
    readme = re.search(r"# probes = \[(.*)\]", README)
    assert readme and tuple(re.findall(r'"([^"]+)"', readme.group(1))) == probes.NAMES


def test_the_multicast_round_runs_exactly_the_registered_multicast_probes() -> None:
    from camscan.discovery import round as multicast_round

    assert tuple(
        s.name for s in probes.REGISTRY if probes.Need.MULTICAST in s.needs
    ) == multicast_round.PROBES


def test_every_format_is_in_the_config_schema_the_cli_help_and_renders() -> None:
    assert len(set(formats.FORMATS)) == len(formats.FORMATS)
    for command in (("scan",), ("report",), ("identify",), ("import",)):
        listed = re.search(r"(?:Output: )?\b([a-z]+(?:\|[a-z]+)+)", help_of(*command))
        assert listed and tuple(listed.group(1).split("|")) == formats.FORMATS, command
    readme = re.search(r"re-render a saved JSON result \(([^)]*)\)", README)
    assert readme and tuple(readme.group(1).split(", ")) == formats.FORMATS
    empty = ScanResult(run=ScanRun(targets=[], probes=[], started=0.0, ended=0.0), devices=[])
    for name in formats.FORMATS:
        assert parse_config({"output": {"format": name}}).output.format == name
        out = io.StringIO()
        render(empty, name, out, color=False)
        assert out.getvalue(), f"format {name} wrote nothing"
    with pytest.raises(ConfigError, match="format 'pdf' is not one of"):
        parse_config({"output": {"format": "pdf"}})


def test_every_probe_error_kind_is_documented_in_the_contract() -> None:
    section = CONTRACT.split("## Probe errors")[1].split("\n## ")[0]
    for kind in ProbeKind:
        assert f"`{kind.value}`" in section, kind
