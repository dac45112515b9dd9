"""``zsbench robustness``: a shift suite through the runner, and the effective-robustness summary."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from bench.commands.base import Command, print_json
from bench.core.errors import UserError
from bench.engine.config import ROBUSTNESS, add_run_options, config_from_args
from bench.report.text import format_table, pct
from typing import Iterable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="run", choices=["run", "fit"])
    parser.add_argument("--suite", default="imagenet", help="shift suite: imagenet (default), cifar10-c or digits-shift")
    add_run_options(parser, ROBUSTNESS, model_required=False)


def run_robustness(config, suite: str, subset_mode: str | None = None, probe: bool | None = None):
    """Evaluate a shift suite with the runner; returns (records, shift scores, skipped shifts). A disk that takes
    no more raises StorageFull (``exc.records``: what finished)."""
    runner = _robustness_runner(config, suite, subset_mode, probe)
    records = runner.run()
    runner.raise_storage_error()
    return records, _scores(records), runner.skipped


def _robustness_runner(config, suite: str, subset_mode: str | None = None, probe: bool | None = None):
    from bench.engine.runner import Runner
    from bench.protocols.robustness import Robustness

    own = config.options_for(Robustness)
    own = replace(own, class_subset=subset_mode or own.class_subset,
                  robustness_probe=own.robustness_probe if probe is None else probe)
    return Runner(replace(config, tasks=[suite], protocols=[Robustness.name],
                          protocol_options={**config.protocol_options, Robustness.name: own}))


def _scores(records):
    from bench.protocols.robustness import scores_from_records

    return scores_from_records(records)


def execute(args: argparse.Namespace) -> int:

    if args.action == "fit":
        from bench.engine.robustness import fit_from_runs, user_fits_path

        fits = fit_from_runs(Path(args.out_dir))
        print("\n".join(fits_lines(fits, str(user_fits_path(Path(args.out_dir))))))
        return 0
    if not args.models:
        raise UserError("zsbench robustness needs --model (and --suite: imagenet, cifar10-c or digits-shift)")
    from bench.protocols.robustness import Robustness

    config = config_from_args(args, ROBUSTNESS, tasks=[args.suite], protocols=[Robustness.name])
    runner = _robustness_runner(config, args.suite)
    records = runner.run()
    if config.json:
        print_json([r.to_dict() for r in records])
    elif records or runner.storage_error is None:
        print("\n".join(robustness_lines(_scores(records), runner.skipped)))
    runner.raise_storage_error()  # what finished is printed above; a full disk: exit 1 with the one line
    return 0


def robustness_lines(scores, skipped: Iterable[str]) -> list[str]:
    """The per-shift table, each suite's averages (the effective-robustness step) and skipped shifts."""
    from bench.engine.robustness import summary_lines

    probe = any(s.probe_top1 is not None for s in scores)
    header = ["shift", "n", "top1", "id top1", "predicted", "eff. rob.", "ood/id"] + \
        (["probe top1", "probe id", "probe eff. rob."] if probe else []) + ["id measured on"]
    rows = [[s.task, str(s.n), pct(s.top1), pct(s.id_top1), pct(s.predicted), pct(s.effective_robustness),
             "-" if s.relative_robustness is None else f"{s.relative_robustness:.3f}"] +
            ([pct(s.probe_top1), pct(s.probe_id_top1), pct(s.probe_effective_robustness)] if probe else []) +
            [s.id_basis] for s in scores]
    lines = [format_table(rows, header, left=1)] if rows else ["no shift could be scored"]
    lines += summary_lines(scores)
    lines += [f"skipped (data not on disk) {s}" for s in skipped]
    return lines


def fits_lines(fits: dict, saved_to: str) -> list[str]:
    return [f"{shift}: {fit.describe()}, r {fit.r}" for shift, fit in fits.items()] + [f"saved: {saved_to} (used by later robustness runs there)"]


COMMAND = Command("robustness", "accuracy under distribution shift, effective robustness",
                  "Evaluate models on a shift suite (imagenet, cifar10-c, digits-shift): accuracy under shift, "
                  "in-distribution accuracy, effective and relative robustness. `zsbench robustness fit` fits a "
                  "baseline from the robustness records under --out.", add_arguments, execute)
