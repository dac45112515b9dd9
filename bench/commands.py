"""What each ``zsbench`` subcommand does: call the library, print what ``bench.report`` formats.

``cli.py`` parses the arguments and dispatches here by name; nothing here parses and nothing in
the CLI computes or formats. Each function takes the parsed arguments and returns the exit code.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import replace
from pathlib import Path

from bench.config import ROBUSTNESS, RUN, SWEEP, config_from_args
from bench.core.errors import UserError
from bench.core.paths import ensure_writable_dir
from bench.report.text import (comparison_lines, few_shot_lines, fits_lines, models_table, perf_lines,
                               predict_lines, records_table, retrieval_table, robustness_lines, subset_notes, sweep_plan_lines,
                               sweep_status_lines, tasks_table)


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=1, default=str, ensure_ascii=False))


def run(args: argparse.Namespace) -> int:
    from bench.distributed import is_main
    from bench.protocols.robustness import scores_from_records
    from bench.runner import Runner

    config = config_from_args(args, RUN)
    runner = Runner(config)
    records = runner.run()
    if not is_main():  # torchrun: rank 0 prints
        return 0
    if config.json:
        _print_json([r.to_dict() for r in records])
        return 0
    plain = [r for r in records if r.protocol not in ("robustness", "retrieval")]
    if plain:
        print(records_table(plain))
    if any(r.protocol == "retrieval" for r in records):
        print(retrieval_table(records))
    for line in few_shot_lines(records):
        print(line)
    if any(r.protocol == "robustness" for r in records) or runner.skipped:
        print("\n".join(robustness_lines(scores_from_records(records), runner.skipped)))
    for line in subset_notes(records, config.seed):
        print(line)
    if config.save and not config.quiet:
        print(f"records: {Path(config.out_dir) / 'runs'}")
    _compare_checkpoints(records, config)
    return 0


def _compare_checkpoints(records, config) -> None:
    """Several --model flags: the paired comparison of each against the first, on the shared tasks."""
    checkpoints = list(dict.fromkeys((r.model, r.pretrained) for r in records if r.protocol in ("zeroshot", "retrieval")))
    if len(checkpoints) < 2 or not config.save:
        return
    from bench.report.collect import load_runs
    from bench.report.compare import compare

    runs = load_runs(config.out_dir)
    tasks = sorted({r.task for r in records})
    for other in checkpoints[1:]:
        print()
        print("\n".join(comparison_lines(compare(runs, checkpoints[0], other, tasks=tasks, seed=config.seed))))


def robustness(args: argparse.Namespace) -> int:
    from bench.protocols.robustness import run_robustness

    if args.action == "fit":
        from bench.robustness import fit_from_runs, user_fits_path

        fits = fit_from_runs(Path(args.out_dir))
        print("\n".join(fits_lines(fits, str(user_fits_path(Path(args.out_dir))))))
        return 0
    if not args.models:
        raise UserError("zsbench robustness needs --model (and --suite: imagenet, cifar10-c or digits-shift)")
    config = config_from_args(args, ROBUSTNESS, tasks=[args.suite], protocols=["robustness"])
    records, scores, skipped = run_robustness(config, args.suite)
    if config.json:
        _print_json([r.to_dict() for r in records])
    else:
        print("\n".join(robustness_lines(scores, skipped)))
    return 0


def predict(args: argparse.Namespace) -> int:
    """The top classes of each image (files, folders, URLs) among a task's or the given class names."""
    from bench.models import check_model, load_model
    from bench.predict import expand_images, predict as predict_images
    from bench.runner import data_context
    from prompts import get_classnames, get_templates

    check_model(args.model, args.pretrained)
    if bool(args.task) + bool(args.classes) + bool(args.classes_file and not args.task) != 1:
        raise UserError("predict needs one of --task NAME (optionally with --classnames FILE), --classes a,b,c or "
                        "--classnames FILE")
    images = expand_images(args.images)
    ctx = data_context(Path(args.cache_dir) if args.cache_dir else None, None)
    if args.task:
        from prompts.references import check_choice
        from tasks.classes import PromptChoice, override_classnames, task_classnames
        from tasks.registry import get_task

        check_choice(args.prompt_source, args.language)
        classnames, templates = task_classnames(args.task, ctx, args.templates, PromptChoice(args.prompt_source,
                                                                                              args.language))
        if args.classes_file:
            classnames = override_classnames(get_task(args.task), classnames, args.classes_file)
    else:
        classnames = get_classnames(args.classes_file) if args.classes_file else \
            [c.strip() for c in args.classes.split(",") if c.strip()]
        templates = get_templates(args.templates or "single")
    from bench.models.base import check_precision

    check_precision("fp32", args.device)
    backend = load_model(args.model, args.pretrained, device=args.device, store=ctx.store)
    backend.progress = not (args.quiet or args.json)
    results = predict_images(backend, images, classnames, templates, top=args.top, store=ctx.store,
                             progress=backend.progress)
    if args.json:
        _print_json([r.to_dict() for r in results])
    else:
        print("\n".join(predict_lines(results, backend, len(classnames), len(templates))))
    return 0


def sweep(args: argparse.Namespace) -> int:
    """Many models x a suite through submitit; ``sweep status`` shows the grid."""
    from bench import sweep as sw

    if args.action == "status":
        results = Path(args.results or args.out_dir)
        labels, task_names, grid, left, names = sw.sweep_status(results)
        print("\n".join(sweep_status_lines(labels, task_names, grid, left, names)))
        return 0

    config = config_from_args(args, SWEEP)
    ensure_writable_dir(Path(config.out_dir), "--out")
    slurm = sw.SlurmOptions(partition=args.partition, gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job,
                            mem=args.mem, time_minutes=args.time, array_parallelism=args.array_parallelism,
                            extra=dict(args.slurm_extra or []))
    if args.watch:
        return _watch(args, config, slurm)
    if not args.models:
        raise UserError("zsbench sweep needs --models FILE|GLOB (or --watch DIR for a training run's checkpoints)")
    entries = sw.resolve_models(args.models, args.arch)
    return _sweep_once(args, config, slurm, entries, wait=not args.no_wait, name=args.name)


def _sweep_once(args, config, slurm, entries, wait: bool, name: str | None) -> int:
    from bench import sweep as sw
    from bench.models import check_model
    from bench.runner import data_context
    from tasks.suites import expand_task_names

    ctx = data_context(config.cache_dir, config.data_dir)
    jobs = sw.plan_sweep(entries, config, max_job_seconds=args.max_job_hours * 3600 if args.max_job_hours else
                         0.8 * args.time * 60, force=args.force, store=ctx.store)
    sweep_dir = sw.sweep_folder(config.out_dir, name or sw.plan_id(entries, config))
    if args.dry_run:
        print("\n".join(sweep_plan_lines(jobs, entries, expand_task_names(config.tasks), str(sweep_dir), args.executor)))
        return 0
    # the executor first: no Slurm here is a one-line error before the sweep's folder is written
    executor = sw.make_executor(args.executor, sweep_dir / "submitit", slurm)
    sw.save_plan(sweep_dir, entries, config, jobs, args.executor)
    runnable = []
    for job in jobs:  # a model request that cannot load fails here, alone; the others are submitted
        try:
            check_model(job.model.model, job.model.pretrained)
            runnable.append(job)
        except UserError as exc:
            sw.write_status(sweep_dir, job, "failed", reason=str(exc))
    if args.force:
        config = replace(config, skip_existing=False)
    handles = sw.submit(runnable, config, sweep_dir, args.executor, slurm, executor) if runnable else []
    print(f"sweep {sweep_dir.name}: {len(runnable)} job(s) submitted ({args.executor}), "
          f"{len(jobs) - len(runnable)} refused before submission, {len(entries)} model(s); folder {sweep_dir}")
    if args.executor == "slurm" and not wait:
        print(f"follow it with: zsbench sweep status {config.out_dir}")
        return 0
    if wait or args.executor != "slurm":
        failures = sw.wait(handles)
        for line in failures:
            print(f"failed: {line}")
        labels, task_names, grid, left, names = sw.sweep_status(config.out_dir)
        print("\n".join(sweep_status_lines(labels, task_names, grid, left, names)))
    return 0


def _watch(args, config, slurm) -> int:
    """Evaluate each new checkpoint of a training run as it appears."""
    import time as _time

    from bench import sweep as sw

    if not args.arch:
        raise UserError("--watch needs --arch: the model the checkpoints belong to (e.g. --arch ViT-B-32)")
    folder = Path(args.watch).expanduser()
    if not folder.is_dir():
        raise UserError(f"--watch {folder}: not a folder (give the folder the training run saves checkpoints into)")
    deadline = None if args.watch_timeout is None else _time.time() + args.watch_timeout
    seen: set[str] = set()
    while True:
        ready = [c for c in sw.ready_checkpoints(folder, args.pattern, args.settle) if c not in seen]
        if ready:
            seen.update(ready)
            entries = [sw.ModelEntry(args.arch, c) for c in ready]
            print(f"watch: {len(ready)} new checkpoint(s): {', '.join(Path(c).name for c in ready)}")
            _sweep_once(args, config, slurm, entries, wait=args.executor != "slurm",
                        name=args.name or f"watch-{sw.slug(str(folder.resolve()))[-40:]}")
        if deadline is not None and _time.time() >= deadline:
            return 0
        _time.sleep(args.poll)


def models(args: argparse.Namespace) -> int:
    from bench.models import list_models

    rows = list_models()
    if args.json:
        _print_json([{"model": m, "pretrained": p, "note": n} for m, p, n in rows])
    else:
        print(models_table(rows))
    return 0


def tasks(args: argparse.Namespace) -> int:
    from bench.runner import data_context
    from tasks.catalog import describe, local_status
    from tasks.registry import get_task, list_tasks

    ctx = data_context(Path(args.cache_dir) if args.cache_dir else None, Path(args.data_dir) if args.data_dir else None)
    if args.action == "show":
        if not args.name:
            raise UserError("`zsbench tasks show` needs a task name or path, e.g. `zsbench tasks show cifar10`")
        spec = get_task(args.name)
        _print_json({**describe(spec), "on_disk": local_status(spec, ctx)})
        return 0
    if args.suite:
        from tasks.suites import read_suite

        specs = [get_task(name) for name in read_suite(args.suite if args.suite.startswith("@") else "@" + args.suite)]
        status = {s.name: local_status(s, ctx) for s in specs}
    else:
        specs = list_tasks()
        status = {s.name: local_status(s, ctx) for s in specs} if args.local else {}
    if args.json:
        _print_json([{"name": s.name, "description": s.description, "metric": s.metric, "split": s.split,
                      "n_classes": s.n_classes, "sizes": s.sizes, "parent": s.parent,
                      "sources": [src.type for src in s.sources], **({"on_disk": status[s.name]} if status else {})}
                     for s in specs])
        return 0
    print("\n".join(tasks_table(specs, status)))
    return 0


def _runs(args: argparse.Namespace):
    from bench.report.collect import load_runs

    return load_runs(Path(args.results), strict=getattr(args, "strict", False))


def leaderboard(args: argparse.Namespace) -> int:
    from bench.report.leaderboard import below_published, leaderboard as table_of, prompt_source_notes, render, \
        robustness_table, \
        zeroshot_vs_probe

    runs = _runs(args)
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
        from bench.report.leaderboard import missing_tasks

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


def compare(args: argparse.Namespace) -> int:
    from bench.report.compare import as_table, compare as compare_runs

    comparisons = compare_runs(_runs(args), args.a, args.b, tasks=args.task, protocol=args.protocol,
                               n_resamples=args.resamples, seed=args.seed)
    if args.json:
        print(as_table(comparisons).reset_index().to_json(orient="records", indent=1))
    else:
        print("\n".join(comparison_lines(comparisons)))
    return 0


def plot(args: argparse.Namespace) -> int:
    """Draw one kind, or ``all`` the kinds the records allow (the others listed with the reason)."""
    from bench.report.plots import KINDS, make_plot

    runs = _runs(args)
    out = ensure_writable_dir(Path(args.out) if args.out else Path(args.results) / "plots", "--out")
    if args.kind != "all":
        print(" ".join(str(p) for p in make_plot(args.kind, runs, out)))
        return 0
    drawn, skipped = [], []
    for kind in KINDS:
        try:
            drawn.append(" ".join(str(p) for p in make_plot(kind, runs, out)))
        except UserError as exc:
            skipped.append(f"skipped {kind}: {exc}")
    print("\n".join(drawn + skipped))
    if not drawn:
        raise UserError(f"no plot could be drawn from the records in {args.results} (reasons above)")
    return 0


def report(args: argparse.Namespace) -> int:
    from bench.report.html import build_report

    print(build_report(_runs(args), Path(args.out) if args.out else Path(args.results) / "report.html"))
    return 0


def doctor(args: argparse.Namespace) -> int:
    from bench.doctor import GROUPS, Doctor, published_figure
    from bench.records import read_record
    from bench.report.text import doctor_lines

    if args.expect is not None and args.published:
        raise UserError("give --expect PERCENT or --published, not both")
    expected = args.expect / 100 if args.expect is not None else None
    if args.published:
        rec = read_record(Path(args.record))
        expected = published_figure(rec)
        if expected is None:
            raise UserError(f"open_clip publishes no figure for {rec['model']} / {rec['pretrained']} on {rec['task']}: "
                            "give --expect PERCENT")
    quiet = args.quiet or args.json
    diagnosis = Doctor(args.record, Path(args.cache_dir) if args.cache_dir else None,
                       Path(args.data_dir) if args.data_dir else None, limit=args.limit, device=args.device,
                       workers=args.workers, progress=not quiet, task=args.task).run(expected, tuple(args.only or GROUPS))
    if args.json:
        _print_json(diagnosis.to_dict())
    else:
        print("\n".join(doctor_lines(diagnosis)))
    return 0


def perf(args: argparse.Namespace) -> int:
    from bench.perf import SECTIONS, run_perf

    result = run_perf(args.section or list(SECTIONS), model=args.model, pretrained=args.pretrained, device=args.device,
                      classes=args.classes, n=args.n, dim=args.dim, text_classes=args.text_classes,
                      images=args.images, seed=args.seed, workers=args.workers, memory_n=args.memory_n,
                      memory_dim=args.memory_dim, tol=args.tol)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print("\n".join(perf_lines(result)))
    return 0


def quiet_warnings(quiet: bool) -> None:
    """Warnings as one ``zsbench: warning:`` line each, or none under --quiet/--json."""
    if quiet:
        warnings.simplefilter("ignore")
    else:
        warnings.formatwarning = lambda msg, cat, *a, **k: f"zsbench: warning: {msg}\n"


def fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"zsbench: error: {message}\n")
    return code
