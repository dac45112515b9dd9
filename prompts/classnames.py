"""Class-name sets: the CLIP paper's per-dataset names, user files, renames, validation.

A class name is a string, or a list of synonyms (the CLIP paper's FER2013 names) whose
prompts are all averaged into that class's embedding.
"""
from __future__ import annotations

from typing import Union

from bench.core.errors import UserError
from prompts.templates import read_list_file, clip_section, named_sets
from bench.core.paths import user_path

ClassName = Union[str, list[str]]


def get_classnames(name_or_path: str | list, dataset_key: str | None = None) -> list[ClassName]:
    """Class names by set name (``cifar10``, ``imagenet``, ...), by file, or inline; validated."""
    if isinstance(name_or_path, (list, tuple)):
        return validate_classnames(list(name_or_path), source="inline class list")
    name = str(name_or_path)
    if name in named_sets():
        # Published lists are kept verbatim: CLIP's ImageNet names repeat 'missile' and
        # 'sunglasses' (two ImageNet classes each), which the paper's numbers include.
        return validate_classnames(list(clip_section(name)["classes"]), source=f"class-name set '{name}'",
                                   allow_duplicates=True)
    path = user_path(name)
    if path.is_file():
        items = read_list_file(path, "classnames", dataset_key)
        return validate_classnames(items, source=f"class-name file {path}")
    raise UserError(
        f"unknown class-name set '{name}': use one of {', '.join(named_sets())}, "
        "or a .txt (one name per line) / .json file path"
    )


def synonyms(name: ClassName) -> list[str]:
    """The prompt texts that stand for one class."""
    return [name] if isinstance(name, str) else list(name)


def display_name(name: ClassName) -> str:
    return synonyms(name)[0]


def validate_classnames(names: list, source: str, allow_duplicates: bool = False,
                        allow_empty: bool = False) -> list[ClassName]:
    """Non-empty, strings (or synonym lists), and no two classes with the same name.

    Two classes with one name get identical prompts and so cannot be told apart: an error for
    a user's list; ``allow_duplicates`` keeps published lists verbatim.
    """
    if not names:
        raise UserError(f"{source} has no class names: a task needs at least one class")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        texts = synonyms(name) if isinstance(name, (str, list)) else None
        if not texts or not all(isinstance(t, str) and (t.strip() or allow_empty) for t in texts):
            raise UserError(f"class {i} in {source} is not a non-empty string (got {name!r})")
        key = display_name(name).strip().casefold()
        if key in seen and not allow_duplicates:
            raise UserError(
                f"class name '{display_name(name)}' appears twice in {source} (classes {seen[key]} and {i}): "
                "rename one so the prompts differ"
            )
        seen[key] = i
    return names


def apply_renames(names: list[ClassName], renames: dict[str, ClassName], source: str) -> list[ClassName]:
    """Rename classes by their current (display) name; an unknown key is an error, not a no-op."""
    by_name = {display_name(n): i for i, n in enumerate(names)}
    out = list(names)
    for old, new in renames.items():
        if old not in by_name:
            raise UserError(f"rename '{old}' in {source} matches no class: known classes start {list(by_name)[:5]}")
        out[by_name[old]] = new
    return validate_classnames(out, source=f"{source} after renaming")
