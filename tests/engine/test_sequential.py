"""The anytime-valid maths of adaptive evaluation, against its authors' code and by simulation.

* Reference: ``confseq`` 0.0.11 (Waudby-Smith & Ramdas's package). Its sdist needs Boost to build its
  C++ part, so it does not ``pip install`` here (and ``expectation`` needs Python >= 3.12); the pure
  Python modules we compare with (``predmix``, ``betting``) are read from the sdist that
  ``pip download`` fetches (PyPI: a ``network`` test, cached afterwards), hash checked.
* Coverage: the 95% sequence, stopped at its first look narrower than the target, holds the
  population's accuracy in at least 94% of 2,000 seeded runs, for accuracies 0.02 to 0.98 and for
  the real per-sample correctness of ConSE on CIFAR-10 test (tests/fixtures/conse_cifar10_correct.npz,
  from the demo's record: 54.67% top-1).
* Type-I error: the sequential paired test rejects "equal accuracy" in at most alpha of 2,000 runs of
  two models with the same accuracy, and detects a 12-point gap.
"""
from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
import tarfile
import types
from pathlib import Path

import numpy as np
import pytest

from bench.engine.sampling import stratified_order
from bench.engine.sequential import (FIRST_CHUNK, WidthSequence, empirical_bernstein_cs, hedged_capital,
                                     plan_horizon, run_to_width)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONFSEQ_SDIST = "confseq-0.0.11.tar.gz"
CONFSEQ_SHA256 = "b4f7723089478dda4b011a0bfe4d449f017d7ce0ec0d5039181c3e4a576bc914"


@pytest.fixture(scope="module")
def confseq(mirror_store):
    """confseq's ``predmix`` and ``betting`` modules, imported from its sdist (not installed)."""
    folder = mirror_store.area("confseq")
    sdist = folder / CONFSEQ_SDIST
    if not sdist.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "-d", str(folder), "confseq==0.0.11"], check=True, capture_output=True, timeout=300)
    assert hashlib.sha256(sdist.read_bytes()).hexdigest() == CONFSEQ_SHA256
    src = folder / "confseq-0.0.11" / "src"
    if not (src / "confseq" / "predmix.py").exists():
        with tarfile.open(sdist) as tar:
            tar.extractall(folder, filter="data")
    # its code predates NumPy 2 (np.float_ in annotations) and imports multiprocess for an option we do not use:
    # where multiprocess is not installed, a stand-in serves the import and is removed right after
    import importlib.util

    had_float = hasattr(np, "float_")
    np.float_ = np.float64  # type: ignore[attr-defined]
    stub = importlib.util.find_spec("multiprocess") is None
    if stub:
        sys.modules["multiprocess"] = types.ModuleType("multiprocess")
    sys.path.insert(0, str(src))
    try:
        yield types.SimpleNamespace(predmix=importlib.import_module("confseq.predmix"),
                                    betting=importlib.import_module("confseq.betting"))
    finally:
        sys.path.remove(str(src))
        if stub:
            sys.modules.pop("multiprocess", None)
        if not had_float:
            del np.float_


def _samples(rng):
    N = 3000
    yield "bernoulli 0.7", rng.permutation((rng.random(N) < 0.7).astype(float))[:1800], N
    yield "bernoulli 0.03", rng.permutation((rng.random(N) < 0.03).astype(float))[:900], N
    yield "thirds", rng.integers(0, 3, 1500) / 2, N
    yield "continuous", rng.beta(2, 5, 700), None


@pytest.mark.parametrize("horizon", [None, 500])
def test_empirical_bernstein_sequence_equals_confseq(confseq, horizon):
    for name, x, N in _samples(np.random.default_rng(1)):
        lo_ref, hi_ref = confseq.predmix.predmix_empbern_twosided_cs(x, alpha=0.05, truncation=0.5,
                                                                      running_intersection=True, N=N, fixed_n=horizon)
        lo, hi = empirical_bernstein_cs(x, 0.05, N, finite_bounds=False, horizon=horizon)
        np.testing.assert_allclose(lo, lo_ref, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(hi, hi_ref, atol=1e-12, err_msg=name)


def test_hedged_capital_equals_confseq(confseq):
    for name, x, N in _samples(np.random.default_rng(2)):
        for m in (0.5, 0.3, 0.72):
            ref = confseq.betting.betting_mart(x, m, alpha=0.05, N=N)
            ours = hedged_capital(x, m, 0.05, N)
            finite = np.isfinite(ref)
            assert np.array_equal(finite, np.isfinite(ours)), name
            np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-10, err_msg=f"{name} m={m}")


def test_finite_population_bounds_close_on_the_exact_mean():
    x = (np.random.default_rng(3).random(400) < 0.6).astype(float)
    lo, hi = empirical_bernstein_cs(x, 0.05, N=400)
    assert lo[-1] == hi[-1] == pytest.approx(x.mean())
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(hi) <= 0)  # running intersection


def test_horizon_plan():
    # n* = 8 v L / (W^2 + 8 v L / N): CIFAR-10's 10,000 at W = 3 points, worst-case variance
    L = np.log(2 / 0.05)
    assert plan_horizon(0.03, 10_000, 0.05) == pytest.approx(2 * L / (0.03 ** 2 + 2 * L / 10_000))
    assert plan_horizon(0.03, 10_000, 0.05, variance=0.01) < plan_horizon(0.03, 10_000, 0.05)


def _population(n: int, accuracy: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """10 classes of n/10, each with its own accuracy around ``accuracy`` (so stratification matters)."""
    labels = np.repeat(np.arange(10), n // 10)
    per_class = np.clip(accuracy + np.linspace(-0.15, 0.15, 10) * min(accuracy, 1 - accuracy) * 4, 0, 1)
    correct = np.concatenate([rng.permutation(np.arange(n // 10) < round(p * n // 10)) for p in per_class])
    return labels, correct.astype(float)


def _coverage(labels, correct, width, runs=2000, seed=0) -> tuple[float, float]:
    truth, N, hits, used = correct.mean(), len(correct), 0, 0
    for r in range(runs):
        order = stratified_order(labels, seed * 100_000 + r)
        n, lo, hi, _ = run_to_width(correct[order], N, width)
        hits += lo <= truth <= hi
        used += n
    return hits / runs, used / runs


@pytest.mark.slow
@pytest.mark.parametrize("accuracy", [0.02, 0.2, 0.5, 0.8, 0.98])
def test_coverage_stopped_at_first_crossing_synthetic(accuracy):
    labels, correct = _population(1000, accuracy, np.random.default_rng(int(accuracy * 100)))
    coverage, mean_n = _coverage(labels, correct, width=0.08)
    assert coverage >= 0.94, (accuracy, coverage, mean_n)


@pytest.mark.slow
def test_coverage_on_conse_cifar10_per_sample_correctness():
    data = np.load(FIXTURES / "conse_cifar10_correct.npz")
    n = int(data["n"])
    correct = np.unpackbits(data["correct"])[:n].astype(float)
    assert correct.mean() == pytest.approx(0.5467)  # the demo's record
    coverage, mean_n = _coverage(data["labels"], correct, width=0.06)
    assert coverage >= 0.94 and mean_n < n / 2, (coverage, mean_n)


def test_width_sequence_stops_at_target_or_at_the_end():
    x = (np.random.default_rng(4).random(3000) < 0.5).astype(float)
    n, lo, hi, looks = run_to_width(x, 3000, 0.08)
    assert hi - lo <= 0.08 and looks[0] == FIRST_CHUNK and looks == sorted(looks) and n < 3000
    n, lo, hi, looks = run_to_width(x, 3000, 0.001)  # unreachable before the end: exact at N
    assert n == 3000 and lo == hi == pytest.approx(x.mean())
    small = WidthSequence(300, 0.05)
    assert small.next_n == 300  # a task smaller than one chunk is read whole


def _type_one_error(ca, cb, labels, runs, alpha=0.05, batch=64, seed=0) -> float:
    rng = np.random.default_rng(seed)
    N = len(ca)
    orders = np.stack([stratified_order(labels, int(rng.integers(1 << 31))) for _ in range(runs)])
    x = (ca[orders] - cb[orders] + 1) / 2
    capital = hedged_capital(x, 0.5, alpha, N)
    looks = np.minimum(np.arange(batch, N + batch, batch), N) - 1
    return float((np.maximum.accumulate(capital, axis=1)[:, looks] >= 1 / alpha).any(axis=1).mean())


def test_sequential_paired_test_type_one_error_and_power():
    rng = np.random.default_rng(5)
    N, labels = 2000, np.repeat(np.arange(10), 200)
    ca = rng.permutation(np.arange(N) < 1200).astype(float)     # both 60% right, different mistakes
    cb = rng.permutation(np.arange(N) < 1200).astype(float)
    assert _type_one_error(ca, cb, labels, runs=2000) <= 0.05
    assert _type_one_error(ca, ca, labels, runs=200) == 0.0   # identical models never differ
    better = ca.copy()
    better[np.flatnonzero(ca == 0)[:240]] = 1                    # +12 points
    assert _type_one_error(better, ca, labels, runs=200) >= 0.99


def test_betting_interval_equals_confseq_and_agrees_with_the_test(confseq):
    from bench.engine.sequential import betting_interval

    rng = np.random.default_rng(6)
    for N, x in ((2000, rng.integers(0, 3, 400) / 2), (1000, (rng.random(300) < 0.3).astype(float))):
        lo_ref, hi_ref = confseq.betting.betting_cs(x, alpha=0.05, N=N, breaks=200, running_intersection=True)
        lo, hi = betting_interval(x, 0.05, N, breaks=200)
        assert (lo, hi) == pytest.approx((lo_ref[-1], hi_ref[-1]), abs=1e-12)
        rejected = bool((hedged_capital(x, 0.5, 0.05, N) >= 20).any())
        assert rejected == (not lo <= 0.5 <= hi)
