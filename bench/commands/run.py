"""``zsbench run``: evaluate models on tasks under protocols; print each protocol's table and notes."""
from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands.base import Command, print_json
from bench.engine.config import RUN, add_run_options, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser, RUN)


def execute(args: argparse.Namespace) -> int:
    from bench.engine.distributed import is_main
    from bench.engine.runner import Runner
    from bench.report.text import run_lines

    config = config_from_args(args, RUN)
    runner = Runner(config)
    records = runner.run()
    if not is_main():  # torchrun: rank 0 prints
        return 0
    if config.json:
        print_json([r.to_dict() for r in records])
        if config.output_format == "clip_benchmark":
            write_clip_benchmark_results(records, Path(config.out_dir) / "clip_benchmark")
        return 0
    print("\n".join(run_lines(records, runner.skipped, config.seed)))
    if config.save and not config.quiet:
        print(f"records: {Path(config.out_dir) / 'runs'}")
    if config.output_format == "clip_benchmark":
        written = write_clip_benchmark_results(records, Path(config.out_dir) / "clip_benchmark")
        if written and not config.quiet:
            print(f"CLIP_benchmark result files: {len(written)} in {written[0].parent}")
    compare_checkpoints(records, config)
    return 0


def write_clip_benchmark_results(records, folder: Path) -> list[Path]:
    """Each record whose protocol is a CLIP_benchmark task, as CLIP_benchmark's result file."""
    from bench.engine.clip_benchmark_format import write_result
    from bench.report.protocols import describe

    out = []
    for r in records:
        task = describe(r.protocol).clip_benchmark_task
        if task is not None:
            out.append(write_result(r, task, folder))
    return out


def compare_checkpoints(records, config) -> None:
    """Several --model flags: the paired comparison of each against the first, on the tasks they
    share, per board whose protocols declare a paired test. Not after --target-ci / --top: those records
    hold different numbers of images (`zsbench compare --sequential` reads two of them)."""
    if not config.save or config.target_ci is not None or config.top_k is not None:
        return
    from bench.report.collect import load_runs
    from bench.report.compare import compare
    from bench.report.protocols import describe
    from bench.report.text import comparison_lines

    by_board: dict[str, list] = {}
    for r in records:
        protocol = describe(r.protocol)
        if protocol.paired_test is not None:
            by_board.setdefault(protocol.board_name(), []).append(r)
    for board, group in by_board.items():
        checkpoints = list(dict.fromkeys((r.model, r.pretrained) for r in group))
        if len(checkpoints) < 2:
            continue
        runs = load_runs(config.out_dir)
        tasks = sorted({r.task for r in group})
        for other in checkpoints[1:]:
            print()
            print("\n".join(comparison_lines(compare(runs, checkpoints[0], other, tasks=tasks, protocol=board,
                                                     seed=config.seed))))


COMMAND = Command("run", "evaluate models on tasks (zero-shot, probes, robustness, retrieval, plug-ins)",
                  "Image features (cached) x prompt-ensemble classifier, linear probes, few-shot probes, robustness, "
                  "retrieval, or any registered protocol.", add_arguments, execute)
