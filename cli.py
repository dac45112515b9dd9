"""``zsbench``: parse the arguments and dispatch to ``bench.commands``; nothing else.

Run options are generated from :class:`bench.config.RunConfig` (declared once, with their help).
A :class:`bench.core.errors.UserError` becomes one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from bench.config import ROBUSTNESS, RUN, SWEEP, add_run_options
from bench.core.errors import UserError
from prompts.references import LANGUAGES, PROMPT_SOURCES


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
    pr.add_argument("--classnames", "--classes-file", dest="classes_file",
                    help="class names: one per line, a JSON list, or a JSON object of task -> list; with --task it "
                         "replaces that task's names")
    pr.add_argument("--templates", help="template set name, file, or one template with {} (default: the task's "
                                        "own with --task, else the single template 'a photo of a {}.')")
    pr.add_argument("--prompt-source", default="clip", choices=PROMPT_SOURCES,
                    help="with --task: whose names and templates (clip, or clip_benchmark)")
    pr.add_argument("--language", default="en", choices=LANGUAGES,
                    help="with --task: language of names and templates (not en: --prompt-source clip_benchmark)")
    pr.add_argument("--top", type=int, default=5, help="classes shown per image (default 5)")
    pr.add_argument("--device", default="cpu")
    pr.add_argument("--cache-dir", help="classifier cache (default: $ZSBENCH_CACHE or ~/.cache/zsbench)")
    pr.add_argument("--json", action="store_true",
                    help='print [{"image": PATH, "top": [{"label": NAME, "prob": P}, ...]}, ...]')
    pr.add_argument("--quiet", action="store_true", help="no progress bars")

    sw = sub.add_parser("sweep", help="many models x a suite as submitit jobs (Slurm array or this machine)",
                        description="Evaluate every model of a models file (or every checkpoint matching a glob) on "
                                    "the tasks, one job per model (a large model's suite split by cost), through "
                                    "submitit. Work with a record is skipped, so a rerun does only what is missing. "
                                    "`zsbench sweep status RESULTS` shows the model x task grid.")
    sw.add_argument("action", nargs="?", default="run", choices=["run", "status"])
    sw.add_argument("results", nargs="?", help="status: the results folder (default: --out)")
    sw.add_argument("--models", help="a models file (one `MODEL [PRETRAINED]` per line, # comments; PRETRAINED "
                                     "may be a glob) or a glob of checkpoint files (with --arch)")
    sw.add_argument("--arch", help="the model of the checkpoint files a glob or --watch names (e.g. ViT-B-32)")
    sw.add_argument("--executor", default="local", choices=["slurm", "local", "debug"],
                    help="slurm (a job array on the cluster), local (processes on this machine, default), debug "
                         "(in this process)")
    sw.add_argument("--dry-run", action="store_true", help="print the jobs, their image forwards, text prompts and "
                                                           "estimated time; submit nothing")
    sw.add_argument("--force", action="store_true", help="redo work that already has records")
    sw.add_argument("--name", help="the sweep's folder name under RESULTS/sweeps (default: a hash of the command)")
    sw.add_argument("--no-wait", action="store_true", help="return after submitting (local jobs keep running)")
    sw.add_argument("--max-job-hours", type=float, help="split a model's tasks into jobs of at most this much "
                                                          "estimated compute (default: 80%% of --time)")
    sw.add_argument("--partition", help="slurm: partition")
    sw.add_argument("--gpus-per-job", type=int, default=1, help="slurm: GPUs per job (default 1)")
    sw.add_argument("--cpus-per-job", type=int, default=8, help="slurm: CPUs per job (default 8)")
    sw.add_argument("--mem", help="slurm: memory per job, e.g. 64G")
    sw.add_argument("--time", type=_minutes, default=240, metavar="MIN|HH:MM:SS",
                    help="time limit per job (default 240 minutes); slurm requeues a job that hits it")
    sw.add_argument("--array-parallelism", type=int, default=64, help="slurm: jobs of the array running at once")
    sw.add_argument("--slurm-extra", action="append", type=_pair, metavar="KEY=VALUE",
                    help="any other sbatch option, e.g. --slurm-extra account=myproj --slurm-extra qos=high")
    sw.add_argument("--watch", metavar="DIR", help="poll a training run's checkpoint folder and evaluate each new "
                                                    "checkpoint (with --arch and --pattern)")
    sw.add_argument("--pattern", default="*.pt", help="--watch: checkpoint file pattern (default *.pt)")
    sw.add_argument("--poll", type=float, default=60.0, help="--watch: seconds between polls (default 60)")
    sw.add_argument("--settle", type=float, default=30.0, help="--watch: a checkpoint counts once unchanged this "
                                                                "many seconds (default 30)")
    sw.add_argument("--watch-timeout", type=float, help="--watch: stop after this many seconds (default: never)")
    add_run_options(sw, SWEEP, model_required=False)

    m = sub.add_parser("models", help="list loadable models")
    m.add_argument("--json", action="store_true")

    t = sub.add_parser("tasks", help="list registered tasks, or `tasks show NAME` for one spec")
    t.add_argument("action", nargs="?", default="list", choices=["list", "show"])
    t.add_argument("name", nargs="?", help="task name or path (for show)")
    t.add_argument("--local", action="store_true", help="also check which splits are on disk (no downloads)")
    t.add_argument("--suite", help="list one suite's tasks (clip, imagenet-shifts, retrieval, offline, or a file) "
                                   "with their metrics and what is on disk")
    t.add_argument("--cache-dir", help="cache folder (offline mirrors live there)")
    t.add_argument("--data-dir", help="dataset folder (default: $ZSBENCH_DATA or CACHE/datasets)")
    t.add_argument("--json", action="store_true")

    lb = sub.add_parser("leaderboard", help="models x tasks table from run records")
    lb.add_argument("view", nargs="?", default="table", choices=["table", "zeroshot-vs-probe", "robustness"])
    lb.add_argument("--protocol", default="zeroshot", choices=["zeroshot", "linear-probe", "few-shot", "retrieval"],
                    help="zeroshot (default: zero-shot classification and retrieval, each task's own metric), "
                         "linear-probe, few-shot, or retrieval alone")
    lb.add_argument("--metric", default="primary", choices=["primary", "top1", "top5", "mean_per_class_recall"],
                    help="primary (default) = each task's own metric, as the CLIP paper reports it")
    lb.add_argument("--format", default="md", choices=["md", "csv", "html", "json"])
    lb.add_argument("--all", action="store_true", help="every record, not only the newest per model/task")
    lb.add_argument("--with-published", action="store_true", help="add open_clip's published rows for the same checkpoints")
    lb.add_argument("--suite", help="columns: this suite's tasks (e.g. clip, imagenet-shifts, retrieval, or a file); "
                                    "the average only for rows that have all of them")
    lb.add_argument("--missing", action="store_true", help="list the tasks each row without an average lacks")
    _add_results(lb)

    cp = sub.add_parser("compare", help="paired comparison of two checkpoints on the same images")
    cp.add_argument("a", help="MODEL[:PRETRAINED], a checkpoint path or pretrained tag, or a run record .json")
    cp.add_argument("b", help="MODEL[:PRETRAINED], a checkpoint path or pretrained tag, or a run record .json")
    cp.add_argument("--task", action="append", help="only these tasks (default: every task both have)")
    cp.add_argument("--protocol", default="zeroshot", choices=["zeroshot", "linear-probe", "retrieval"],
                    help="zeroshot (default; includes retrieval tasks: paired bootstrap on each caption's image "
                         "R@1), linear-probe, or retrieval alone")
    cp.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples (default 10000)")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--json", action="store_true")
    _add_results(cp)

    pl = sub.add_parser("plot", help="paper-style plots from run records (PNG + SVG)")
    pl.add_argument("kind", choices=["prompt-ensemble", "zeroshot-vs-probe", "few-shot", "robustness", "leaderboard",
                                     "checkpoints", "all"])
    pl.add_argument("--out", help="folder for the plots (default: RESULTS/plots)")
    _add_results(pl)

    rp = sub.add_parser("report", help="one self-contained HTML page: tables, plots, run metadata")
    rp.add_argument("--out", help="output file (default: RESULTS/report.html)")
    _add_results(rp)

    dr = sub.add_parser("doctor", help="why a zero-shot number differs from a paper's: re-score variants of a record, "
                                       "ranked, with their cost")
    dr.add_argument("record", help="a zero-shot run record (results/runs/*.json)")
    dr.add_argument("--expect", type=float, metavar="PERCENT",
                    help="the figure you expected (e.g. 63.3, in %%); --published takes open_clip's published one")
    dr.add_argument("--published", action="store_true", help="expect open_clip's published figure for the record's "
                                                             "checkpoint and task")
    dr.add_argument("--only", action="append", choices=["class names", "templates", "text", "preprocessing", "model"],
                    help="variant groups to try; repeatable (default: all)")
    dr.add_argument("--limit", type=int, help="score on a seeded class-stratified subset of N samples (all variants "
                                              "and the record's own configuration alike)")
    dr.add_argument("--task", help="the record's task, if it is neither registered nor at the path it was read from")
    dr.add_argument("--cache-dir", help="cache (default: the record's)")
    dr.add_argument("--data-dir", help="dataset folder (default: the record's)")
    dr.add_argument("--device", default="cpu")
    dr.add_argument("--workers", type=int, help="image decoding workers (default: half the cores)")
    dr.add_argument("--json", action="store_true", help="the diagnosis as JSON")
    dr.add_argument("--quiet", action="store_true", help="no progress bars")

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
    pf.add_argument("--tol", type=float, default=1e-4, help="probe: L-BFGS gradient tolerance, both sides (default "
                                                            "1e-4, scikit-learn's and zsbench's default)")
    pf.add_argument("--memory-n", type=int, default=100_000, help="probe-memory: samples (default 100000)")
    pf.add_argument("--memory-dim", type=int, default=1024, help="probe-memory: feature dimension (default 1024)")
    pf.add_argument("--seed", type=int, default=0)
    pf.add_argument("--json", action="store_true", help="one JSON object with the ratios as numbers")
    return p


def _minutes(text: str) -> int:
    """``--time``: minutes, or HH:MM:SS / MM:SS."""
    parts = text.split(":")
    if not all(p.isdigit() for p in parts) or len(parts) > 3:
        raise argparse.ArgumentTypeError(f"takes minutes or HH:MM:SS, not '{text}'")
    if len(parts) == 1:
        return int(parts[0])
    h, m, s = ([0] * (3 - len(parts)) + [int(p) for p in parts])
    return max(1, h * 60 + m + (1 if s else 0))


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE, not '{text}'")
    return key.lstrip("-"), value


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
