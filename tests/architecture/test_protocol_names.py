"""No code outside ``bench/protocols/`` branches on a protocol's name or on the old roles ("probe", "few-shot",
"shift"): a protocol reaches the engine, the report and the commands through what it declares, so a plug-in's
protocol is served exactly as a built-in one. Checked from the source with ``ast``: every comparison (``==``,
``!=``, ``in``, ``not in``) one of whose sides is such a string, or a tuple/list/set holding one.

``zsbench perf``'s own sections are called ``zeroshot`` and ``probe``: those comparisons name a section of the
perf command, not a protocol, and only its two modules may make them.
"""
from __future__ import annotations

import ast
from pathlib import Path

from bench.engine.protocol_registry import protocol_names

REPO = Path(__file__).resolve().parents[2]
#: the roles built-in protocols were once reached through (issue 34 removed them)
OLD_ROLES = ("probe", "few-shot", "shift")
#: modules whose comparisons with these strings are about something else, and what
OTHER_MEANING = {"bench/apps/perf/__init__.py": "perf's section names", "bench/commands/perf.py": "perf's section names"}


def _strings(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(_strings(e) for e in node.elts))
    return set()


def name_comparisons(paths: list[Path], names: set[str]) -> list[str]:
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                hit = set().union(*(_strings(side) for side in (node.left, *node.comparators))) & names
                if hit:
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def checked_files() -> list[Path]:
    files = [REPO / "cli.py", *sorted((REPO / "bench").rglob("*.py"))]
    return [p for p in files if "protocols" not in p.relative_to(REPO).parts
            and p.relative_to(REPO).as_posix() not in OTHER_MEANING]


def test_no_code_outside_the_protocols_compares_a_protocol_name():
    names = set(protocol_names()) | set(OLD_ROLES)
    assert {"zeroshot", "linear-probe", "caption-selection"} <= names  # the registry was read
    found = name_comparisons(checked_files(), names)
    assert not found, "protocol names compared outside bench/protocols:\n" + "\n".join(found)


def test_the_check_catches_a_planted_branch(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f(record):\n    if record.protocol in ('linear-probe', 'other'):\n        return 1\n"
                       "    return record.role == 'shift'\n")
    found = name_comparisons([planted], set(protocol_names()) | set(OLD_ROLES))
    assert [f.split(":")[1] for f in found] == ["2", "4"]
