"""The assisted confidence sequences (bench.engine.assisted): the plain sequence as the special case,
the residuals' conditional mean by exhaustive enumeration, the range every bet relies on, time-uniform
coverage over 2,000 replays on six populations (useless, adversarial, anti-correlated and same-model
controls among them), and the images saved or lost against the plain sequence."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.engine.assisted import AssistedWidthSequence, assisted_cs, residuals
from bench.engine.sampling import stratified_order
from bench.engine.sequential import empirical_bernstein_cs, run_to_width


@pytest.mark.parametrize("horizon", [None, 300.0])
def test_with_uninformative_controls_it_is_the_plain_sequence(horizon):
    rng = np.random.default_rng(0)
    for N, n, p in ((2000, 700, 0.6), (500, 500, 0.05), (3000, 40, 0.97)):
        x = (rng.random(N) < p).astype(float)
        constant = np.full((N, 3), 0.4)  # no variance: every coefficient is 0 (to rounding), the residual x
        lo, hi, res = assisted_cs(x[:n], constant, 0.05, horizon=horizon)
        plo, phi = empirical_bernstein_cs(x[:n], 0.05, N, horizon=horizon)
        assert np.abs(res.betas).max() < 1e-12
        np.testing.assert_allclose(lo, plo, atol=1e-12)
        np.testing.assert_allclose(hi, phi, atol=1e-12)


def test_the_residual_has_the_unread_mean_whatever_came_before():
    """Over every order of a 6-unit population, the next residual's mean given the units read so far is the
    mean of the unread x: the controls' deviation averages to zero for any predictable coefficient."""
    rng = np.random.default_rng(1)
    x = rng.random(6)
    Z = rng.random((6, 2))
    N = len(x)
    by_prefix: dict[tuple, list[float]] = {}
    for order in itertools.permutations(range(N)):
        o = np.array(order)
        res = residuals(x[o], Z[o], looks=(2, 3, 4, 5), ridge=0.05)  # refit at every step from 2 on
        for t in range(3, N + 1):
            by_prefix.setdefault(order[:t - 1], []).append(res.y[t - 1])
        assert np.abs(res.betas[-1]).max() > 0.05
    for prefix, ys in by_prefix.items():
        unread = [i for i in range(N) if i not in prefix]
        assert np.mean(ys) == pytest.approx(x[unread].mean(), abs=1e-12), prefix


def test_every_residual_lies_in_the_range_its_bets_are_capped_for():
    """y_t >= 1 - c_low and 1 - y_t >= 1 - c_high: with a running mean in [0, 1], (y - m)/c >= -1, the
    condition of Fan's inequality, so no betting factor can go negative (large coefficients included)."""
    rng = np.random.default_rng(2)
    for trial in range(50):
        N = 300
        x = (rng.random(N) < rng.random()).astype(float)
        Z = rng.random((N, 3)) ** rng.uniform(0.2, 5, 3)
        Z[:, 0] = np.where(rng.random(N) < 0.5, x, 1 - x) if trial % 2 else Z[:, 0]
        order = rng.permutation(N)
        res = residuals(x[order], Z[order], looks=(8, 20, 50), ridge=1e-3)
        assert (res.y >= 1 - res.scale_low - 1e-12).all()
        assert (1 - res.y >= 1 - res.scale_high - 1e-12).all()


def _population(kind: str, N: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, x, controls) of a synthetic 10-class test set; the classes' accuracies differ."""
    labels = np.repeat(np.arange(10), N // 10)
    acc = {"tiny": 0.02}.get(kind, 0.55)
    p = np.clip(acc + (labels - 4.5) * (0.0 if kind == "tiny" else 0.04), 0, 1)
    x = (rng.random(N) < p).astype(float)
    relative = np.where(rng.random(N) < 0.08, 1 - x, x)   # a close relative: 8% of its answers differ
    if kind in ("relatives", "tiny"):
        Z = np.stack([relative, np.where(rng.random(N) < 0.25, 1 - x, x)], 1)   # and a distant one
    elif kind == "same":
        Z = x[:, None]
    elif kind == "useless":
        Z = rng.random((N, 2))
    elif kind == "anti":
        Z = (1 - relative)[:, None]
    elif kind == "adversarial":  # right where x is right on half the classes, wrong on the other half, and a
        # few extreme units that pull an early fit around
        Z = np.where(labels < 5, x, 1 - x)[:, None].astype(float)
        Z[rng.choice(N, N // 50, replace=False), 0] = 1.0
    else:
        raise ValueError(kind)
    return labels, x, Z


@pytest.mark.parametrize("kind", ["relatives", "same", "useless", "anti", "adversarial", "tiny"])
def test_time_uniform_coverage_over_2000_replays(kind):
    """The assisted 95% sequence never leaves the test set's mean, at any n, in at least 95% of 2,000 seeded
    orders (the production class-stratified order; bets tuned for n* = 400)."""
    rng = np.random.default_rng(3)
    N, runs = 1000, 2000
    labels, x, Z = _population(kind, N, rng)
    orders = np.stack([stratified_order(labels, seed) for seed in range(runs)])
    lo, hi, _ = assisted_cs(x[orders][:, :600], Z[orders], 0.05, horizon=400.0)
    covered = ((lo <= x.mean() + 1e-12) & (hi >= x.mean() - 1e-12)).all(axis=1).mean()
    assert covered >= 0.95, (kind, covered)


@pytest.mark.parametrize("kind, most", [("relatives", 0.55), ("same", 0.3), ("anti", 0.6), ("useless", 1.05),
                                        ("adversarial", 1.05)])
def test_images_needed_against_the_plain_sequence_and_coverage_when_stopped(kind, most):
    """The production schedule (WidthSequence's looks and horizons) stopped at W = 5 points on N = 4,000:
    a close relative needs about half the plain sequence's images (the looks double), useless or adversarial controls at most
    5% more (median over 40 seeds), and every stopped interval holds the mean."""
    rng = np.random.default_rng(4)
    N, W = 4000, 0.05
    labels, x, Z = _population(kind, N, rng)
    plain, assisted = [], []
    for seed in range(40):
        o = stratified_order(labels, seed)
        plain.append(run_to_width(x[o], N, W)[0])
        n, lo, hi, _ = run_to_width(x[o], N, W, seq=AssistedWidthSequence(N, W, Z[o]))
        assert lo <= x.mean() <= hi
        assisted.append(n)
    assert np.median(assisted) <= most * np.median(plain), (kind, np.median(assisted), np.median(plain))
