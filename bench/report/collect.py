"""Run records as one pandas table: one row per record, newest first."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.core.errors import UserError
from bench.engine.records import read_records, records_folder
from bench.report.protocols import describe
from prompts.languages import ENGLISH

COLUMNS = ["model", "pretrained", "label", "task", "protocol", "board", "zero_shot", "published", "uses_templates",
           "templates", "profile", "prompt_source", "language", "split",
           "metric", "primary", "top1", "features",
           "top5", "mean_per_class_recall", "id_top1", "effective_robustness", "n", "task_templates", "created", "seed", "parent", "class_subset",
           "path", "record"]


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
            "board": protocol.board_name(), "zero_shot": protocol.zero_shot, "published": protocol.published,
            "uses_templates": protocol.uses_templates, "templates": r.templates,
            "profile": config.profile, "prompt_source": options.prompt_source, "language": options.language,
            "split": r.split, "metric": config.metric, "primary": m.primary, "top1": m.top1,
            # what the protocol says makes another classifier of the same model (a probe's features, subset)
            "features": protocol.variant(config),
            "top5": m.get("top5"), "mean_per_class_recall": m.get("mean_per_class_recall"),
            "id_top1": m.get("id_top1"), "effective_robustness": m.get("effective_robustness"),
            "n": r.n_samples, "created": r.created, "seed": r.seed, "task_templates": config.task_templates,
            "parent": info.parent, "class_subset": info.class_subset, "path": r.path,
            "record": r,  # the typed record itself: writers read it, never the file again
        })
    if not rows:
        raise UserError(f"no run records in {records_folder(results)}: run `zsbench run ...` first")
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("created", ascending=False, kind="stable")


#: what makes two records the same classifier's number: a repeated run replaces the earlier one; another
#: profile, template set or classifier variant (``Protocol.variant``: a probe's features and training subset)
#: is another number and keeps its own row; so is another language
SAME_NUMBER = ("model", "pretrained", "templates", "task", "protocol", "features", "profile", "language")


def task_column(task: str, language: str | None) -> str:
    """A task's column in a table: its name, tagged with the language where it is not English (``babel_imagenet
    (de)``), so each language of a multilingual task keeps its own column."""
    return task if language in (None, *ENGLISH) else f"{task} ({language})"


def newest(runs: pd.DataFrame, keys=SAME_NUMBER) -> pd.DataFrame:
    """The newest record for each key (see :data:`SAME_NUMBER`)."""
    return runs.drop_duplicates(list(keys), keep="first")


def of_protocol(runs: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """The records of a board (every protocol whose records join it: the zero-shot board takes
    classification, retrieval and association, as DataComp's table does), or of one protocol alone."""
    return runs[(runs.board == protocol) | (runs.protocol == protocol)]


def zero_shot_classifiers(runs: pd.DataFrame) -> pd.DataFrame:
    """Records of prompt-ensemble zero-shot classifiers (a zero-shot protocol with templates, one record per
    template set)."""
    return runs[runs.zero_shot.astype(bool) & runs.uses_templates.astype(bool)]


def zero_shot_records(runs: pd.DataFrame) -> pd.DataFrame:
    """Records of protocols whose figures are zero-shot (``Protocol.zero_shot``)."""
    return runs[runs.zero_shot.astype(bool)]


def default_board(runs: pd.DataFrame) -> str:
    """The board shown unless one is asked for: the zero-shot one where there are zero-shot records."""
    headline = zero_shot_records(runs)
    return str((headline if not headline.empty else runs).board.iloc[0])
