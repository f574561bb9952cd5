"""Imports point one way: foundation <- discovery <- identify <- policy <- contract <- report, store.

Every module under camscan/ is parsed (no import needed, so nothing is executed). An import
inside `if TYPE_CHECKING:` is left out: it is a type annotation, not a runtime dependency.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "camscan"

# Plain values and small helpers every stage may use; they import nothing from the stages.
FOUNDATION = {
    "camscan",
    "errors",
    "model",
    "channels",
    "macaddr",
    "netif",
    "targets",
    "data",
    "identity",
    "labguard",
    "settings",
}
# The pipeline's stages, in the order data flows. A stage may import the foundation and any
# stage in a tier before it, never one in its own tier or after it: report and store both
# write the JSON contract (camscan/contract.py) and neither imports the other.
STAGES = [{"discovery"}, {"identify"}, {"policy"}, {"contract"}, {"report", "store"}, {"history"}]
TIER = {stage: n for n, tier in enumerate(STAGES) for stage in tier}
# Each extension point's registry or vocabulary: leaf modules any layer may read (the config
# schema and the CLI choices come from them), importing only the foundation.
VOCABULARY = {"discovery.registry", "report.registry", "report.interface", "identify.makers"}
# What wires the stages together; nothing below imports these.
WIRING = {
    "config",
    "pipeline",
    "coverage",
    "status",
    "service",
    "service_store",
    "service_offline",
    "stopping",
    "runinfo",
    "cli",
    "__main__",
}
# The emulated lab: a test tool outside the pipeline; no pipeline module imports it.
TOOLS = {"lab"}
# Known backward imports still to remove, each with its reason. The test below fails when one
# is gone (so the list only shrinks) and when any other appears.
KNOWN: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(path: Path) -> set[str]:
    """camscan modules `path` imports at run time (module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path).split(".")
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for stmt in node.orelse:
                visit(stmt)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "camscan")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me if is_package else me[:-1]
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            if mod.split(".")[0] == "camscan":
                found.add(mod)
                found.update(f"{mod}.{a.name}" for a in node.names)  # `from camscan import x`
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _known(mod: str, modules: set[str]) -> str | None:
    while mod and mod not in modules:
        mod = mod.rpartition(".")[0]
    return mod or None


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {
        m: {k for i in runtime_imports(p) if (k := _known(i, modules)) and k != m}
        for m, p in paths.items()
    }


def unit(mod: str) -> str:
    """The architectural unit of a module: its vocabulary module, or its top-level package."""
    rel = mod.removeprefix("camscan.") if mod != "camscan" else "camscan"
    for v in VOCABULARY:
        if rel == v or rel.startswith(v + "."):
            return v
    return rel.split(".")[0]


def layer(u: str) -> tuple[int, str]:
    if u in FOUNDATION:
        return (0, "foundation")
    if u in VOCABULARY:
        return (1, "vocabulary")
    if u in TIER:
        return (2 + TIER[u], u)
    if u in TOOLS:
        return (90, u)
    if u in WIRING:
        return (100, "wiring")
    raise AssertionError(f"camscan.{u}: not placed in any layer; add it to test_architecture.py")


def allowed(src: str, dst: str) -> bool:
    (ls, _), (ld, _) = layer(src), layer(dst)
    if src == dst or ld == 0:
        return True  # itself, or the foundation
    if src in FOUNDATION:
        return False
    if src in VOCABULARY:  # leaves: only the foundation and their own package's vocabulary
        return dst in VOCABULARY and dst.split(".")[0] == src.split(".")[0]
    if dst in VOCABULARY:
        return True
    if src in TIER:
        return dst in TIER and ld < ls
    if src in TOOLS:
        return dst in TIER or dst in TOOLS  # the lab may use any stage's parsers
    return src in WIRING  # wiring may import anything


def test_every_module_is_placed_in_a_layer() -> None:
    for mod in graph():
        layer(unit(mod))


def test_imports_point_one_way_between_layers_and_stages() -> None:
    backward = {
        (src, dst)
        for src, dsts in graph().items()
        for dst in dsts
        if not allowed(unit(src), unit(dst))
    }
    bad = sorted(
        f"{src} imports {dst} ({layer(unit(src))[1]} -> {layer(unit(dst))[1]})"
        for src, dst in backward - set(KNOWN)
    )
    assert bad == []
    assert set(KNOWN) <= backward, "a known backward import is gone: drop it from KNOWN"


def test_no_import_cycle_between_units() -> None:
    edges: dict[str, set[str]] = {}
    for src, dsts in graph().items():
        for dst in dsts:
            if unit(src) != unit(dst):
                edges.setdefault(unit(src), set()).add(unit(dst))
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif len(path) < 12:
                walk(nxt, [*path, nxt])

    for start in sorted(edges):
        walk(start, [start])
    assert cycles == []


def test_the_cli_package_has_no_cycle_between_main_and_the_commands() -> None:
    g = graph()
    assert not {d for d in g["camscan.cli.main"] if d.endswith("_cmd")}  # registered by name
    for mod, deps in g.items():
        if mod.startswith("camscan.cli."):
            assert "camscan.cli.main" not in deps, f"{mod} imports cli.main (a cycle)"


def test_the_checker_sees_imports_and_would_catch_a_backward_one(tmp_path: Path) -> None:
    src = tmp_path / "camscan" / "identify" / "x.py"
    src.parent.mkdir(parents=True)
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "from camscan.model import Device\n"
        "if TYPE_CHECKING:\n    from camscan.report import render\n"
        "def f():\n    from camscan.policy.rules import evaluate\n    from . import engine\n"
    )
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "camscan"
    try:
        found = runtime_imports(src)
    finally:
        PACKAGE = saved
    assert "camscan.model" in found and "camscan.policy.rules" in found
    assert "camscan.identify.engine" in found
    assert not any(f.startswith("camscan.report") for f in found)
    assert not allowed("identify", "policy") and allowed("policy", "identify")
    assert not allowed("store", "history") and not allowed("model", "identify")
    assert not allowed("store", "report") and not allowed("report", "store")
    assert allowed("store", "contract") and allowed("report", "contract")
    assert not allowed("contract", "report") and allowed("contract", "policy")


# Import cycles between modules of one package, which the unit graph above cannot see (both
# ends are one unit). Known ones, each with its reason; the test fails when one is gone (so the
# list only shrinks) and when any other appears.
KNOWN_CYCLES: dict[frozenset[str], str] = {
    # none: the application service (camscan/service*.py) ended scan_cmd <-> history_cmd and
    # identify_cmd <-> passive_cmd (cli/stored.py and cli/offline.py hold what both ends shared)
}


def module_graph() -> dict[str, set[str]]:
    """Module -> the camscan modules it imports at run time. `from package import module`
    is an edge to the module only (the package's __init__ is not a dependency of it)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    edges: dict[str, set[str]] = {}
    for mod, path in paths.items():
        found = runtime_imports(path)
        submodules = {f for f in found if f in modules and f.rpartition(".")[0] in found}
        packages_only_for_submodules = {
            f.rpartition(".")[0]
            for f in submodules
            if not any(
                g.rpartition(".")[0] == f.rpartition(".")[0] and g not in modules for g in found
            )
        }
        edges[mod] = {
            k
            for i in found - packages_only_for_submodules
            if (k := _known(i, modules)) and k != mod
        }
    return edges


def module_cycles(edges: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected sets of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return found


def test_no_import_cycle_between_modules_of_a_package() -> None:
    cycles = module_cycles(module_graph())
    assert sorted(sorted(c) for c in cycles - set(KNOWN_CYCLES)) == []
    assert set(KNOWN_CYCLES) <= cycles, "a known cycle is gone: drop it from KNOWN_CYCLES"


def test_the_cycle_check_sees_a_cycle_through_function_level_imports() -> None:
    edges = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert module_cycles(edges) == {frozenset({"a.x", "a.y", "a.z"})}
    assert module_cycles({"a.x": {"a.y"}, "a.y": set()}) == set()
    assert "camscan.service" in module_graph()["camscan.cli.history_cmd"]  # inside sweep()


# Dotted camscan names in comments and docstrings must name something that exists: a comment
# that names a function gone since is worse than none.
DOTTED = re.compile(r"\bcamscan(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _defines(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def _comment_texts(path: Path) -> list[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    texts = [
        (tok.start[0], tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                texts.append((getattr(node, "lineno", 1), doc))
    return texts


def stale_references(root: Path) -> list[str]:
    """`camscan.x.y` in comments and docstrings under `root` that name no module, or no
    name defined in the module they point into."""
    files = {module_name(p): p for p in root.rglob("*.py")}
    defined: dict[str, set[str]] = {}
    stale = []
    for path in sorted(root.rglob("*.py")):
        for line, text in _comment_texts(path):
            for ref in DOTTED.findall(text):
                parts = ref.split(".")
                if parts[-1] in ("toml", "py", "json"):
                    continue  # a file name (camscan.toml), not a module
                n = max(i for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in files)
                rest = parts[n:]
                mod = ".".join(parts[:n])
                if rest and rest[0] not in defined.setdefault(mod, _defines(files[mod])):
                    stale.append(f"{path.relative_to(root.parent)}:{line}: {ref}")
    return stale


def test_comments_name_only_modules_and_functions_that_exist() -> None:
    assert stale_references(PACKAGE) == []
