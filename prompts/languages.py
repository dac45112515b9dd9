"""The languages a task can be evaluated in, and the per-language class tables that make them.

A task names its language set (``TaskSpec.languages``); ``--language`` takes codes from it, ``all`` (every
language the task has) or ``@SET`` (every language of a set, e.g. ``@babel``). The sets are CLIP_benchmark
1.6.2's, with its codes, so a ``--language`` that works there works here:

- ``clip_benchmark``: its five class-name and template files (en, cn, it, jp, ar), for the tasks it names;
- ``babel``: Babel-ImageNet (Geigle et al. 2023, arXiv 2306.08658): 93 languages, each a subset of ImageNet's
  classes with translated names (``babel_imagenet.json``), 90 of them with NLLB-translated templates
  (``nllb_dist13b_prompts.json``; LA, FY and BR have none);
- the multilingual retrieval sets' own codes (``xtd10``, ``multilingual_mscoco_captions``, ``crossmodal3600``,
  ``flores200`` for XTD200 and Flickr30k-200) and ``flickr_zh`` (Flickr8k/30k in English or Chinese).

Babel-ImageNet's tables and the CuPL prompts are read from the installed clip-benchmark package, where
CLIP_benchmark reads them (``pip install 'zsbench[multilingual]'``); the language lists of the retrieval sets and
NLLB-CLIP's tokenizer codes are facts copied into ``prompts/data/languages.json`` (source named there; a test
checks them against the package).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bench.core.errors import UserError

#: CLIP_benchmark's five languages of class-name and template files
CLIP_BENCHMARK_LANGUAGES = ("en", "cn", "it", "jp", "ar")
#: ``--language`` words that are not codes
ALL = "all"
#: the codes that mean English (``eng_Latn`` in the FLORES-200 sets): a task's default, an untagged column, first
ENGLISH = ("en", "eng_Latn")
INSTALL_HINT = "pip install 'zsbench[multilingual]' (or pip install clip-benchmark)"


@lru_cache(maxsize=None)
def _shipped() -> dict:
    from prompts.templates import DATA

    return json.loads((DATA / "languages.json").read_text(encoding="utf-8"))


def clip_benchmark_data(name: str) -> Path:
    """A data file of the installed clip-benchmark package (found without importing it: its builder pulls in
    torchvision and requests)."""
    import importlib.util

    spec = importlib.util.find_spec("clip_benchmark")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"{name} comes with CLIP_benchmark, which is not installed: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / name
    if not path.is_file():
        raise UserError(f"{name} is not in the installed clip-benchmark ({path.parent}): {INSTALL_HINT}, version 1.6.2 "
                        "or later")
    return path


@lru_cache(maxsize=None)
def _cb_json(name: str) -> dict:
    return json.loads(clip_benchmark_data(name).read_text(encoding="utf-8"))


def babel_table() -> dict[str, list]:
    """``{LANG: [ImageNet class indices, names]}`` (CLIP_benchmark's babel_imagenet.json)."""
    return _cb_json("babel_imagenet.json")


def babel_templates() -> dict[str, list[str]]:
    """``{LANG: templates}`` with ``{}`` slots (CLIP_benchmark's nllb_dist13b_prompts.json)."""
    return _cb_json("nllb_dist13b_prompts.json")


def cupl_table() -> dict[str, dict[str, list[str]]]:
    """``{"imagenet1k": {CLIP_benchmark's English class name: [prompts]}}`` (its cupl_prompts.json: CuPL, Pratt
    et al. 2023, arXiv 2209.03320)."""
    return _cb_json("cupl_prompts.json")


def babel_languages(with_templates: bool = True) -> list[str]:
    """Babel-ImageNet's languages as ``--language`` codes (lower case, as CLIP_benchmark takes them)."""
    table = babel_table()
    keep = set(babel_templates()) if with_templates else set(table)
    return sorted(k.lower() for k in table if k in keep)


@dataclass(frozen=True)
class LanguageClasses:
    """One language's view of a class table: which of the parent's classes, their names, their templates."""

    language: str
    classes: tuple[int, ...]   # the parent's label of each class, in this language's label order
    names: tuple[str, ...]
    templates: tuple[str, ...]
    origin: str


def language_classes(table: str, language: str, task: str) -> LanguageClasses:
    """``table``'s classes in ``language`` (only ``babel_imagenet`` so far), refused in one line where it has none."""
    if table != "babel_imagenet":
        raise UserError(f"task {task}: unknown language class table '{table}' (known: babel_imagenet)")
    key = language.upper()
    classes, templates = babel_table(), babel_templates()
    if key not in classes:
        raise UserError(f"task {task}: Babel-ImageNet has no language '{language}': use one of "
                        f"{', '.join(babel_languages())}")
    if key not in templates:
        missing = sorted(k.lower() for k in classes if k not in templates)
        raise UserError(f"task {task}: Babel-ImageNet has {language} class names but no {language} templates in "
                        f"CLIP_benchmark's nllb_dist13b_prompts.json (none for {', '.join(missing)}); choose another "
                        "--language")
    idxs, names = classes[key]
    return LanguageClasses(language, tuple(int(i) for i in idxs), tuple(names), tuple(templates[key]),
                           f"babel_imagenet ({key}): clip-benchmark's babel_imagenet.json and nllb_dist13b_prompts.json")


def retrieval_languages(dataset: str) -> list[str]:
    """A multilingual retrieval set's language codes (CLIP_benchmark's SUPPORTED_LANGUAGES of that set)."""
    return list(_shipped()["retrieval"][dataset])


def nllb_language(language: str) -> str | None:
    """The NLLB code (``deu_Latn``) NLLB-CLIP's tokenizer is set to for a ``--language`` (CLIP_benchmark's lang_map);
    None where it has none."""
    return _shipped()["nllb_clip"].get(language)


def nllb_languages() -> list[str]:
    return list(_shipped()["nllb_clip"])


def language_set(name: str) -> list[str]:
    """The codes of a named language set (``@NAME`` on the command line)."""
    if name == "clip_benchmark":
        return list(CLIP_BENCHMARK_LANGUAGES)
    if name == "babel":
        return babel_languages()
    if name == "flickr_zh":
        return ["en", "zh"]
    if name == "en":
        return ["en"]
    if name == "flores200":
        return retrieval_languages("xtd200")
    if name in _shipped()["retrieval"]:
        return retrieval_languages(name)
    raise UserError(f"--language @{name}: no such language set (known: {', '.join('@' + s for s in SET_NAMES)})")


SET_NAMES = ("babel", "clip_benchmark", "xtd10", "multilingual_mscoco_captions", "crossmodal3600", "flores200",
             "flickr_zh")
