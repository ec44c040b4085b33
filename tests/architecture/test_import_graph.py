"""The package-level import graph of src/fiduciary keeps its layering (issue 11).

Built with `ast` from the source, so it sees every import: at module level, inside functions and under
`TYPE_CHECKING`, all treated the same (a deferred import is still a dependency, only a hidden one). A node is
a package of `fiduciary` (`consent`, `web`) or a top-level module (`config`, `runtime`); imports inside one
package are not edges.

The module that imports every domain's tables so that `Base.metadata` is complete for Alembic is
`fiduciary.migrations.metadata`: `migrations` sits above all the domains and nothing imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "fiduciary"
DOMAINS = frozenset(
    {
        "policy",
        "ledger",
        "people",
        "consent",
        "decisions",
        "disclosures",
        "vault",
        "audit",
        "rights",
        "comms",
        "auth",
        "storage",
        "identity",
        "cases",
        "retention",
        "workflow",
    }
)
EDGE_LAYERS = frozenset({"web", "cli"})
# The domains below each base layer: `storage` depends on no domain, `ledger` on `storage` alone, and the one
# workflow engine (state machine, versioned transition, deadlines) that rights and cases share on `policy`
# alone, so neither of them is the other's engine.
BASE_ALLOWED = {
    "storage": frozenset[str](),
    "ledger": frozenset({"storage"}),
    "workflow": frozenset({"policy"}),
}

# Every cycle between packages was removed in issue 11; this stays empty.
KNOWN_CYCLES = frozenset[tuple[str, ...]]()


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _node(module: str) -> str | None:
    """`fiduciary.consent.service` → `consent`; `fiduciary.config` → `config`; the root and others → None."""
    parts = module.split(".")
    if parts[0] != "fiduciary" or len(parts) < 2:
        return None
    return parts[1]


def _imported(path: Path, root: Path) -> Iterator[str]:
    """Every module (or `package.name`, which names the same package) that the file imports, absolute."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == "fiduciary":  # `from fiduciary import consent` names packages directly
                yield from (f"fiduciary.{alias.name}" for alias in node.names)
            else:
                yield target


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Package → the packages it imports, over every .py file under `root` (self-imports dropped)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        source = _node(_module_name(path, root))
        if source is None:
            continue
        targets = graph.setdefault(source, set())
        for name in _imported(path, root):
            target = _node(name)
            if target is not None and target != source:
                targets.add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Every elementary cycle, each rotated to start at its smallest name (so it has one spelling)."""
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                found.add(tuple(path))
            elif nxt > start and nxt not in path:  # only cycles whose smallest node is `start`
                walk(start, nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


GRAPH = import_graph()


def test_the_graph_sees_every_package() -> None:
    assert set(GRAPH) >= DOMAINS | EDGE_LAYERS
    assert "storage" in GRAPH["ledger"] and "web" in GRAPH["cli"]  # known edges: the walk finds imports


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_no_domain_imports_the_web_or_cli_layer(domain: str) -> None:
    assert not GRAPH[domain] & EDGE_LAYERS, f"{domain} imports {sorted(GRAPH[domain] & EDGE_LAYERS)}"


def test_web_and_cli_are_imported_only_by_each_other() -> None:
    importers = {source for source, targets in GRAPH.items() if targets & EDGE_LAYERS}
    assert importers <= EDGE_LAYERS, sorted(importers - EDGE_LAYERS)


@pytest.mark.parametrize("base", sorted(BASE_ALLOWED))
def test_base_layers_import_no_higher_domain(base: str) -> None:
    higher = GRAPH[base] & DOMAINS - BASE_ALLOWED[base]
    assert not higher, f"{base} imports {sorted(higher)}"


def test_the_table_aggregator_sits_in_migrations_which_nothing_imports() -> None:
    importers = {source for source, targets in GRAPH.items() if "migrations" in targets}
    assert not importers, sorted(importers)
    assert {"consent", "vault", "ledger"} <= GRAPH["migrations"]


def test_package_cycles_are_exactly_the_known_ones() -> None:
    found = cycles(GRAPH)
    new = sorted(found - KNOWN_CYCLES)
    gone = sorted(KNOWN_CYCLES - found)
    assert not new, f"new import cycles between packages: {new}"
    assert not gone, f"these cycles are gone: remove them from KNOWN_CYCLES: {gone}"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """A crafted tree: a deferred relative import from a domain into web, and a two-package cycle."""
    root = tmp_path / "fiduciary"
    for package in ("storage", "web", "vault"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "storage" / "engine.py").write_text("def f() -> None:\n    from ..web import app\n")
    (root / "vault" / "a.py").write_text("from fiduciary import storage\n")
    (root / "web" / "app.py").write_text("import fiduciary.vault.a\n")
    graph = import_graph(root)
    assert graph == {"storage": {"web"}, "web": {"vault"}, "vault": {"storage"}}
    assert cycles(graph) == {("storage", "web", "vault")}


def _function_level_imports(root: Path) -> Iterator[tuple[str, int, str]]:
    """(file, line, source line) of every import inside a function, outside the CLI (whose commands import
    lazily so that `fiduciary --help` stays fast; tests/cli/test_cli_imports.py keeps those in line)."""
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] == "cli":
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        yield str(path.relative_to(root)), inner.lineno, lines[inner.lineno - 1]


def test_no_import_inside_a_function_hides_a_dependency() -> None:
    """Issue 11: a lazy import is allowed only for a heavy or optional dependency, said so on its line."""
    hidden = [f"{f}:{n}: {line.strip()}" for f, n, line in _function_level_imports(SRC) if "# lazy:" not in line]
    assert not hidden, "imports inside functions (move them up, or say why with '# lazy: …'):\n" + "\n".join(hidden)


def test_the_function_level_import_check_can_fail(tmp_path: Path) -> None:
    root = tmp_path / "fiduciary"
    (root / "vault").mkdir(parents=True)
    (root / "vault" / "a.py").write_text("def f() -> None:\n    from fiduciary import rights\n")
    assert [(f, n) for f, n, _ in _function_level_imports(root)] == [("vault/a.py", 2)]


# The modules of the edge layers that expose the audit trail and the ledger themselves (issue 11): the audit
# query route, the public-key route, and the `ledger` and `audit` commands. Everything else reaches them only
# through a domain flow and its unit of work.
EXPOSES_AUDIT_OR_LEDGER = frozenset(
    {"web/routes/audit.py", "web/routes/signing_keys.py", "cli/ledger.py", "cli/audit.py"}
)


def _importers_of_audit_or_ledger(root: Path) -> set[str]:
    found = set()
    for layer in EDGE_LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            if any(_node(name) in {"audit", "ledger"} for name in _imported(path, root)):
                found.add(str(path.relative_to(root)))
    return found


def test_web_and_cli_reach_audit_and_ledger_only_through_flows() -> None:
    importers = _importers_of_audit_or_ledger(SRC)
    assert importers <= EXPOSES_AUDIT_OR_LEDGER, sorted(importers - EXPOSES_AUDIT_OR_LEDGER)
    assert importers == EXPOSES_AUDIT_OR_LEDGER  # the exposing modules still do, so the walk sees imports


# Domain packages whose `__init__.py` names, in `__all__`, the modules other packages may import (issue 11).
PUBLIC_SURFACES = (
    "audit",
    "auth",
    "comms",
    "consent",
    "decisions",
    "disclosures",
    "ledger",
    "people",
    "personal_data",
    "policy",
    "rights",
    "vault",
)


def _declared_surface(package: str, root: Path = SRC) -> set[str]:
    tree = ast.parse((root / package / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return {elt.value for elt in ast.walk(node.value) if isinstance(elt, ast.Constant)}
    return set()


def _imported_from_outside(package: str, root: Path = SRC) -> dict[str, set[str]]:
    """module of `package` -> the files of other packages that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if _node(_module_name(path, root)) == package:
            continue
        for name in _imported(path, root):
            parts = name.split(".")
            if parts[:2] == ["fiduciary", package] and len(parts) > 2:
                found.setdefault(parts[2], set()).add(str(path.relative_to(root)))
    return found


@pytest.mark.parametrize("package", PUBLIC_SURFACES)
def test_other_packages_import_only_the_public_surface(package: str) -> None:
    surface = _declared_surface(package)
    assert surface, f"fiduciary/{package}/__init__.py names no __all__"
    assert all((SRC / package / f"{m}.py").exists() or (SRC / package / m).is_dir() for m in surface), surface
    private = {m: sorted(f) for m, f in _imported_from_outside(package).items() if m not in surface}
    assert not private, f"add to {package}.__all__, or import what it names instead: {private}"
