"""``zsbench report``: one self-contained HTML page of a results folder."""
from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands.base import Command, add_results, runs_of


def add_arguments(rp: argparse.ArgumentParser) -> None:
    rp.add_argument("--out", help="output file (default: RESULTS/report.html)")
    add_results(rp)


def execute(args: argparse.Namespace) -> int:
    from bench.report.html import build_report

    print(build_report(runs_of(args), Path(args.out) if args.out else Path(args.results) / "report.html"))
    return 0


COMMAND = Command("report", "one self-contained HTML page: tables, plots, run metadata",
                  "Leaderboards of every board the records join, the zero-shot-vs-probe and shift tables, the plots "
                  "the records feed (embedded), and each run's versions, seed and timings; no external assets.",
                  add_arguments, execute)
