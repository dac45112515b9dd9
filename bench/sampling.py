"""Seeded, class-stratified sample selection (subsets for quick runs; later few-shot draws)."""
from __future__ import annotations

import numpy as np

from bench.errors import UserError


def stratified_subset(targets: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices whose class proportions match ``targets`` (largest-remainder rounding),
    drawn uniformly within each class with ``seed``; returned sorted. All indices if ``n`` >= N."""
    targets = np.asarray(targets)
    if n <= 0:
        raise UserError(f"--limit must be a positive number of samples (got {n})")
    if n >= len(targets):
        return np.arange(len(targets))
    classes, counts = np.unique(targets, return_counts=True)
    exact = counts * n / len(targets)
    take = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(targets == c), size=k, replace=False) for c, k in zip(classes, take) if k]
    return np.sort(np.concatenate(chosen))
