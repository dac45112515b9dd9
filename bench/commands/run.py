"""``zsbench run``: evaluate models on tasks under protocols; print each protocol's table and notes."""
from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands.base import Command, print_json
from bench.engine.config import RUN, add_run_options, config_from_args
from bench.report.text import pct, records_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser, RUN)


def execute(args: argparse.Namespace) -> int:
    from bench.engine.distributed import is_main
    from bench.engine.runner import Runner

    config = config_from_args(args, RUN)
    runner = Runner(config)
    records = runner.run()
    if not is_main():  # torchrun: rank 0 prints
        return 0
    if config.json:
        print_json([r.to_dict() for r in records])
        runner.raise_storage_error()
        if config.output_format == "clip_benchmark":
            write_clip_benchmark_results(records, config)
        return 0
    if records or runner.storage_error is None:
        print("\n".join(run_lines(records, runner.skipped, config.seed)))
    runner.raise_storage_error()  # the finished figures are above; a full disk: exit 1 with the one line
    if config.save and not config.quiet:
        print("records: " + ", ".join(str(f / "runs") for f in config.out_dirs([r.task for r in records])))
    if config.output_format == "clip_benchmark":
        written = write_clip_benchmark_results(records, config)
        if written and not config.quiet:
            print(f"CLIP_benchmark result files: {len(written)} in {written[0].parent}")
    compare_checkpoints(records, config)
    return 0


def write_clip_benchmark_results(records, config) -> list[Path]:
    """Each record whose protocol is a CLIP_benchmark task, as CLIP_benchmark's result file, under
    OUT/clip_benchmark/ (OUT with ``{dataset}`` filled in for the record's task)."""
    from bench.engine.clip_benchmark_format import write_result
    from bench.report.protocols import describe

    out = []
    for r in records:
        task = describe(r.protocol).clip_benchmark_task
        if task is not None:
            out.append(write_result(r, task, config.out_for(r.task) / "clip_benchmark"))
    return out


def compare_checkpoints(records, config) -> None:
    """Several --model flags: the paired comparison of each against the first, on the tasks they
    share, per board whose protocols declare a paired test. Not after --target-ci / --top: those records
    hold different numbers of images (`zsbench compare --sequential` reads two of them)."""
    if not config.save or config.target_ci is not None or config.top_k is not None:
        return
    if len({(r.model, r.pretrained) for r in records}) < 2:  # one checkpoint: nothing to compare (nor to import)
        return
    import pandas as pd

    from bench.report.collect import load_runs
    from bench.report.compare import compare, comparison_lines
    from bench.report.protocols import describe

    by_board: dict[str, list] = {}
    for r in records:
        protocol = describe(r.protocol)
        if protocol.paired_test is not None:
            by_board.setdefault(protocol.board_name(), []).append(r)
    for board, group in by_board.items():
        checkpoints = list(dict.fromkeys((r.model, r.pretrained) for r in group))
        if len(checkpoints) < 2:
            continue
        tasks = sorted({r.task for r in group})
        runs = pd.concat([load_runs(folder) for folder in config.out_dirs(tasks)])
        for other in checkpoints[1:]:
            print()
            print("\n".join(comparison_lines(compare(runs, checkpoints[0], other, tasks=tasks, protocol=board,
                                                     seed=config.seed))))


def run_lines(records, skipped, seed: int) -> list[str]:
    """What ``zsbench run`` prints: a table per column layout (protocols declare theirs), each
    protocol's notes, the units skipped for missing data, and subset notes."""
    from bench.report.protocols import describe

    groups: dict[tuple, list] = {}
    for r in records:
        groups.setdefault(describe(r.protocol).columns, []).append(r)
    lines: list[str] = []
    for group in groups.values():
        lines += ([""] if lines else []) + [records_table(group)]
    for name in dict.fromkeys(r.protocol for r in records):
        lines += describe(name).notes(records)
    lines += [f"skipped (data not on disk) {s}" for s in skipped]
    lines += [f"note: {n}" for n in dict.fromkeys(r.task_info.get("source_note") for r in records) if n]
    return lines + subset_notes(records, seed) + adaptive_lines(records)


def adaptive_lines(records) -> list[str]:
    """``--target-ci`` / ``--top``: per record the images used, the interval over the whole test set and how
    the run stopped; per top-K selection the images used by all models against a full evaluation."""
    lines, selections = [], {}
    for r in records:
        a = r.adaptive
        if a is None:
            if r.task_info.get("adaptive_note"):
                lines.append(f"note: {r.task}: {r.task_info['adaptive_note']}")
            continue
        lo, hi = a["interval"]
        sel = a.get("selection")
        how = (f"top-{sel['k']} selection: {sel['status']}" if sel else a.get("note") if a.get("note") else
               "the whole test set was needed (the figure is exact)" if a["n"] >= a["N"] else "target reached")
        lines.append(f"adaptive: {r.model} {r.pretrained} {r.task}: {a['metric']} in [{pct(lo)}, {pct(hi)}] "
                     f"({a['confidence']:.0%} anytime-valid, whole test set) from {a['n']:,} of {a['N']:,} images; "
                     f"{how}")
        assist = a.get("assist") or {}
        if assist.get("used"):
            saved = (f"; the plain sequence would need about {assist['images_plain_estimate']:,}"
                     if "images_plain_estimate" in assist else "")
            reduction = (f", variance {100 * assist['variance_reduction']:.0f}% lower"
                         if "variance_reduction" in assist else "")
            lines.append(f"  assisted by {len(assist['records'])} earlier record(s) on the same images{reduction}"
                         f"{saved}")
        elif assist.get("note") and assist.get("mode") != "none":
            lines.append(f"  {assist['note']}")
        if sel:
            selections[(r.task, r.templates)] = sel
    for (task, _), sel in selections.items():
        lines.append(f"adaptive: {task}: {sel['images_all_models']:,} images evaluated over {sel['models']} models "
                     f"instead of {sel['images_full']:,} ({sel['images_full'] / max(1, sel['images_all_models']):.1f}x "
                     "fewer)")
    return lines


def subset_notes(records, seed: int) -> list[str]:
    subsets = {(r.task, r.n_samples, r.task_info["dataset_size"]) for r in records
               if r.config.get("subset") not in ("full", "adaptive")}
    return [f"note: {task} used a class-stratified subset of {n} of {total} samples (seed {seed}, --limit)"
            for task, n, total in sorted(subsets)]


COMMAND = Command("run", "evaluate models on tasks (zero-shot, probes, robustness, retrieval, plug-ins)",
                  "Image features (cached) x prompt-ensemble classifier, linear probes, few-shot probes, robustness, "
                  "retrieval, or any registered protocol.", add_arguments, execute)
