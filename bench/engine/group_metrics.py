"""The main metrics DataComp scores its WILDS and fairness tasks with, from predictions and metadata.

DataComp (``eval_utils/wilds_eval.py``, ``fairness_eval.py``) computes them with the WILDS
package's metric classes; these are the same computations in numpy, tested against scikit-learn
and hand-worked cases:

- ``F1-macro_all`` (iWildCam): WILDS' ``F1(average="macro")`` calls scikit-learn's ``f1_score``
  with ``labels=torch.unique(y_true)``: the macro mean over the classes present in the
  ground truth, not over every class predicted.
- worst-group accuracy (``acc_wg``, ``acc_top5_wg``, ``acc_worst_region``): the accuracy of each
  group (a metadata field's value), and the minimum over groups that have samples. Groups are the
  field's integer values ``0 .. max``, as WILDS' ``CombinatorialGrouper`` forms them.
"""
from __future__ import annotations

import numpy as np

from bench.core.errors import UserError


def f1_macro_present(pred: np.ndarray, labels: np.ndarray) -> float:
    """Macro F1 over the classes that occur in ``labels`` (a class never predicted scores 0)."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    scores = []
    for c in np.unique(labels):
        tp = float(np.sum((pred == c) & (labels == c)))
        predicted, actual = float(np.sum(pred == c)), float(np.sum(labels == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (predicted + actual))
    return float(np.mean(scores)) if scores else float("nan")


def group_accuracies(correct: np.ndarray, groups: np.ndarray) -> dict[int, tuple[float, int]]:
    """``{group: (accuracy, count)}`` for every group value 0..max that has samples."""
    correct, groups = np.asarray(correct, dtype=float), np.asarray(groups, dtype=np.int64)
    if len(groups) and groups.min() < 0:
        raise UserError(f"group values must be non-negative integers, found {int(groups.min())}")
    out = {}
    for g in range(int(groups.max()) + 1 if len(groups) else 0):
        mask = groups == g
        if mask.any():
            out[g] = (float(correct[mask].mean()), int(mask.sum()))
    return out


def grouped_metrics(spec_groups: dict, top5: np.ndarray, labels: np.ndarray, metadata: np.ndarray | None,
                    task: str) -> dict:
    """The worst-group figure a task's ``groups`` spec names, plus every group's accuracy and count.

    ``spec_groups``: ``fields`` (the metadata columns, in the export's order), ``by`` (the field
    grouped on), ``metric`` (the key it is reported under) and ``topk`` (1, or 5 for Dollar Street).
    """
    fields, by = list(spec_groups["fields"]), spec_groups["by"]
    if metadata is None:
        raise UserError(f"task {task} is scored per {by}, but its data has no per-sample metadata (KEY.npy in the "
                        "webdataset shards); use DataComp's export of the dataset")
    metadata = np.asarray(metadata)
    if metadata.ndim != 2 or metadata.shape[1] < len(fields):
        raise UserError(f"task {task}: per-sample metadata has shape {metadata.shape}, expected columns {fields}")
    k = int(spec_groups.get("topk", 1))
    correct = (np.asarray(top5)[:, :k] == np.asarray(labels)[:, None]).any(axis=1)
    groups = group_accuracies(correct, metadata[:, fields.index(by)])
    return {
        spec_groups["metric"]: min(acc for acc, _ in groups.values()),
        f"{spec_groups['metric']}_groups": {f"{by}:{g}": {"accuracy": acc, "count": n} for g, (acc, n) in groups.items()},
    }
