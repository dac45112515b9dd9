"""``zsbench sweep --top K``: the K best models per task, in rounds of sweep jobs.

Round r submits, for every model still undecided on some task, one job that evaluates the first
n_r samples of each such task's seeded class-stratified order (n_r = 512, 1024, 2048, ...: the
``sample_size`` run option; each job reuses the previous round's features from the cache, so a
round computes only its new images). After the round, each model's interval for each task comes
from its record's per-sample predictions (the empirical-Bernstein confidence sequence of
:mod:`bench.engine.sequential` at (1 - confidence) / M for M models, so all hold at once), and
successive elimination (:func:`bench.engine.adaptive.eliminate`) marks models out or certainly in.
The sweep ends when every task has its K, or the data runs out. Tasks whose metric no sequence
bounds run in full in the first round.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.core.errors import UserError
from bench.engine.adaptive import AdaptiveSample, unbounded_reason, update_statuses
from bench.engine.config import RunConfig
from bench.engine.sequential import FIRST_CHUNK


@dataclass
class Selection:
    """One task's selection over the sweep's models."""

    task: str
    sample: AdaptiveSample
    status: dict[str, str] = field(default_factory=dict)            # model label -> running | top-k | out
    interval: dict[str, tuple[float, float]] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)              # images each model read
    assist: dict[str, Any] | None = None                            # --assist: the controls' records, or why none


def _interval(sample: AdaptiveSample, preds: dict[str, np.ndarray], alpha: float) -> tuple[float, float, int]:
    n = len(preds["indices"])
    if not np.array_equal(preds["indices"], sample.units[:n]):
        raise RuntimeError("a sweep --top record does not hold the order's first samples (another seed or data?)")
    return (*sample.interval(preds, alpha, n), n)


def sweep_top_k(entries: list, config: RunConfig, run_round: Callable[[list, RunConfig], None],
                say: Callable[[str], None] = print) -> list[Selection]:
    """Rounds of ``run_round(jobs' model entries with their tasks, round config)`` until every task's top K
    is certain; returns each task's selection. ``run_round`` submits and waits (the sweep's executor)."""
    from bench.engine.evaluation import open_task
    from bench.engine.records import load_predictions, read_records_if_any
    from bench.engine.runner import data_context
    from bench.engine.work import work_keys_for
    from tasks.registry import get_task
    from tasks.suites import expand_task_names

    k = config.top_k
    if len(entries) <= k:
        raise UserError(f"--top {k} needs more than {k} models (the models file lists {len(entries)})")
    ctx = data_context(config.cache_dir, config.data_dir, config.profile)
    alpha = (1 - config.confidence) / len(entries)
    selections, full = [], []
    for name in expand_task_names(config.tasks):
        spec = get_task(name)
        reason = unbounded_reason(spec.metric) if spec.kind == "classification" else "its task is not classification"
        if reason:
            say(f"sweep --top: {name} runs in full on every model: {reason}")
            full.append(name)
            continue
        task = open_task(spec, config, ctx)
        sample = AdaptiveSample.of(task, spec.metric, config.seed)
        assist = sample.attach_assist(config.assist, task, config.out_for(name))
        if assist is not None and assist.controls is None:
            say(f"sweep --top: {name}: {assist.note}")
        selections.append(Selection(name, sample, {e.label: "running" for e in entries},
                                    assist=None if assist is None else assist.section()))
    if not selections:
        raise UserError("sweep --top: no task's metric can be bounded (top-1, top-5 or mean per-class recall): "
                        "drop --top to run the sweep in full")
    if full:
        run_round([(e, full) for e in entries], replace(config, top_k=None))
    n = FIRST_CHUNK
    while True:
        jobs = [(e, [s.task for s in selections if s.status[e.label] == "running"]) for e in entries]
        jobs = [(e, tasks) for e, tasks in jobs if tasks]
        if not jobs:
            return selections
        round_config = replace(config, top_k=None, sample_size=n)
        run_round(jobs, round_config)
        by_key = {r.config.work_key: r for r in read_records_if_any(config.out_dir)}
        for s in selections:
            for entry in entries:
                if s.status[entry.label] != "running":
                    continue
                keys = work_keys_for(entry.model, entry.pretrained, s.task, round_config)
                record = next((by_key[key] for key in keys if key in by_key), None)
                if record is None:
                    raise UserError(f"sweep --top: {entry.label} on {s.task} wrote no record in the round of {n} "
                                    "images (see `zsbench sweep status`); rerun the sweep to resume")
                lo, hi, used = _interval(s.sample, load_predictions(Path(record.path)), alpha)
                s.interval[entry.label], s.used[entry.label] = (lo, hi), used
            s.status = update_statuses(s.status, s.interval, k)
            if n >= s.sample.N:  # the whole test set: exact figures, whatever is left is a tie
                s.status = {m: ("top-k" if st == "running" else st) for m, st in s.status.items()}
            say(f"sweep --top: {s.task}: {n:,} of {s.sample.N:,} images: "
                f"{sum(v == 'top-k' for v in s.status.values())} in, {sum(v == 'out' for v in s.status.values())} out, "
                f"{sum(v == 'running' for v in s.status.values())} undecided")
        n *= 2


def selection_lines(selections: list[Selection], k: int) -> list[str]:
    """Per task the models in the top K (and the others) with their intervals, and the images saved."""
    lines: list[str] = []
    total_used = total_full = 0
    for s in selections:
        ranked = sorted(s.interval, key=lambda m: -(s.interval[m][0] + s.interval[m][1]))
        lines.append(f"{s.task}: top {k}" + (f" (assisted by {len(s.assist['records'])} earlier record(s))"
                                             if s.assist and s.assist.get("used") else ""))
        for m in ranked:
            lo, hi = s.interval[m]
            lines.append(f"  {s.status[m]:<8} {m:<50} [{100 * lo:6.2f}, {100 * hi:6.2f}]  {s.used[m]:>9,} of "
                         f"{s.sample.N:,} images")
        used, everything = sum(s.used.values()), len(s.status) * s.sample.N
        total_used, total_full = total_used + used, total_full + everything
        lines.append(f"  {used:,} images over {len(s.status)} models instead of {everything:,} "
                     f"({everything / max(1, used):.1f}x fewer)")
    if len(selections) > 1:
        lines.append(f"all tasks: {total_used:,} images instead of {total_full:,} ({total_full / max(1, total_used):.1f}x "
                     "fewer)")
    return lines


def as_json(selections: list[Selection]) -> list[dict[str, Any]]:
    return [{"task": s.task, "N": s.sample.N, "assist": s.assist, "models": [
        {"model": m, "status": s.status[m], "interval": list(s.interval[m]), "images": s.used[m]} for m in s.status]}
        for s in selections]
