"""Named suites: ``@NAME`` stands for a list of tasks, kept as a data file users can copy and edit.

``@clip`` reads ``tasks/data/suites/clip.txt`` (shipped); ``@path/to/my_suite.txt`` reads a file
of one's own. A suite file has one task per line (a registered name or a path); ``#`` starts a
comment, and ``@other`` lines include another suite. Suites work wherever a task name does.
"""
from __future__ import annotations

from pathlib import Path

from bench.core.errors import UserError
from bench.core.registry import Registry
from bench.core.paths import user_path

SUITES_DIR = Path(__file__).parent / "data" / "suites"

#: suite name -> its file (a Path) or its task names (a list); the shipped files register themselves,
#: plug-ins through the entry-point group ``zsbench.suites`` (a "module:attr" naming a path or a list)
SUITES: Registry[Path | list[str]] = Registry("suite", "zsbench.suites")
for _file in sorted(SUITES_DIR.glob("*.txt")):
    SUITES.register(_file.stem, _file)


def suite_names() -> list[str]:
    return sorted(SUITES.names())


def _suite(name: str) -> Path | list[str]:
    """A registered suite's file or task list, or a suite file of one's own."""
    ref = name[1:] if name.startswith("@") else name
    path = user_path(ref)
    if path.suffix and path.is_file():
        return path
    if ref in SUITES:
        value = SUITES.get(ref)
        return Path(value) if isinstance(value, str) else value
    raise UserError(f"unknown suite '@{ref}': use one of {', '.join('@' + s for s in suite_names())}, or "
                    "@path/to/suite.txt (one task per line)")


def suite_file(name: str) -> Path:
    """The file of a suite (a plug-in's suite given as a list has none: a UserError says so)."""
    value = _suite(name)
    if isinstance(value, list):
        raise UserError(f"suite '{name}' is a list registered by a plug-in, not a file")
    return value


def read_suite(name: str, _seen: tuple[str, ...] = ()) -> list[str]:
    """The tasks of a suite, in file order, included suites expanded; duplicates kept once."""
    value = _suite(name)
    if isinstance(value, list):
        return list(dict.fromkeys(value))
    path = value
    if str(path) in _seen:
        raise UserError(f"suite {path} includes itself (through {' -> '.join(_seen)})")
    tasks: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tasks += read_suite(line, _seen + (str(path),)) if line.startswith("@") else [line]
    if not tasks:
        raise UserError(f"suite {path} lists no task")
    return list(dict.fromkeys(tasks))


def expand_task_names(names: list[str]) -> list[str]:
    """Task names with every ``@suite`` replaced by its tasks (order kept, duplicates once)."""
    out: list[str] = []
    for name in names:
        out += read_suite(name) if name.startswith("@") else [name]
    return list(dict.fromkeys(out))
