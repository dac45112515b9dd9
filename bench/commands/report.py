"""``zsbench report``: one self-contained HTML page of a results folder, with the explorer."""
from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands.base import Command, add_results, runs_of
from bench.core.errors import UserError
from bench.core.numbers import count


def add_arguments(rp: argparse.ArgumentParser) -> None:
    rp.add_argument("--out", help="output file (default: RESULTS/report.html)")
    rp.add_argument("--samples-per-task", type=count(0, 100_000), default=240, metavar="N",
                    help="images the explorer keeps per task (flagged label issues first, then the most disputed "
                         "samples, spread over the classes; default 240; 0: none, the grids show no image)")
    rp.add_argument("--no-explorer", action="store_true",
                    help="tables and plots only (no leaderboard explorer, per-sample data or images)")
    rp.add_argument("--quiet", action="store_true", help="no progress bar")
    add_results(rp)


def execute(args: argparse.Namespace) -> int:
    from bench.report.html import build_report

    if args.samples_per_task < 0:
        raise UserError(f"--samples-per-task must be 0 or more, not {args.samples_per_task}")
    progress = None
    if not args.quiet:
        from functools import partial

        from tqdm import tqdm

        progress = partial(tqdm, desc="report: tasks", unit="task", leave=False)
    out = Path(args.out) if args.out else Path(args.results) / "report.html"
    print(build_report(runs_of(args), out, explorer=not args.no_explorer, samples_per_task=args.samples_per_task,
                       progress=progress))
    return 0


COMMAND = Command("report", "one self-contained HTML page: explorer, tables, plots, run metadata",
                  "An explorer first (a leaderboard to sort and filter, with interval bars; a task cell opens the "
                  "per-class view, a class its images with every model's prediction; flagged label issues; A vs B "
                  "with McNemar's test), then the leaderboards of every board the records join, the "
                  "zero-shot-vs-probe and shift tables, the plots the records feed (embedded), and each run's "
                  "versions, seed and timings; no external assets.", add_arguments, execute)
