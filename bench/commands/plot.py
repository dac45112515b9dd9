"""``zsbench plot``: paper-style plots from run records (PNG + SVG)."""
from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands.base import Command, add_results, runs_of
from bench.core.errors import UserError
from bench.core.paths import ensure_writable_dir


def kind_name(text: str) -> str:
    """``all``, or a plot kind an installed protocol declares."""
    from bench.report.protocols import all_plot_kinds

    if text != "all" and text not in all_plot_kinds():
        raise argparse.ArgumentTypeError(f"unknown plot kind '{text}' (the installed protocols provide: "
                                         f"{', '.join([*all_plot_kinds(), 'all'])})")
    return text


def add_arguments(pl: argparse.ArgumentParser) -> None:
    pl.add_argument("kind", type=kind_name, metavar="KIND",
                    help="a kind an installed protocol provides: prompt-ensemble, leaderboard, checkpoints (zero-shot), "
                         "zeroshot-vs-probe (linear-probe), few-shot, robustness, or a plug-in's; or all: every kind "
                         "the records' protocols feed (the others listed with the reason)")
    pl.add_argument("--out", help="folder for the plots (default: RESULTS/plots)")
    add_results(pl)


def execute(args: argparse.Namespace) -> int:
    """Draw one kind, or ``all`` the kinds the records' protocols declare (the others listed with the reason)."""
    from bench.report.plots import make_plot
    from bench.report.protocols import all_plot_kinds, plot_kinds

    runs = runs_of(args)
    out = ensure_writable_dir(Path(args.out) if args.out else Path(args.results) / "plots", "--out")
    if args.kind != "all":
        print(" ".join(str(p) for p in make_plot(args.kind, runs, out)))
        return 0
    fed = plot_kinds(runs.protocol.unique())
    drawn, skipped = [], [f"skipped {kind}: no records of a protocol that feeds it" for kind in all_plot_kinds()
                               if kind not in fed]
    for kind in fed:
        try:
            drawn.append(" ".join(str(p) for p in make_plot(kind, runs, out)))
        except UserError as exc:
            skipped.append(f"skipped {kind}: {exc}")
    print("\n".join(drawn + skipped))
    if not drawn:
        raise UserError(f"no plot could be drawn from the records in {args.results} (reasons above)")
    return 0


COMMAND = Command("plot", "paper-style plots from run records (PNG + SVG)",
                  "prompt-ensemble (CLIP Fig. 4 idea), zeroshot-vs-probe (Fig. 5), few-shot (Fig. 6/7), robustness "
                  "(Fig. 13/14 idea), leaderboard (a heat map), checkpoints (metric against training step).",
                  add_arguments, execute)
