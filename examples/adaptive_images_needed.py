"""How many images adaptive evaluation needs, from recorded per-sample results (no model runs).

Replays ``zsbench run --target-ci W`` (and ``zsbench compare --sequential``) over many seeds on the
per-sample predictions that full runs recorded, exactly as the engine schedules its looks: the
table in docs/adaptive.md comes from

    zsbench run --model conse-effnetlite0-minilm --pretrained T=10 --model conse-effnetlite0-minilm \\
        --pretrained T=1 --task cifar10 --out results-cifar
    python examples/adaptive_images_needed.py results-cifar/runs/*T=10*cifar10*.json \\
        --versus results-cifar/runs/*T=1__cifar10*.json
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.engine.records import load_predictions, read_record
from bench.engine.sampling import stratified_order
from bench.engine.sequential import run_to_width
from bench.report.sequential_compare import sequential_compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", help="a full zero-shot record (.json, with its .preds.npz)")
    parser.add_argument("--versus", help="a second model's full record on the same data: compare --sequential")
    parser.add_argument("--widths", default="1,2,3,5", help="target widths in points (default 1,2,3,5)")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--assist", default="none", help="--versus: compare --sequential's --assist (auto: the other "
                        "full records in the record's results folder; default none)")
    args = parser.parse_args()
    record, preds = read_record(Path(args.record)), load_predictions(Path(args.record))
    correct = (preds["top5"][:, 0] == preds["labels"]).astype(float)
    N = len(correct)
    print(f"{record.model} {record.pretrained} on {record.task}: top-1 {100 * correct.mean():.2f} over {N:,} images")
    print("| W (points) | images needed: median | 10th-90th percentile | share of the test set | "
          "interval held the full figure |")
    print("|---:|---:|---:|---:|---:|")
    for width in (float(w) for w in args.widths.split(",")):
        used, held = [], 0
        for seed in range(args.seeds):
            order = stratified_order(preds["labels"], seed)
            n, lo, hi, _ = run_to_width(correct[order], N, width / 100)
            used.append(n)
            held += lo <= correct.mean() <= hi
        used = np.array(used)
        print(f"| {width:g} | {int(np.median(used)):,} | {int(np.percentile(used, 10)):,}-"
              f"{int(np.percentile(used, 90)):,} | {np.median(used) / N:.0%} | {held}/{args.seeds} |")
    if args.versus:
        folder = Path(args.record).resolve().parent.parent
        results = [sequential_compare(args.record, args.versus, record.task, "A", "B", 0.05, seed, args.assist, folder)
                   for seed in range(args.seeds)]
        used = np.array([c.n for c in results])
        verdicts = {v: sum(c.verdict == v for c in results) for v in ("A better", "B better", "undecided")}
        print(f"compare --sequential --assist {args.assist} (A = {args.record}, B = {args.versus}): images needed median "
              f"{int(np.median(used)):,}, 10th-90th percentile {int(np.percentile(used, 10)):,}-"
              f"{int(np.percentile(used, 90)):,} of {N:,}; verdicts over {args.seeds} seeds: {verdicts}")


if __name__ == "__main__":
    main()
