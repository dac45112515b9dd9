"""``--top K`` with several models in one run: the K best per task by successive elimination.

Every model is evaluated on one shared growing sample of the task (the seeded class-stratified
order of :mod:`bench.engine.adaptive`); after each look, a model whose upper bound is below the
K-th best lower bound leaves, a model that at most K - 1 others can still beat is in, and the
task stops when K models are in. Models stay loaded while they run (their features per chunk go
to the cache), so this suits a handful to a few dozen checkpoints on one machine; ``zsbench sweep
--top K`` does the same in rounds of jobs for larger sets.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from bench.engine.adaptive import AdaptiveSample, Arm, GrowingEvaluation, adaptive_refusal, select_top_k
from bench.engine.evaluation import Evaluation
from bench.engine.features import extractor_for
from bench.engine.records import RunRecord, build_record, save_record, with_keys
from bench.engine.work import Work, plan_work


class _Loaded:
    """One model of the selection, loaded once for the whole run."""

    def __init__(self, config, load: Callable[..., Any], model: str, pretrained: str | None, ctx, opened):
        t0 = time.perf_counter()
        self.model, self.pretrained = model, pretrained
        self.backend = load(config, model, pretrained, ctx.store)
        self.load_seconds = time.perf_counter() - t0
        self.extract = extractor_for(config, self.backend, ctx.store)
        self.memo: dict = {}
        self.ctx, self.opened, self.config = ctx, opened, config

    @property
    def label(self) -> str:
        return f"{self.model} / {self.backend.pretrained}"

    def evaluation(self, task) -> Evaluation:
        return Evaluation(self.config, self.backend, task, self.ctx.store, self.extract, self.opened, self.memo)


def run_top_k(config, load: Callable[..., Any], steps: list, opened, ctx) -> list[RunRecord]:
    """Every step's top-K selection over the run's models; one record per model and step.

    ``steps``: the runner's planned steps (a protocol and a unit each); ``load``: how the runner loads a
    model (``load(config, model, pretrained, store)``)."""
    models = [_Loaded(config, load, m, p, ctx, opened) for m, p in config.models]
    records: list[RunRecord] = []

    def keep(loaded: _Loaded, work: Work, outcome) -> None:
        step = work.step
        record = build_record(config, loaded.model, loaded.backend, loaded.load_seconds, opened[step.unit.task],
                              step.protocol.name, outcome, work.key(loaded.model, loaded.pretrained))
        if config.save:
            save_record(record, config.out_for(step.unit.task), with_keys(outcome.predictions, opened[step.unit.task]))
        records.append(record)

    for work in plan_work(steps, config):
        step, templates = work.step, work.templates
        task = opened[step.unit.task]
        reason = adaptive_refusal(step.protocol, task.spec.metric)
        if reason is not None:  # no selection possible: every model on every image
            for loaded in models:
                for outcome in step.protocol.evaluate(loaded.evaluation(task), step.unit, templates):
                    outcome.task_info["adaptive_note"] = f"--top: ran in full, {reason}"
                    keep(loaded, work, outcome)
            continue
        sample = AdaptiveSample.of(task, task.spec.metric, config.seed, step.protocol)
        sample.attach_assist(config.assist, task, config.out_for(step.unit.task))
        arms = [Arm(m.label, GrowingEvaluation(step.protocol, m.evaluation(task), step.unit, templates, sample))
                for m in models]
        looks = select_top_k(arms, config.top_k, config.confidence)
        used = sum(a.run.n for a in arms)
        for loaded, arm in zip(models, arms):
            outcome = arm.run.outcome
            outcome.adaptive = sample.section(
                arm.run.n, arm.interval, config.confidence, [n for n in looks if n <= arm.run.n],
                selection={"k": config.top_k, "status": arm.status, "models": len(arms),
                           "level_each": 1 - (1 - config.confidence) / len(arms),
                           "images_all_models": used, "images_full": len(arms) * sample.N})
            keep(loaded, work, outcome)
    return records
