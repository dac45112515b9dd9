"""Which ``--language`` values a task takes, and what ``all`` and ``@SET`` stand for on it.

A run may ask for several languages (``--language de --language fr``, ``--language all``, ``--language
@babel``); each (task, language) pair gives its own record. The words are resolved per task, before any data is
opened, so a language a task cannot take stops the run in one line that lists the task's languages.
"""
from __future__ import annotations

from bench.core.errors import UserError
from prompts.languages import ALL, CLIP_BENCHMARK_LANGUAGES, ENGLISH, language_set
from tasks.spec import TaskSpec


def task_languages(spec: TaskSpec) -> list[str]:
    """The languages ``spec`` can be evaluated in: its named set, else CLIP_benchmark's languages that name its
    class-name set (English always), else English only."""
    if spec.languages:
        return language_set(spec.languages)
    if isinstance(spec.classnames, str):
        from prompts.references import CB_KEYS, cb_file

        key = CB_KEYS.get(spec.classnames)
        if key is not None:
            return [lang for lang in CLIP_BENCHMARK_LANGUAGES if lang == "en" or key in cb_file("classnames", lang)]
    return ["en"]


def languages_for(spec: TaskSpec, requested: list[str]) -> list[str]:
    """``requested`` (codes, ``all``, ``@SET``) as the codes ``spec`` runs in, in order, each once. A code the task
    does not take is refused with the task's list (by a language table, with its reason: Babel-ImageNet's LA has
    class names but no templates)."""
    available = task_languages(spec)
    out: list[str] = []
    for word in requested or ["en"]:
        if word == ALL:
            out += available
            continue
        codes = language_set(word[1:]) if word.startswith("@") else [word]
        for code in codes:
            if spec.language_table:  # the table says why a language cannot run (Babel's LA: no templates)
                from prompts.languages import language_classes

                language_classes(spec.language_table, code, spec.name)
            if code not in available:
                raise UserError(f"--language {code}: task {spec.name} has no such language; it takes "
                                f"{', '.join(available)}" + ("" if spec.languages else
                                                             " (other languages: --task babel_imagenet, or a "
                                                             "multilingual retrieval set)"))
            out.append(code)
    return list(dict.fromkeys(out))


def default_language(spec: TaskSpec) -> str:
    """The language a task runs in when ``--language`` is not given: English (``eng_Latn`` in the FLORES-200 sets)."""
    available = task_languages(spec)
    return next((code for code in ENGLISH if code in available), available[0])


def run_languages(name: str, requested: list[str]) -> list[str] | None:
    """The codes a task named in a run runs in: ``requested`` (``--language``) resolved on it, or its English when the
    flag is not given; None for a name that is no task (a protocol's own unit, robustness's shift groups, which runs
    in the run's language)."""
    from tasks.registry import get_task

    try:
        spec = get_task(name)
    except UserError:
        return None
    return languages_for(spec, requested) if requested else [default_language(spec)]
