"""Metrics against scikit-learn and hand-computed cases; seeded stratified subsets."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score

from bench.core.errors import UserError
from bench.engine.metrics import classification_metrics, wilson_interval
from bench.engine.sampling import stratified_subset


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


def test_holm_hand_computed():
    from bench.engine.metrics import holm

    # sorted p: 0.01, 0.02, 0.03, 0.2 -> x4, x3, x2, x1 = 0.04, 0.06, 0.06 (monotone), 0.2
    assert holm([0.03, 0.01, 0.2, 0.02]) == pytest.approx([0.06, 0.04, 0.2, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]) and holm([0.04]) == [0.04]


def test_paired_bootstrap_of_mean_per_class_recall():
    from bench.engine.metrics import mean_per_class_recall, paired_bootstrap_mpcr

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), [200, 100, 50, 10])  # unbalanced: MPCR differs from top-1
    a = rng.random(len(labels)) < np.where(labels == 3, 0.9, 0.6)
    b = rng.random(len(labels)) < 0.6
    diff, lo, hi, p = paired_bootstrap_mpcr(a, b, labels, n_resamples=2000, seed=0)
    by_hand = mean_per_class_recall(np.where(a, labels, -1), labels) - mean_per_class_recall(
        np.where(b, labels, -1), labels)
    assert diff == pytest.approx(by_hand) and lo < diff < hi and 0 <= p <= 1
    assert diff != pytest.approx(a.mean() - b.mean())  # not the top-1 difference
    same = paired_bootstrap_mpcr(a, a, labels, n_resamples=500, seed=0)
    assert same[0] == 0 and same[3] == 1.0


def test_mean_of_top1_and_top5_for_kinetics():
    from tasks.registry import get_task

    logits = torch.tensor([[9.0, 1, 2, 3, 4, 5, 0], [1.0, 9, 2, 3, 4, 5, 0], [0.0, 1, 2, 3, 4, 5, 9]])
    # image 0: label 0 ranks 1st; image 1: label 6 ranks 7th; image 2: label 1 ranks 6th
    metrics, _ = classification_metrics(logits, np.array([0, 6, 1]))
    assert metrics["top1"] == pytest.approx(1 / 3) and metrics["top5"] == pytest.approx(1 / 3)
    # image 1: label 5 ranks 3rd; image 2: label 5 ranks 2nd (both top-5, not top-1)
    metrics, _ = classification_metrics(logits, np.array([0, 5, 5]))
    assert metrics["top1"] == pytest.approx(1 / 3) and metrics["top5"] == pytest.approx(1.0)
    assert metrics["mean_top1_top5"] == pytest.approx(2 / 3)
    assert get_task("kinetics700").metric == "mean_top1_top5"  # the CLIP paper's Table 9 metric


def test_exact_ties_go_to_the_lower_class_index_as_argmax_does():
    """One top-1 rule: argmax's first index (DataComp, CLIP_benchmark). torch.topk on the CPU does not
    keep it for exact ties; the predictions here must."""
    import torch

    from bench.engine.metrics import classification_metrics, topk_predictions

    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.integers(0, 3, size=(400, 1000)).astype(np.float32))  # many exact ties
    top = topk_predictions(logits, 5)
    assert (top[:, 0] == logits.argmax(dim=1).numpy()).all()
    assert (top[:, 0] == np.argmax(logits.numpy(), axis=1)).all()
    for row, idx in zip(logits.numpy(), top):  # then descending, lower index first among equals
        assert all((row[a], -a) > (row[b], -b) for a, b in zip(idx, idx[1:]))
    assert (logits.topk(5, dim=1).indices[:, 0].numpy() != top[:, 0]).any()  # the case this rule is for
    labels = np.argmax(logits.numpy(), axis=1)
    assert classification_metrics(logits, labels)[0]["top1"] == 1.0
