"""``zsbench leaderboard``: models x tasks from run records, and its two other views."""
from __future__ import annotations

import argparse

from bench.commands.base import Command, add_results, board, runs_of
from bench.report.formats import FORMATS, METRICS

VIEWS = ("table", "zeroshot-vs-probe", "robustness")


def add_arguments(lb: argparse.ArgumentParser) -> None:
    lb.add_argument("view", nargs="?", default="table", choices=VIEWS)
    lb.add_argument("--protocol", type=board, metavar="NAME",
                    help="the records to tabulate: a board (default: zeroshot = zero-shot classification, retrieval "
                         "and association, each task's own metric), or one protocol's records alone (e.g. "
                         "linear-probe, few-shot, retrieval, or a plug-in's)")
    lb.add_argument("--metric", default="primary", choices=list(METRICS),
                    help="primary (default) = each task's own metric, as the CLIP paper reports it")
    lb.add_argument("--format", default="md", choices=list(FORMATS))
    lb.add_argument("--all", action="store_true", help="every record, not only the newest per model/task")
    lb.add_argument("--with-published", action="store_true",
                    help="add open_clip's published rows for the same checkpoints")
    lb.add_argument("--suite", help="columns: this suite's tasks (e.g. clip, imagenet-shifts, retrieval, or a file); "
                                    "the average only for rows that have all of them")
    lb.add_argument("--missing", action="store_true", help="list the tasks each row without an average lacks")
    add_results(lb)


def execute(args: argparse.Namespace) -> int:
    from bench.report.leaderboard import (below_published, leaderboard as table_of, missing_tasks, prompt_source_notes,
                                          render, robustness_table, zeroshot_vs_probe)

    runs = runs_of(args)
    if args.view == "zeroshot-vs-probe":
        print(render(zeroshot_vs_probe(runs).set_index(["model", "task"]), args.format, "model, task"))
        return 0
    if args.view == "robustness":
        print(render(robustness_table(runs), args.format))
        return 0
    table = table_of(runs, protocol=args.protocol, metric=args.metric, history=args.all,
                     with_published=args.with_published, suite=args.suite)
    print(render(table, args.format))
    if args.missing and args.format == "md":
        for row, tasks_missing in missing_tasks(table).items():
            print(f"missing ({len(tasks_missing)}): {row}: {', '.join(tasks_missing)}")
    if args.format == "md":
        notes = below_published(runs)
        sources = prompt_source_notes(runs) if args.with_published else []
        if notes or sources:
            print()
        for note in notes:
            print(f"flag: {note}")
        for note in sources:
            print(f"prompts: {note}")
    return 0


COMMAND = Command("leaderboard", "models x tasks table from run records",
                  "Rows: models (and template sets); columns: tasks, DataComp's group means, the average (only for "
                  "rows with every task column). Views: table, zeroshot-vs-probe, robustness.", add_arguments, execute)
