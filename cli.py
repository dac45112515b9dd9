"""``zsbench``: parse arguments, call one library function, print. The work lives in ``bench``.

A :class:`bench.errors.UserError` becomes one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Sequence


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and exit 2), not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"zsbench: error: {message} (see: {self.prog} --help)\n")
        raise SystemExit(2)


def _pair_models(models: list[str], pretrained: list[str] | None) -> list[tuple[str, str | None]]:
    from bench.errors import UserError

    pretrained = pretrained or []
    if len(pretrained) > len(models):
        raise UserError(f"{len(pretrained)} --pretrained values for {len(models)} --model flags: give one per model, in order")
    return [(m, pretrained[i] if i < len(pretrained) else None) for i, m in enumerate(models)]


def _fmt(value: object, pct: bool = True) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{100 * value:.2f}" if pct else f"{value:.1f}"
    return str(value)


def format_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) if i < 4 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def records_table(records) -> str:
    header = ["model", "pretrained", "task", "templates", "n", "top1", "95% CI", "top5", "mpc-recall", "features"]
    rows = []
    for r in records:
        m = r.metrics
        lo, hi = m["top1_ci95"]
        rows.append([r.model, r.pretrained, r.task, f"{r.templates} ({r.config['n_templates']})", str(r.n_samples),
                     _fmt(m["top1"]), f"{100 * lo:.1f}-{100 * hi:.1f}", _fmt(m["top5"]),
                     _fmt(m["mean_per_class_recall"]), r.task_info["feature_cache"]])
    return format_table(rows, header)


def cmd_run(args: argparse.Namespace) -> int:
    from bench.runner import RunConfig, run

    config = RunConfig(
        models=_pair_models(args.model, args.pretrained),
        tasks=args.task,
        templates=args.templates or [None],
        split=args.split,
        batch_size=args.batch_size,
        device=args.device,
        limit=args.limit,
        seed=args.seed,
        out_dir=Path(args.out),
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        num_workers=args.workers,
        progress=not args.quiet and not args.json,
        save=not args.no_save,
    )
    records = run(config)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=1, default=str))
    else:
        print(records_table(records))
        subsets = {(r.task, r.n_samples, r.task_info["dataset_size"]) for r in records if r.config["subset"] != "full"}
        for task, n, total in sorted(subsets):
            print(f"note: {task} used a class-stratified subset of {n} of {total} samples (seed {args.seed}, --limit)")
        if not args.no_save and not args.quiet:
            print(f"records: {Path(args.out) / 'runs'}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from bench.models import list_models

    rows = list_models()
    if args.json:
        print(json.dumps([{"model": m, "pretrained": p, "note": n} for m, p, n in rows], indent=1))
    else:
        print(format_table([list(r) for r in rows], ["model", "pretrained", "note"]))
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from tasks.registry import list_tasks

    specs = list_tasks()
    if args.json:
        print(json.dumps([{"name": s.name, "description": s.description, "metric": s.metric, "split": s.split,
                           "sources": [src.type for src in s.sources]} for s in specs], indent=1))
    else:
        rows = [[s.name, s.split, s.metric, "/".join(src.type for src in s.sources), s.description] for s in specs]
        print(format_table(rows, ["task", "split", "metric", "sources", "description"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="zsbench", description="Zero-shot image classification benchmarks for CLIP-family models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="zero-shot evaluation of models on tasks",
                       description="Zero-shot evaluation: image features (cached) x prompt-ensemble classifier.")
    r.add_argument("--model", action="append", required=True,
                   help="open_clip name (ViT-B-32), hf-hub:org/repo, or conse-effnetlite0-minilm; repeatable")
    r.add_argument("--pretrained", action="append",
                   help="pretrained tag, checkpoint file, or 'none' (random init); one per --model, in order")
    r.add_argument("--task", action="append", required=True, help="task name (see `zsbench tasks`) or a folder; repeatable")
    r.add_argument("--templates", action="append",
                   help="template set name (openai_imagenet, simple_imagenet, single, cifar10, ...) or file; "
                        "repeatable (one record each); default: the task's own set")
    r.add_argument("--split", help="dataset split (default: the task's evaluation split)")
    r.add_argument("--batch-size", type=int, default=64)
    r.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    r.add_argument("--limit", type=int, help="evaluate a seeded, class-stratified subset of N samples")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", default="results", help="output folder for run records (default: results/)")
    r.add_argument("--cache-dir", help="feature/classifier cache (default: $ZSBENCH_CACHE or ~/.cache/zsbench)")
    r.add_argument("--data-dir", help="dataset folder (default: $ZSBENCH_DATA or CACHE/datasets)")
    r.add_argument("--workers", type=int, help="image decoding workers (default: half the cores)")
    r.add_argument("--json", action="store_true", help="print the run records as JSON on stdout")
    r.add_argument("--quiet", action="store_true", help="no progress bars or notes")
    r.add_argument("--no-save", action="store_true", help="do not write run records")
    r.set_defaults(func=cmd_run)

    m = sub.add_parser("models", help="list loadable models")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    t = sub.add_parser("tasks", help="list registered tasks")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tasks)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from bench.errors import UserError

    args = build_parser().parse_args(argv)
    if getattr(args, "quiet", False) or getattr(args, "json", False):
        warnings.simplefilter("ignore")
    else:
        warnings.formatwarning = lambda msg, cat, *a, **k: f"zsbench: warning: {msg}\n"
    try:
        return args.func(args)
    except UserError as exc:
        sys.stderr.write(f"zsbench: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("zsbench: interrupted; finished feature chunks are kept and the next run resumes\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
