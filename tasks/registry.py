"""Task registry: name -> TaskSpec. Built-ins register on import; so do third-party packages
through the ``zsbench.tasks`` entry-point group; a folder path is a task too."""
from __future__ import annotations

from importlib import metadata
from pathlib import Path

from bench.core.errors import UserError
from tasks.spec import TaskSpec

_REGISTRY: dict[str, TaskSpec] = {}
_loaded = False


def register(spec: TaskSpec) -> TaskSpec:
    if spec.name in _REGISTRY and _REGISTRY[spec.name] != spec:
        raise ValueError(f"task '{spec.name}' is registered twice with different specs")
    _REGISTRY[spec.name] = spec
    return spec


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from tasks.builtin import builtin_specs
    from tasks.families import SPECS as generated

    for spec in [*builtin_specs(), *generated]:
        register(spec)
    for ep in metadata.entry_points(group="zsbench.tasks"):
        ep.load()


def list_tasks() -> list[TaskSpec]:
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_task(name_or_path: str) -> TaskSpec:
    """A registered task by name, or a task made from a path (folder, manifest, TOML file)."""
    _load_all()
    if name_or_path in _REGISTRY:
        return _REGISTRY[name_or_path]
    path = Path(name_or_path).expanduser()
    if path.exists():
        from tasks.taskfile import path_task

        return path_task(path)
    if "/" in name_or_path or path.suffix:
        raise UserError(f"task path not found: {name_or_path}; give an existing folder (one sub-folder per class), "
                        ".csv/.tsv manifest or .toml task file")
    import difflib

    close = difflib.get_close_matches(name_or_path, list(_REGISTRY), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UserError(f"unknown task '{name_or_path}': {hint}`zsbench tasks` lists them, or pass a folder path")
