"""Run records as one pandas table: one row per record, newest first."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.core.errors import UserError
from bench.records import read_records, records_folder

COLUMNS = ["model", "pretrained", "label", "task", "protocol", "templates", "prompt_source", "language", "split",
           "metric", "primary", "top1",
           "top5", "mean_per_class_recall", "id_top1", "effective_robustness", "n", "task_templates", "created", "seed", "parent", "class_subset",
           "path"]


def load_runs(results: Path | str, strict: bool = False) -> pd.DataFrame:
    """Every record under ``results/runs`` (or ``results`` itself if it holds the JSON files).

    A file that is not a run record is skipped with one warning naming it; ``strict`` refuses it.
    """
    rows = []
    for data in read_records(results, strict=strict):
        m = data["metrics"]
        config, task_info = data.get("config") or {}, data.get("task_info") or {}
        metric = config.get("metric", "top1")
        rows.append({
            "model": data["model"], "pretrained": data["pretrained"],
            "label": f"{data['model']} / {data['pretrained']}",
            "task": data["task"], "protocol": data["protocol"], "templates": data.get("templates", "-"),
            "prompt_source": config.get("prompt_source", "clip"), "language": config.get("language", "en"),
            "split": data.get("split"), "metric": metric,
            "primary": m.get("primary", m.get(metric, m.get("top1"))), "top1": m.get("top1"),
            "top5": m.get("top5"), "mean_per_class_recall": m.get("mean_per_class_recall"),
            "id_top1": m.get("id_top1"), "effective_robustness": m.get("effective_robustness"),
            "n": data["n_samples"], "created": data.get("created", ""), "seed": data.get("seed"),
            "task_templates": bool(config.get("task_templates", True)),
            "parent": task_info.get("parent"), "class_subset": task_info.get("class_subset"), "path": data["path"],
        })
    if not rows:
        raise UserError(f"no run records in {records_folder(results)}: run `zsbench run ...` first")
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("created", ascending=False, kind="stable")


def newest(runs: pd.DataFrame, keys=("model", "pretrained", "templates", "task", "protocol")) -> pd.DataFrame:
    """The newest record for each key (a repeated run replaces the earlier one)."""
    return runs.drop_duplicates(list(keys), keep="first")


#: protocols shown together as "zero-shot": classification and retrieval (each task's own metric)
ZERO_SHOT = ("zeroshot", "retrieval", "association")


def of_protocol(runs: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """The records of a protocol; ``zeroshot`` also takes zero-shot retrieval (DataComp's table mixes them)."""
    return runs[runs.protocol.isin(ZERO_SHOT)] if protocol == "zeroshot" else runs[runs.protocol == protocol]
