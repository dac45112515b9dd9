"""``zsbench perf``: speed as ratios against a reference measured in the same run, same data.

Sections so far: ``probe`` — the CLIP-paper C sweep of :class:`LogisticProbe` against the same
sweep run with scikit-learn's ``LogisticRegression(solver="lbfgs")`` (cold fits, and with
sklearn's own warm starts), at the same tolerance and iteration cap.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.linear_probe import LogisticProbe, paper_lambda_search, stratified_split


def synthetic_features(n: int, dim: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm clustered features (CLIP-like scale) with a realistic, imperfect separability."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, dim)) * 0.05
    y = rng.integers(0, n_classes, size=n)
    X = means[y] + rng.normal(size=(n, dim)) / np.sqrt(dim) * 6.0
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), y


def probe_sweep(n: int = 10000, dim: int = 512, n_classes: int = 100, seed: int = 0, tol: float = 1e-6,
                max_iter: int = 1000) -> dict[str, Any]:
    """Time the full C search (train/val split of n samples) for ours vs scikit-learn."""
    from sklearn.linear_model import LogisticRegression

    X, y = synthetic_features(n, dim, n_classes, seed)
    X_test, y_test = synthetic_features(n // 5, dim, n_classes, seed)  # same class means: seed fixes them
    tr, va = stratified_split(y, 0.2, seed)

    t0 = time.perf_counter()
    ours = LogisticProbe(C=None, tol=tol, max_iter=max_iter, seed=seed)
    best_ours, _ = ours._fit_classes(y)._search(X[tr], y[tr], X[va], y[va])
    ours_s = time.perf_counter() - t0

    def sklearn_sweep(warm: bool) -> tuple[float, float]:
        clf = LogisticRegression(max_iter=max_iter, tol=tol, warm_start=warm)
        last = {}

        def evaluate(log_lam: float) -> float:
            if warm and last:  # start from the nearest finished fit, as ours does
                near = min(last, key=lambda v: abs(v - log_lam))
                clf.coef_, clf.intercept_ = last[near][0].copy(), last[near][1].copy()
            clf.set_params(C=10.0 ** (-log_lam))
            clf.fit(X[tr], y[tr])
            last[log_lam] = (clf.coef_.copy(), clf.intercept_.copy())
            return clf.score(X[va], y[va])

        t = time.perf_counter()
        best = paper_lambda_search(evaluate)
        return 10.0 ** (-best), time.perf_counter() - t

    best_cold, cold_s = sklearn_sweep(warm=False)
    best_warm, warm_s = sklearn_sweep(warm=True)
    ref = LogisticRegression(C=best_cold, max_iter=max_iter, tol=tol).fit(X[tr], y[tr]).score(X_test, y_test)
    mine = LogisticProbe(C=best_ours, tol=tol, max_iter=max_iter).fit(X[tr], y[tr]).score(X_test, y_test)
    return {
        "problem": {"n": n, "dim": dim, "classes": n_classes, "fits": len(ours.sweep_.Cs), "tol": tol},
        "ours_seconds": ours_s, "sklearn_cold_seconds": cold_s, "sklearn_warm_seconds": warm_s,
        "speedup_vs_sklearn_cold": cold_s / ours_s, "speedup_vs_sklearn_warm": warm_s / ours_s,
        "best_C": {"ours": best_ours, "sklearn": best_cold, "sklearn_warm": best_warm},
        "test_accuracy": {"ours": mine, "sklearn": ref},
    }


def run_perf(sections: list[str], **kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "probe" in sections:
        out["probe"] = probe_sweep(**kwargs)
    return out
