"""Each extension point has one registry; everything that lists its entries must agree with it.

A probe or format that is registered but missing from the config schema, the CLI help or the
documents (and the other way round) fails here, so a new entry cannot be half-added.
"""

from __future__ import annotations

import ast
import csv
import importlib
import inspect
import io
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from camscan.cli.main import app
from camscan.config import ConfigError, parse_config
from camscan.discovery import registry as probes
from camscan.errors import DataError, ProbeKind
from camscan.identify import makers
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
    # default: every probe but the opt-in ones, which their config table adds
    assert parse_config({}).scan.settings.probes == probes.defaults()
    assert set(probes.NAMES) - set(probes.defaults()) == {"snmp"}
    with_snmp = parse_config({"snmp": {"routers": ["198.18.0.1"]}})
    assert with_snmp.scan.settings.probes == probes.NAMES
    for name in probes.NAMES:
        assert parse_config({"scan": {"probes": [name]}}).scan.settings.probes == (name,)
        assert f"`{name}`" in CONTRACT, f"docs/json-contract.md: run.probes misses {name}"
    with pytest.raises(ConfigError, match="unknown probe"):
        parse_config({"scan": {"probes": ["telnet"]}})
    # the list may wrap after a comma (help_of joins lines with a space)
    listed = re.search(r"subset of ((?:[a-z0-9-]+, ?)*[a-z0-9-]+)", help_of("scan"))
    assert listed and tuple(listed.group(1).replace(" ", "").split(",")) == probes.NAMES
    readme = re.search(r"# probes = \[(.*)\]", README)
    assert readme and tuple(re.findall(r'"([^"]+)"', readme.group(1))) == probes.NAMES


def test_the_multicast_and_unicast_rounds_run_exactly_the_registered_udp_probes() -> None:
    from camscan.discovery import unicast

    assert registry_multicast() == tuple(
        s.name for s in probes.REGISTRY if probes.Need.MULTICAST in s.needs
    )
    declared = [s for s in probes.REGISTRY if s.udp is not None]
    assert {s.name for s in declared} >= set(registry_multicast())  # each says its protocol
    table = unicast.probes()
    assert list(table) == [s.name for s in declared if s.udp and s.udp.payloads]
    for spec in declared:
        assert spec.udp is not None
        module = importlib.import_module(spec.module)
        assert spec.udp.port == module.PORT, spec.name  # the probe reads it from the registry
        assert callable(spec.parser())
        if spec.udp.payloads:
            assert spec.payloads() and all(isinstance(p, bytes) for p in spec.payloads())
            assert table[spec.name].port == spec.udp.port


def registry_multicast() -> tuple[str, ...]:
    return probes.multicast()


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


# --- makers: one vocabulary (camscan/identify/makers.toml) ---------------------------------------


def _raw_maker_slugs() -> dict[str, set[str]]:
    """Every maker slug the data files name, read from the raw files (not through a loader that
    might have dropped what it did not know)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "signatures").glob("*.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        assert "makers" not in doc, f"{path.name}: packaged makers go in the vocabulary"
        for table in [*doc.get("signature", []), *doc.get("rule", [])]:
            if table.get("maker"):
                found.setdefault(table["maker"], set()).add(path.name)
    orgs = tomllib.loads((ROOT / "oui" / "organizations.toml").read_text(encoding="utf-8"))
    for rule in orgs["rule"]:
        found.setdefault(rule["maker"], set()).add("organizations.toml")
    with (ROOT / "oui" / "assignments.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            found.setdefault(row["maker"], set()).add("assignments.csv")
    for path in sorted((ROOT / "camscan" / "lab" / "personas").glob("*.toml")):
        expect = tomllib.loads(path.read_text(encoding="utf-8")).get("expect", {})
        if expect.get("maker"):
            found.setdefault(expect["maker"], set()).add(path.name)
    return found


def test_every_maker_any_data_file_names_is_in_the_vocabulary() -> None:
    found = _raw_maker_slugs()
    assert {"hikvision", "dahua", "huawei"} <= set(found)  # the files were really read
    unknown = {slug: files for slug, files in found.items() if not makers.is_known(slug)}
    assert not unknown


def test_every_maker_is_in_the_config_schema_and_the_contract() -> None:
    table = CONTRACT.split("## Makers")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| ([^|]+) \| ([^|]*) \|$", table, re.M)
    documented = {
        slug: (name.strip(), set(filter(None, presets.strip().split(", "))))
        for slug, name, presets in rows
    }
    assert documented == {m.slug: (m.name, set(m.presets)) for m in makers.known()}
    for m in makers.known():
        if m.slug == "generic":  # generic embedded stacks: evidence, not a maker to list
            with pytest.raises(ConfigError, match="'generic' is not a maker camscan knows"):
                parse_config({"policy": {"listed_makers": [m.slug]}})
            continue
        assert parse_config({"policy": {"listed_makers": [m.slug]}}).policy.listed_makers == [
            m.slug
        ]
    for name in makers.presets():
        assert f"`{name}`" in table
        assert set(parse_config({"policy": {"listed_makers": name}}).policy.listed_makers) == set(
            makers.preset(name)
        )


def test_the_defaults_and_the_contract_vendors_come_from_the_vocabulary() -> None:
    from camscan.contract import VENDORS
    from camscan.policy.rules import PolicySettings

    assert makers.default_listed() == ("hikvision", "dahua")
    assert makers.default_listed() == VENDORS
    assert parse_config({}).policy.listed_makers == list(makers.default_listed())
    assert PolicySettings().listed_makers == frozenset(makers.default_listed())
    assert makers.get("dahua") == makers.Maker(
        "dahua", "Dahua", frozenset({"uk", "nil", "ndaa889"}), (37777,)
    )
    # each maker's own SDK port: banners ask it of no device discovery gave another maker
    assert makers.sdk_port_owners() == {8000: "hikvision", 37777: "dahua"}
    assert makers.get("lorex") is None  # a badge, not a maker


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"maker": [{"slug": "Acme!", "name": "Acme"}]}, "slug must be"),
        ({"maker": [{"slug": "acme", "name": "Acme"}] * 2}, "defined twice"),
        ({"maker": [{"slug": "acme", "name": "Acme", "presets": ["eu"]}]}, "presets must be"),
        ({"maker": [{"slug": "acme", "name": " "}]}, "needs a name"),
        ({"maker": [{"slug": "acme", "name": "A", "sdk_ports": ["80"]}]}, "list of TCP ports"),
        ({"maker": [{"slug": "acme", "name": "A", "sdk_ports": [0]}]}, "list of TCP ports"),
        ({"maker": [{"slug": "acme", "name": "A", "sdk_ports": [9]}]}, "needs an sdk_source"),
        (
            {
                "maker": [
                    {"slug": "acme", "name": "A", "sdk_ports": [9], "sdk_source": "s"},
                    {"slug": "emca", "name": "E", "sdk_ports": [9], "sdk_source": "s"},
                ]
            },
            "SDK port 9 is acme's",
        ),
        ({"maker": []}, "default_preset"),
    ],
)
def test_an_inconsistent_vocabulary_is_one_clear_line(doc: dict[str, object], says: str) -> None:
    base: dict[str, object] = {"default_preset": "uk", "preset": [{"name": "uk", "about": "x"}]}
    if says == "default_preset":
        base["default_preset"] = "eu"
    with pytest.raises(DataError, match=says):
        makers.parse_vocabulary({**base, **doc})
    assert makers.parse_vocabulary(tomllib.loads(makers.VOCABULARY.read_text())).makers == (
        makers.known()
    )


def test_every_store_backend_is_documented_and_takes_its_own_urls(tmp_path: Path) -> None:
    from camscan.store import BACKENDS, backend_for, open_store

    names = [b.name for b in BACKENDS]
    assert len(set(names)) == len(names) and names[-1] == "sqlite"  # SQLite takes the rest
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").lower()
    for backend in BACKENDS:
        assert backend.name in help_of("sweep").lower(), backend.name
        assert backend.name in README.lower() and backend.name in architecture, backend.name
    chosen = {
        "postgresql://camscan@db/runs": "postgresql",
        "postgres://db/runs": "postgresql",
        "host=/run/postgresql dbname=camscan": "postgresql",
        "sqlite:///var/lib/camscan/runs.sqlite3": "sqlite",
        "./runs.sqlite3": "sqlite",
        "/tmp/a=b/runs.sqlite3": "sqlite",  # a path with "=" in it is still a path
        "": "sqlite",
    }
    assert {url: backend_for(url).name for url in chosen} == chosen
    store = open_store(str(tmp_path / "runs.sqlite3"))
    try:
        assert store.runs() == [] and (tmp_path / "runs.sqlite3").exists()
    finally:
        store.close()


# --- nothing else spells a probe or format name ------------------------------------------------
REGISTRY_FILES = {"discovery/registry.py", "report/registry.py"}
# Literals equal to a registered name that are not that name, each with its reason; the test
# fails when one is gone (so the list only shrinks) and when any other appears.
NOT_THE_NAME: dict[tuple[str, str], str] = {
    ("report/ecs.py", "ecs"): "the ECS document's own `ecs` field (ecs.version), a schema key",
    ("config.py", "snmp"): "the [snmp] config table's name (it turns on the probe it names)",
    ("lab/persona.py", "mdns"): (
        "the persona schema's one service given as an array of tables ([[mdns]])"
    ),
}


def _self_declaration(node: ast.AST, parent: ast.AST | None) -> bool:
    """`NAME = "x"` at module level or `name = "x"` in a class: a probe naming itself once
    (docs/architecture.md: a probe class has a `name`)."""
    if not isinstance(parent, ast.Assign) or parent.value is not node:
        return False
    return [t.id for t in parent.targets if isinstance(t, ast.Name)] in (["NAME"], ["name"])


def spelled_names(root: Path, names: set[str]) -> set[tuple[str, str]]:
    """(file, name) for every string literal in camscan/ equal to a probe or format name,
    outside the registries and a probe module's own declaration of its name."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in REGISTRY_FILES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and node.value in names):
                continue
            if rel.startswith("discovery/") and _self_declaration(node, parents.get(node)):
                continue
            found.add((rel, str(node.value)))
    return found


def test_no_probe_or_format_name_is_spelled_outside_its_registry() -> None:
    names = set(probes.names()) | set(formats.FORMATS) | set(formats.DIFF_FORMATS)
    found = spelled_names(ROOT / "camscan", names)
    assert sorted(found - set(NOT_THE_NAME)) == []
    assert set(NOT_THE_NAME) <= found, "an entry of NOT_THE_NAME is gone: drop it"


def test_the_spelling_check_sees_a_name_and_allows_a_declaration(tmp_path: Path) -> None:
    (tmp_path / "discovery").mkdir()
    (tmp_path / "discovery" / "x.py").write_text(
        'NAME = "sadp"\nclass P:\n    name = "sadp"\n\nif NAME == "wsd":\n    pass\n'
    )
    (tmp_path / "cli.py").write_text('FORMATS = ("table", "json")\nNAME = "csv"\n')
    assert spelled_names(tmp_path, {"sadp", "wsd", "table", "json", "csv"}) == {
        ("discovery/x.py", "wsd"),
        ("cli.py", "table"),
        ("cli.py", "json"),
        ("cli.py", "csv"),  # a declaration counts only for a probe module
    }
