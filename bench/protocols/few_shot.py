"""Few-shot linear probes (CLIP paper Fig. 6-7): k examples per class, several seeded draws."""
from __future__ import annotations

import time

from bench.config import RunConfig
from bench.evaluation import Evaluation
from bench.linear_probe import few_shot
from bench.protocols.base import Outcome, Protocol, Unit
from bench.protocols.probe import probe_inputs
from prompts.classnames import display_name


class FewShot(Protocol):
    name = "few-shot"
    metrics = ("top1", "top1_std", "shots")

    def needs_train(self, config: RunConfig) -> bool:
        return True

    def evaluate(self, ev: Evaluation, unit: Unit, templates: str | None) -> list[Outcome]:
        data, cfg = probe_inputs(ev), ev.config
        t0 = time.perf_counter()
        seeds = tuple(range(cfg.seed, cfg.seed + cfg.few_shot_seeds))
        curve = few_shot(data.train.features, data.train.labels, data.test.features, data.test.labels,
                         shots=cfg.shots, seeds=seeds, device=cfg.device, max_iter=cfg.probe_max_iter, tol=cfg.probe_tol,
                         class_names=[display_name(c) for c in ev.task.classnames])
        top_k = str(max(cfg.shots))
        metrics = {"top1": curve[top_k]["mean"], "top1_std": curve[top_k]["std"], "shots": curve,
                   "primary": curve[top_k]["mean"]}
        return [Outcome(metrics, int(len(data.test.labels)),
                        config={**data.config, "shots": list(cfg.shots), "few_shot_seeds": list(seeds)},
                        timings={"features": data.feature_seconds, "probe": time.perf_counter() - t0},
                        task_info=data.task_info)]
