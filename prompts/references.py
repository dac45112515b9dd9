"""Which published reference a task's class names and templates come from, and in which language.

Two references exist for most datasets: the CLIP repository's ``data/prompts.md`` (``clip``, the
default) and CLIP_benchmark's JSON files (``clip_benchmark``; open_clip's published table was
made with them; the only source of names and templates in Chinese, Italian, Japanese and Arabic).
They differ for CLEVR, PCam and RESISC45 templates and for five name lists (CLEVR counts are
digits in CLIP's list and words in CLIP_benchmark's; EuroSAT, FER2013, Oxford Pets and
Caltech-101 list their classes in another order, FER2013 without CLIP's synonyms, Oxford Pets
capitalised).

CLIP_benchmark's files are shipped verbatim (``prompts/data/clip_benchmark/``, source and licence
in SOURCE.txt), duplicates included: its Chinese ImageNet names list 太阳镜 twice and its Chinese
templates repeat two lines; a repeated template is averaged in twice, as CLIP_benchmark does.

A class list from CLIP_benchmark is returned *in CLIP's class order* for the task (pairing the two
lists index by index where they agree, else name by name), so everything downstream (aligning to
the data's labels, class subsets of ImageNet's shifts) works the same for both references.
Where CLIP_benchmark has no name list for a dataset it uses the dataset's own class names, and so
does zsbench when the data is open (``tasks.classes``).
"""
from __future__ import annotations

import json
from functools import lru_cache

from bench.core.errors import UserError

PROMPT_SOURCES = ("clip", "clip_benchmark")
LANGUAGES = ("en", "cn", "it", "jp", "ar")
CB_DATA = "clip_benchmark"

#: our class-name / template set names -> CLIP_benchmark's dataset keys
CB_KEYS: dict[str, str] = {
    "imagenet": "imagenet1k", "openai_imagenet": "imagenet1k", "cifar10": "cifar10", "cifar100": "cifar100",
    "caltech101": "caltech101_vtab", "clevr_counts": "clevr_count_all", "country211": "country211", "dtd": "dtd",
    "eurosat": "eurosat", "fer2013": "fer2013", "fgvc_aircraft": "fgvc_aircraft", "flowers102": "flowers",
    "food101": "food101", "gtsrb": "gtsrb", "kitti_distance": "kitti_closest_vehicle_distance", "mnist": "mnist",
    "pcam": "pcam", "oxford_pets": "pets", "rendered_sst2": "renderedsst2", "resisc45": "resisc45",
    "stanford_cars": "cars", "stl10": "stl10", "sun397": "sun397", "svhn": "svhn", "voc2007": "voc2007",
}
#: template keys, where they differ from the name keys (CLIP_benchmark looks up "vtab/caltech101", then
#: "caltech101", for the templates of its VTAB Caltech-101; its names are "caltech101_vtab")
CB_TEMPLATE_KEYS: dict[str, str] = {**CB_KEYS, "caltech101": "caltech101"}
#: CLIP's name -> CLIP_benchmark's, where the two spell one class differently
CB_ALIASES: dict[str, dict[str, str]] = {
    "clevr_counts": {"3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight", "9": "nine",
                     "10": "ten"},
}


@lru_cache(maxsize=None)
def cb_file(kind: str, language: str) -> dict[str, list]:
    """One of CLIP_benchmark's files: ``kind`` is ``classnames`` or ``zeroshot_classification_templates``."""
    from prompts.templates import DATA

    if language not in LANGUAGES:
        raise UserError(f"--language {language}: CLIP_benchmark ships {', '.join(LANGUAGES)}")
    return json.loads((DATA / CB_DATA / f"{language}_{kind}.json").read_text(encoding="utf-8"))


def implied_source(prompt_source: str | None, language: str) -> str:
    """``--prompt-source`` as given, else the reference that has names in ``language``: CLIP's in
    English, CLIP_benchmark's (the only one with other languages) otherwise."""
    if prompt_source:
        return prompt_source
    return "clip" if language == "en" else "clip_benchmark"


def check_choice(prompt_source: str, language: str) -> None:
    """A prompt source that exists, and CLIP's only in English (the languages a task takes are checked per task:
    ``tasks.languages``)."""
    if prompt_source not in PROMPT_SOURCES:
        raise UserError(f"--prompt-source {prompt_source}: use one of {', '.join(PROMPT_SOURCES)}")
    if language != "en" and prompt_source != "clip_benchmark":
        raise UserError(f"--language {language} with --prompt-source {prompt_source}: only CLIP_benchmark ships "
                        f"names and templates in {language}; drop --prompt-source (or give clip_benchmark)")


def name_key(name: str) -> str:
    """How two spellings of a class name are matched: case, underscores and spacing ignored."""
    return " ".join(name.replace("_", " ").casefold().split())


def cb_templates(set_name: str, language: str) -> list[str] | None:
    """CLIP_benchmark's templates for one of our set names (its ImageNet set where it has none for the
    dataset, as CLIP_benchmark falls back), ``{c}`` as ``{}``; ``None`` if the set is not one of its datasets."""
    key = CB_TEMPLATE_KEYS.get(set_name)
    if key is None:
        return None
    table = cb_file("zeroshot_classification_templates", language)
    return [t.replace("{c}", "{}") for t in table.get(key, table["imagenet1k"])]


def cb_classnames(set_name: str, language: str, clip_names: list) -> list[str] | None:
    """CLIP_benchmark's names for one of our sets, in the order of CLIP's list ``clip_names`` (display
    names); ``None`` where CLIP_benchmark takes the dataset's own names (English: CLIP's words)."""
    key = CB_KEYS.get(set_name)
    if key is None:
        if language != "en":
            raise UserError(f"class-name set '{set_name}' has no {language} names in CLIP_benchmark (its {language} "
                            f"files cover {', '.join(cb_file('classnames', language))}); give --classnames FILE")
        return None
    english, table = cb_file("classnames", "en"), cb_file("classnames", language)
    if key not in table:
        if language != "en":
            raise UserError(f"class-name set '{set_name}' has no {language} names in CLIP_benchmark (its {language} "
                            f"files cover {', '.join(table)}); give --classnames FILE")
        return None
    theirs, en = list(table[key]), list(english[key])
    ours = [name_key(n) for n in clip_names]
    if ours == [name_key(n) for n in en]:
        return theirs  # same classes, same order: pair by position (keeps duplicates such as 'missile')
    aliases = CB_ALIASES.get(set_name, {})
    position = {name_key(n): i for i, n in enumerate(en)}
    out = []
    for name in clip_names:
        i = position.get(name_key(aliases.get(name, name)))
        if i is None:
            raise UserError(f"class '{name}' of set '{set_name}' has no counterpart in CLIP_benchmark's list")
        out.append(theirs[i])
    return out
