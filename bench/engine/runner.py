"""The runner: tasks x templates x protocols for each model, every outcome made into a record.

Order of work, cheapest mistakes first: options and model names are checked, the results folder
is proved writable, every task is opened (a data mistake costs seconds, not a model load), then
each model is loaded once and every protocol evaluates its units from the shared caches. The
runner knows protocols and backends only through their interfaces (:mod:`bench.protocols`,
:mod:`bench.models`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.engine.classifiers import attach_classifier_cache
from bench.engine.config import RunConfig
from bench.core.profiles import CLIP
from bench.core.errors import StorageFull, UserError
from bench.core.paths import default_cache_dir, default_data_dir, ensure_writable_dir
from bench.core.store import Store
from bench.engine.evaluation import Evaluation, OpenedTask, open_task
from bench.engine.features import extractor_for
from bench.models import check_model, load_model
from bench.models.base import ModelBackend, check_language, check_precision, prepare_language
from bench.engine.protocol_registry import get_protocol
from bench.engine.records import (RunRecord, build_record, read_records_if_any, save_record, with_keys,
                                  work_keys_of)
from bench.engine.work import Step, plan_steps, plan_work
from prompts.references import check_choice
from tasks.classes import resolve_templates
from tasks.registry import get_task
from tasks.suites import expand_task_names
from tasks.sources import DataContext

__all__ = ["RunConfig", "Runner", "run", "check_models", "load_backend", "data_context"]


def check_models(config: RunConfig) -> None:
    """Validate every model request and the image precision cheaply, before any data or weights load."""
    check_precision(config.precision, config.device)
    check_precision(config.text_precision, config.device)
    if not config.models:
        raise UserError("no model given: pass --model NAME (see `zsbench models`)")
    for model_name, pretrained in config.models:
        check_model(model_name, pretrained)


def load_backend(config: RunConfig, model_name: str, pretrained: str | None, store: Store) -> ModelBackend:
    """The model as the run's options ask (device, seed, image precision and layout, progress)."""
    backend = load_model(model_name, pretrained, device=config.device, seed=config.seed, store=store,
                         precision=config.precision, channels_last=config.channels_last)
    backend.progress = config.progress
    backend.text_precision = config.text_precision
    return attach_classifier_cache(backend, store)


def data_context(cache_dir: Path | None, data_dir: Path | None, profile: str = CLIP,
                 wds_cache_dir: Path | None = None, language: str = "en") -> DataContext:
    """The cache and the dataset folder, as every command resolves them, read under ``profile`` (captions in
    ``language``)."""
    store = Store(cache_dir or default_cache_dir())
    return DataContext(Path(data_dir) if data_dir else default_data_dir(store.root), store, profile,
                       Path(wds_cache_dir) if wds_cache_dir else None, language)


@dataclass
class LanguagePass:
    """The run in one of its languages: the tasks that take it, planned and opened under that language's config."""

    config: RunConfig
    steps: list[Step]
    opened: dict[str, OpenedTask]
    ctx: DataContext


def language_plan(config: RunConfig) -> list[tuple[str, list[str]]]:
    """(language, task names) in order: every requested task (suites expanded) in each language ``--language`` asks
    of it (codes, ``all``, ``@SET``), or in its own English without the flag."""
    from tasks.languages import run_languages

    plan: dict[str, list[str]] = {}
    for name in expand_task_names(config.tasks):
        for code in run_languages(name, config.languages) or [config.language]:
            plan.setdefault(code, []).append(name)
    return list(plan.items())


class Runner:
    """Plans and runs one configuration; ``skipped`` lists optional units whose data is missing."""

    def __init__(self, config: RunConfig):
        from bench.engine.distributed import init_from_env, is_main

        # under torchrun: join the group, shard feature extraction, and let rank 0 alone write records
        self.config = replace(config, device=init_from_env(config.device), no_save=config.no_save or not is_main(),
                              progress=config.progress and is_main())
        self.skipped: list[str] = []
        self.records: list[RunRecord] = []
        #: a disk that refused a write (records, cache): the run stopped there; what finished is in ``records``
        self.storage_error: StorageFull | None = None

    def check_adaptive(self, steps: list[Step], config: RunConfig) -> None:
        """``--target-ci`` / ``--top``: a protocol asked for by name must support a growing sample, and some
        step must have a metric a confidence sequence bounds; the other steps run in full (and say so)."""
        flag = "--target-ci" if config.target_ci is not None else "--top" if config.top_k else None
        if flag is None:
            return
        from bench.engine.adaptive import adaptive_refusal

        for name in config.protocols:
            if not get_protocol(name).adaptive:
                raise UserError(f"{flag} cannot bound --protocol {name} (only a protocol that scores each test image "
                                "on its own, such as zeroshot, evaluates on a growing sample): drop "
                                f"{flag} or use --protocol zeroshot")
        reasons = [adaptive_refusal(s.protocol, get_task(s.unit.task).metric) for s in steps if not s.unit.optional]
        if steps and all(reasons):
            task = next(s.unit.task for s in steps if not s.unit.optional)
            raise UserError(f"{flag} cannot bound task {task}: {reasons[0]}; drop {flag} to run it in full")
        if config.top_k is not None and len(config.models) <= config.top_k:
            raise UserError(f"--top {config.top_k} needs more than {config.top_k} models (got "
                            f"{len(config.models)}): add --model flags or lower K")

    def evaluate(self, step: Step, ev: Evaluation, templates: str | None) -> list:
        """The protocol's outcomes for one unit: on a growing sample under ``--target-ci`` (or on a prefix of
        it: a ``sweep --top`` round) where the task's metric can be bounded, else on every image (with a note
        saying why)."""
        config = self.config
        if config.target_ci is None and config.sample_size is None:
            return step.protocol.evaluate(ev, step.unit, templates)
        from bench.engine.adaptive import adaptive_refusal, evaluate_prefix, evaluate_to_width

        reason = adaptive_refusal(step.protocol, ev.spec.metric)
        if reason is None and config.sample_size is not None:
            return [evaluate_prefix(step.protocol, ev, step.unit, templates, config.sample_size, config.confidence,
                                    config.seed)]
        if reason is None:
            return [evaluate_to_width(step.protocol, ev, step.unit, templates, config.target_ci / 100,
                                      config.confidence, config.seed, config.assist, config.out_for(step.unit.task))]
        outcomes = step.protocol.evaluate(ev, step.unit, templates)
        flag = "--target-ci" if config.target_ci is not None else "--top"
        for outcome in outcomes:
            outcome.task_info["adaptive_note"] = f"{flag}: ran in full, {reason}"
        return outcomes

    def open_tasks(self, steps: list[Step], ctx: DataContext, config: RunConfig) -> dict[str, OpenedTask]:
        """Every task the steps need, opened once (with training splits where a step needs them)."""
        wanted: dict[str, bool] = {}
        optional: dict[str, bool] = {}
        for s in steps:
            for name in filter(None, (s.unit.task, s.unit.parent)):
                wanted[name] = wanted.get(name, False) or (s.unit.train and name == s.unit.task)
                optional[name] = optional.get(name, True) and s.unit.optional and name == s.unit.task
        opened: dict[str, OpenedTask] = {}
        for name, train in wanted.items():
            try:
                opened[name] = open_task(get_task(name), config, ctx, train=train)
            except UserError as exc:
                if not optional[name]:
                    raise
                self.skipped.append(f"{name}: {exc}")
        return opened

    def check_templates(self, steps: list[Step], opened: dict[str, OpenedTask], config: RunConfig) -> None:
        """Resolve every template set now: a bad name or file fails before any model loads."""
        for step in steps:
            if step.protocol.uses_templates:
                task = opened[step.unit.task]
                for templates in step.protocol.template_sets(config):
                    resolve_templates(task.spec, templates, task.source, config.prompt_choice, task.classnames)

    def run(self) -> list[RunRecord]:
        """Evaluate every model on every planned step; records saved under ``out_dir``."""
        config = self.config
        check_models(config)  # a bad model option or name fails before any slow step
        check_choice(config.prompt_source_given or "clip", "en")
        plan = language_plan(config)
        out_dirs = config.out_dirs([t for _, tasks in plan for t in tasks])
        if config.save:
            for folder in out_dirs:
                ensure_writable_dir(folder, "--out")
        for code, _ in plan:  # every language each model's tokenizer must take, before any data opens
            for model_name, _ in config.models:
                check_language(model_name, code)
        passes = [self.language_pass(config.for_language(code, tasks)) for code, tasks in plan]
        if config.top_k is not None:
            if len(passes) != 1:
                raise UserError("--top finds the best models in one language: give one --language per run")
            from bench.engine.selection import run_top_k

            one = passes[0]
            self.records = run_top_k(one.config, load_backend, one.steps, one.opened, one.ctx)
            return self.records
        done = {k for folder in out_dirs for k in work_keys_of(read_records_if_any(folder))} \
            if config.skip_existing else set()
        try:
            self._evaluate_all(passes, done)
        except StorageFull as exc:  # a disk that takes no more: what finished is kept (printed, saved where it fit)
            self.storage_error = exc
        return self.records

    def language_pass(self, config: RunConfig) -> LanguagePass:
        """One language's steps, every task opened (a data mistake costs seconds, not a model load) and every
        template set resolved."""
        check_choice(config.prompt_source, config.language)
        steps = plan_steps(config.tasks, config)
        self.check_adaptive(steps, config)
        ctx = data_context(config.cache_dir, config.data_dir, config.profile, config.wds_cache_dir, config.language)
        opened = self.open_tasks(steps, ctx, config)
        steps = [s for s in steps if s.unit.task in opened and (s.unit.parent is None or s.unit.parent in opened)]
        self.check_templates(steps, opened, config)
        return LanguagePass(config, steps, opened, ctx)

    def raise_storage_error(self) -> None:
        """Raise the disk error that stopped the run, if one did, carrying what finished before it
        (``exc.records``); callers that print call it after printing."""
        if self.storage_error is not None:
            self.storage_error.records = self.records
            raise self.storage_error

    def _evaluate_all(self, passes: list[LanguagePass], done: set) -> None:
        """Each model loaded once for all its languages; its features and classifiers shared across them (one
        extraction of the images that several languages' tasks read)."""
        config = self.config
        store = passes[0].ctx.store if passes else None
        for model_name, pretrained in config.models:
            todo = [(p, [(w, k) for w in plan_work(p.steps, p.config) for k in [w.key(model_name, pretrained)]
                         if k not in done]) for p in passes]
            if not any(items for _, items in todo):
                continue  # everything of this model is recorded: not even loaded
            t0 = time.perf_counter()
            backend = load_backend(config, model_name, pretrained, store)
            load_seconds = time.perf_counter() - t0
            extract = extractor_for(config, backend, store)
            memo: dict = {}
            for one, items in todo:
                prepare_language(backend, one.config.language, model_name)
                for item, key in items:
                    task = one.opened[item.step.unit.task]
                    ev = Evaluation(one.config, backend, task, store, extract, one.opened, memo)
                    for outcome in self.evaluate(item.step, ev, item.templates):
                        record = build_record(one.config, model_name, backend, load_seconds, task,
                                              item.step.protocol.name, outcome, key)
                        self.records.append(record)  # finished: shown even if the disk takes no record
                        if config.save:
                            save_record(record, config.out_for(task.spec.name), with_keys(outcome.predictions, task))


def run(config: RunConfig) -> list[RunRecord]:
    """Evaluate every model on every task under each protocol; records saved under ``out_dir``. A disk that takes
    no more raises :class:`StorageFull` (``exc.records``: what finished before)."""
    runner = Runner(config)
    records = runner.run()
    runner.raise_storage_error()
    return records
