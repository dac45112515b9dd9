"""How well ``zsbench samples --label-issues`` finds labels you flipped yourself.

Takes the records of one task (as ``zsbench samples`` selects them), flips a share of the test labels
with a seed (each to another class, uniformly), and runs the same confident-learning step on the
models' mean probabilities with the flipped labels. This equals evaluating on a copy of the test split
whose labels were flipped: no protocol's test-time probabilities depend on the test labels (a probe is
trained on the training split). Prints how many samples are flagged, precision at k = the number
flipped, and the AUROC of the score (1 - normalized margin) for "this label was flipped"; the same for
``--rank-by ensemble``'s ranking (cleanlab's accuracy-weighted ensemble score of the same flagged set).

    python examples/label_issue_flips.py results/ --task cifar10 --flip 0.02 --seed 0
"""
from __future__ import annotations

import argparse

import numpy as np

from bench.engine.label_issues import ensemble_quality_scores, find_label_issues, normalized_margin, reranked
from bench.engine.sample_scores import probability_matrix
from bench.report.collect import load_runs
from bench.report.samples import load_task_samples, mean_probabilities


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUROC (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--task", required=True)
    parser.add_argument("--models", action="append")
    parser.add_argument("--protocol")
    parser.add_argument("--flip", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    samples = load_task_samples(load_runs(args.results), args.task, args.models, args.protocol)
    probs, exact = mean_probabilities(samples)
    k = probs.shape[1]
    rng = np.random.default_rng(args.seed)
    labels = samples.labels.copy()
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rng.choice(len(labels), size=int(round(args.flip * len(labels))), replace=False)] = True
    labels[flipped] = (labels[flipped] + rng.integers(1, k, int(flipped.sum()))) % k
    clean = find_label_issues(samples.labels, probs)
    found = find_label_issues(labels, probs)
    n = int(flipped.sum())
    precision = float(flipped[found.indices[:n]].mean()) if len(found.indices) >= 1 else 0.0
    recall = float(flipped[found.indices].sum() / n)
    print(f"{args.task}: {len(labels):,} samples, models: {'; '.join(m.label for m in samples.models)}"
          f" ({'exact' if exact else 'approximate'} probabilities)")
    print(f"  as recorded: {len(clean.indices):,} flagged")
    print(f"  {n} labels flipped ({args.flip:.0%}, seed {args.seed}): {len(found.indices):,} flagged; precision at "
          f"k={n}: {precision:.3f}; recall among all flagged: {recall:.3f}; AUROC of 1 - normalized margin: "
          f"{auroc(1 - normalized_margin(labels, probs), flipped):.4f}")
    matrices = [probability_matrix(m.preds, k)[0] for m in samples.models]
    weighted = ensemble_quality_scores(labels, matrices)
    ranked = reranked(found, weighted)
    precision = float(flipped[ranked.indices[:n]].mean()) if len(ranked.indices) >= 1 else 0.0
    print(f"  --rank-by ensemble (accuracy-weighted): precision at k={n}: {precision:.3f}; AUROC of 1 - weighted "
          f"score: {auroc(1 - weighted, flipped):.4f}")


if __name__ == "__main__":
    main()
