"""The layers, checked from the source with ``ast`` (every import, also those inside functions and
under ``if TYPE_CHECKING``):

    floor (bench.core) < prompts < tasks < models < engine < report < protocols < apps < commands < cli.py

Each module imports only from its own layer or below; besides that, a protocol never imports the
runner, no module imports another module's private name or reaches into a private member another module
defines (``obj._member``, other than on self/cls/super()), and no two modules import each other,
directly or round a loop. The checker is shown to catch planted violations (an upward import
inside a function, a protocol that imports the runner, a private import, a cycle).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("bench", "prompts", "tasks")

#: layer -> rank; a module may import a module of the same or a lower rank
RANKS = {"floor": 0, "prompts": 1, "tasks": 2, "models": 3, "engine": 4, "report": 5, "protocols": 6, "apps": 7,
         "commands": 8, "cli": 9}
#: module-name prefixes of each layer inside bench (the floor also holds the bare ``bench`` package)
BENCH_LAYERS = {"bench.core": "floor", "bench.models": "models", "bench.engine": "engine",
                "bench.protocols": "protocols", "bench.report": "report", "bench.apps": "apps",
                "bench.contracts": "apps", "bench.commands": "commands"}
#: (importer prefix, imported module): imports forbidden although the layers allow them
FORBIDDEN = (("bench.protocols", "bench.engine.runner"),)


def our_modules(root: Path = REPO) -> dict[str, Path]:
    mods = {"cli": root / "cli.py"}
    for pkg in PACKAGES:
        for path in (root / pkg).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def imports_of(mod: str, path: Path, mods: dict[str, Path]) -> list[tuple[str, str | None]]:
    """(module of ours, imported name or None) for every import statement anywhere in the file."""
    is_pkg = path.name == "__init__.py"
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                out.append((full, None) if full in mods else (base, a.name))
    resolved = []
    for target, name in out:
        while target and target not in mods:  # `import bench.core.net` -> the deepest module of ours
            target = target.rpartition(".")[0]
        if target and target != mod:
            resolved.append((target, name))
    return resolved


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    return {m: {t for t, _ in imports_of(m, p, mods)} for m, p in mods.items()}


def layer(mod: str) -> str:
    if mod == "cli":
        return "cli"
    if mod == "bench":
        return "floor"
    for prefix, name in BENCH_LAYERS.items():
        if mod == prefix or mod.startswith(prefix + "."):
            return name
    top = mod.split(".")[0]
    if top in ("prompts", "tasks"):
        return top
    raise AssertionError(f"{mod} belongs to no layer: give it one in BENCH_LAYERS (and docs/architecture.md)")


def private_members(mods: dict[str, Path]) -> dict[str, set[str]]:
    """``_name`` -> the modules of ours that define it as a member (a method, or an attribute set on self)."""
    out: dict[str, set[str]] = {}
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ClassDef):
                names = [n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
                names += [t.id for n in node.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                          for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)]
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                    and isinstance(node.value, ast.Name) and node.value.id == "self":
                names = [node.attr]
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    out.setdefault(name, set()).add(mod)
    return out


def private_accesses(mods: dict[str, Path]) -> list[str]:
    """``obj._member`` where ``_member`` is a private member defined by another module of ours (an object of
    another module reached into), not on ``self``/``cls``/``super()``."""
    members, bad = private_members(mods), []
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Attribute) and node.attr in members and mod not in members[node.attr]):
                continue
            value = node.value
            if isinstance(value, ast.Name) and value.id in ("self", "cls"):
                continue
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super":
                continue
            owners = ", ".join(sorted(members[node.attr]))
            bad.append(f"{mod}:{node.lineno} -> {ast.unparse(node)}: a private member of {owners}")
    return bad


def violations(mods: dict[str, Path]) -> list[str]:
    """Every import that breaks a rule, as 'importer -> imported: why', and every reach into another module's
    private members."""
    bad = private_accesses(mods)
    for mod, path in mods.items():
        for target, name in imports_of(mod, path, mods):
            if RANKS[layer(target)] > RANKS[layer(mod)]:
                bad.append(f"{mod} -> {target}: {layer(mod)} may not import {layer(target)}")
            for prefix, forbidden in FORBIDDEN:
                if mod.startswith(prefix) and target == forbidden:
                    bad.append(f"{mod} -> {target}: forbidden")
            if name and name.startswith("_") and not name.startswith("__"):
                bad.append(f"{mod} -> {target}.{name}: a private name")
    graph = import_graph(mods)
    bad += [f"cycle: {' <-> '.join(g)}" for g in strongly_connected(graph) if len(g) > 1]
    return bad


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


def test_every_module_has_a_layer():
    for mod in our_modules():
        layer(mod)


def test_the_layers_hold():
    bad = violations(our_modules())
    assert not bad, "imports that break the layers:\n" + "\n".join(bad)


PLANTED = {
    # an upward import hidden inside a function: a backend that reaches for the engine's classifier cache
    "bench.models.planted_backend": "def later():\n    from bench.engine.classifiers import cached_classifier\n"
                                    "    return cached_classifier\n",
    # a protocol that runs the runner (allowed by rank, forbidden by rule), under TYPE_CHECKING
    "bench.protocols.planted_protocol": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                        "    from bench.engine.runner import Runner\n",
    # a private name of another module
    "bench.report.planted_private": "from bench.engine.records import _private_helper\n",
    # a private member of another module's object (an app reaching into the probe's search)
    "bench.apps.planted_reach": "def f(probe):\n    return probe._fit_classes([0, 1])\n",
    # two modules of one layer that import each other
    "bench.engine.planted_a": "def f():\n    import bench.engine.planted_b\n",
    "bench.engine.planted_b": "from bench.engine import planted_a\n",
}


def test_the_checker_catches_planted_violations(tmp_path):
    mods = our_modules()
    for name, source in PLANTED.items():
        path = tmp_path / (name.replace(".", "_") + ".py")
        path.write_text(source)
        mods[name] = path
    found = "\n".join(violations(mods))
    assert "bench.models.planted_backend -> bench.engine.classifiers: models may not import engine" in found
    assert "bench.protocols.planted_protocol -> bench.engine.runner: forbidden" in found
    assert "bench.report.planted_private -> bench.engine.records._private_helper: a private name" in found
    assert "cycle: bench.engine.planted_a <-> bench.engine.planted_b" in found
    assert "bench.apps.planted_reach:2 -> probe._fit_classes: a private member of bench.engine.linear_probe" in found
    assert len(violations(our_modules())) == 0


@pytest.mark.parametrize("graph, cyclic", [({"a": {"b"}, "b": {"a"}}, True), ({"a": {"b"}, "b": set()}, False),
                                           ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True)])
def test_the_cycle_finder_finds_cycles(graph, cyclic):
    assert any(len(g) > 1 for g in strongly_connected(graph)) == cyclic
