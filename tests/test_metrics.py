"""Metrics against scikit-learn and hand-computed cases; seeded stratified subsets."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score

from bench.core.errors import UserError
from bench.metrics import classification_metrics, wilson_interval
from bench.sampling import stratified_subset


def test_metrics_against_sklearn():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(500, 12))).float()
    labels = rng.integers(0, 12, size=500)
    labels[:100] = 3  # imbalanced: mean per-class recall differs from top-1
    metrics, top5 = classification_metrics(logits, labels)
    pred = logits.argmax(1).numpy()
    assert metrics["top1"] == pytest.approx((pred == labels).mean())
    assert metrics["top5"] == pytest.approx(top_k_accuracy_score(labels, logits.numpy(), k=5, labels=range(12)))
    assert metrics["mean_per_class_recall"] == pytest.approx(balanced_accuracy_score(labels, pred))
    assert top5.shape == (500, 5) and np.array_equal(top5[:, 0], pred)


def test_hand_computed_case():
    logits = torch.tensor([[3., 1, 0, 0, 0, 0], [0, 3, 1, 0, 0, 0], [3, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1]])
    labels = np.array([0, 2, 5, 5])
    m, _ = classification_metrics(logits, labels)
    assert m["top1"] == 0.5                   # samples 0 and 3
    assert m["top5"] == 1.0
    assert m["mean_per_class_recall"] == pytest.approx((1 + 0 + 0.5) / 3)
    small, _ = classification_metrics(logits[:, :3], np.array([0, 2, 0, 1]))
    assert small["top5"] is None              # 3 classes: top-5 would be trivially 1


def test_wilson_interval_hand_computed():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0


def test_stratified_subset():
    targets = np.repeat(np.arange(4), [100, 50, 30, 20])
    a = stratified_subset(targets, 40, seed=1)
    assert len(a) == 40 and np.array_equal(a, np.sort(a))
    assert np.bincount(targets[a]).tolist() == [20, 10, 6, 4]
    assert np.array_equal(a, stratified_subset(targets, 40, seed=1))
    assert not np.array_equal(a, stratified_subset(targets, 40, seed=2))
    assert len(stratified_subset(targets, 1000, seed=0)) == 200
    with pytest.raises(UserError):
        stratified_subset(targets, 0, seed=0)
