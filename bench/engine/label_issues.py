"""Likely label errors by confident learning (Northcutt, Jiang & Chuang, JAIR 2021), numpy only.

Given each sample's given label and a probability vector over the classes (here: the mean of the
recorded models' probabilities), a sample is a likely label error when it is *confidently* another
class: its probability for some class k reaches that class's threshold t_k, the average probability
of k over the samples labelled k (the class's mean self-confidence). When several classes reach their
thresholds the most probable one is taken. Those samples are the confident joint's off-diagonal
entries; a sample whose own label is (within 1e-6) its most probable class is kept out. The issues are
ranked by the normalized margin (p_given - max over other classes + 1) / 2, lowest first.

This is cleanlab 2.9's ``find_label_issues(labels, pred_probs, filter_by="confident_learning",
return_indices_ranked_by="normalized_margin")`` step for step (the tests compare the two on the
same matrices), written here so the suite needs no extra dependency at run time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: cleanlab's constants: fuzzy comparison, and the floor of a class threshold
FLOATING_POINT_COMPARISON = 1e-6
THRESHOLD_FLOOR = 2 * FLOATING_POINT_COMPARISON
#: the threshold of a class no sample is labelled with: above any probability, so nobody lands there
ABSENT_CLASS_THRESHOLD = 2.0


@dataclass
class LabelIssues:
    indices: np.ndarray      # positions in the given arrays, most likely error first
    suggested: np.ndarray    # the class each flagged sample is confidently in
    score: np.ndarray        # normalized margin (lower: more likely an error)
    thresholds: np.ndarray   # per class


def confident_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per class, the mean probability of that class over the samples labelled with it."""
    out = np.array([probs[labels == k, k].mean() if np.any(labels == k) else ABSENT_CLASS_THRESHOLD
                    for k in range(probs.shape[1])])
    return np.clip(out, THRESHOLD_FLOOR, None)


def normalized_margin(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    rows = np.arange(len(labels))
    others = probs.copy()
    others[rows, labels] = -np.inf
    return (probs[rows, labels] - others.max(axis=1) + 1) / 2


def find_label_issues(labels, probs) -> LabelIssues:
    """The flagged samples, ranked (see the module docstring)."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise ValueError(f"probabilities {probs.shape} do not match {len(labels)} labels")
    thresholds = confident_thresholds(labels, probs)
    confident = probs >= thresholds - FLOATING_POINT_COMPARISON
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, probs.argmax(axis=1), confident.argmax(axis=1))
    flagged = (n_confident > 0) & (guess != labels)
    nudged = probs.copy()
    nudged[np.arange(len(labels)), labels] += FLOATING_POINT_COMPARISON
    flagged &= nudged.argmax(axis=1) != labels
    margin = normalized_margin(labels, probs)
    where = np.flatnonzero(flagged)
    order = where[np.argsort(margin[flagged])]
    return LabelIssues(order, guess[order], margin[order], thresholds)


def ensemble_quality_scores(labels, probs_list) -> np.ndarray:
    """Per sample, the label-quality score of several models weighted by each model's accuracy: each model's normalized
    margin, averaged with weights ``accuracy_m / sum(accuracies)``, lower meaning more likely mislabelled. It is
    cleanlab 2.9's ``rank.get_label_quality_ensemble_scores(labels, pred_probs_list, method="normalized_margin",
    weight_ensemble_members_by="accuracy")`` (the tests compare the two): a weak model's margins count less, where a
    plain mean of the probabilities lets them pull every score down alike."""
    labels = np.asarray(labels, dtype=np.int64)
    scores, accuracy = [], []
    for probs in probs_list:
        probs = np.asarray(probs, dtype=np.float64)
        scores.append(normalized_margin(labels, probs))
        accuracy.append(float((probs.argmax(axis=1) == labels).mean()))
    weights = np.asarray(accuracy) / sum(accuracy)
    return np.stack(scores, axis=1) @ weights


def reranked(found: LabelIssues, scores: np.ndarray) -> LabelIssues:
    """The same flagged samples ranked by ``scores`` (one per sample of the task, lowest first; ties keep the
    normalized-margin order)."""
    order = np.argsort(scores[found.indices], kind="stable")
    return LabelIssues(found.indices[order], found.suggested[order], scores[found.indices][order], found.thresholds)
