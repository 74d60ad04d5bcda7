"""No import cycle between modules of harness/, read from the code's own imports with `ast`.

Every import counts: module-level and function-local (a cycle dodged by an import inside a function is
still a cycle). Only `if TYPE_CHECKING:` blocks are left out (they never run). Relative imports are
resolved; `from pkg import name` is an edge to `pkg.name` when that is a module, else to `pkg`.
Package level: no top-level package of harness (harness.<pkg>) imports one that imports it back, except the
edges named in PACKAGE_EDGES_ALLOWED (an explicit, shrinking list).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from tests.support import REPO

ROOT = REPO
PACKAGE = "harness"

# Package-level edges (importer, imported) still allowed inside a package-level cycle, each with its reason. The
# layering they go against, low to high: options, audit, backends, drive, report, ops. Shrink only.
PACKAGE_EDGES_ALLOWED: dict[tuple[str, str], str] = {
    ("harness.options", "harness.backends"): "--backend is checked against backends/registry.py, a leaf (errors only)",
}


@dataclass(frozen=True)
class Site:
    """Where an import edge is written."""

    path: Path
    line: int

    def __str__(self) -> str:
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}"


Graph = dict[str, dict[str, list[Site]]]


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file for every .py under root/package (a package's name is its __init__.py)."""
    found: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under node, at any depth, except inside `if TYPE_CHECKING:` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _imports(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _imports(child)


def _owner(name: str, modules: Mapping[str, Path]) -> str | None:
    """The longest known module that name is or lies in (an attribute of a module resolves to the module)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(stmt: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: Mapping[str, Path]) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [alias.name for alias in stmt.names]
    base = stmt.module or ""
    if stmt.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - stmt.level + 1]
        base = ".".join([*parts, base] if base else parts)
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in stmt.names]


def import_graph(root: Path, package: str) -> Graph:
    """module -> {imported module of the same package -> sites of those imports}."""
    modules = module_names(root, package)
    graph: Graph = {name: {} for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for stmt in _imports(tree):
            for target in _targets(stmt, name, path.name == "__init__.py", modules):
                owner = _owner(target, modules)
                site = Site(path, stmt.lineno)
                if owner is not None and owner != name and site not in graph[name].setdefault(owner, []):
                    graph[name][owner].append(site)
    return graph


def strongly_connected(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """Components of more than one node (Tarjan, iterative), each sorted; a node's own loop is ignored."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            nxt = next((s for s in successors if s in graph), None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _shortest_cycle(graph: Mapping[str, Mapping[str, object]], start: str, within: set[str]) -> list[str]:
    """Shortest path start -> ... -> start through nodes of `within` (breadth first)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node]):
            if nxt == start:
                path = [start]
                while node != start:
                    path.append(node)
                    node = came_from[node]
                return [start, *reversed(path[1:]), start]
            if nxt in within and nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return [start]


def describe_cycles(graph: Graph) -> list[str]:
    """One line block per cycle: a chain `a -> b -> a`, then each edge of the chain with file:line."""
    text = []
    for component in strongly_connected(graph):
        members = set(component)
        covered: set[str] = set()
        for start in component:
            if start in covered:
                continue
            chain = _shortest_cycle(graph, start, members)
            covered.update(chain)
            edges = [f"    {a} -> {b}  at {', '.join(str(s) for s in graph[a][b])}" for a, b in pairwise(chain)]
            text.append(" -> ".join(chain) + "\n" + "\n".join(edges))
    return text


def package_of(module: str) -> str:
    """harness.<pkg> of a module (a top-level module such as harness.errors is its own package)."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: Graph) -> Graph:
    """Module edges aggregated by harness.<pkg>, leaving out the edges allowed in PACKAGE_EDGES_ALLOWED."""
    packages: Graph = {}
    for module, targets in graph.items():
        mine = packages.setdefault(package_of(module), {})
        for target, sites in targets.items():
            theirs = package_of(target)
            packages.setdefault(theirs, {})
            if theirs != package_of(module) and (package_of(module), theirs) not in PACKAGE_EDGES_ALLOWED:
                mine.setdefault(theirs, []).extend(sites)
    return packages


def test_no_module_import_cycle() -> None:
    cycles = describe_cycles(import_graph(ROOT, PACKAGE))
    assert not cycles, "import cycles between modules of harness/:\n" + "\n".join(cycles)


def test_no_package_import_cycle() -> None:
    cycles = describe_cycles(package_graph(import_graph(ROOT, PACKAGE)))
    assert not cycles, "import cycles between packages of harness/:\n" + "\n".join(cycles)


def test_allowed_package_edges_exist() -> None:
    """An allowed package edge that is gone from the code leaves the list (so the list only shrinks)."""
    graph = import_graph(ROOT, PACKAGE)
    present = {(package_of(m), package_of(t)) for m, targets in graph.items() for t in targets}
    assert set(PACKAGE_EDGES_ALLOWED) <= present, set(PACKAGE_EDGES_ALLOWED) - present


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_detector_finds_a_function_local_cycle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": "thing = 1\n\n\ndef late():\n    from . import a\n    return a\n",
        },
    )
    (cycle,) = describe_cycles(import_graph(tmp_path, "pkg"))
    assert cycle.splitlines()[0] == "pkg.a -> pkg.b -> pkg.a"
    assert "pkg/a.py:1" in cycle
    assert "pkg/b.py:5" in cycle


def test_detector_resolves_packages_and_skips_type_checking(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .sub import CONST\n",
            "pkg/sub/__init__.py": "CONST = 1\n",
            "pkg/sub/leaf.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg\nfrom .. import sub\n",
            "pkg/other.py": "import pkg.sub.leaf\nfrom pkg import sub\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert set(graph["pkg"]) == {"pkg.sub"}
    assert set(graph["pkg.sub.leaf"]) == {"pkg.sub"}
    assert set(graph["pkg.other"]) == {"pkg.sub.leaf", "pkg.sub"}
    assert describe_cycles(graph) == []
    graph["pkg.sub"]["pkg"] = [Site(tmp_path / "x.py", 1)]
    assert strongly_connected(graph) == [["pkg", "pkg.sub"]]
