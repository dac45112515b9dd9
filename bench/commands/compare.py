"""``zsbench compare``: paired comparison of two checkpoints on the same images."""
from __future__ import annotations

import argparse

from bench.commands.base import Command, add_json, add_results, board, print_json, runs_of
from bench.core.numbers import count, fraction, seed_value
from bench.engine.config import assist_value


def add_arguments(cp: argparse.ArgumentParser) -> None:
    cp.add_argument("a", help="MODEL[:PRETRAINED], a checkpoint path or pretrained tag, or a run record .json")
    cp.add_argument("b", help="MODEL[:PRETRAINED], a checkpoint path or pretrained tag, or a run record .json")
    cp.add_argument("--task", action="append", help="only these tasks (default: every task both have)")
    cp.add_argument("--protocol", type=board, metavar="NAME",
                    help="a board (default: zeroshot, which includes retrieval tasks: McNemar on each caption's image "
                         "R@1, and WinoGAViL: a paired bootstrap of per-instance Jaccard), or one protocol's records "
                         "(e.g. linear-probe); each protocol declares its paired test")
    cp.add_argument("--resamples", type=count(1, 10 ** 7), default=10000, help="bootstrap resamples (default 10000)")
    cp.add_argument("--seed", type=seed_value, default=0,
                    help="bootstrap seed (0 to 4294967295); --sequential: the reading order of full records "
                         "(default 0)")
    cp.add_argument("--sequential", action="store_true",
                    help="read both models' per-sample results in a seeded class-stratified order and stop as soon as "
                         "an anytime-valid paired test (hedged betting, without replacement) decides the difference, "
                         "or the shared sample runs out; prints the images used out of all. Two --target-ci records "
                         "with the same --seed are read along their shared order")
    cp.add_argument("--alpha", type=fraction, default=0.05, help="--sequential: the test's level (default 0.05)")
    cp.add_argument("--assist", type=assist_value, default="auto", metavar="auto|none|RESULTS",
                    help="--sequential: bet on the residuals of the difference given earlier models' per-sample "
                         "results on the same images (still valid however unrelated they are; docs/adaptive.md): "
                         "auto (default: the other full records in the results folder), none, or a results folder")
    add_json(cp, "print one JSON object per task (accuracies, difference, interval, p, Holm-adjusted p, verdict)")
    add_results(cp)


def execute(args: argparse.Namespace) -> int:
    from bench.report.compare import as_table, compare
    from bench.report.compare import comparison_lines

    if args.sequential:
        return _sequential(args)

    comparisons = compare(runs_of(args), args.a, args.b, tasks=args.task, protocol=args.protocol,
                          n_resamples=args.resamples, seed=args.seed)
    if args.json:
        print(as_table(comparisons).reset_index().to_json(orient="records", indent=1))
    else:
        print("\n".join(comparison_lines(comparisons)))
    return 0


def _sequential(args: argparse.Namespace) -> int:
    from bench.core.errors import UserError
    from bench.report.compare import paired_records
    from bench.report.sequential_compare import sequential_compare, sequential_lines

    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha {args.alpha:g} must be between 0 and 1, e.g. 0.05")
    results = [sequential_compare(pa, pb, task, la, lb, args.alpha, args.seed, args.assist, args.results)
               for task, pa, pb, la, lb in paired_records(runs_of(args), args.a, args.b, args.task, args.protocol)]
    if args.json:
        print_json([c.as_dict() for c in results])
    else:
        print("\n".join(sequential_lines(results)))
    return 0


COMMAND = Command("compare", "paired comparison of two checkpoints on the same images",
                  "Per task both figures, the difference with a paired bootstrap 95% interval and the protocol's "
                  "paired test (McNemar, or a bootstrap for mean per-class recall), Holm-corrected across tasks.",
                  add_arguments, execute)
