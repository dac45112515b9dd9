"""Images an assisted ``--target-ci`` needs against the plain one, and coverage, replayed on recorded
per-sample results (no model runs): the tables in docs/adaptive.md come from

    zsbench run --model conse-effnetlite0-minilm --pretrained T=1 --pretrained T=5 ... --task cifar10 --out R
    python examples/assisted_images_needed.py \\
        --scenario "relatives: T=5, T=20|R/runs/*T=10__cifar10*.json|R/runs/*T=5__*.json,R/runs/*T=20__*.json" \\
        --scenario ... --seeds 200 --coverage-runs 2000

Each scenario is ``LABEL|NEW RECORD|EARLIER RECORD,EARLIER RECORD,...`` (full records with their
.preds.npz, globs allowed). For every target width it replays the engine's schedule (the seeded
class-stratified order, the looks and horizons of ``--target-ci``) with the plain sequence, the
assisted one (what ``--assist`` runs) and, for comparison, a fixed beta = 1 difference with the
earlier models' mean correctness; then the coverage of the plain and assisted intervals at W = 3 over
``--coverage-runs`` orders, on the scenarios and on two controls built to mislead (anti-correlated:
1 - the first earlier model; adversarial: the new model's own answers on half the classes and their
opposite on the other half).
"""
from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path

import numpy as np

from bench.engine.assisted import AssistedWidthSequence
from bench.engine.records import load_predictions, read_record
from bench.engine.sampling import stratified_order
from bench.engine.sequential import run_to_width


def correctness(pattern: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(top-1 right per sample in index order, labels, label) of the one record the glob names."""
    [path] = glob.glob(pattern) or [pattern]
    record, preds = read_record(Path(path)), load_predictions(Path(path))
    order = np.argsort(preds["indices"])
    right = (np.asarray(preds["top5"])[:, 0] == np.asarray(preds["labels"])).astype(float)
    return right[order], np.asarray(preds["labels"])[order], f"{record.model} {record.pretrained} {record.protocol}"


def replay(x, labels, Z, width, seeds, fixed=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Images used by the plain and the assisted sequence over ``seeds`` orders, and how often each held."""
    N, mu = len(x), x.mean()
    plain, assisted, held = [], [], np.zeros(2, dtype=int)
    for seed in range(seeds):
        o = stratified_order(labels, seed)
        n, lo, hi, _ = run_to_width(x[o], N, width)
        plain.append(n)
        held[0] += lo <= mu <= hi
        if Z is not None:
            n, lo, hi, _ = run_to_width(x[o], N, width, seq=AssistedWidthSequence(N, width, Z[o], fixed=fixed))
            assisted.append(n)
            held[1] += lo <= mu <= hi
    return np.array(plain), np.array(assisted), held


def spread(used: np.ndarray) -> str:
    return f"{int(np.median(used)):,} ({int(np.percentile(used, 10)):,}-{int(np.percentile(used, 90)):,})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", required=True, metavar="LABEL|NEW|EARLIER,...")
    parser.add_argument("--widths", default="3,2", help="target widths in points (default 3,2)")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--coverage-runs", type=int, default=2000)
    parser.add_argument("--coverage-width", type=float, default=3.0)
    args = parser.parse_args()
    scenarios = []
    for text in args.scenario:
        label, new, earlier = text.split("|")
        x, labels, name = correctness(new)
        cols = [correctness(p) for p in earlier.split(",")]
        for _, other, _ in cols:
            assert np.array_equal(other, labels), "the records must hold the same test set"
        Z = np.stack([c for c, _, _ in cols], axis=1)
        scenarios.append((label, x, labels, Z, name, [n for _, _, n in cols]))

    print("| earlier records -> new model | W | plain: median (10th-90th) | assisted | ratio | fixed beta = 1 "
          "difference | ratio | corr. with the new model |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, x, labels, Z, name, earlier in scenarios:
        corr = ", ".join(f"{np.corrcoef(x, z)[0, 1]:.2f}" for z in Z.T)
        for width in (float(w) / 100 for w in args.widths.split(",")):
            t0 = time.perf_counter()
            plain, assisted, _ = replay(x, labels, Z, width, args.seeds)
            _, fixed, _ = replay(x, labels, Z.mean(axis=1, keepdims=True), width, args.seeds, fixed=[1.0])
            ratio = np.median(assisted) / np.median(plain)
            print(f"| {label} | {100 * width:g} | {spread(plain)} | {spread(assisted)} | {ratio:.2f}x | "
                  f"{spread(fixed)} | {np.median(fixed) / np.median(plain):.2f}x | {corr} |", flush=True)
            del t0

    print(f"\ncoverage at W = {args.coverage_width:g} over {args.coverage_runs:,} orders each (nominal 95%):\n")
    print("| population (controls) | plain held | assisted held | assisted images, median |")
    print("|---|---:|---:|---:|")
    label, x, labels, Z, _, _ = scenarios[0]
    populations = [(f"{s[0]}", s[1], s[2], s[3]) for s in scenarios]
    populations.append(("anti-correlated: 1 - the first earlier model", x, labels, 1 - Z[:, :1]))
    classes = np.unique(labels)
    half = np.isin(labels, classes[: len(classes) // 2])
    populations.append(("adversarial: the new model's answers on half the classes, their opposite on the rest",
                        x, labels, np.where(half, x, 1 - x)[:, None]))
    populations.append(("the same model", x, labels, x[:, None]))
    for name, xx, ll, ZZ in populations:
        plain, assisted, held = replay(xx, ll, ZZ, args.coverage_width / 100, args.coverage_runs)
        print(f"| {name} | {held[0] / args.coverage_runs:.4f} | {held[1] / args.coverage_runs:.4f} | "
              f"{int(np.median(assisted)):,} |", flush=True)


if __name__ == "__main__":
    main()
