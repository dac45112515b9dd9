"""Seeded, class-stratified sample selection (subsets for quick runs; later few-shot draws)."""
from __future__ import annotations

import numpy as np

from bench.core.errors import UserError


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


def few_shot_indices(labels: np.ndarray, k: int, seed: int, class_names: list[str] | None = None) -> np.ndarray:
    """``k`` positions per class, drawn with ``seed`` (the same seed gives the same draw); sorted."""
    labels = np.asarray(labels)
    if k < 1:
        raise UserError(f"shots per class must be >= 1 (got {k})")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        pool = np.flatnonzero(labels == c)
        if len(pool) < k:
            name = class_names[c] if class_names is not None and c < len(class_names) else str(c)
            raise UserError(f"class '{name}' has {len(pool)} training samples, fewer than k={k} shots: "
                            f"use --shots up to {len(pool)}")
        chosen.append(rng.choice(pool, size=k, replace=False))
    return np.sort(np.concatenate(chosen))


def stratified_order(targets: np.ndarray, seed: int) -> np.ndarray:
    """A seeded random order of all positions in which every prefix is class-stratified.

    Each class is shuffled; its j-th sample (of n_c) gets the key (j + u) / n_c with u uniform in
    [0, 1), and the positions are sorted by key. A prefix of any length then holds each class in
    proportion to its size (within one sample), while the order inside and across classes stays
    random. Adaptive evaluation reads its growing sample in this order."""
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    keys = np.empty(len(targets))
    for c in np.unique(targets):
        members = np.flatnonzero(targets == c)
        rank = rng.permutation(len(members))
        keys[members] = (rank + rng.random(len(members))) / len(members)
    return np.argsort(keys, kind="stable")
