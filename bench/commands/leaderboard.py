"""``zsbench leaderboard``: models x tasks from run records, and the views installed protocols declare
(``Protocol.views()``: zeroshot-vs-probe from the linear probe, robustness from the robustness protocol,
a plug-in's own)."""
from __future__ import annotations

import argparse

from bench.commands.base import Command, add_results, board, runs_of
from bench.report.formats import FORMATS, METRICS

def view_name(text: str) -> str:
    """``table`` (models x tasks), or a view an installed protocol declares."""
    from bench.report.protocols import all_views

    if text != "table" and text not in all_views():
        raise argparse.ArgumentTypeError(f"unknown view '{text}' (the installed protocols provide: "
                                         f"{', '.join(['table', *all_views()])})")
    return text


def add_arguments(lb: argparse.ArgumentParser) -> None:
    lb.add_argument("view", nargs="?", default="table", type=view_name, metavar="VIEW",
                    help="table (default: models x tasks), or a view a protocol provides: zeroshot-vs-probe "
                         "(linear-probe), robustness, or a plug-in's (`zsbench leaderboard --list-views`)")
    lb.add_argument("--list-views", action="store_true", help="list the views the installed protocols provide")
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
    lb.add_argument("--review", action="append", metavar="review.json",
                    help="add a column TASK (reviewed): each row's top-1 on the labels a review from the explorer "
                         "corrects (zsbench samples --review); records never change; repeatable")
    lb.add_argument("--missing", action="store_true", help="list the tasks each row without an average lacks")
    add_results(lb)


def execute(args: argparse.Namespace) -> int:
    from bench.report.leaderboard import (below_published, leaderboard as table_of, missing_tasks, prompt_source_notes,
                                          render)
    from bench.report.protocols import all_views, view
    from bench.report.review import reviewed_figures

    if args.list_views:
        print("table: models x tasks, each task's own metric (the default)")
        for name, v in all_views().items():
            print(f"{name}: {v.help}")
        return 0
    runs = runs_of(args)
    if args.view != "table":
        chosen = view(args.view)
        print(render(view_table(chosen.table(runs), chosen.index_name), args.format, chosen.index_name))
        return 0
    reviews = [reviewed_figures(runs, path) for path in args.review or ()]
    table = table_of(runs, protocol=args.protocol, metric=args.metric, history=args.all,
                     with_published=args.with_published, suite=args.suite,
                     reviewed=[(task, figures) for task, figures, _ in reviews])
    print(render(table, args.format))
    if args.format == "md":
        for _, _, note in reviews:
            print(f"reviewed: {note}")
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


def view_table(table, index_name: str):
    """A view's table indexed as it says (``model, task``: both columns), for the renderers."""
    names = [n.strip() for n in index_name.split(",")]
    if table.index.name is None and all(n in table.columns for n in names):
        return table.set_index(names)
    return table


COMMAND = Command("leaderboard", "models x tasks table from run records",
                  "Rows: models (and template sets); columns: tasks, DataComp's group means, the average (only for "
                  "rows with every task column). Other views come from the installed protocols: zeroshot-vs-probe, robustness, "
                  "or a plug-in's (--list-views).", add_arguments, execute)
