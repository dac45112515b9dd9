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


def format_table(rows: list[list[str]], header: list[str], left: int = 4) -> str:
    """Plain-text table: the first ``left`` columns left-aligned, the (numeric) rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def records_table(records) -> str:
    header = ["model", "pretrained", "task", "protocol", "templates", "n", "top1", "95% CI", "top5", "mpc-recall",
              "features"]
    rows = []
    for r in records:
        m = r.metrics
        lo, hi = m.get("top1_ci95") or (None, None)
        ci = f"{100 * lo:.1f}-{100 * hi:.1f}" if lo is not None else f"+-{100 * m.get('top1_std', 0):.1f} sd"
        templates = f"{r.templates} ({r.config['n_templates']})" if r.protocol == "zeroshot" else \
            f"{r.config.get('probe_features')} C={r.config['best_C']:.3g}" if r.protocol == "linear-probe" else \
            f"{r.config.get('probe_features')} k={max(r.config['shots'])}"
        rows.append([r.model, r.pretrained, r.task, r.protocol, templates, str(r.n_samples), _fmt(m["top1"]), ci,
                     _fmt(m.get("top5")), _fmt(m.get("mean_per_class_recall")), r.task_info["feature_cache"]])
    return format_table(rows, header)


def few_shot_lines(records) -> list[str]:
    """Per-k accuracies, and where the k-shot probe meets zero-shot (CLIP paper Fig. 7)."""
    from bench.linear_probe import shots_to_match

    lines = []
    for r in records:
        if r.protocol != "few-shot":
            continue
        curve = r.metrics["shots"]
        parts = ", ".join(f"{k}: {100 * v['mean']:.1f}+-{100 * v['std']:.1f}" for k, v in curve.items())
        lines.append(f"few-shot {r.model} {r.task} (top-1 by shots/class, mean+-sd over seeds {r.config['few_shot_seeds']}): {parts}")
        for z in records:
            if z.protocol == "zeroshot" and (z.model, z.pretrained, z.task) == (r.model, r.pretrained, r.task):
                k = shots_to_match(z.metrics["top1"], curve)
                where = f"~{k:.1f} shots/class" if k is not None else f"more than {max(map(int, curve))} shots/class"
                lines.append(f"  zero-shot ({z.templates}, {100 * z.metrics['top1']:.1f}) is matched by a probe at {where}")
    return lines


def _run_config(args: argparse.Namespace):
    from bench.runner import RunConfig

    return RunConfig(
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
        protocols=args.protocol or ["zeroshot"],
        train_limit=args.train_limit,
        probe_features=args.probe_features,
        shots=_int_list(args.shots, "--shots"),
        few_shot_seeds=args.few_shot_seeds,
        probe_max_iter=args.probe_max_iter,
        on_bad_image=args.on_bad_image,
        probe_search_limit=args.probe_search_limit,
        probe_stream=args.probe_stream,
        precision=args.precision,
        channels_last=args.channels_last,
    )


def robustness_lines(scores, skipped) -> list[str]:
    from bench.robustness import summarize

    probe = any(s.probe_top1 is not None for s in scores)
    pct = lambda v: "-" if v is None else f"{100 * v:.2f}"  # noqa: E731
    header = ["shift", "n", "top1", "id top1", "predicted", "eff. rob.", "ood/id"] + \
        (["probe top1", "probe id", "probe eff. rob."] if probe else []) + ["id measured on"]
    rows = [[s.task, str(s.n), pct(s.top1), pct(s.id_top1), pct(s.predicted), pct(s.effective_robustness),
             "-" if s.relative_robustness is None else f"{s.relative_robustness:.3f}"] +
            ([pct(s.probe_top1), pct(s.probe_id_top1), pct(s.probe_effective_robustness)] if probe else []) +
            [s.id_basis] for s in scores]
    lines = [format_table(rows, header, left=1)]
    for parent, summary in summarize(scores).items():
        er = summary["mean_effective_robustness"]
        line = (f"{parent}: {summary['shifts']} shifts, mean top-1 under shift {100 * summary['mean_top1']:.2f}, "
                f"mean gap to in-distribution {100 * summary['mean_gap']:+.2f}, mean ood/id "
                f"{summary['mean_relative_robustness']:.3f}, mean effective robustness "
                + ("n/a (no baseline fit for these shifts: `zsbench robustness fit` after several models)" if er is None
                   else f"{100 * er:+.2f}"))
        if "probe_mean_top1" in summary:
            line += (f"; linear probe on {parent} features: mean top-1 under shift {100 * summary['probe_mean_top1']:.2f}, "
                     f"mean gap {100 * summary['probe_mean_gap']:+.2f}")
        lines.append(line)
    for name, values in corruption_means(scores).items():
        lines.append(f"  {name}: " + ", ".join(f"{k} {100 * v:.1f}" for k, v in values.items()))
    lines += [f"skipped (data not on disk) {s}" for s in skipped]
    return lines


def corruption_means(scores) -> dict[str, dict[str, float]]:
    """For corruption suites (task names SUITE/CORRUPTION/SEVERITY): mean top-1 per corruption and
    per severity, and the mean over all (mean corruption accuracy)."""
    parts = [(s.task.split("/"), s.top1) for s in scores if s.task.count("/") == 2]
    if not parts:
        return {}
    by_c: dict[str, list[float]] = {}
    by_s: dict[str, list[float]] = {}
    for (suite, c, sev), acc in parts:
        by_c.setdefault(c, []).append(acc)
        by_s.setdefault(sev, []).append(acc)
    mean = lambda d: {k: float(np.mean(v)) for k, v in d.items()}  # noqa: E731
    import numpy as np

    return {"per corruption (mean over severities)": mean(by_c), "per severity": mean(by_s),
            "mean corruption accuracy": {"all": float(np.mean([a for _, a in parts]))}}


def cmd_robustness(args: argparse.Namespace) -> int:
    from bench.errors import UserError

    if args.action == "fit":
        from bench.robustness import fit_from_runs

        fits = fit_from_runs(Path(args.out))
        for shift, fit in fits.items():
            print(f"{shift}: slope {fit.slope:.4f}, intercept {fit.intercept:.4f}, r {fit.r}, {fit.n_models} models")
        print(f"saved: {Path(args.out) / 'robustness_fits.json'} (used by later robustness runs in {args.out})")
        return 0
    if not args.model:
        raise UserError("zsbench robustness needs --model (and --suite: imagenet, cifar10-c or digits-shift)")
    from bench.robustness import run_robustness

    args.task = [args.suite]
    config = _run_config(args)
    records, scores, skipped = run_robustness(config, args.suite, subset_mode=args.class_subset, probe=args.probe)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=1, default=str))
    else:
        print("\n".join(robustness_lines(scores, skipped)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bench.runner import run

    config = _run_config(args)
    if "robustness" in config.protocols:
        from bench.errors import UserError

        if len(config.protocols) > 1 or len(args.task) != 1:
            raise UserError("--protocol robustness runs one shift suite on its own: "
                            "zsbench run --protocol robustness --task imagenet|cifar10-c|digits-shift ...")
        args.suite, args.action, args.class_subset, args.probe = args.task[0], "run", "restrict", False
        return cmd_robustness(args)
    records = run(config)
    from bench.distributed import is_main

    if not is_main():  # torchrun: rank 0 prints
        return 0
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=1, default=str))
    else:
        print(records_table(records))
        for line in few_shot_lines(records):
            print(line)
        subsets = {(r.task, r.n_samples, r.task_info["dataset_size"]) for r in records if r.config["subset"] != "full"}
        for task, n, total in sorted(subsets):
            print(f"note: {task} used a class-stratified subset of {n} of {total} samples (seed {args.seed}, --limit)")
        if not args.no_save and not args.quiet:
            print(f"records: {Path(args.out) / 'runs'}")
        checkpoints = list(dict.fromkeys((r.model, r.pretrained) for r in records if r.protocol == "zeroshot"))
        if len(checkpoints) > 1 and not args.no_save:
            from bench.report.compare import compare

            runs = _runs(argparse.Namespace(results=args.out))
            tasks = sorted({r.task for r in records})
            for other in checkpoints[1:]:
                print()
                print("\n".join(comparison_lines(compare(runs, checkpoints[0], other, tasks=tasks, seed=args.seed))))
    return 0


def _batch_size(text: str) -> int | None:
    """``--batch-size``: a positive whole number, or ``auto`` (None)."""
    if text.strip().lower() == "auto":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"takes a positive whole number or 'auto', not '{text}'")
    return int(text)


def _int_list(text: str, flag: str) -> tuple[int, ...]:
    from bench.errors import UserError

    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"{flag} takes comma-separated whole numbers such as 1,2,4,8,16 (got '{text}')") from None
    if not values or min(values) < 1:
        raise UserError(f"{flag} needs positive whole numbers (got '{text}')")
    return values


def cmd_models(args: argparse.Namespace) -> int:
    from bench.models import list_models

    rows = list_models()
    if args.json:
        print(json.dumps([{"model": m, "pretrained": p, "note": n} for m, p, n in rows], indent=1))
    else:
        print(format_table([list(r) for r in rows], ["model", "pretrained", "note"]))
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from bench.cache import Store, default_cache_dir
    from bench.errors import UserError
    from bench.runner import default_data_dir
    from tasks.catalog import describe, local_status
    from tasks.registry import get_task, list_tasks
    from tasks.sources import DataContext

    store = Store(Path(args.cache_dir) if args.cache_dir else default_cache_dir())
    ctx = DataContext(Path(args.data_dir) if args.data_dir else default_data_dir(store), store)
    if args.action == "show":
        if not args.name:
            raise UserError("`zsbench tasks show` needs a task name or path, e.g. `zsbench tasks show cifar10`")
        spec = get_task(args.name)
        info = {**describe(spec), "on_disk": local_status(spec, ctx)}
        print(json.dumps(info, indent=1, ensure_ascii=False, default=str))
        return 0
    specs = list_tasks()
    status = {s.name: local_status(s, ctx) for s in specs} if args.local else {}
    if args.json:
        print(json.dumps([{"name": s.name, "description": s.description, "metric": s.metric, "split": s.split,
                           "n_classes": s.n_classes, "sizes": s.sizes, "parent": s.parent,
                           "sources": [src.type for src in s.sources], **({"on_disk": status[s.name]} if status else {})}
                          for s in specs], indent=1))
        return 0
    rows = []
    families: dict[str, int] = {}
    for s in specs:
        if s.name.count("/") == 2 and not status:  # generated suites: one line per family
            families[s.name.split("/")[0]] = families.get(s.name.split("/")[0], 0) + 1
            continue
        sizes = " ".join(f"{k} {v:,}" for k, v in s.sizes.items()) or "-"
        row = [s.name, str(s.n_classes or "-"), sizes, s.metric, "/".join(src.type for src in s.sources)]
        if status:
            row.append(" ".join(f"{k}:{v}" for k, v in status[s.name].items()))
        rows.append(row + [s.description])
    header = ["task", "classes", "published sizes", "metric", "sources"] + (["on disk"] if status else []) + ["description"]
    print(format_table(rows, header, left=len(header)))
    for family, count in families.items():
        print(f"{family}/<corruption>/<severity>: {count} generated shift tasks (see `zsbench robustness --suite {family}`)")
    if not status:
        print("\n(--local checks which datasets are already on disk; `zsbench tasks show NAME` prints one spec)")
    return 0


def _runs(args: argparse.Namespace):
    from bench.report.collect import load_runs

    return load_runs(Path(args.results))


def comparison_lines(comparisons) -> list[str]:
    from bench.report.compare import as_table, summary

    table = as_table(comparisons)
    rows = [[t, str(r["n"]), f"{r['acc_a']:.2f}", f"{r['acc_b']:.2f}", f"{r['diff']:+.2f}",
             f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]", f"{r['p_value']:.3g}", r["verdict"]] for t, r in table.iterrows()]
    return [format_table(rows, ["task", "n", "A %", "B %", "A-B", "95% CI (bootstrap)", "McNemar p", "verdict"], left=1),
            summary(comparisons)]


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from bench.report.leaderboard import below_published, leaderboard, render, robustness_table, zeroshot_vs_probe

    runs = _runs(args)
    if args.view == "zeroshot-vs-probe":
        print(render(zeroshot_vs_probe(runs).set_index(["model", "task"]), args.format, "model, task"))
        return 0
    if args.view == "robustness":
        print(render(robustness_table(runs), args.format))
        return 0
    table = leaderboard(runs, protocol=args.protocol, metric=args.metric, history=args.all,
                        with_published=args.with_published)
    print(render(table, args.format))
    if args.format == "md":
        notes = below_published(runs)
        if notes:
            print()
        for note in notes:
            print(f"flag: {note}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.report.compare import as_table, compare

    comparisons = compare(_runs(args), args.a, args.b, tasks=args.task, protocol=args.protocol,
                          n_resamples=args.resamples, seed=args.seed)
    if args.json:
        print(as_table(comparisons).reset_index().to_json(orient="records", indent=1))
    else:
        print("\n".join(comparison_lines(comparisons)))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from bench.report.plots import KINDS, make_plot

    runs = _runs(args)
    out = Path(args.out) if args.out else Path(args.results) / "plots"
    for kind in (KINDS if args.kind == "all" else [args.kind]):
        paths = make_plot(kind, runs, out)
        print(" ".join(str(p) for p in paths))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report.html import build_report

    out = build_report(_runs(args), Path(args.out) if args.out else Path(args.results) / "report.html")
    print(out)
    return 0


def cmd_perf(args: argparse.Namespace) -> int:
    from bench.perf import run_perf

    result = run_perf(args.section, model=args.model, pretrained=args.pretrained, device=args.device,
                      classes=args.classes, n=args.n, dim=args.dim, text_classes=args.text_classes,
                      images=args.images, seed=args.seed, workers=args.workers, memory_n=args.memory_n,
                      memory_dim=args.memory_dim)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    if "text" in result:
        t = result["text"]
        print(f"text: {t['model']} prompt-ensemble classifier, {t['classes']} ImageNet classes x 80 templates "
              f"({t['prompts']} prompts, mean {t['mean_tokens']:.1f} of {t['context_length']} tokens):")
        print(f"  zsbench {t['ours_seconds']:.2f} s vs open_clip.build_zero_shot_classifier {t['open_clip_seconds']:.2f} s"
              f" -> {t['speedup']:.2f}x (max |diff| {t['max_abs_diff']:.1e}; truncated path: {t['truncated_path']})")
        print(f"  {t['gflops_per_prompt_full']:.2f} GFLOP per 77-token prompt; open_clip runs at "
              f"{t['open_clip_gflops_per_s']:.0f} GFLOP/s; full ImageNet classifier ~{t['imagenet_estimate_seconds']['ours']:.0f} s "
              f"vs ~{t['imagenet_estimate_seconds']['open_clip']:.0f} s")
    if "images" in result:
        i = result["images"]
        print(f"images: {i['model']}, {i['images']} JPEGs (400x300), batch {i['batch_size']}: end to end "
              f"{i['end_to_end_images_per_s']:.1f} img/s vs raw forward {i['raw_forward_images_per_s']:.1f} img/s "
              f"-> {i['ratio_end_to_end_vs_raw']:.2f}x; {i['gflops_per_image']:.2f} GFLOP/image, "
              f"{i['achieved_gflops_per_s']:.0f} GFLOP/s in the forward pass")
        for label, v in i["variants"].items():
            print(f"  {label:13s} raw forward {v['images_per_s']:.1f} img/s -> {v['speedup_vs_fp32']:.2f}x fp32; "
                  f"{100 * v['prediction_agreement']:.2f}% of zero-shot predictions unchanged (top-1 moves at most "
                  f"{v['max_top1_change_points']:.2f} pt; min cosine {v['min_cosine_vs_fp32']:.4f})")
    if "zeroshot" in result:
        z = result["zeroshot"]
        print(f"zero-shot: {z['model']}, {z['images']} images x {z['templates']} templates: zsbench cold "
              f"{z['ours_cold_seconds']:.2f} s, warm {z['ours_warm_seconds']:.2f} s; CLIP_benchmark "
              f"{z['clip_benchmark_seconds']:.2f} s (fp32) -> {z['speedup_cold']:.2f}x cold, {z['speedup_warm']:.1f}x warm; "
              f"repeat run {z['repeat_speedup']:.0f}x faster; top-1 ours {100 * z['top1']['ours']:.2f} / "
              f"CLIP_benchmark {100 * z['top1']['clip_benchmark']:.2f}; CLIP_benchmark with its default autocast "
              f"{z['clip_benchmark_amp_seconds']:.2f} s, top-1 {100 * z['top1']['clip_benchmark_amp']:.2f}")
    if "probe" in result:
        p = result["probe"]
        prob = p["problem"]
        print(f"linear-probe C sweep ({prob['fits']} fits, {prob['n']} x {prob['dim']} features, "
              f"{prob['classes']} classes, tol {prob['tol']:g}):")
        print(f"  zsbench LogisticProbe     {p['ours_seconds']:8.2f} s")
        print(f"  sklearn lbfgs, cold fits  {p['sklearn_cold_seconds']:8.2f} s   ratio {p['speedup_vs_sklearn_cold']:.2f}x")
        print(f"  sklearn lbfgs, warm start {p['sklearn_warm_seconds']:8.2f} s   ratio {p['speedup_vs_sklearn_warm']:.2f}x")
        print(f"  chosen C: ours {p['best_C']['ours']:.4g}, sklearn {p['best_C']['sklearn']:.4g}; test accuracy: "
              f"ours {100 * p['test_accuracy']['ours']:.2f}, sklearn {100 * p['test_accuracy']['sklearn']:.2f}")
    if "probe_memory" in result:
        m = result["probe_memory"]
        prob, gib = m["problem"], 2.0 ** 30
        print(f"linear-probe memory ({prob['n']} x {prob['dim']} features = {prob['feature_bytes'] / gib:.2f} GiB, "
              f"{prob['classes']} classes, {prob['iterations']} L-BFGS iterations, peak above the interpreter):")
        print(f"  in memory      {m['in_memory']['peak_bytes'] / gib:6.2f} GiB ({m['in_memory_copies_of_features']:.1f}x "
              f"the features)  {m['in_memory']['seconds']:7.1f} s")
        print(f"  streamed       {m['streamed']['peak_bytes'] / gib:6.2f} GiB (one block, any n)  "
              f"{m['streamed']['seconds']:7.1f} s   time ratio {m['seconds_ratio_streamed_vs_memory']:.2f}x; "
              f"same fit: {m['same_fit']}")
        est = m["imagenet_estimate_bytes"]
        print(f"  ImageNet train (1.28M x 1024): ~{est['in_memory'] / gib:.1f} GiB in memory, "
              f"~{est['streamed'] / gib:.1f} GiB streamed")
    return 0


def _add_run_arguments(r: argparse.ArgumentParser, model_required: bool = True) -> None:
    """The options `run` and `robustness` share (models, data, cache, probes, output)."""
    r.add_argument("--model", action="append", required=model_required,
                   help="open_clip name (ViT-B-32), hf-hub:org/repo, or conse-effnetlite0-minilm; repeatable")
    r.add_argument("--pretrained", action="append",
                   help="pretrained tag, checkpoint file, or 'none' (random init); one per --model, in order")
    r.add_argument("--templates", action="append",
                   help="template set name (openai_imagenet, simple_imagenet, single, cifar10, ...) or file; "
                        "repeatable (one record each); default: the task's own set")
    r.add_argument("--split", help="dataset split (default: the task's evaluation split)")
    r.add_argument("--batch-size", type=_batch_size, default=None, metavar="N|auto",
                   help="images per forward pass (default auto: 256 on GPU, 64 on CPU; halved on out-of-memory)")
    r.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                   help="image encoder precision: fp32 (default), or bf16/fp16 autocast (fp16: CUDA only); text "
                        "classifiers stay fp32. Features are cached per precision; recorded")
    r.add_argument("--channels-last", action="store_true",
                   help="run the image encoder in channels-last memory format (helps conv nets such as RN50 / "
                        "ConvNeXt; recorded)")
    r.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    r.add_argument("--limit", type=int, help="evaluate a seeded, class-stratified subset of N samples")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", default="results", help="output folder for run records (default: results/)")
    r.add_argument("--cache-dir", help="feature/classifier cache (default: $ZSBENCH_CACHE or ~/.cache/zsbench)")
    r.add_argument("--data-dir", help="dataset folder (default: $ZSBENCH_DATA or CACHE/datasets)")
    r.add_argument("--workers", type=int, help="image decoding workers (default: half the cores)")
    r.add_argument("--protocol", action="append", choices=["zeroshot", "linear-probe", "few-shot", "robustness"],
                   help="zeroshot (default), linear-probe (CLIP paper A.3: C searched on validation), "
                        "few-shot (k examples per class); repeatable; robustness (a shift suite as --task, "
                        "see `zsbench robustness`)")
    r.add_argument("--probe-features", default="embedding", choices=["embedding", "pre-projection"],
                   help="features for probes: the image embedding, or the features before its final "
                        "projection (ViTs in the CLIP paper; EfficientNet-Lite0 pooled features for ConSE)")
    r.add_argument("--train-limit", type=int, help="probes: a seeded class-stratified subset of the training split")
    r.add_argument("--shots", default="1,2,4,8,16", help="few-shot: examples per class (default 1,2,4,8,16)")
    r.add_argument("--few-shot-seeds", type=int, default=3, help="few-shot: draws per k (default 3)")
    r.add_argument("--probe-max-iter", type=int, default=1000, help="L-BFGS iterations per fit (default 1000)")
    r.add_argument("--probe-search-limit", type=int,
                   help="linear probe: search C on a class-stratified subset of N training samples, then refit "
                        "on the whole split (faster for big problems; recorded; default: the paper's full search)")
    r.add_argument("--probe-stream", default="auto", choices=["auto", "on", "off"],
                   help="probes: fit on training features streamed from the cache chunk by chunk instead of "
                        "loaded whole (auto: when an in-memory fit would need over half the RAM, e.g. "
                        "ImageNet-train-size features; same optimum, slower per iteration)")
    r.add_argument("--on-bad-image", default="skip", choices=["skip", "fail"],
                   help="an undecodable image: leave it out and warn once (default), or stop with its path")
    r.add_argument("--json", action="store_true", help="print the run records as JSON on stdout")
    r.add_argument("--quiet", action="store_true", help="no progress bars or notes")
    r.add_argument("--no-save", action="store_true", help="do not write run records")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="zsbench", description="Zero-shot image classification benchmarks for CLIP-family models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="zero-shot evaluation of models on tasks",
                       description="Zero-shot evaluation: image features (cached) x prompt-ensemble classifier.")
    _add_run_arguments(r)
    r.add_argument("--task", action="append", required=True, help="task name (see `zsbench tasks`), or a path: an ImageFolder folder, a "
                        "path,label .csv/.tsv manifest, or a .toml task file; repeatable")
    r.set_defaults(func=cmd_run)

    m = sub.add_parser("models", help="list loadable models")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

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
    pf.set_defaults(func=cmd_perf)

    rb = sub.add_parser("robustness", help="accuracy under distribution shift, effective robustness",
                        description="Evaluate models on a shift suite (imagenet, cifar10-c, digits-shift): accuracy "
                                    "under shift, in-distribution accuracy, effective and relative robustness. "
                                    "`zsbench robustness fit` fits a baseline from the robustness records under --out.")
    rb.add_argument("action", nargs="?", default="run", choices=["run", "fit"])
    rb.add_argument("--suite", default="imagenet", choices=["imagenet", "cifar10-c", "digits-shift"])
    rb.add_argument("--class-subset", default="restrict", choices=["restrict", "full"],
                    help="shifts over a class subset (ImageNet-R/A, ObjectNet): classifier restricted to the "
                         "subset (default, as the CLIP paper) or the parent's full classifier")
    rb.add_argument("--probe", action="store_true",
                    help="also fit a linear probe on the in-distribution training features and score it under "
                         "shift (CLIP paper Fig. 14 idea)")
    _add_run_arguments(rb, model_required=False)
    rb.set_defaults(func=cmd_robustness)

    lb = sub.add_parser("leaderboard", help="models x tasks table from run records")
    lb.add_argument("view", nargs="?", default="table", choices=["table", "zeroshot-vs-probe", "robustness"])
    lb.add_argument("--results", default="results", help="folder with runs/ (default: results/)")
    lb.add_argument("--protocol", default="zeroshot", choices=["zeroshot", "linear-probe", "few-shot"])
    lb.add_argument("--metric", default="primary", choices=["primary", "top1", "top5", "mean_per_class_recall"],
                    help="primary (default) = each task's own metric, as the CLIP paper reports it")
    lb.add_argument("--format", default="md", choices=["md", "csv", "html", "json"])
    lb.add_argument("--all", action="store_true", help="every record, not only the newest per model/task")
    lb.add_argument("--with-published", action="store_true", help="add open_clip's published rows for the same checkpoints")
    lb.set_defaults(func=cmd_leaderboard)

    cp = sub.add_parser("compare", help="paired comparison of two checkpoints on the same images")
    cp.add_argument("a", help="MODEL[:PRETRAINED] or a run record .json")
    cp.add_argument("b", help="MODEL[:PRETRAINED] or a run record .json")
    cp.add_argument("--task", action="append", help="only these tasks (default: every task both have)")
    cp.add_argument("--results", default="results")
    cp.add_argument("--protocol", default="zeroshot", choices=["zeroshot", "linear-probe"])
    cp.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples (default 10000)")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--json", action="store_true")
    cp.set_defaults(func=cmd_compare)

    pl = sub.add_parser("plot", help="paper-style plots from run records (PNG + SVG)")
    pl.add_argument("kind", choices=["prompt-ensemble", "zeroshot-vs-probe", "few-shot", "robustness", "leaderboard", "all"])
    pl.add_argument("--results", default="results")
    pl.add_argument("--out", help="folder for the plots (default: RESULTS/plots)")
    pl.set_defaults(func=cmd_plot)

    rp = sub.add_parser("report", help="one self-contained HTML page: tables, plots, run metadata")
    rp.add_argument("--results", default="results")
    rp.add_argument("--out", help="output file (default: RESULTS/report.html)")
    rp.set_defaults(func=cmd_report)

    t = sub.add_parser("tasks", help="list registered tasks, or `tasks show NAME` for one spec")
    t.add_argument("action", nargs="?", default="list", choices=["list", "show"])
    t.add_argument("name", nargs="?", help="task name or path (for show)")
    t.add_argument("--local", action="store_true", help="also check which splits are on disk (no downloads)")
    t.add_argument("--cache-dir", help="cache folder (offline mirrors live there)")
    t.add_argument("--data-dir", help="dataset folder (default: $ZSBENCH_DATA or CACHE/datasets)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tasks)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from bench.errors import UserError

    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) == "perf" and not args.section:
        from bench.perf import SECTIONS

        args.section = list(SECTIONS)
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
