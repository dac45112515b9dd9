"""Class names and templates for an opened task: the spec's sets matched to the data's labels.

The rules, in order: ``"source"`` takes the data's own names (DataComp's exports, folders); a
``{data name: class name}`` map renames the data's names; a named set is the reference's list
(CLIP's, or CLIP_benchmark's in a language: ``prompts.references``) and can be aligned to the
data's label order by name (``order_by_source``: a source's own names, such as a webdataset's
classnames.txt, check and order the task's names but never replace them); a shift task over a
subset of its parent's classes picks those classes from the parent's list; finally the task's
renames apply (not to CLIP_benchmark's names, which it never renames).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.core.errors import UserError
from bench.core.profiles import CLIP, get_profile
from prompts.classnames import ClassName, apply_renames, display_name, get_classnames, validate_classnames
from prompts.languages import language_classes
from prompts.references import cb_classnames, cb_templates, name_key
from prompts.templates import ClassPrompts, class_prompts_by_name, get_templates, named_sets, split_key
from tasks.sources.base import ImageSource
from tasks.spec import TaskSpec
from tasks.subsets import class_subset
from bench.core.paths import user_path

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

SOURCE_NAMES = ("source", "folder")


@dataclass(frozen=True)
class PromptChoice:
    """Which reference's names and templates (``--prompt-source``), in which language (``--language``),
    read by which profile's rules (``--profile``: exports' own lists, blank lines, underscores)."""

    source: str = "clip"
    language: str = "en"
    profile: str = CLIP

    @property
    def is_default(self) -> bool:
        return self.source == "clip" and self.language == "en"

    @property
    def rules(self):
        return get_profile(self.profile)


DEFAULT = PromptChoice()


def _source_names(task: TaskSpec, source: ImageSource, prompts: PromptChoice = DEFAULT) -> list[ClassName]:
    """The data's own class names, read by the profile's rules: an export's blank lines dropped
    (datacomp) or kept, ``_`` as a space (clip) or verbatim."""
    if not source.classes:
        raise UserError(f"task {task.name}: class names should come from the data, but {source.origin} names none; "
                        "give a class-name list")
    rules = prompts.rules
    published = getattr(source, "published", False)  # an export's list, verbatim
    names = [c for c in source.classes if c.strip()] if published and rules.drop_blank_lines else list(source.classes)
    if rules.underscores_to_spaces:
        names = [c.replace("_", " ") for c in names]
    for old, new in (getattr(source, "spec_options", None) or {}).get("name_replace", ()):
        names = [c.replace(old, new) for c in names]  # a reference's own reading (CLIP_benchmark's SUN397)
    return validate_classnames(names, source=f"class names of {source.origin}",
                               allow_duplicates=published, allow_empty=published)


def dropped_blank_names(source: ImageSource | None, prompts: PromptChoice) -> int:
    """How many blank class names of an export the profile drops (their labels then shift)."""
    if source is None or not source.classes or not getattr(source, "published", False) \
            or not prompts.rules.drop_blank_lines:
        return 0
    return sum(1 for c in source.classes if not c.strip())


def profile_note(task: TaskSpec, source: ImageSource | None, prompts: PromptChoice) -> str | None:
    """One line when the profile's reading of the data changes what the labels mean."""
    dropped = dropped_blank_names(source, prompts)
    if not dropped:
        return None
    first = next(i for i, c in enumerate(source.classes) if not c.strip())
    return (f"{task.name}: --profile {prompts.profile} drops {dropped} blank class name(s) of {source.origin} as "
            f"clip-benchmark 1.4.0 does, so labels from {first} on point one class further (DataComp's number, "
            "quirk included); --profile clip_benchmark keeps them")


def _reorder(task: TaskSpec, names: list[ClassName], source: ImageSource, aliases: dict) -> list[ClassName]:
    """The task's names in the data's label order, matched by name (``aliases``: data name -> task name)."""
    if not source.classes:
        return names
    by_key = {}
    for n in names:
        by_key.setdefault(name_key(display_name(n)), n)
    out = []
    for c in source.classes:
        key = name_key(aliases.get(c, c))
        if key not in by_key:
            raise UserError(f"task {task.name}: the data's class '{c}' ({source.origin}) matches no name in the task's "
                            "class list, so its labels cannot be aligned to CLIP's names; run with --prompt-source "
                            "clip_benchmark (the export's own names) or give --classnames FILE in the data's label order")
        out.append(by_key[key])
    return out


def source_classnames(task: TaskSpec, source: ImageSource | None) -> list[ClassName] | None:
    """The data's own class names (folders, a torchvision dataset's, an export's), if it names its classes."""
    if source is None or not source.classes:
        return None
    try:
        return _source_names(task, source)
    except UserError:
        return None


def resolve_classnames(task: TaskSpec, source: ImageSource | None, prompts: PromptChoice = DEFAULT) -> list[ClassName]:
    """The task's class names matched to ``source`` (``None``: the spec's own names, unchecked)."""
    return resolve_classnames_with_origin(task, source, prompts)[0]


def resolve_classnames_with_origin(task: TaskSpec, source: ImageSource | None,
                                   prompts: PromptChoice = DEFAULT) -> tuple[list[ClassName], str]:
    """The class names and where they come from (recorded: ``clip``, ``clip_benchmark (cn)``, ``data``...)."""
    options = getattr(source, "spec_options", {}) or {}
    if task.language_table:  # each language its own classes (Babel-ImageNet): names from its table
        entry = language_classes(task.language_table, prompts.language, task.name)
        _check_parent_labels(task, source, entry.classes)
        return validate_classnames(list(entry.names), source=entry.origin, allow_duplicates=True), entry.origin
    if options.get("clip_benchmark_names") is not None:
        return _positional(task, source, options["clip_benchmark_names"], prompts)
    policy = options.get("classnames", task.classnames)
    if source is None and (isinstance(policy, dict) or (isinstance(policy, str) and policy in SOURCE_NAMES)):
        raise UserError(f"task {task.name} takes its class names from its data, which is not on disk: fetch it "
                        "with a `zsbench run` first, or pass --classes / --classes-file")
    origin, set_name = "clip", None
    if prompts.rules.export_prompts and getattr(source, "published", False) and source.classes:
        # CLIP_benchmark and DataComp name a wds/ dataset's classes by its classnames.txt, never by a list
        names = _source_names(task, source, prompts)
        dropped = dropped_blank_names(source, prompts)
        return _checked(task, source, names, shifted=bool(dropped)), \
            "data (the export's classnames.txt" + (f", {dropped} blank line(s) dropped)" if dropped else ")")
    if isinstance(policy, str) and policy in SOURCE_NAMES:
        names, origin = _source_names(task, source, prompts), "data"
    elif isinstance(policy, dict):
        names = _source_names(task, source, prompts)
        names = apply_renames(names, {k.replace("_", " "): v for k, v in policy.items()}, source=f"task {task.name}")
        set_name = task.templates if isinstance(task.templates, str) else None
    elif isinstance(policy, (list, tuple)):
        names, origin = validate_classnames(list(policy), source=f"task {task.name}'s class list"), "task"
    else:
        path, key = split_key(str(policy))
        names = get_classnames(path, key)
        if path not in named_sets():
            origin = "file"
        elif not prompts.is_default:  # CLIP_benchmark's list, in CLIP's order: aligned and subset below
            cb = cb_classnames(path, prompts.language, [display_name(n) for n in names])
            if cb is not None:
                names, origin = validate_classnames(cb, source=f"CLIP_benchmark's {prompts.language} names for {path}",
                                                    allow_duplicates=True), f"clip_benchmark ({prompts.language})"
            elif source is not None and source.classes:  # CLIP_benchmark uses the dataset's own names
                return _checked(task, source, _source_names(task, source, prompts)), \
                    "clip_benchmark (the dataset's own names)"
            else:
                origin = "clip (CLIP_benchmark has no list of its own and the data names none)"
    if options.get("order_by_source") and source is not None:
        aliases = options.get("aliases", {})
        if origin.startswith("clip_benchmark"):  # the data's names are CLIP_benchmark's words already
            aliases = {}
        names = _reorder(task, names, source, aliases)
    if set_name is not None and not prompts.is_default:
        cb = cb_classnames(set_name, prompts.language, [display_name(n) for n in names])
        if cb is not None:
            names, origin = cb, f"clip_benchmark ({prompts.language})"
    if task.class_subset and task.n_classes and len(names) != task.n_classes:
        subset = class_subset(task.class_subset)
        if max(i for ids in subset for i in ids) < len(names):
            names = [names[ids[0]] for ids in subset]
    if task.renames and not origin.startswith("clip_benchmark"):  # renames name CLIP's / the data's classes
        current = {display_name(n) for n in names}
        renames = {(k if k in current else k.replace("_", " ")): v for k, v in task.renames.items()}
        names = apply_renames(names, renames, source=f"task {task.name}")
    return _checked(task, source, names), origin


def _positional(task: TaskSpec, source: ImageSource, key: str, prompts: PromptChoice) -> tuple[list[ClassName], str]:
    """CLIP_benchmark's list ``key`` given to the data's labels by position, as its builder sets ``ds.classes``
    on a dataset it reads whole (EuroSAT, Caltech-101)."""
    from prompts.references import cb_file

    table = cb_file("classnames", prompts.language)
    if key not in table:
        raise UserError(f"task {task.name}: CLIP_benchmark has no {prompts.language} names for its {key} (its "
                        f"{prompts.language} file covers {', '.join(table)}); give --classnames FILE")
    names = validate_classnames(list(table[key]), source=f"CLIP_benchmark's {prompts.language} names for {key}",
                                allow_duplicates=True)
    top_label = int(source.targets.max()) if len(source.targets) else -1
    if top_label >= len(names):
        raise UserError(f"task {task.name}: label {top_label} in {source.origin} has no name in CLIP_benchmark's "
                        f"{len(names)}-name {key} list; point it at the complete dataset")
    if source.classes and len(source.classes) != len(names):
        raise UserError(f"task {task.name}: {source.origin} has {len(source.classes)} classes, CLIP_benchmark's {key} "
                        f"list {len(names)}; point it at the complete dataset")
    return names, f"clip_benchmark ({prompts.language}): its {key} list, by position, as it names {source.origin}"


def _checked(task: TaskSpec, source: ImageSource | None, names: list[ClassName],
             shifted: bool = False) -> list[ClassName]:
    """Names and data agree (one name per class, every label named); ``shifted``: a profile dropped
    blank names on purpose, so the counts differ and the last labels have no name, as in the reference."""
    if shifted:
        return names
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


def resolve_templates(task: TaskSpec, override: str | None, source: ImageSource | None = None,
                      prompts: PromptChoice = DEFAULT, classnames: list | None = None) -> tuple[list[str], str]:
    """The task's templates (or ``override``: a set name, file, ``source`` or ``cupl``) and a label for records.

    With CLIP_benchmark as the reference, a named set is CLIP_benchmark's set for that dataset in the
    chosen language, verbatim (a repeated template stays, so it weighs twice), labelled
    ``clip_benchmark:<lang>:<set>``. Class-specific prompts (``cupl``; a class -> prompts table in a task file or
    a JSON template file) come back as :class:`ClassPrompts` in the task's label order (``classnames``: the
    opened task's names, which a table is matched against; resolved here when not given)."""
    if override == CUPL:
        return cupl_prompts(task, prompts), CUPL
    if override is None and task.language_table:
        entry = language_classes(task.language_table, prompts.language, task.name)
        return get_templates(list(entry.templates), verbatim=True), f"{task.language_table}:{prompts.language}"
    chosen = override if override is not None else task.templates
    if isinstance(chosen, dict):  # a task file's class -> prompts table
        names = classnames if classnames is not None else resolve_classnames(task, source, prompts)
        table = class_prompts_by_name(chosen, [display_name(n) for n in names], f"task {task.name}'s prompt table")
        return table, f"class_prompts({table.n_prompts})"
    own = getattr(source, "templates", None) if source is not None else None
    if override is None and own and prompts.rules.export_prompts and getattr(source, "published", False):
        # CLIP_benchmark and DataComp take a wds/ dataset's templates from its file
        return get_templates([t for t in own if t.strip()], verbatim=True), "source"
    if isinstance(chosen, (list, tuple)):
        return get_templates(list(chosen)), f"inline({len(chosen)})"
    if chosen == "source":
        own = getattr(source, "templates", None) if source is not None else None
        if not own:
            raise UserError(f"task {task.name}: templates 'source' needs data that ships templates "
                            "(a webdataset's zeroshot_classification_templates.txt); name a template set instead")
        return get_templates(list(own)), "source"
    path, key = split_key(str(chosen))
    if not prompts.is_default and path in (*named_sets(), "openai_imagenet"):
        cb = cb_templates(path, prompts.language)
        if cb is not None:
            return get_templates(cb, verbatim=True), f"clip_benchmark:{prompts.language}:{path}"
        if prompts.language != "en":  # CLIP_benchmark falls back to its ImageNet set
            return get_templates(cb_templates("imagenet", prompts.language), verbatim=True), \
                f"clip_benchmark:{prompts.language}:imagenet"
    if key is None:
        found = _template_file_entry(path, task.name)
        if found is not None:
            key, entry = found
            if isinstance(entry, dict):  # CLIP_benchmark's --custom_template_file with class-specific prompts (CuPL's)
                names = classnames if classnames is not None else resolve_classnames(task, source, prompts)
                return class_prompts_by_name(entry, [display_name(n) for n in names], f"--templates {path}#{key}",
                                             allow_extra=True), f"{chosen}#{key}"
            return get_templates(path, dataset_key=key), f"{chosen}#{key}"
    return get_templates(path, dataset_key=key or task.name), str(chosen)


#: ``--templates cupl``: CLIP_benchmark's CuPL prompts for ImageNet-class tasks
CUPL = "cupl"


def imagenet_classes(task: TaskSpec, prompts: PromptChoice = DEFAULT) -> list[int] | None:
    """For a task whose classes are ImageNet's (ImageNet, its one-to-one shifts and subsets, Babel-ImageNet in the
    run's language), the ImageNet index of each class; None for any other task."""
    if task.language_table:
        return list(language_classes(task.language_table, prompts.language, task.name).classes)
    if task.classnames != "imagenet":
        return None
    if task.class_subset:
        subset = class_subset(task.class_subset)
        return [ids[0] for ids in subset] if all(len(ids) == 1 for ids in subset) else None
    return list(range(1000)) if task.n_classes == 1000 else None


def cupl_prompts(task: TaskSpec, prompts: PromptChoice = DEFAULT) -> ClassPrompts:
    """CuPL's prompts for each of the task's classes, looked up as CLIP_benchmark looks them up: by its English
    ImageNet name (``--custom_template_file cupl_prompts.json``); the task's own names do not matter, the prompts
    are full sentences."""
    from prompts.languages import cupl_table
    from prompts.references import cb_file

    classes = imagenet_classes(task, prompts)
    if classes is None:
        raise UserError(f"--templates {CUPL}: CuPL's prompts are written for ImageNet's classes and task {task.name} "
                        "is not an ImageNet-class task; use a template set, or a class -> prompts table in a task file")
    english = cb_file("classnames", "en")["imagenet1k"]
    return class_prompts_by_name(cupl_table()["imagenet1k"], [english[i] for i in classes],
                                 "clip-benchmark's cupl_prompts.json (imagenet1k)", allow_extra=True)


def language_label_map(task: TaskSpec, prompts: PromptChoice) -> np.ndarray | None:
    """For a task whose classes depend on the language (Babel-ImageNet): the data's label -> this language's label
    (-1: a class the language leaves out); None for any other task."""
    if not task.language_table:
        return None
    import numpy as np

    classes = language_classes(task.language_table, prompts.language, task.name).classes
    out = np.full(max(classes) + 1, -1, dtype=np.int64)
    out[list(classes)] = np.arange(len(classes))
    return out


def _check_parent_labels(task: TaskSpec, source: ImageSource | None, classes) -> None:
    """A language table picks classes of the whole dataset by index: the data must be complete."""
    if source is not None and source.classes is not None and len(source.classes) <= max(classes):
        raise UserError(f"task {task.name}: {source.origin} has {len(source.classes)} classes, but the language's "
                        f"classes go up to index {max(classes)}; point it at the complete dataset (ImageNet's "
                        "1000 validation folders)")


def _template_file_entry(path: str, task: str) -> tuple[str, object] | None:
    """For a JSON template file keyed by dataset (CLIP_benchmark's --custom_template_file layout): the key that
    holds ``task``'s templates, with CLIP_benchmark's fallback to ``imagenet1k``, and its entry (a list of templates,
    or a class -> prompts table: CuPL's file has that one key); None for any other file (read and checked by
    ``get_templates``)."""
    import json

    from tasks.reference_names import TEMPLATE_FALLBACK_KEY

    file = user_path(path)
    if file.suffix.lower() != ".json" or not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # get_templates says what is wrong with it
    if not isinstance(data, dict) or "templates" in data:
        return None
    if len(data) < 2 and not isinstance(next(iter(data.values()), None), dict):
        return None  # one list under one key: get_templates reads it
    key = keyed_entry(data, task, f"--templates {path}", fallback=TEMPLATE_FALLBACK_KEY)
    return None if key is None else (key, data[key])


def reference_differences(name: str) -> list[str]:
    """What differs in the prompts of a task between CLIP's and CLIP_benchmark's English lists:
    "class names" (any prompt text: words, synonyms, case), "templates"; empty if nothing."""
    from prompts.references import CB_KEYS
    from tasks.registry import get_task

    spec = get_task(name)
    out = []
    cb = PromptChoice("clip_benchmark", "en")
    try:
        clip_names = resolve_classnames(spec, None)
    except UserError:  # names from the data (DataComp's exports): the same for both
        return []
    set_name = spec.classnames if isinstance(spec.classnames, str) else None
    if set_name in CB_KEYS and resolve_classnames(spec, None, cb) != clip_names:
        out.append("class names")
    try:
        if resolve_templates(spec, None)[0] != resolve_templates(spec, None, None, cb)[0]:
            out.append("templates")
    except UserError:  # templates from the data
        pass
    return out


def task_classnames(name: str, ctx, templates: str | None = None,
                    prompts: PromptChoice = DEFAULT) -> tuple[list[ClassName], list[str]]:
    """A task's class names and templates (``templates`` overrides), read from its data when it is on
    disk (nothing is downloaded), else from its spec."""
    from tasks.registry import get_task
    from tasks.sources import open_source

    spec = get_task(name)
    try:
        source = open_source(spec, spec.split, ctx, fetch=False)
    except UserError:
        source = None
    return resolve_classnames(spec, source, prompts), resolve_templates(spec, templates, source, prompts)[0]


def keyed_entry(data: dict, task: str, where: str, fallback: str | None = None) -> str | None:
    """The key of ``data`` (a file keyed by dataset) that holds ``task``'s entry: our task name or a
    CLIP_benchmark name of it (``pets`` or ``vtab/pets`` for oxford_pets; :func:`tasks.reference_names.file_keys`),
    else ``fallback`` if the file has it (CLIP_benchmark's templates fall back to ``imagenet1k``), else None.
    A key that names no dataset zsbench or CLIP_benchmark knows is refused in one line: a typo would
    otherwise leave its task on its default names without a word."""
    from tasks.reference_names import clip_benchmark_key, file_keys
    from tasks.registry import TASKS

    for key in data:
        if not isinstance(key, str) or not (key in TASKS or clip_benchmark_key(key)):
            import difflib

            close = difflib.get_close_matches(str(key), [*TASKS.names(), *file_keys(task)], n=2)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise UserError(f"{where}: key '{key}' names no task of zsbench's and no CLIP_benchmark dataset; {hint}"
                            "use a task name (`zsbench tasks`) or CLIP_benchmark's dataset name")
    for key in (*file_keys(task), *([fallback] if fallback else [])):
        if key in data:
            return key
    return None


def override_classnames(task: TaskSpec, names: list[ClassName], path) -> list[ClassName]:
    """``--classnames FILE``: a JSON list, a JSON object keyed by dataset (our task names or CLIP_benchmark's,
    as its --custom_classname_file: ``pets``, ``cars``, ``vtab/flowers``; a task it does not name keeps its own
    names; a key naming no dataset is refused), or one name per line; exactly one name per class, in the task's
    label order."""
    import json

    path = user_path(path)
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
            key = keyed_entry(data, task.name, f"--classnames {path}")
            if key is None:  # a multi-task file that leaves this task out: the task keeps its own names
                return names
            items = data[key]
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
