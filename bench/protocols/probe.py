"""The CLIP paper's linear probe (appendix A.3): logistic regression on frozen image features,
C searched on a validation split, refit, tested once."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from typing import TYPE_CHECKING

import numpy as np

from bench.engine.protocol import CLASSIFICATION_COLUMNS, Outcome, Protocol, Unit

if TYPE_CHECKING:  # pragma: no cover - heavy modules load when the probe runs (see zeroshot.py)
    from bench.engine.config import RunConfig
    from bench.engine.evaluation import Evaluation
    from bench.engine.features import FeatureSet


@dataclass
class ProbeInputs:
    """Training, test and validation features of a task for the probes, and their record facts."""

    train: "FeatureSet"
    test: "FeatureSet"
    val: "FeatureSet | None"
    config: dict[str, Any]
    task_info: dict[str, Any]

    @property
    def feature_seconds(self) -> float:
        return self.train.info["seconds"] + self.test.info["seconds"]


def probe_feature_kind(option: str, backend) -> str:
    """``paper`` (the default): the CLIP paper's appendix A.3 choice, the image features before the
    final projection where the model has one (ViTs; a ResNet's attention pool ends in its projection,
    so its embedding is already what the paper probed), else the embedding."""
    if option != "paper":
        return option
    return "pre-projection" if backend.has_pre_projection() else "embedding"


def probe_inputs(ev: "Evaluation") -> ProbeInputs:
    """Shared by the linear probe and few-shot (computed once per model and task)."""
    from bench.engine.feature_chunks import FeatureChunks
    from bench.engine.features import FeatureSet
    from bench.engine.linear_probe import stream_probe

    def make() -> ProbeInputs:
        cfg, spec = ev.config, ev.spec
        kind = probe_feature_kind(cfg.probe_features, ev.backend)
        train = ev.features("train", kind, lazy=True)
        if not stream_probe(cfg.probe_stream, train.features.shape):
            train = FeatureSet(train.features.to_array(), train.labels, train.indices, train.info)
        test = ev.features("test", kind)
        val = ev.features("val", kind) if ev.task.val is not None else None
        train_src, train_idx = ev.task.train
        config = {"probe_features": kind, "n_train": int(len(train.labels)), "train_split": spec.train_split,
                  "val_split": spec.val_split,
                  "train_subset": "stratified" if len(train_idx) < len(train_src) else "full",
                  "train_features": (f"streamed from the cache ({len(train.features.parts)} chunks)"
                                     if isinstance(train.features, FeatureChunks) else "in memory")}
        info = {"feature_cache": test.info["cache"], "train_feature_cache": train.info["cache"]}
        return ProbeInputs(train, test, val, config, info)
    return ev.memo(("probe-inputs", ev.spec.name, ev.config.probe_features), make)


class LinearProbe(Protocol):
    name = "linear-probe"
    metrics = ("top1", "top5", "mean_per_class_recall", "top1_ci95")
    role = "probe"
    columns = CLASSIFICATION_COLUMNS
    plot_kinds = ("zeroshot-vs-probe",)

    def settings(self, record) -> str:
        return f"{record.config.get('probe_features')} C={record.config['best_C']:.3g}"

    def needs_train(self, config: "RunConfig") -> bool:
        return True

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        from bench.engine.linear_probe import full_probe

        data, cfg = probe_inputs(ev), ev.config
        t0 = time.perf_counter()
        metrics, top5, details = full_probe(
            data.train.features, data.train.labels, data.test.features, data.test.labels,
            None if data.val is None else data.val.features, None if data.val is None else data.val.labels,
            seed=cfg.seed, device=cfg.device, max_iter=cfg.probe_max_iter, progress=cfg.progress,
            search_limit=cfg.probe_search_limit, tol=cfg.probe_tol)
        metrics["primary"] = metrics[ev.spec.metric]
        from bench.engine.sample_scores import sample_scores

        scores = sample_scores(details.pop("test_probabilities"), data.test.labels, keep_full=cfg.save_logits)
        return [Outcome(metrics, int(len(data.test.labels)), config={**data.config, **details},
                        timings={"features": data.feature_seconds, "probe": time.perf_counter() - t0},
                        task_info=data.task_info,
                        predictions={"indices": data.test.indices, "labels": data.test.labels,
                                     "top5": top5.astype(np.int32), **scores})]
