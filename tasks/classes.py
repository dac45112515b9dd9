"""Class names and templates for an opened task: the spec's sets matched to the data's labels.

The rules, in order: a source may override the task's class names (CLIP_benchmark's webdataset
copies carry their own ``classnames.txt`` in their own order); ``"source"`` takes the data's
own names; a ``{data name: class name}`` map renames the data's names; a named set can be
reordered to the data's label order (``order_by_source``); a shift task over a subset of its
parent's classes picks those classes from the parent's list; finally the task's renames apply.
"""
from __future__ import annotations

from bench.core.errors import UserError
from prompts.classnames import ClassName, apply_renames, display_name, get_classnames, validate_classnames
from prompts.templates import get_templates, split_key
from tasks.sources.base import ImageSource
from tasks.spec import TaskSpec
from tasks.subsets import class_subset

SOURCE_NAMES = ("source", "folder")


def _source_names(task: TaskSpec, source: ImageSource) -> list[ClassName]:
    if not source.classes:
        raise UserError(f"task {task.name}: class names should come from the data, but {source.origin} names none; "
                        "give a class-name list")
    return validate_classnames([c.replace("_", " ") for c in source.classes], source=f"class names of {source.origin}")


def _reorder(task: TaskSpec, names: list[ClassName], source: ImageSource) -> list[ClassName]:
    if not source.classes:
        return names
    by_key = {display_name(n).casefold(): n for n in names}
    out = []
    for c in source.classes:
        key = c.replace("_", " ").casefold()
        if key not in by_key:
            raise UserError(f"task {task.name}: the data's class '{c}' matches no name in the task's class list")
        out.append(by_key[key])
    return out


def resolve_classnames(task: TaskSpec, source: ImageSource | None) -> list[ClassName]:
    """The task's class names matched to ``source`` (``None``: the spec's own names, unchecked)."""
    options = getattr(source, "spec_options", {}) or {}
    policy = options.get("classnames", task.classnames)
    if source is None and (isinstance(policy, dict) or (isinstance(policy, str) and policy in SOURCE_NAMES)):
        raise UserError(f"task {task.name} takes its class names from its data, which is not on disk: fetch it "
                        "with a `zsbench run` first, or pass --classes / --classes-file")
    if isinstance(policy, str) and policy in SOURCE_NAMES:
        names = _source_names(task, source)
    elif isinstance(policy, dict):
        names = _source_names(task, source)
        names = apply_renames(names, {k.replace("_", " "): v for k, v in policy.items()}, source=f"task {task.name}")
    elif isinstance(policy, (list, tuple)):
        names = validate_classnames(list(policy), source=f"task {task.name}'s class list")
    else:
        path, key = split_key(str(policy))
        names = get_classnames(path, key)
    if options.get("order_by_source") and source is not None:
        names = _reorder(task, names, source)
    if task.class_subset and task.n_classes and len(names) != task.n_classes:
        subset = class_subset(task.class_subset)
        if max(i for ids in subset for i in ids) < len(names):
            names = [names[ids[0]] for ids in subset]
    if task.renames:
        current = {display_name(n) for n in names}
        renames = {(k if k in current else k.replace("_", " ")): v for k, v in task.renames.items()}
        names = apply_renames(names, renames, source=f"task {task.name}")
    if task.n_classes is not None and len(names) != task.n_classes:
        raise UserError(f"task {task.name}: {len(names)} class names, but the dataset has {task.n_classes} classes")
    if source is None:
        return names
    if task.n_classes is not None and source.classes is not None and len(source.classes) != task.n_classes:
        raise UserError(f"task {task.name}: {source.origin} has {len(source.classes)} classes, expected "
                        f"{task.n_classes}; point it at the complete dataset")
    if source.classes is not None and len(source.classes) != len(names):
        raise UserError(f"task {task.name}: {len(names)} class names for the {len(source.classes)} classes in "
                        f"{source.origin}; give one name per class")
    top_label = int(source.targets.max()) if len(source.targets) else -1
    if top_label >= len(names):
        raise UserError(f"task {task.name}: label {top_label} in {source.origin} has no class name "
                        f"(only {len(names)} given); fix the class-name list")
    return names


def resolve_templates(task: TaskSpec, override: str | None, source: ImageSource | None = None) -> tuple[list[str], str]:
    """The task's templates (or ``override``: a set name, file or ``source``) and a label for records."""
    chosen = override if override is not None else task.templates
    if isinstance(chosen, (list, tuple)):
        return get_templates(list(chosen)), f"inline({len(chosen)})"
    if chosen == "source":
        own = getattr(source, "templates", None) if source is not None else None
        if not own:
            raise UserError(f"task {task.name}: templates 'source' needs data that ships templates "
                            "(a webdataset's zeroshot_classification_templates.txt); name a template set instead")
        return get_templates(list(own)), "source"
    path, key = split_key(str(chosen))
    return get_templates(path, dataset_key=key or task.name), str(chosen)


def task_classnames(name: str, ctx, templates: str | None = None) -> tuple[list[ClassName], list[str]]:
    """A task's class names and templates (``templates`` overrides), read from its data when it is on
    disk (nothing is downloaded), else from its spec."""
    from tasks.registry import get_task
    from tasks.sources import open_source

    spec = get_task(name)
    try:
        source = open_source(spec, spec.split, ctx, fetch=False)
    except UserError:
        source = None
    return resolve_classnames(spec, source), resolve_templates(spec, templates, source)[0]


def override_classnames(task: TaskSpec, names: list[ClassName], path) -> list[ClassName]:
    """``--classnames FILE``: a JSON list, a JSON object of task -> list (a task it does not name keeps
    its own names), or one name per line; exactly one name per class, in the task's label order."""
    import json
    from pathlib import Path

    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"--classnames {path}: file not found; give a JSON list, a JSON object of task -> list, "
                        "or a text file with one class name per line")
    items = None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"--classnames {path} is not readable JSON ({exc}); fix the file") from None
        if isinstance(data, dict):
            if task.name not in data:
                return names
            items = data[task.name]
        else:
            items = data
        if not isinstance(items, list):
            raise UserError(f"--classnames {path}: the names for {task.name} must be a JSON list")
    new = validate_classnames(items, source=f"--classnames {path}", allow_duplicates=True) if items is not None \
        else get_classnames(str(path))
    if len(new) != len(names):
        raise UserError(f"--classnames {path}: {len(new)} names for task {task.name}, which has {len(names)} classes; "
                        "give one name per class, in the task's label order")
    return new
