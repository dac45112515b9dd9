"""Run records as one pandas table: one row per record, newest first."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.core.errors import UserError
from bench.engine.records import read_records, records_folder
from bench.report.protocols import describe

COLUMNS = ["model", "pretrained", "label", "task", "protocol", "board", "role", "published", "uses_templates",
           "templates", "profile", "prompt_source", "language", "split",
           "metric", "primary", "top1", "features",
           "top5", "mean_per_class_recall", "id_top1", "effective_robustness", "n", "task_templates", "created", "seed", "parent", "class_subset",
           "path"]


def load_runs(results: Path | str, strict: bool = False) -> pd.DataFrame:
    """Every record under ``results/runs`` (or ``results`` itself if it holds the JSON files).

    A file that is not a run record is skipped with one warning naming it; ``strict`` refuses it.
    """
    rows = []
    for r in read_records(results, strict=strict):
        protocol, m, config, info = describe(r.protocol), r.metrics, r.config, r.task_info
        options = config.run_config()
        rows.append({
            "model": r.model, "pretrained": r.pretrained, "label": r.label, "task": r.task, "protocol": r.protocol,
            "board": protocol.board_name(), "role": protocol.role, "published": protocol.published,
            "uses_templates": protocol.uses_templates, "templates": r.templates,
            "profile": config.profile, "prompt_source": options.prompt_source, "language": options.language,
            "split": r.split, "metric": config.metric, "primary": m.primary, "top1": m.top1,
            # a probe's features and training subset make another classifier of the same model
            "features": _probe_variant(config) if protocol.role in ("probe", "few-shot") else "-",
            "top5": m.get("top5"), "mean_per_class_recall": m.get("mean_per_class_recall"),
            "id_top1": m.get("id_top1"), "effective_robustness": m.get("effective_robustness"),
            "n": r.n_samples, "created": r.created, "seed": r.seed, "task_templates": config.task_templates,
            "parent": info.parent, "class_subset": info.class_subset, "path": r.path,
        })
    if not rows:
        raise UserError(f"no run records in {records_folder(results)}: run `zsbench run ...` first")
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("created", ascending=False, kind="stable")


def _probe_variant(config) -> str:
    """What tells two probes of one model apart: the features they read and their training subset."""
    features = str(config.get("probe_features") or "-")
    limit = config.get("train_limit")
    return f"{features} train {limit}" if limit else features


def newest(runs: pd.DataFrame, keys=("model", "pretrained", "templates", "task", "protocol", "profile")) -> pd.DataFrame:
    """The newest record for each key (a repeated run replaces the earlier one; a run under another
    profile does not: it is another number)."""
    return runs.drop_duplicates(list(keys), keep="first")


def of_protocol(runs: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """The records of a board (every protocol whose records join it: the zero-shot board takes
    classification, retrieval and association, as DataComp's table does), or of one protocol alone."""
    return runs[(runs.board == protocol) | (runs.protocol == protocol)]


def of_role(runs: pd.DataFrame, role: str) -> pd.DataFrame:
    """The records of protocols that say they play ``role`` (zero-shot, probe, few-shot, shift)."""
    return runs[runs.role == role]


def zero_shot_classifiers(runs: pd.DataFrame) -> pd.DataFrame:
    """Records of prompt-ensemble zero-shot classifiers (zero-shot role, one record per template set)."""
    return runs[(runs.role == "zero-shot") & runs.uses_templates.astype(bool)]


def default_board(runs: pd.DataFrame) -> str:
    """The board shown unless one is asked for: the zero-shot one where there are zero-shot records."""
    headline = runs[runs.role == "zero-shot"]
    return str((headline if not headline.empty else runs).board.iloc[0])
