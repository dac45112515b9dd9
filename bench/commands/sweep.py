"""``zsbench sweep``: many models x a suite as submitit jobs; ``sweep status`` shows the grid."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from bench.commands.base import Command
from bench.core.errors import UserError
from bench.core.paths import ensure_writable_dir, user_path
from bench.engine.config import SWEEP, add_run_options, config_from_args
from bench.report.text import format_table
from bench.core.numbers import Bounds, count, real


def _minutes(text: str) -> int:
    """``--time``: minutes, or HH:MM:SS / MM:SS."""
    parts = text.split(":")
    if not all(p.isdigit() for p in parts) or len(parts) > 3:
        raise argparse.ArgumentTypeError(f"takes minutes or HH:MM:SS, not '{text}'")
    if len(parts) == 1:
        minutes = int(parts[0])
    else:
        h, m, s = ([0] * (3 - len(parts)) + [int(p) for p in parts])
        minutes = max(1, h * 60 + m + (1 if s else 0))
    if not _minutes.bounds.holds(minutes):
        raise argparse.ArgumentTypeError(f"takes a time limit of 1 minute to {MAX_MINUTES // 1440} days, not '{text}'")
    return minutes


#: --time: up to a year of minutes
MAX_MINUTES = 366 * 24 * 60
_minutes.bounds = Bounds(1, MAX_MINUTES, whole=True)  # type: ignore[attr-defined]


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE, not '{text}'")
    return key.lstrip("-"), value


def add_arguments(sw: argparse.ArgumentParser) -> None:
    sw.add_argument("action", nargs="?", default="run", choices=["run", "status"])
    sw.add_argument("results", nargs="?", help="status: the results folder (default: --out)")
    sw.add_argument("--models", help="a models file (one `MODEL [PRETRAINED]` or CLIP_benchmark's `MODEL,PRETRAINED` "
                                     "per line, # comments; PRETRAINED may be a glob), one of CLIP_benchmark's "
                                     "collections (@openai, @openclip_base, @openclip_multilingual, @openclip_all), "
                                     "or a glob of checkpoint files (with --arch)")
    sw.add_argument("--arch", help="the model of the checkpoint files a glob or --watch names (e.g. ViT-B-32)")
    sw.add_argument("--executor", default="local", choices=["slurm", "local", "debug"],
                    help="slurm (a job array on the cluster), local (processes on this machine, default), debug "
                         "(in this process)")
    sw.add_argument("--dry-run", action="store_true", help="print the jobs, their image forwards, text prompts and "
                                                           "estimated time; submit nothing")
    sw.add_argument("--force", action="store_true", help="redo work that already has records")
    sw.add_argument("--name", help="the sweep's folder name under RESULTS/sweeps (default: a hash of the command)")
    sw.add_argument("--no-wait", action="store_true", help="return after submitting: Slurm and local jobs go on "
                                                            "(follow them with `zsbench sweep status`)")
    sw.add_argument("--max-job-hours", type=real(0.0, 10_000.0, low_open=True), help="split a model's tasks into jobs of at most this much "
                                                          "estimated compute (default: 80%% of --time)")
    sw.add_argument("--partition", help="slurm: partition")
    sw.add_argument("--gpus-per-job", type=count(0, 64), default=1, help="slurm: GPUs per job (default 1; 0: CPU "
                                                                          "jobs)")
    sw.add_argument("--cpus-per-job", type=count(1, 4096), default=8, help="slurm: CPUs per job (default 8)")
    sw.add_argument("--mem", help="slurm: memory per job, e.g. 64G")
    sw.add_argument("--time", type=_minutes, default=240, metavar="MIN|HH:MM:SS",
                    help="time limit per job (default 240 minutes); slurm requeues a job that hits it")
    sw.add_argument("--array-parallelism", type=count(1, 100_000), default=64, help="slurm: jobs of the array running at once")
    sw.add_argument("--slurm-extra", action="append", type=_pair, metavar="KEY=VALUE",
                    help="any other sbatch option, e.g. --slurm-extra account=myproj --slurm-extra qos=high")
    sw.add_argument("--watch", metavar="DIR", help="poll a training run's checkpoint folder and evaluate each new "
                                                    "checkpoint (with --arch and --pattern)")
    sw.add_argument("--pattern", default="*.pt", help="--watch: checkpoint file pattern (default *.pt)")
    sw.add_argument("--poll", type=real(0.0, 86_400.0, low_open=True), default=60.0, help="--watch: seconds between polls (default 60)")
    sw.add_argument("--settle", type=real(0.0, 86_400.0), default=30.0, help="--watch: a checkpoint counts once "
                                                                          "unchanged this many seconds (default 30; 0: "
                                                                          "at once)")
    sw.add_argument("--watch-timeout", type=real(0.0, 10 ** 8), help="--watch: stop after this many seconds "
                                                                       "(default: never; 0: one look, then stop)")
    add_run_options(sw, SWEEP, model_required=False)


def execute(args: argparse.Namespace) -> int:
    from bench.apps import sweep as sw

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
    if config.pixel_cache == "auto" and len(entries) > 1:  # each job runs one model: they share the crops
        config = replace(config, pixel_cache="on")
    return _sweep_once(args, config, slurm, entries, wait=not args.no_wait, name=args.name)


def _sweep_once(args, config, slurm, entries, wait: bool, name: str | None) -> int:
    from bench.apps import sweep as sw
    from bench.engine.runner import data_context
    from bench.models import check_model
    from tasks.suites import expand_task_names

    if config.top_k is not None:
        return _select_top_k(args, config, slurm, entries, wait, name)
    ctx = data_context(config.cache_dir, config.data_dir, config.profile)
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
    if not wait and args.executor != "debug":  # slurm and local jobs go on without us (debug runs here)
        print(f"follow it with: zsbench sweep status {config.out_dir}")
        return 0
    for line in sw.wait(handles):
        print(f"failed: {line}")
    labels, task_names, grid, left, names = sw.sweep_status(config.out_dir)
    print("\n".join(sweep_status_lines(labels, task_names, grid, left, names)))
    return 0


def _select_top_k(args, config, slurm, entries, wait: bool, name: str | None) -> int:
    """``--top K``: rounds of jobs on a growing shared sample until each task's K best are certain."""
    from bench.apps import sweep as sw
    from bench.apps.sweep_selection import as_json, selection_lines, sweep_top_k
    from bench.commands.base import print_json
    from bench.models import check_model

    if not wait or args.dry_run:
        raise UserError("--top decides each round from the last one's records, so the sweep waits for its jobs: drop "
                        "--no-wait / --dry-run")
    sweep_dir = sw.sweep_folder(config.out_dir, name or sw.plan_id(entries, config))
    executor = sw.make_executor(args.executor, sweep_dir / "submitit", slurm)
    sw.save_plan(sweep_dir, entries, config, [], args.executor)

    def run_round(jobs, round_config) -> None:
        size = round_config.sample_size
        batch = [sw.Job(f"{sw.slug(e.label)}-{'n' + str(size) if size else 'full'}", e, tasks, 0, 0, 0.0,
                        "sweep --top round") for e, tasks in jobs]
        runnable = []
        for job in batch:
            try:
                check_model(job.model.model, job.model.pretrained)
                runnable.append(job)
            except UserError as exc:
                sw.write_status(sweep_dir, job, "failed", reason=str(exc))
                raise
        for line in sw.wait(sw.submit(runnable, round_config, sweep_dir, args.executor, slurm, executor)):
            print(f"failed: {line}")

    selections = sweep_top_k(entries, config, run_round, say=(lambda _: None) if config.quiet or config.json else print)
    if config.json:
        print_json(as_json(selections))
    else:
        print("\n".join(selection_lines(selections, config.top_k)))
    return 0


def _watch(args, config, slurm) -> int:
    """Evaluate each new checkpoint of a training run as it appears."""
    import time

    from bench.apps import sweep as sw

    if not args.arch:
        raise UserError("--watch needs --arch: the model the checkpoints belong to (e.g. --arch ViT-B-32)")
    folder = user_path(args.watch)
    if not folder.is_dir():
        raise UserError(f"--watch {folder}: not a folder (give the folder the training run saves checkpoints into)")
    deadline = None if args.watch_timeout is None else time.time() + args.watch_timeout
    seen: set[str] = set()
    while True:
        ready = [c for c in sw.ready_checkpoints(folder, args.pattern, args.settle) if c not in seen]
        if ready:
            seen.update(ready)
            entries = [sw.ModelEntry(args.arch, c) for c in ready]
            print(f"watch: {len(ready)} new checkpoint(s): {', '.join(Path(c).name for c in ready)}")
            _sweep_once(args, config, slurm, entries, wait=args.executor != "slurm",
                        name=args.name or f"watch-{sw.slug(str(folder.resolve()))[-40:]}")
        if deadline is not None and time.time() >= deadline:
            return 0
        time.sleep(args.poll)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sweep_plan_lines(jobs, models, tasks: list[str], folder: str, executor: str) -> list[str]:
    """``--dry-run``: each job with the image forwards, text prompts and time it needs."""
    rows = [[j.name, j.model.label, str(len(j.tasks)), f"{j.images:,}", f"{j.prompts:,}", _duration(j.seconds),
             j.estimate] for j in jobs]
    total = sum(j.seconds for j in jobs)
    lines = [f"sweep plan: {len(models)} model(s) x {len(tasks)} task(s) -> {len(jobs)} job(s) on {executor}; "
             f"folder {folder}"]
    if rows:
        lines.append(format_table(rows, ["job", "model", "tasks", "images", "prompts", "estimate", "basis"], left=2))
    lines.append(f"total estimate {_duration(total)} of compute" + (" (nothing left to do: every record exists)"
                                                                     if not jobs else ""))
    return lines


SYMBOLS = {"done": "done", "running": "run", "failed": "FAIL", "lost": "LOST", "missing": "-"}


def sweep_status_lines(labels, tasks, grid, left: float, names) -> list[str]:
    """The model x task grid of a sweep, counts, failures with their reasons, and the cost left."""
    rows = [[label] + [SYMBOLS[grid[(label, t)].state] if (label, t) in grid else "" for t in tasks] for label in labels]
    counts: dict[str, int] = {}
    for cell in grid.values():
        counts[cell.state] = counts.get(cell.state, 0) + 1
    lines = [f"sweep(s) {', '.join(names)}: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in SYMBOLS) +
             f" of {len(grid)}; estimated compute left {_duration(left)}",
             format_table(rows, ["model"] + list(tasks), left=1)]
    for state in ("failed", "lost"):
        ended = {(m, c.reason) for (m, t), c in grid.items() if c.state == state}
        lines += [f"{state}: {m}: {reason}" for m, reason in sorted(ended)]
    lines += [f"running: {m} / {t}: {c.reason}" for (m, t), c in grid.items() if c.state == "running"]
    return lines


COMMAND = Command("sweep", "many models x a suite as submitit jobs (Slurm array or this machine)",
                  "Evaluate every model of a models file (or every checkpoint matching a glob) on the tasks, one job "
                  "per model (a large model's suite split by cost), through submitit. Work with a record is skipped, "
                  "so a rerun does only what is missing. `zsbench sweep status RESULTS` shows the model x task grid.",
                  add_arguments, execute)
