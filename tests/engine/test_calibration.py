"""Calibration figures against hand-computed cases and independent implementations: netcal's ECE (equal-width
bins), scikit-learn's log loss, the multi-class Brier score written out; the temperature fit against a grid."""
from __future__ import annotations

import numpy as np
import pytest

from bench.engine.calibration import (brier, calibration_of, expected_calibration_error, fit_temperature,
                                      from_probabilities, nll, reliability, softmax_t)


def test_ece_by_hand():
    conf, right = [0.9, 0.8, 0.6, 0.3], [1, 0, 1, 0]
    # equal width, 2 bins: [0, .5) holds 0.3 (|0 - .3| x 1); [.5, 1] holds .9 .8 .6 (|2/3 - .7667| x 3)
    assert expected_calibration_error(conf, right, "equal_width", bins=2) == pytest.approx((0.3 + 0.3) / 4)
    # equal mass, 2 bins by sorted confidence: {.3, .6} (|.5 - .45| x 2), {.8, .9} (|.5 - .85| x 2)
    assert expected_calibration_error(conf, right, "equal_mass", bins=2) == pytest.approx((0.1 + 0.7) / 4)
    assert expected_calibration_error([1.0, 1.0], [1, 1], "equal_width") == 0.0  # 1.0 falls in the last bin
    r = reliability(conf, right, bins=2)
    assert r["count"].tolist() == [1, 3] and r["accuracy"][1] == pytest.approx(2 / 3)


def _probabilities(seed: int, n: int = 3000, k: int = 7):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.5, size=(n, k))
    probs = softmax_t(logits, 1.0)
    labels = np.array([rng.choice(k, p=p) for p in softmax_t(logits, 1.7)])  # over-confident by T = 1.7
    return logits, probs, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_width_ece_equals_netcal(seed):
    from netcal.metrics import ECE

    _, probs, labels = _probabilities(seed)
    ours = from_probabilities(probs, labels)
    assert ours.ece_equal_width == pytest.approx(float(ECE(bins=15).measure(probs, labels)), abs=1e-9)
    assert ours.ece != ours.ece_equal_width  # the two binnings are two numbers


def test_nll_and_brier_against_references():
    from sklearn.metrics import log_loss

    _, probs, labels = _probabilities(3)
    ours = from_probabilities(probs, labels)
    assert ours.nll == pytest.approx(log_loss(labels, probs, labels=list(range(probs.shape[1]))), rel=1e-9)
    onehot = np.eye(probs.shape[1])[labels]
    assert ours.brier == pytest.approx(float(((probs - onehot) ** 2).sum(axis=1).mean()), rel=1e-9)
    rows = np.arange(len(labels))
    assert nll(probs[rows, labels]) == ours.nll
    assert brier((probs ** 2).sum(axis=1), probs[rows, labels]) == pytest.approx(ours.brier)
    assert calibration_of(probs.max(1), probs.argmax(1) == labels, probs[rows, labels]).brier is None


def test_temperature_fit_finds_the_nll_minimum():
    logits, _, labels = _probabilities(4, n=6000)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(1.7, rel=0.08)  # the labels were drawn at T = 1.7

    def loss(temperature):
        return from_probabilities(softmax_t(logits, temperature), labels).nll

    assert loss(t) <= min(loss(t * 0.97), loss(t * 1.03))
    assert from_probabilities(softmax_t(logits, t), labels).ece < from_probabilities(softmax_t(logits, 1.0), labels).ece
