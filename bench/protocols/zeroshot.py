"""Zero-shot classification (CLIP paper section 3.1): image features against the prompt-ensemble
classifier of the task's class names, once per template set."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from bench.engine.protocol import CLASSIFICATION_COLUMNS, Outcome, Protocol, Unit

if TYPE_CHECKING:  # pragma: no cover - the engine's heavy modules load when a protocol evaluates, not when
    from bench.engine.evaluation import Evaluation  # a report asks how its results are shown


class ZeroShot(Protocol):
    name = "zeroshot"
    metrics = ("top1", "top5", "mean_per_class_recall", "top1_ci95")
    uses_templates = True
    adaptive = True
    role = "zero-shot"
    columns = CLASSIFICATION_COLUMNS
    plot_kinds = ("prompt-ensemble", "zeroshot-vs-probe", "leaderboard", "checkpoints")
    published = True
    clip_benchmark_task = "zeroshot_classification"

    def settings(self, record) -> str:
        return f"{record.templates} ({record.config['n_templates']})"

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        from bench.engine.zeroshot import evaluate_zeroshot

        feats = ev.features()
        clf = ev.classifier(templates)
        t0 = time.perf_counter()
        profile = ev.config.profile_spec  # how the logits are computed and which metrics are reported
        metrics, top5, logits = evaluate_zeroshot(feats.features, feats.labels, clf.weights,
                                                  ev.config.score_precision, profile.top5_min_classes)
        metrics.update(task_metrics(ev.spec, ev.task.source, feats, top5))
        metrics["primary"] = metrics[ev.spec.metric]
        return [Outcome(
            metrics, int(len(feats.labels)), templates=clf.name,
            config={"n_templates": len(clf.templates), "task_templates": templates is None},
            timings={"features": feats.info["seconds"], "classifier": clf.info["seconds"],
                     "evaluate": time.perf_counter() - t0},
            task_info=feature_facts(feats) | {"classifier_cache": clf.info["cache"], "templates_used": clf.templates},
            predictions={"indices": feats.indices, "labels": feats.labels, "top5": top5.astype(np.int32),
                         **zero_shot_scores(ev, logits, feats.labels)},
        )]


def zero_shot_scores(ev, logits, labels) -> dict:
    """Per-sample probabilities as the model scores (its logit scale on the cosines; SigLIP's sigmoid)."""
    from bench.engine.sample_scores import sample_scores, zero_shot_probabilities
    from bench.engine.zeroshot import LOGIT_SCALE

    backend = ev.backend
    cosines = np.asarray(logits, dtype=np.float32) / LOGIT_SCALE
    probs = zero_shot_probabilities(cosines, backend.logit_scale, backend.logit_bias, backend.probability)
    return sample_scores(probs, labels, keep_full=ev.config.save_logits)


def task_metrics(spec, source, feats, top5: np.ndarray) -> dict:
    """The DataComp metrics a task's spec asks for beyond top-1/top-5/mean per-class recall."""
    from bench.engine.group_metrics import f1_macro_present, grouped_metrics

    out = {}
    if spec.metric == "F1-macro_all":
        out["F1-macro_all"] = f1_macro_present(top5[:, 0], feats.labels)
    if spec.groups:
        metadata = getattr(source, "metadata", None)
        out.update(grouped_metrics(spec.groups, top5, feats.labels,
                                   None if metadata is None else metadata[feats.indices], spec.name))
    return out


def feature_facts(feats) -> dict:
    """What a record says about the features it was computed from."""
    facts = {"feature_cache": feats.info["cache"], "skipped_images": feats.info["skipped"],
             "images_per_second": feats.info["images_per_second"], "batch_size": feats.info["batch_size"]}
    if feats.info.get("computed"):  # features computed in this run: how the images were decoded, the tower ran
        facts["image_forward"], facts["decode"] = feats.info["image_forward"], feats.info["decode"]
    if feats.info.get("reused_rows"):  # rows another cache entry of this model held (e.g. an adaptive run's)
        facts["feature_rows_reused"] = feats.info["reused_rows"]
    return facts
