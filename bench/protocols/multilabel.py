"""Zero-shot multi-label classification (CLIP_benchmark's ``voc2007_multilabel``): the prompt-ensemble classifier
scores every class for every image, and each class is a ranking problem of its own.

The metric is CLIP_benchmark 1.6.2's ``mean_average_precision`` (``metrics/zeroshot_classification.py``,
``average_precision_per_class``, from torchnet): per class, the images sorted by their score for it (highest
first), precision at each rank, averaged over the ranks that hold a positive image (0 for a class with no
positive); then the mean over classes. Records also keep each class's AP. Tasks are of this protocol's own kind,
``multilabel``; the logits follow the run's profile like zero-shot classification's.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from bench.engine.protocol import Column, Outcome, Protocol, Unit
from bench.protocols.zeroshot import feature_facts

if TYPE_CHECKING:  # pragma: no cover - heavy modules load when the protocol runs (see zeroshot.py)
    from bench.engine.evaluation import Evaluation

KIND = "multilabel"


def average_precision_per_class(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``[classes]`` average precision of ``scores`` ``[N, C]`` against 0/1 ``targets`` ``[N, C]`` (CLIP_benchmark's
    formula; exact ties keep the images' order)."""
    n = scores.shape[0]
    ranks = np.arange(1, n + 1, dtype=np.float64)
    out = np.zeros(scores.shape[1])
    for k in range(scores.shape[1]):
        truth = targets[np.argsort(-scores[:, k], kind="stable"), k].astype(bool)
        precision = np.cumsum(truth) / ranks
        out[k] = precision[truth].sum() / max(float(truth.sum()), 1.0)
    return out


class Multilabel(Protocol):
    name = "multilabel"
    summary = "several labels per image (VOC 2007): mean average precision over the classes, CLIP_benchmark's"
    kinds = (KIND,)
    default_for = (KIND,)
    metrics = ("mean_average_precision",)
    uses_templates = True
    zero_shot = True
    columns = (Column("mAP", "mean_average_precision"), Column("classes", "config.n_classes", "int"))
    clip_benchmark_task = None  # its result files carry classification metrics only in zsbench's writer

    def settings(self, record) -> str:
        return f"{record.templates} ({record.config['n_templates']})"

    @classmethod
    def contract_task(cls, folder) -> str:
        """Eight images of one or two coloured squares, labelled with their colours, as a multi-label task file."""
        from pathlib import Path

        from PIL import Image

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        colours = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
        rows = ["filepath,labels"]
        for k in range(8):
            names = [list(colours)[k % 3]] + ([list(colours)[(k + 1) % 3]] if k % 2 else [])
            image = Image.new("RGB", (48, 48), (20, 20, 20))
            for j, name in enumerate(names):
                image.paste(colours[name], (4 + 22 * j, 8 + k, 22 + 22 * j, 30 + k))
            image.save(folder / f"{k}.png")
            rows.append(f"{k}.png,{'|'.join(names)}")
        (folder / "labels.csv").write_text("\n".join(rows) + "\n")
        (folder / "task.toml").write_text(f'name = "contract-multilabel"\nkind = "{KIND}"\n'
                                          '[source]\ntype = "multilabel_csv"\npath = "labels.csv"\n'
                                          '[prompts]\ntemplates = ["a photo of something {}."]\n')
        return str(folder / "task.toml")

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        from bench.engine.metrics import topk_predictions
        from bench.engine.zeroshot import zeroshot_logits

        feats = ev.features()
        clf = ev.classifier(templates)
        t0 = time.perf_counter()
        logits = zeroshot_logits(feats.features, clf.weights, precision=ev.config.score_precision)
        targets = ev.task.source.multilabels[np.asarray(feats.indices)]
        ap = average_precision_per_class(np.asarray(logits, dtype=np.float64), targets)
        names = [str(c) for c in ev.task.classnames]
        metrics = {"mean_average_precision": float(ap.mean()), "average_precision": dict(zip(names, ap.tolist()))}
        metrics["primary"] = metrics["mean_average_precision"]
        top5 = topk_predictions(logits, 5).astype(np.int32)
        return [Outcome(
            metrics, int(len(feats.indices)), templates=clf.name,
            config={"n_templates": clf.n_templates, "n_classes": len(names),
                    "positives_per_class": dict(zip(names, targets.sum(axis=0).astype(int).tolist()))},
            timings={"features": feats.info["seconds"], "classifier": clf.info["seconds"],
                     "evaluate": time.perf_counter() - t0},
            task_info=feature_facts(feats) | {"classifier_cache": clf.info["cache"],
                                              "templates_used": clf.recorded_templates},
            predictions={"indices": feats.indices, "labels": feats.labels, "top5": top5},
        )]
