"""``zsbench samples``: per-sample results of one task across models: likely label errors, hard samples,
disagreements, confusions, per-class accuracy."""
from __future__ import annotations

import argparse

from bench.commands.base import Command, print_json
from bench.core.errors import UserError
from bench.report.text import format_table
from bench.core.numbers import positive_count
from typing import Any

QUESTIONS = ("label_issues", "without_issues", "hard", "disagree", "confusions", "per_class")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="?", default="results", help="results folder (default: results/)")
    p.add_argument("--task", required=True, help="the task whose records to line up")
    p.add_argument("--label-issues", action="store_true",
                   help="likely label errors by confident learning on the mean of the models' probabilities, most "
                        "likely first, with a suggested label and a score (normalized margin)")
    p.add_argument("--rank-by", choices=("margin", "ensemble"), default="margin",
                   help="rank the flagged samples by the normalized margin of the mean probabilities (default) or by "
                        "cleanlab's weighted-ensemble score (each model's margin weighted by its own accuracy, so a "
                        "weak model counts less)")
    p.add_argument("--without-issues", action="store_true",
                   help="every model's top-1 recomputed without the flagged samples, with its Wilson 95%% interval "
                        "and its rank change")
    p.add_argument("--grid", metavar="FILE.png", help="draw the flagged images (most likely error first, --top of them, "
                                                      "at most 48): "
                                                      "given label, suggested label, each model's top prediction")
    p.add_argument("--hard", action="store_true", help="samples no model gets right")
    p.add_argument("--disagree", action="store_true", help="samples some models get right and others wrong")
    p.add_argument("--confusions", action="store_true", help="the most confused class pairs, per model and in all")
    p.add_argument("--per-class", action="store_true", help="top-1 per class and model")
    p.add_argument("--models", action="append", metavar="MODEL[:PRETRAINED]",
                   help="only these models' records (repeatable; default: every model recorded on the task's data)")
    p.add_argument("--language", metavar="CODE", help="only this language's records (default: English where the task "
                                                       "has records in several languages; the others are listed as "
                                                       "left out)")
    p.add_argument("--protocol", metavar="NAME", help="only this protocol's records (e.g. linear-probe; default: every "
                                                      "classification record of the task)")
    p.add_argument("--review", metavar="review.json",
                   help="apply a label review downloaded from the explorer (zsbench report): every model's top-1 on "
                        "the corrected labels with its 95%% interval, the rank changes and the labels changed; "
                        "records never change")
    p.add_argument("--top", type=positive_count, default=20, help="rows shown per table (default 20; --json has all)")
    p.add_argument("--json", action="store_true", help="one JSON object per question (label issues: "
                                                       '{"task", "models", "issues": [{"key", "index", "label", '
                                                       '"suggested", "score"}, ...]})')
    p.add_argument("--csv", metavar="FILE", help="also write the (first) question's rows as CSV")


def execute(args: argparse.Namespace) -> int:
    from bench.report.collect import load_runs
    from bench.report import samples as s

    asked = [q for q in QUESTIONS if getattr(args, q)]
    if args.review:
        return _review(args)
    if not asked:
        if not args.grid:
            raise UserError("say what to show: --label-issues, --without-issues, --grid FILE.png, --hard, --disagree, "
                            "--confusions or --per-class")
    if args.grid and "label_issues" not in asked:
        asked.insert(0, "label_issues")
    for flag, value in (("--csv", args.csv), ("--grid", args.grid)):
        if value:
            from bench.core.paths import ensure_writable_dir, user_path

            ensure_writable_dir(user_path(value).resolve().parent, flag)
    data = s.load_task_samples(load_runs(args.results), args.task, args.models, args.protocol, args.language)
    models = [m.label for m in data.models]
    out: dict = {"task": args.task, "models": models, "samples": int(len(data.indices))}
    notes = [f"left out: {x}" for x in data.left_out]
    if len(models) == 1:
        notes.append("one model's records: the ensemble is that one model")
    found = None
    if "label_issues" in asked or "without_issues" in asked or args.grid:
        used, left = s.issue_models(data, explicit=bool(args.models))
        found, exact = s.find_issues(data, used, args.rank_by)
        out["issue_models"] = [data.models[i].label for i in used]
        notes.append("label issues from " + "; ".join(out["issue_models"]))
        notes += [f"left out of label issues: {why}" for why in left]
        if "label_issues" in asked:
            out["issues"] = s.issue_rows(data, found)
        if "without_issues" in asked:
            out["without_issues"] = s.without_issues(data, found.indices)
        if not exact:
            notes.append("probabilities outside each record's top 10 were spread evenly (rerun with --save-logits "
                         "for the exact matrix)")
    if "hard" in asked:
        out["hard"] = s.hard(data)
    if "disagree" in asked:
        out["disagree"] = s.disagree(data)
    if "confusions" in asked:
        out["confusions"] = s.confusions(data, top=max(args.top, 1) if not args.json else 10 ** 6)
    if "per_class" in asked:
        table = s.per_class(data)
        out["per_class"] = {c: {m: (None if v != v else float(v)) for m, v in row.items()}
                            for c, row in table.iterrows()}
    if args.grid:
        from bench.report.sample_grid import draw_grid

        drawn = draw_grid(data, found.indices, found.suggested, user_path(args.grid),
                          f"{args.task}: likely label errors ({len(found.indices):,} flagged)", limit=args.top)
        notes.append(f"grid of the flagged images: {drawn}")
    if args.csv:
        _write_csv(user_path(args.csv), out, asked[0])
    if args.json:
        print_json({**out, "notes": notes})
        return 0
    print("\n".join(samples_lines(out, asked, args.top) + [f"note: {n}" for n in notes]))
    return 0


def _write_csv(path, out: dict, question: str) -> None:
    import pandas as pd

    key = {"label_issues": "issues"}.get(question, question)
    rows = out[key]
    frame = pd.DataFrame.from_dict(rows, orient="index") if isinstance(rows, dict) else pd.json_normalize(rows)
    frame.to_csv(path, index=isinstance(rows, dict))


def _review(args: argparse.Namespace) -> int:
    from bench.report.collect import load_runs
    from bench.report.review import apply_review, read_review, review_lines
    from bench.report.samples import load_task_samples

    review = read_review(args.review)
    out = apply_review(load_task_samples(load_runs(args.results), args.task, args.models, args.protocol,
                                         args.language), review)
    if args.json:
        print_json(out)
    else:
        print("\n".join(review_lines(out, args.top)))
    return 0


def samples_lines(out: dict[str, Any], asked: list[str], top: int) -> list[str]:
    """``zsbench samples``: one table per question asked."""
    lines = [f"{out['task']}: {out['samples']:,} samples x {len(out['models'])} model record(s): "
             + "; ".join(out["models"])]
    if "label_issues" in asked:
        issues = out["issues"]
        lines += ["", f"likely label errors: {len(issues):,} flagged (most likely first)"]
        lines.append(format_table([[str(i + 1), x["key"], x["label"], x["suggested"], f"{x['score']:.3f}"]
                                   for i, x in enumerate(issues[:top])], ["#", "key", "given", "suggested", "score"],
                                  left=4))
    if "without_issues" in asked:
        rows = out["without_issues"]
        left = rows[0]["n"] - rows[0]["n_without"] if rows else 0
        lines += ["", f"top-1 without the {left:,} flagged samples (%, Wilson 95% interval; rank 1 = best)"]
        lines.append(format_table([[r["model"], f"{r['top1']:.2f} [{r['interval'][0]:.2f}, {r['interval'][1]:.2f}]",
                                    f"{r['top1_without']:.2f} [{r['interval_without'][0]:.2f}, "
                                    f"{r['interval_without'][1]:.2f}]", str(r["rank"]), str(r["rank_without"]),
                                    f"{r['rank_change']:+d}" if r["rank_change"] else "="]
                                   for r in rows[:max(top, 1)]],
                                  ["model", "top-1 all", "top-1 without issues", "rank", "rank without", "change"],
                                  left=1))
    for name, title in (("hard", "no model right"), ("disagree", "models disagree")):
        if name in asked:
            rows = out[name]
            lines += ["", f"{title}: {len(rows):,} samples"]
            lines.append(format_table([[r["key"], r["label"], f"{r['difficulty']:.2f}",
                                        "; ".join(f"{m.split(' [')[0]}: {p}" for m, p in r["predictions"].items())]
                                       for r in rows[:top]], ["key", "label", "difficulty", "predictions"], left=4))
    if "confusions" in asked:
        lines += ["", "most confused class pairs (true -> predicted), all models"]
        lines.append(format_table([[c["true"], c["predicted"], str(c["total"]),
                                    "; ".join(f"{m.split(' [')[0]}: {n}" for m, n in c["per_model"].items())]
                                   for c in out["confusions"][:top]], ["true", "predicted", "count", "per model"],
                                  left=4))
    if "per_class" in asked:
        models = out["models"]
        lines += ["", "top-1 per class (%)"]
        lines.append(format_table([[c] + ["-" if v.get(m) is None else f"{v[m]:.1f}" for m in models]
                                   for c, v in list(out["per_class"].items())[:max(top, 1)]],
                                  ["class"] + [m.split(" [")[0] for m in models], left=1))
    return lines


COMMAND = Command("samples", "per-sample results of a task across models: label issues, hard samples, confusions",
                  "Line up every model's per-sample results on one task: likely label errors (confident learning on "
                  "the models' mean probabilities), samples no model gets right, disagreements, confused class pairs "
                  "and per-class accuracy.", add_arguments, execute)
