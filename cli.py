"""``zsbench``: parse the arguments and dispatch to ``bench.commands``; nothing else.

Run options are generated from :class:`bench.config.RunConfig` (declared once, with their help).
A :class:`bench.core.errors.UserError` becomes one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from bench.config import ROBUSTNESS, RUN, add_run_options
from bench.core.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and exit 2), not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"zsbench: error: {message} (see: {self.prog} --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="zsbench", description="Zero-shot image classification benchmarks for CLIP-family models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="evaluate models on tasks (zero-shot, probes, robustness)",
                       description="Image features (cached) x prompt-ensemble classifier, linear probes, robustness.")
    add_run_options(r, RUN)

    rb = sub.add_parser("robustness", help="accuracy under distribution shift, effective robustness",
                        description="Evaluate models on a shift suite (imagenet, cifar10-c, digits-shift): accuracy "
                                    "under shift, in-distribution accuracy, effective and relative robustness. "
                                    "`zsbench robustness fit` fits a baseline from the robustness records under --out.")
    rb.add_argument("action", nargs="?", default="run", choices=["run", "fit"])
    rb.add_argument("--suite", default="imagenet", help="shift suite: imagenet (default), cifar10-c or digits-shift")
    add_run_options(rb, ROBUSTNESS, model_required=False)

    pr = sub.add_parser("predict", help="the top classes of single images (files, folders, URLs)",
                        description="Classify images among a task's class names or your own, with probabilities "
                                    "as the model scores them (CLIP: softmax of logit scale x cosine; SigLIP: sigmoid).")
    pr.add_argument("images", nargs="+", help="image files, folders of images, or http(s) URLs")
    pr.add_argument("--model", required=True, help="any model string `zsbench run` takes (see `zsbench models`)")
    pr.add_argument("--pretrained", help="pretrained tag, checkpoint file, or 'none' (as for `zsbench run`)")
    pr.add_argument("--task", help="take the class names (and templates) of this task")
    pr.add_argument("--classes", help="comma-separated class names, e.g. 'cat,dog,a red car'")
    pr.add_argument("--classes-file", help="class names: one per line (.txt) or a JSON list")
    pr.add_argument("--templates", help="template set name, file, or one template with {} (default: the task's "
                                        "own with --task, else the single template 'a photo of a {}.')")
    pr.add_argument("--top", type=int, default=5, help="classes shown per image (default 5)")
    pr.add_argument("--device", default="cpu")
    pr.add_argument("--cache-dir", help="classifier cache (default: $ZSBENCH_CACHE or ~/.cache/zsbench)")
    pr.add_argument("--json", action="store_true",
                    help='print [{"image": PATH, "top": [{"label": NAME, "prob": P}, ...]}, ...]')
    pr.add_argument("--quiet", action="store_true", help="no progress bars")

    m = sub.add_parser("models", help="list loadable models")
    m.add_argument("--json", action="store_true")

    t = sub.add_parser("tasks", help="list registered tasks, or `tasks show NAME` for one spec")
    t.add_argument("action", nargs="?", default="list", choices=["list", "show"])
    t.add_argument("name", nargs="?", help="task name or path (for show)")
    t.add_argument("--local", action="store_true", help="also check which splits are on disk (no downloads)")
    t.add_argument("--cache-dir", help="cache folder (offline mirrors live there)")
    t.add_argument("--data-dir", help="dataset folder (default: $ZSBENCH_DATA or CACHE/datasets)")
    t.add_argument("--json", action="store_true")

    lb = sub.add_parser("leaderboard", help="models x tasks table from run records")
    lb.add_argument("view", nargs="?", default="table", choices=["table", "zeroshot-vs-probe", "robustness"])
    lb.add_argument("--protocol", default="zeroshot", choices=["zeroshot", "linear-probe", "few-shot"])
    lb.add_argument("--metric", default="primary", choices=["primary", "top1", "top5", "mean_per_class_recall"],
                    help="primary (default) = each task's own metric, as the CLIP paper reports it")
    lb.add_argument("--format", default="md", choices=["md", "csv", "html", "json"])
    lb.add_argument("--all", action="store_true", help="every record, not only the newest per model/task")
    lb.add_argument("--with-published", action="store_true", help="add open_clip's published rows for the same checkpoints")
    _add_results(lb)

    cp = sub.add_parser("compare", help="paired comparison of two checkpoints on the same images")
    cp.add_argument("a", help="MODEL[:PRETRAINED], a checkpoint path or pretrained tag, or a run record .json")
    cp.add_argument("b", help="MODEL[:PRETRAINED], a checkpoint path or pretrained tag, or a run record .json")
    cp.add_argument("--task", action="append", help="only these tasks (default: every task both have)")
    cp.add_argument("--protocol", default="zeroshot", choices=["zeroshot", "linear-probe"])
    cp.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples (default 10000)")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--json", action="store_true")
    _add_results(cp)

    pl = sub.add_parser("plot", help="paper-style plots from run records (PNG + SVG)")
    pl.add_argument("kind", choices=["prompt-ensemble", "zeroshot-vs-probe", "few-shot", "robustness", "leaderboard", "all"])
    pl.add_argument("--out", help="folder for the plots (default: RESULTS/plots)")
    _add_results(pl)

    rp = sub.add_parser("report", help="one self-contained HTML page: tables, plots, run metadata")
    rp.add_argument("--out", help="output file (default: RESULTS/report.html)")
    _add_results(rp)

    pf = sub.add_parser("perf", help="speed ratios against reference implementations, measured in one run")
    pf.add_argument("--section", action="append", choices=["text", "images", "zeroshot", "probe", "probe-memory"],
                    help="what to measure; repeatable (default: all)")
    pf.add_argument("--model", default="ViT-B-32", help="open_clip model for text/images/zeroshot (default ViT-B-32)")
    pf.add_argument("--pretrained", default="none", help="pretrained tag or file (default: none = random init)")
    pf.add_argument("--device", default="cpu")
    pf.add_argument("--workers", type=int, help="image decoding workers (default: half the cores)")
    pf.add_argument("--text-classes", type=int, default=25, help="text: ImageNet classes (x 80 templates; default 25)")
    pf.add_argument("--images", type=int, default=256, help="images/zeroshot: generated JPEGs (default 256)")
    pf.add_argument("--n", type=int, default=10000, help="probe: samples (default 10000)")
    pf.add_argument("--dim", type=int, default=512, help="probe: feature dimension (default 512)")
    pf.add_argument("--classes", type=int, default=100, help="probe: classes (default 100)")
    pf.add_argument("--memory-n", type=int, default=100_000, help="probe-memory: samples (default 100000)")
    pf.add_argument("--memory-dim", type=int, default=1024, help="probe-memory: feature dimension (default 1024)")
    pf.add_argument("--seed", type=int, default=0)
    pf.add_argument("--json", action="store_true", help="one JSON object with the ratios as numbers")
    return p


def _add_results(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results", help="folder with runs/ (default: results/)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse a file in runs/ that is not a run record (default: skip it with a warning)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = importlib.import_module("bench.commands")
    commands.quiet_warnings(getattr(args, "quiet", False) or getattr(args, "json", False))
    try:
        return getattr(commands, args.command)(args)
    except UserError as exc:
        return commands.fail(str(exc))
    except KeyboardInterrupt:
        return commands.fail("interrupted; finished feature chunks are kept and the next run resumes", 130)


if __name__ == "__main__":
    raise SystemExit(main())
