"""Prompt template sets: the CLIP paper's named sets, user files, and validation.

A template is a string with a ``{}`` slot for the class name (CLIP_benchmark's ``{c}`` is
accepted and rewritten to ``{}``). The named sets come from the CLIP repository (see
``prompts/data/clip_prompts.json`` for the source); a user can pass a file instead of a name.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench.core.errors import UserError
from bench.core.paths import user_path

#: Our task/set names -> section names of the CLIP repository's data/prompts.md.
CLIP_PROMPT_SECTIONS: dict[str, str] = {
    "imagenet": "ImageNet",
    "birdsnap": "Birdsnap",
    "cifar10": "CIFAR10",
    "cifar100": "CIFAR100",
    "clevr_counts": "CLEVRCounts",
    "caltech101": "Caltech101",
    "country211": "Country211",
    "dtd": "DescribableTextures",
    "eurosat": "EuroSAT",
    "fgvc_aircraft": "FGVCAircraft",
    "fer2013": "FacialEmotionRecognition2013",
    "flowers102": "Flowers102",
    "food101": "Food101",
    "gtsrb": "GTSRB",
    "hateful_memes": "HatefulMemes",
    "kitti_distance": "KITTI",
    "kinetics700": "Kinetics700",
    "mnist": "MNIST",
    "oxford_pets": "OxfordPets",
    "voc2007": "PascalVOC2007",
    "pcam": "PatchCamelyon",
    "resisc45": "RESISC45",
    "rendered_sst2": "SST2",
    "stl10": "STL10",
    "sun397": "SUN397",
    "stanford_cars": "StanfordCars",
    "ucf101": "UCF101",
}

SINGLE_TEMPLATE = "a photo of a {}."
DATA = Path(__file__).parent / "data"  # shipped as package data (see pyproject.toml)


@lru_cache(maxsize=None)
def clip_prompt_data() -> dict[str, Any]:
    """The CLIP repository's class names and templates, shipped as data with their source."""
    text = (DATA / "clip_prompts.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=None)
def extra_sets() -> dict[str, dict[str, list]]:
    """Sets the CLIP repository lacks (SVHN, Fashion-MNIST), each with its source in the file."""
    text = (DATA / "extra_sets.json").read_text(encoding="utf-8")
    return json.loads(text)["sets"]


def named_sets() -> list[str]:
    """Names of the per-dataset sets (class names + templates)."""
    return sorted([*CLIP_PROMPT_SECTIONS, *extra_sets()])


def clip_section(name: str) -> dict[str, list]:
    """The ``{"classes": [...], "templates": [...]}`` entry for one of our set names."""
    if name in extra_sets():
        return extra_sets()[name]
    return clip_prompt_data()["datasets"][CLIP_PROMPT_SECTIONS[name]]


def template_set_names() -> list[str]:
    """Every name :func:`get_templates` accepts (besides a file path)."""
    return ["openai_imagenet", "simple_imagenet", "single"] + named_sets()


def get_templates(name_or_path: str | list[str], dataset_key: str | None = None, verbatim: bool = False) -> list[str]:
    """Resolve a template set by name, by file, or as an inline list; validated (``verbatim``: a
    published list, whose repeated templates are kept and so weigh twice).

    ``dataset_key`` picks one entry from a multi-dataset file in CLIP_benchmark's JSON layout
    (``{"cifar10": [...], "imagenet1k": [...]}``).
    """
    if isinstance(name_or_path, (list, tuple)):
        return validate_templates(list(name_or_path), source="inline template list", allow_duplicates=verbatim)
    name = str(name_or_path)
    if name == "openai_imagenet":
        templates = list(clip_section("imagenet")["templates"])
    elif name == "simple_imagenet":
        templates = list(clip_prompt_data()["simple_imagenet_templates"])
    elif name == "single":
        templates = [SINGLE_TEMPLATE]
    elif name in named_sets():
        templates = list(clip_section(name)["templates"])
    elif user_path(name).is_file():
        return load_template_file(user_path(name), dataset_key)
    elif "{}" in name:  # one template written out, e.g. "a photo of a {}" (the CLIP README's)
        templates = [name]
    else:
        raise UserError(
            f"unknown template set '{name}': use one of {', '.join(template_set_names())}, "
            "a .txt (one template per line) / .json file path, or one template with a {} slot"
        )
    return validate_templates(templates, source=f"template set '{name}'")


def read_list_file(path: Path, what: str, dataset_key: str | None) -> list:
    """Read a txt (one item per line) or json (list, {what: list}, or {dataset: list}) file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {what} file {path}: {exc}") from None
    if path.suffix.lower() != ".json":
        return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what} file {path} is not valid JSON ({exc}); fix the file") from None
    if isinstance(data, dict):
        if what in data:
            data = data[what]
        elif dataset_key is not None and dataset_key in data:
            data = data[dataset_key]
        elif len(data) == 1:
            data = next(iter(data.values()))
        else:
            raise UserError(
                f"{what} file {path} holds several datasets ({', '.join(list(data)[:6])}, ...): "
                f"name one with '{path}#KEY' or use a file with one list"
            )
    if not isinstance(data, list):
        raise UserError(f"{what} file {path} must hold a JSON list of strings")
    return data


def split_key(name: str) -> tuple[str, str | None]:
    """``file.json#key`` -> (``file.json``, ``key``); other strings unchanged."""
    if "#" in name and user_path(name.split("#", 1)[0]).is_file():
        path, key = name.split("#", 1)
        return path, key
    return name, None


def load_template_file(path: Path, dataset_key: str | None = None) -> list[str]:
    """Templates from a user file (txt, json list, or CLIP_benchmark's json layout)."""
    items = read_list_file(path, "templates", dataset_key)
    if not all(isinstance(t, str) for t in items):
        raise UserError(f"template file {path} must hold strings only")
    return validate_templates(items, source=f"template file {path}")


def validate_templates(templates: list[str], source: str, allow_duplicates: bool = False) -> list[str]:
    """Every template has one ``{}`` slot; no empty set, no duplicates (they would re-weight) unless
    ``allow_duplicates`` keeps a published list as published."""
    if not templates:
        raise UserError(f"{source} is empty: give at least one template such as '{SINGLE_TEMPLATE}'")
    out: list[str] = []
    seen: set[str] = set()
    for t in templates:
        t = t.replace("{c}", "{}")
        if "{}" not in t:
            raise UserError(f"template '{t}' in {source} has no {{}} slot for the class name: add one, e.g. 'a photo of a {{}}.'")
        if t in seen and not allow_duplicates:
            raise UserError(f"template '{t}' appears twice in {source}: remove the repeat")
        seen.add(t)
        out.append(t)
    return out


def fill(template: str, classname: str) -> str:
    """Put a class name in a template's slot(s); ``str.format`` would choke on other braces."""
    return template.replace("{}", classname)


class ClassPrompts(tuple):
    """Class-specific prompts (CuPL's LLM-written descriptions, a task file's class -> prompts table): for each
    class, in label order, its own full prompts (no slot to fill). Classes may have different numbers of prompts;
    the ensemble averages each class over its own. ``name`` says where they come from (recorded)."""

    name: str = "class prompts"

    def __new__(cls, per_class, name: str = "class prompts") -> "ClassPrompts":
        self = super().__new__(cls, (tuple(p) for p in per_class))
        self.name = name
        return self

    @property
    def n_prompts(self) -> int:
        return sum(len(p) for p in self)

    def digest(self) -> str:
        """SHA-256 of the exact prompts, class by class (what a record keeps of a large table)."""
        import hashlib

        h = hashlib.sha256()
        for prompts in self:
            h.update(("\x1e".join(prompts) + "\x1d").encode("utf-8"))
        return h.hexdigest()

    def recorded(self, verbatim_limit: int = 5000) -> Any:
        """What a record carries: the prompts themselves, or for a table too large to copy into every record (CuPL's
        149,700) its name, per-class counts and SHA-256, which identify the exact prompts in the named file."""
        if self.n_prompts <= verbatim_limit:
            return [list(p) for p in self]
        return {"class_prompts": self.name, "sha256": self.digest(), "n_prompts": [len(p) for p in self]}


def class_prompts_by_name(table: dict, classnames: list[str], where: str, allow_extra: bool = False) -> ClassPrompts:
    """A ``{class name: [prompts]}`` table in the task's label order, matched by name (case and spacing as
    written); a class the table leaves out, or an entry with no prompt, is refused in one line. An entry for a class
    the task lacks is refused too, unless ``allow_extra`` (a published table looked up by name, as CLIP_benchmark
    looks up CuPL's 1000 ImageNet classes for a task of some of them)."""
    if not isinstance(table, dict) or not table:
        raise UserError(f"{where}: a class -> prompts table must be a non-empty JSON object")
    out = []
    for name in classnames:
        prompts = table.get(name)
        if prompts is None:
            known = ", ".join(list(table)[:3])
            raise UserError(f"{where}: class '{name}' has no prompts (the table names {len(table)} classes: {known}, "
                            "...); give one entry per class of the task, keyed by its class name")
        if isinstance(prompts, str):
            prompts = [prompts]
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
            raise UserError(f"{where}: the prompts of class '{name}' must be a non-empty list of non-empty strings")
        out.append(prompts)
    known = set(classnames)
    extra = [] if allow_extra else [k for k in table if k not in known]
    if extra:
        raise UserError(f"{where}: class '{extra[0]}' is not a class of the task ({len(extra)} such); key the table by "
                        "the task's class names")
    return ClassPrompts(out, where)
