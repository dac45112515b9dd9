"""Task registry: name -> TaskSpec. Built-ins register on first lookup; third-party packages through
the ``zsbench.tasks`` entry-point group (the entry point loads a TaskSpec, a list of them, or a
module that calls :func:`register`); a folder, manifest or TOML path is a task too."""
from __future__ import annotations

from typing import Any

from bench.core.errors import UserError
from bench.core.registry import Registry
from tasks.spec import TaskSpec
from bench.core.paths import user_path


def _task_plugin(registry: "Registry[TaskSpec]", ep: Any) -> None:
    """A task plug-in names its tasks itself: load it now and register what it gives."""
    value = ep.load()
    specs = [value] if isinstance(value, TaskSpec) else list(value) if isinstance(value, (list, tuple)) else []
    for spec in specs:
        register(spec)


#: CLIP_benchmark's ``--task`` values (what to evaluate) -> our protocol option
CLIP_BENCHMARK_TASKS = {"zeroshot_classification": "--protocol zeroshot", "zeroshot_retrieval": "--protocol retrieval",
                        "linear_probe": "--protocol linear-probe", "captioning": "not a zsbench protocol",
                        "image_caption_selection": "not a zsbench protocol"}

def _register_builtins() -> None:
    from tasks.builtin import builtin_specs
    from tasks.families import SPECS as generated

    for spec in [*builtin_specs(), *generated]:
        register(spec)


TASKS: Registry[TaskSpec] = Registry("task", "zsbench.tasks", on_plugin=_task_plugin, builtins=_register_builtins)


def register(spec: TaskSpec) -> TaskSpec:
    TASKS.register(spec.name, spec)
    return spec


def list_tasks() -> list[TaskSpec]:
    return [TASKS.get(k) for k in sorted(TASKS.names())]


def get_task(name_or_path: str) -> TaskSpec:
    """A registered task by name, or a task made from a path (folder, manifest, TOML file)."""
    if name_or_path in TASKS:
        return TASKS.get(name_or_path)
    from tasks.sources.wds_url import is_url

    if is_url(name_or_path):
        from tasks.taskfile import url_task

        return url_task(name_or_path)
    path = user_path(name_or_path)
    if path.exists():
        from tasks.taskfile import path_task

        return path_task(path)
    from tasks.reference_names import reference_task, unmapped_hint

    theirs = reference_task(name_or_path)  # CLIP_benchmark's / DataComp's name for one of ours
    if theirs is not None:
        return TASKS.get(theirs)
    hint = unmapped_hint(name_or_path)
    if hint is not None:
        raise UserError(hint)
    if "/" in name_or_path or path.suffix:
        raise UserError(f"task path not found: {name_or_path}; give an existing folder (one sub-folder per class), "
                        ".csv/.tsv manifest or .toml task file")
    if name_or_path in CLIP_BENCHMARK_TASKS:
        raise UserError(f"'{name_or_path}' is CLIP_benchmark's --task (what to evaluate); here that is "
                        f"{CLIP_BENCHMARK_TASKS[name_or_path]}, and --task names the dataset")
    import difflib

    close = difflib.get_close_matches(name_or_path, TASKS.names(), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UserError(f"unknown task '{name_or_path}': {hint}`zsbench tasks` lists them, or pass a folder path")
