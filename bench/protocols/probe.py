"""The CLIP paper's linear probe (appendix A.3): logistic regression on frozen image features,
C searched on a validation split, refit, tested once."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from typing import TYPE_CHECKING

import numpy as np

from bench.core.numbers import count, real
from bench.core.profiles import CLIP_BENCHMARK
from bench.engine.config import option, positive_int
from bench.engine.protocol import CLASSIFICATION_COLUMNS, Outcome, PlotKind, Protocol, ReportSection, Unit, View

if TYPE_CHECKING:  # pragma: no cover - heavy modules load when the probe runs (see zeroshot.py)
    import pandas as pd

    from bench.engine.config import RunConfig
    from bench.engine.evaluation import Evaluation
    from bench.engine.features import FeatureSet


#: --probe-method: the CLIP paper's probe, or CLIP_benchmark's (bench.engine.clip_benchmark_probe)
PROBE_METHODS = ("paper", "clip_benchmark")
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


def probe_inputs(ev: "Evaluation", features: str | None = None) -> ProbeInputs:
    """Shared by the linear probe and few-shot (computed once per model and task); ``features``: the kind to read
    instead of ``--probe-features``'s (CLIP_benchmark's probe reads the embedding)."""
    from bench.engine.feature_chunks import FeatureChunks
    from bench.engine.features import FeatureSet
    from bench.engine.linear_probe import stream_probe

    def make() -> ProbeInputs:
        cfg, spec = ev.config, ev.spec
        kind = probe_feature_kind(features or cfg.probe_features, ev.backend)
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
    return ev.memo(("probe-inputs", ev.spec.name, features or ev.config.probe_features), make)


@dataclass
class LinearProbeOptions:
    """``--probe-search-limit`` (a run option before protocols declared their own: ``top_level``). The options
    every probe shares (--probe-features, --probe-tol, --train-limit, ...) stay run options: linear-probe,
    few-shot and robustness --probe all read them."""

    probe_search_limit: int | None = option(
        "--probe-search-limit", "linear probe: search C on a class-stratified subset of N training samples, then "
        "refit on the whole split (faster for big problems; recorded; default: the paper's full search)",
        parse=positive_int, metavar="N", top_level=True)
    probe_method: str | None = option(
        "--probe-method", "linear probe: paper (the CLIP paper's L-BFGS logistic regression, C searched on validation) "
        "or clip_benchmark (CLIP_benchmark 1.6.2's AdamW linear layer on the L2-normalised embedding, weight decay "
        "searched on the task's validation split, 0 without one; --fewshot-k/-lr/-epochs); default: clip_benchmark "
        "under --profile clip_benchmark, else paper; recorded", None, choices=PROBE_METHODS)
    fewshot_k: int = option("--fewshot-k", "linear probe, clip_benchmark method: training samples per class (0: all, "
                            "its -1; its --fewshot_k)", 0, parse=count(0), metavar="K")
    fewshot_lr: float = option("--fewshot-lr", "linear probe, clip_benchmark method: AdamW's peak learning rate (its "
                               "--fewshot_lr)", 0.1, parse=real(0.0, 100.0, low_open=True), metavar="LR")
    fewshot_epochs: int = option("--fewshot-epochs", "linear probe, clip_benchmark method: passes over the training "
                                 "features (its --fewshot_epochs)", 10, parse=positive_int, metavar="N")
    probe_normalize: str = option("--probe-normalize", "linear probe, clip_benchmark method: L2-normalise the "
                                  "features first (its --normalize, on by default)", "on", choices=("on", "off"))


class LinearProbe(Protocol):
    name = "linear-probe"
    options = LinearProbeOptions
    summary = "logistic regression on frozen features, C searched on validation as in the CLIP paper, A.3"
    metrics = ("top1", "top5", "mean_per_class_recall", "top1_ci95")
    columns = CLASSIFICATION_COLUMNS

    @classmethod
    def views(cls) -> tuple[View, ...]:
        return (View("zeroshot-vs-probe", "per model and task: zero-shot (the task's own templates), the linear "
                     "probe on the same features, and the difference (CLIP paper Fig. 5)",
                     "bench.protocols.probe:zeroshot_vs_probe", index_name="model, task"),)

    @classmethod
    def plots(cls) -> tuple[PlotKind, ...]:
        return (PlotKind("zeroshot-vs-probe", "zero-shot minus linear-probe accuracy per task (CLIP paper Fig. 5)",
                         "bench.protocols.probe:plot_zeroshot_vs_probe"),)

    @classmethod
    def report_sections(cls) -> tuple[ReportSection, ...]:
        return (ReportSection("Zero-shot vs linear probe", "bench.protocols.probe:zeroshot_vs_probe", index=False),)

    def variant(self, config) -> str:
        return probe_variant(config)

    @staticmethod
    def method(config: "RunConfig") -> str:
        """--probe-method as given, else CLIP_benchmark's under its profile, else the paper's."""
        given = config.options_for(LinearProbe).probe_method
        return given or (CLIP_BENCHMARK if config.profile == CLIP_BENCHMARK else "paper")

    def key_options(self, config: "RunConfig") -> dict | None:
        """Keyed by the method that runs, given or implied: the paper's keys stay as they were, and a probe record
        made by the paper's method under the clip_benchmark profile before it implied CLIP_benchmark's is not taken
        for this work."""
        section = {k: v for k, v in (super().key_options(config) or {}).items() if k != "probe_method"}
        if self.method(config) == CLIP_BENCHMARK:  # keyed by the method that runs, given or implied
            section["probe_method"] = CLIP_BENCHMARK
        return section or None

    def settings(self, record) -> str:
        if record.config.get("probe_method") == CLIP_BENCHMARK:
            return f"{record.config.get('probe_features')} clip_benchmark wd={record.config['weight_decay']:.3g}"
        return f"{record.config.get('probe_features')} C={record.config['best_C']:.3g}"

    def needs_train(self, config: "RunConfig") -> bool:
        return True

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        from bench.engine.linear_probe import full_probe

        own = ev.config.options_for(self)
        if self.method(ev.config) == CLIP_BENCHMARK:
            return [self._clip_benchmark(ev, own)]
        data, cfg = probe_inputs(ev), ev.config
        t0 = time.perf_counter()
        metrics, top5, details = full_probe(
            data.train.features, data.train.labels, data.test.features, data.test.labels,
            None if data.val is None else data.val.features, None if data.val is None else data.val.labels,
            seed=cfg.seed, device=cfg.device, max_iter=cfg.probe_max_iter, progress=cfg.progress,
            search_limit=cfg.options_for(self).probe_search_limit, tol=cfg.probe_tol)
        metrics["primary"] = metrics[ev.spec.metric]
        from bench.engine.sample_scores import sample_scores

        scores = sample_scores(details.pop("test_probabilities"), data.test.labels, keep_full=cfg.save_logits)
        return [Outcome(metrics, int(len(data.test.labels)), config={**data.config, **details},
                        timings={"features": data.feature_seconds, "probe": time.perf_counter() - t0},
                        task_info=data.task_info,
                        predictions={"indices": data.test.indices, "labels": data.test.labels,
                                     "top5": top5.astype(np.int32), **scores})]

    def _clip_benchmark(self, ev: "Evaluation", own: LinearProbeOptions) -> Outcome:
        """CLIP_benchmark's probe on the embedding (its Featurizer's), from ``torch.manual_seed(--seed)``."""
        import torch

        from bench.engine.clip_benchmark_probe import CBProbeSettings, evaluate
        from bench.engine.feature_chunks import FeatureChunks
        from bench.engine.linear_probe import over_classes
        from bench.engine.metrics import classification_metrics
        from bench.engine.sample_scores import sample_scores, softmax

        data, cfg = probe_inputs(ev, "embedding"), ev.config
        settings = CBProbeSettings(fewshot_k=own.fewshot_k or -1, lr=own.fewshot_lr, epochs=own.fewshot_epochs,
                                   seed=cfg.seed, normalize=own.probe_normalize == "on", device=cfg.device)
        t0 = time.perf_counter()
        torch.manual_seed(cfg.seed)
        train = data.train.features
        train = train.to_array() if isinstance(train, FeatureChunks) else train
        result = evaluate(train, data.train.labels, data.test.features, data.test.labels,
                          None if data.val is None else data.val.features,
                          None if data.val is None else data.val.labels, settings)
        # its layer has a column per class up to the largest training label; a test label beyond is never predicted
        logits = over_classes(result["logits"], np.arange(result["logits"].shape[1]), data.test.labels)
        ours, top5 = classification_metrics(logits, data.test.labels)
        metrics = {**ours, "top1": result["lp_acc1"], "mean_per_class_recall": result["lp_mean_per_class_recall"],
                   "top5": None if np.isnan(result["lp_acc5"]) else result["lp_acc5"]}
        metrics["primary"] = metrics[ev.spec.metric]
        config = {**data.config, "probe_method": CLIP_BENCHMARK, "weight_decay": result["weight_decay"],
                  "fewshot_k": settings.fewshot_k, "fewshot_lr": settings.lr, "epochs": settings.epochs,
                  "normalized": settings.normalize, "batch_size": settings.batch_size,
                  "validation": "the task's validation split" if data.val is not None else
                  "none: weight decay 0, as CLIP_benchmark without a validation split"}
        scores = sample_scores(softmax(logits), data.test.labels, keep_full=cfg.save_logits)
        return Outcome(metrics, int(len(data.test.labels)), config=config,
                       timings={"features": data.feature_seconds, "probe": time.perf_counter() - t0},
                       task_info=data.task_info,
                       predictions={"indices": data.test.indices, "labels": data.test.labels,
                                    "top5": top5.astype(np.int32), **scores})


def probe_variant(config) -> str:
    """What tells two probes of one model apart: the method, the features they read and their training subset."""
    features = str(config.get("probe_features") or "-")
    if config.get("probe_method") == CLIP_BENCHMARK:
        features = f"{features} clip_benchmark"
    limit = config.get("train_limit")
    return f"{features} train {limit}" if limit else features


def zeroshot_vs_probe(runs: "pd.DataFrame") -> "pd.DataFrame":
    """Per model and task: zero-shot (task's own templates, newest), linear probe, and the delta."""
    import pandas as pd

    from bench.core.errors import UserError
    from bench.report.collect import newest
    from bench.report.leaderboard import own_templates_first

    zs = own_templates_first(runs)
    lp = newest(runs[runs.protocol == LinearProbe.name])
    merged = zs.merge(lp, on=["model", "pretrained", "task"], suffixes=("_zs", "_lp"))
    if merged.empty:
        raise UserError("no task has both a zero-shot and a linear-probe record: run "
                        "`zsbench run ... --protocol zeroshot --protocol linear-probe`")
    out = pd.DataFrame({"model": merged.label_zs, "task": merged.task, "probe": merged.features_lp,
                        "zero-shot": 100 * merged.primary_zs, "linear probe": 100 * merged.primary_lp})
    out["delta"] = out["zero-shot"] - out["linear probe"]
    return out.sort_values("delta").reset_index(drop=True)


def plot_zeroshot_vs_probe(runs: "pd.DataFrame", plt):
    table = zeroshot_vs_probe(runs)
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(table) + 1.5))
    names = [f"{t}" if table.model.nunique() == 1 else f"{t} ({m})" for t, m in zip(table.task, table.model)]
    colours = ["#55a868" if d >= 0 else "#c44e52" for d in table.delta]
    ax.barh(names, table.delta, color=colours)
    for y, d in enumerate(table.delta):
        ax.text(d, y, f" {d:+.1f}" if d >= 0 else f"{d:+.1f} ", va="center", ha="left" if d >= 0 else "right", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    span = max(1.0, float(table.delta.abs().max()))
    ax.set_xlim(min(0.0, float(table.delta.min())) - 0.3 * span, max(0.0, float(table.delta.max())) + 0.3 * span)
    ax.set_xlabel("zero-shot minus linear-probe accuracy (points)")
    ax.set_title("Zero-shot vs linear probe on the same features" +
                 (f"\n{table.model.iloc[0]}" if table.model.nunique() == 1 else ""), fontsize=9)
    return fig
