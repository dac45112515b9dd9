"""Calibration of a classifier's probabilities: expected calibration error, negative log-likelihood, Brier score,
and a fitted temperature.

ECE (Naeini et al. 2015; Guo et al. 2017) compares the top-1 confidence with the top-1 accuracy in bins:
``sum_b n_b / N * |acc_b - conf_b|``. Two binnings are reported, as the literature uses both:

- ``equal_width``: 15 bins of width 1/15 over [0, 1] (Guo et al.'s form; netcal's ``ECE(bins=15)``), a
  confidence of exactly 1 in the last bin;
- ``equal_mass``: 15 bins holding (nearly) the same number of samples, by sorted confidence (Nixon et al. 2019's
  adaptive binning; ``numpy.array_split`` decides the sizes), which does not leave most bins empty when confidences
  crowd near 1.

NLL is the mean of ``-log p(true class)`` (probabilities floored at 1e-12); the Brier score the mean over samples of
``sum_k (p_k - y_k)^2 = sum_k p_k^2 - 2 p_true + 1`` (Brier 1950, the multi-class form), so a record needs each
sample's sum of squared probabilities (``prob_sq_sum``, kept since this module; older records have no Brier score).

Temperature scaling (Guo et al. 2017) divides the logits by one T > 0 fitted to minimise the NLL on held-out samples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the bin count both ECE forms use (Guo et al.'s 15)
BINS = 15
SCHEMES = ("equal_mass", "equal_width")
FLOOR = 1e-12


def _bins(confidence: np.ndarray, scheme: str, bins: int) -> list[np.ndarray]:
    """The sample indices of each non-empty bin."""
    if scheme == "equal_width":
        which = np.minimum((confidence * bins).astype(np.int64), bins - 1)  # 1.0 falls in the last bin
        return [np.flatnonzero(which == b) for b in range(bins) if (which == b).any()]
    if scheme == "equal_mass":
        order = np.argsort(confidence, kind="stable")
        return [part for part in np.array_split(order, min(bins, len(order))) if len(part)]
    raise ValueError(f"unknown ECE binning '{scheme}' (known: {', '.join(SCHEMES)})")


def expected_calibration_error(confidence, correct, scheme: str = "equal_mass", bins: int = BINS) -> float:
    """ECE of top-1 ``confidence`` (each sample's highest probability) against ``correct`` (top-1 right, 0/1)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if not len(confidence):
        return float("nan")
    total = 0.0
    for idx in _bins(confidence, scheme, bins):
        total += len(idx) * abs(correct[idx].mean() - confidence[idx].mean())
    return total / len(confidence)


def reliability(confidence, correct, bins: int = BINS) -> dict[str, np.ndarray]:
    """Equal-width bins for a reliability diagram: each bin's lower edge, count, mean confidence and accuracy."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, weights=confidence, minlength=bins) / count
        acc = np.bincount(which, weights=correct, minlength=bins) / count
    return {"edge": np.arange(bins) / bins, "count": count, "confidence": conf, "accuracy": acc}


def nll(true_prob) -> float:
    return float(-np.log(np.clip(np.asarray(true_prob, dtype=np.float64), FLOOR, None)).mean())


def brier(prob_sq_sum, true_prob) -> float:
    return float(np.mean(np.asarray(prob_sq_sum, dtype=np.float64) - 2 * np.asarray(true_prob, dtype=np.float64) + 1))


@dataclass
class Calibration:
    """One record's calibration figures (``brier`` None where the record keeps no squared sums)."""

    n: int
    ece: float            # equal-mass, 15 bins
    ece_equal_width: float
    nll: float
    brier: float | None

    def as_dict(self, prefix: str = "") -> dict[str, float | None]:
        return {f"{prefix}ece": self.ece, f"{prefix}ece_equal_width": self.ece_equal_width, f"{prefix}nll": self.nll,
                f"{prefix}brier": self.brier}


def calibration_of(confidence, correct, true_prob, prob_sq_sum=None) -> Calibration:
    """Every figure from per-sample arrays (what a record's predictions hold)."""
    return Calibration(len(np.asarray(confidence)), expected_calibration_error(confidence, correct, "equal_mass"),
                       expected_calibration_error(confidence, correct, "equal_width"), nll(true_prob),
                       None if prob_sq_sum is None else brier(prob_sq_sum, true_prob))


def from_probabilities(probs: np.ndarray, labels: np.ndarray) -> Calibration:
    """Every figure from a ``[N, C]`` probability matrix and the labels."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))
    return calibration_of(probs.max(axis=1), probs.argmax(axis=1) == labels, probs[rows, labels],
                          (probs ** 2).sum(axis=1))


def softmax_t(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 that minimises the mean NLL of ``softmax(logits / T)`` (searched on log T, bounded to
    [1e-2, 1e2]: a convex problem in 1/T, so the bounded scalar search finds its minimum)."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))

    def loss(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        return float(-(z[rows, labels] - np.log(np.exp(z).sum(axis=1))).mean())

    best = minimize_scalar(loss, bounds=(np.log(1e-2), np.log(1e2)), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(best.x))


def prediction_calibration(preds: dict) -> Calibration:
    """A record's calibration figures from its per-sample arrays (``topk_prob``, ``true_prob`` and, where kept,
    ``prob_sq_sum``; KeyError when the record kept no probabilities)."""
    top = np.asarray(preds["topk"] if "topk" in preds else preds["top5"])[:, 0]
    return calibration_of(np.asarray(preds["topk_prob"])[:, 0], top == np.asarray(preds["labels"]),
                          preds["true_prob"], preds.get("prob_sq_sum"))
