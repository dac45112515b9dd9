"""The layers, checked from the source with ``ast`` (every import, also those inside functions):

- the floor (``bench.core``) imports nothing else of ours;
- ``prompts`` imports only itself and the floor; ``tasks`` only itself, ``prompts`` and the floor;
- nothing imports the CLI; and no two of our modules import each other, directly or round a loop.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("bench", "prompts", "tasks")


def our_modules() -> dict[str, Path]:
    mods = {"cli": REPO / "cli.py"}
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def import_graph() -> dict[str, set[str]]:
    mods = our_modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:  # `import bench.core.net` -> the deepest module of ours
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def layer(mod: str) -> str:
    if mod == "cli":
        return "cli"
    if mod == "bench.core" or mod.startswith("bench.core."):
        return "floor"
    return mod.split(".")[0]


ALLOWED = {"floor": {"floor"}, "prompts": {"prompts", "floor"}, "tasks": {"tasks", "prompts", "floor"},
           "bench": {"bench", "tasks", "prompts", "floor"}, "cli": {"cli", "bench", "tasks", "prompts", "floor"}}


def test_the_checker_sees_imports_inside_functions():
    graph = import_graph()
    assert "bench.core.errors" in graph["cli"] or any(layer(t) == "bench" for t in graph["cli"])
    assert "tasks.spec" in graph["tasks.registry"]


def test_layers_import_only_downwards():
    bad = [f"{m} -> {t}" for m, ts in import_graph().items() for t in sorted(ts) if layer(t) not in ALLOWED[layer(m)]]
    assert not bad, "imports that run up the layers:\n" + "\n".join(bad)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that reach each other."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    cycles = [g for g in strongly_connected(import_graph()) if len(g) > 1]
    assert not cycles, "modules that import each other: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("graph, cyclic", [({"a": {"b"}, "b": {"a"}}, True), ({"a": {"b"}, "b": set()}, False),
                                           ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True)])
def test_the_cycle_finder_finds_cycles(graph, cyclic):
    assert any(len(g) > 1 for g in strongly_connected(graph)) == cyclic
