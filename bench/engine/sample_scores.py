"""What each sample's prediction was, beyond its top-5: the model's own probabilities.

Records keep, per sample, the k = min(10, classes) most probable classes with their probabilities,
the probability of the true label and the margin (true label's probability minus the best other
class's), so later questions (which images are wrong, which labels look wrong, which classes are
confused) need no model run. With ``--save-logits`` the whole probability matrix is kept too (as
float16, for tasks of up to 1,000 classes), which label-issue detection on many classes needs.

Probabilities are the model's own: zero-shot, the softmax over classes of the model's logit scale
times the cosine (CLIP), or a sigmoid of scale x cosine + bias per class (SigLIP); a probe, its
softmax.
"""
from __future__ import annotations

import numpy as np

TOP_K = 10
FULL_MAX_CLASSES = 1000


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (``-inf`` logits, classes a probe never saw, get probability 0)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def zero_shot_probabilities(cosines: np.ndarray, scale: float, bias: float = 0.0, kind: str = "softmax") -> np.ndarray:
    """``[N, C]`` probabilities from cosines, as the model scores (see the module docstring)."""
    logits = scale * np.asarray(cosines, dtype=np.float64) + bias
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits))
    return softmax(logits)


def sample_scores(probs: np.ndarray, labels: np.ndarray, keep_full: bool = False) -> dict[str, np.ndarray]:
    """The per-sample arrays a record's ``.preds.npz`` gains: ``topk``, ``topk_prob``, ``true_prob``,
    ``margin``, ``prob_sq_sum`` (for the Brier score) and, with ``keep_full`` (at most 1,000 classes), ``probs`` as
    float16."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n, c = probs.shape
    k = min(TOP_K, c)
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    rows = np.arange(n)
    inside = (labels >= 0) & (labels < c)
    true = np.where(inside, probs[rows, np.clip(labels, 0, c - 1)], 0.0)
    others = probs.copy()
    others[rows[inside], labels[inside]] = -np.inf
    out = {"topk": order.astype(np.int32), "topk_prob": np.take_along_axis(probs, order, 1).astype(np.float32),
           "true_prob": true.astype(np.float32), "margin": (true - others.max(axis=1)).astype(np.float32),
           # each sample's sum of squared probabilities: the Brier score without the whole matrix
           "prob_sq_sum": (probs ** 2).sum(axis=1).astype(np.float32)}
    if keep_full and c <= FULL_MAX_CLASSES:
        out["probs"] = probs.astype(np.float16)
    return out


def probability_matrix(preds: dict[str, np.ndarray], n_classes: int) -> tuple[np.ndarray, bool]:
    """A record's probabilities as ``[N, C]``: the saved matrix, or rebuilt from the top-k (exact when the
    top-k holds every class; otherwise the classes outside it get the rest of the mass shared evenly,
    and the second value says the matrix is approximate)."""
    if "probs" in preds:
        return np.asarray(preds["probs"], dtype=np.float64), True
    topk, prob = np.asarray(preds["topk"]), np.asarray(preds["topk_prob"], dtype=np.float64)
    out = np.zeros((len(topk), n_classes))
    if topk.shape[1] < n_classes:
        rest = np.clip(1.0 - prob.sum(axis=1, keepdims=True), 0, None) / (n_classes - topk.shape[1])
        out += rest
    np.put_along_axis(out, topk, prob, axis=1)
    return out, topk.shape[1] >= n_classes
