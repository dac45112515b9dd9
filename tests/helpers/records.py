"""Fixture run records written through the real record writer (no model runs)."""
from __future__ import annotations

import zlib

import numpy as np

from bench.engine.records import RunRecord, save_record


def add(out, model, pretrained, task, acc, *, protocol="zeroshot", templates="t", created="20260101T000000",
        n=400, seed=0, metric="top1", parent=None, own=True, extra=None, shots=None, more=None, probs=False):
    # one uniform draw per image, shared by all models: the better model is right on a superset (paired data)
    rng = np.random.default_rng(zlib.crc32(f"{task}|{n}".encode()))
    labels = np.arange(n) % 10
    right = rng.random(n) < acc
    pred = np.where(right, labels, (labels + 1) % 10)
    top5 = np.stack([pred] + [(pred + k) % 10 for k in range(1, 5)], axis=1)
    metrics = {"top1": float(right.mean()), "top5": 1.0, "mean_per_class_recall": float(right.mean()),
               "primary": float(right.mean())}
    config = {"metric": metric, "task_templates": own, **(extra or {})}
    if shots:
        metrics["shots"] = shots
    metrics.update(more or {})
    rec = RunRecord(model=model, pretrained=pretrained, task=task, split="test", protocol=protocol, metrics=metrics,
                    n_samples=n, templates=templates, seed=seed, config=config, versions={"zsbench": "0.1.0"},
                    timings={"features": 1.0}, task_info={"parent": parent}, created=created)
    arrays = {"indices": np.arange(n), "labels": labels, "top5": top5.astype(np.int32)}
    if probs:  # per-sample probabilities as a run keeps them: a seeded confidence for the top class, the rest spread
        from bench.engine.sample_scores import sample_scores

        confidence = 0.3 + 0.7 * rng.random(n)
        matrix = np.tile(((1 - confidence) / 9)[:, None], (1, 10))
        matrix[np.arange(n), pred] = confidence
        arrays.update(sample_scores(matrix, labels))
    save_record(rec, out, arrays)
    return right


def two_checkpoints(out) -> None:
    """ViT-B-32 openai vs laion2b on cifar10, cifar100 and mnist: A better, a near tie, B better."""
    for task, a, b in (("cifar10", 0.90, 0.80), ("cifar100", 0.65, 0.64), ("mnist", 0.40, 0.55)):
        add(out, "ViT-B-32", "openai", task, a)
        add(out, "ViT-B-32", "laion2b_s34b_b79k", task, b)
