"""Classification metrics, computed from logits or predictions; numpy/torch only."""
from __future__ import annotations

import math

import numpy as np
import torch


def topk_predictions(logits: torch.Tensor, k: int = 5) -> np.ndarray:
    """``[N, min(k, C)]`` class indices, best first (ties broken by lower index, like torch.topk)."""
    k = min(k, logits.shape[1])
    return logits.topk(k, dim=1).indices.cpu().numpy()


def mean_per_class_recall(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """Average over classes present in ``labels`` of the fraction of that class predicted right
    (scikit-learn's ``balanced_accuracy_score``; the CLIP paper's metric for several datasets)."""
    recalls = []
    for c in range(n_classes):
        mask = labels == c
        if mask.any():
            recalls.append(float((pred[mask] == c).mean()))
    return float(np.mean(recalls)) if recalls else float("nan")


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for an accuracy: honest error bars even near 0 or 1."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def classification_metrics(logits: torch.Tensor, labels: np.ndarray) -> tuple[dict, np.ndarray]:
    """top-1, top-5 (``None`` with <= 5 classes), mean per-class recall, top-1's 95% CI."""
    n_classes = logits.shape[1]
    top5 = topk_predictions(logits, 5)
    labels = np.asarray(labels)
    correct = int((top5[:, 0] == labels).sum())
    metrics = {
        "top1": correct / len(labels) if len(labels) else float("nan"),
        "top5": float((top5 == labels[:, None]).any(axis=1).mean()) if n_classes > 5 else None,
        "mean_per_class_recall": mean_per_class_recall(top5[:, 0], labels, n_classes),
        "top1_ci95": list(wilson_interval(correct, len(labels))),
    }
    return metrics, top5


def paired_bootstrap_ci(correct_a: np.ndarray, correct_b: np.ndarray, n_resamples: int = 10000,
                        seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Accuracy difference ``A - B`` on the same samples and its percentile bootstrap interval.

    Resampling images with replacement only changes how many of each kind of pair are drawn:
    (A right, B wrong), (A wrong, B right), or a tie. So each resample is one multinomial draw of
    those three counts, which is exactly the index bootstrap's distribution at O(resamples) cost.
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError("paired bootstrap needs two equal-length, non-empty 1-D arrays")
    n = len(a)
    p = np.array([(a & ~b).sum(), (~a & b).sum(), (a == b).sum()], dtype=np.float64) / n
    counts = np.random.default_rng(seed).multinomial(n, p, size=n_resamples)
    diffs = (counts[:, 0] - counts[:, 1]) / n
    alpha = (1 - level) / 2
    lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
    return float(a.mean() - b.mean()), float(lo), float(hi)


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value: a binomial test on the discordant pairs."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return float(min(1.0, 2 * tail))
