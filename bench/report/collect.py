"""Run records as one pandas table: one row per record, newest first."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.errors import UserError

COLUMNS = ["model", "pretrained", "label", "task", "protocol", "templates", "split", "metric", "primary", "top1",
           "top5", "mean_per_class_recall", "id_top1", "effective_robustness", "n", "task_templates", "created", "seed", "parent", "class_subset",
           "path"]


def load_runs(results: Path | str) -> pd.DataFrame:
    """Every record under ``results/runs`` (or ``results`` itself if it holds the JSON files)."""
    root = Path(results)
    folder = root / "runs" if (root / "runs").is_dir() else root
    if not folder.is_dir():
        raise UserError(f"no run records at {root}: run `zsbench run ...` first (records go to results/runs/)")
    rows = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            m = data["metrics"]
            metric = data.get("config", {}).get("metric", "top1")
            rows.append({
                "model": data["model"], "pretrained": data["pretrained"],
                "label": f"{data['model']} / {data['pretrained']}",
                "task": data["task"], "protocol": data["protocol"], "templates": data["templates"],
                "split": data["split"], "metric": metric,
                "primary": m.get("primary", m.get(metric, m.get("top1"))), "top1": m.get("top1"),
                "top5": m.get("top5"), "mean_per_class_recall": m.get("mean_per_class_recall"),
                "id_top1": m.get("id_top1"), "effective_robustness": m.get("effective_robustness"),
                "n": data["n_samples"], "created": data.get("created", ""), "seed": data.get("seed"),
                "task_templates": bool(data.get("config", {}).get("task_templates", True)),
                "parent": data.get("task_info", {}).get("parent"),
                "class_subset": data.get("task_info", {}).get("class_subset"), "path": str(path.resolve()),
            })
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise UserError(f"{path} is not a zsbench run record ({exc}); move it out of {folder}") from None
    if not rows:
        raise UserError(f"no run records in {folder}: run `zsbench run ...` first")
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("created", ascending=False, kind="stable")


def newest(runs: pd.DataFrame, keys=("model", "pretrained", "templates", "task", "protocol")) -> pd.DataFrame:
    """The newest record for each key (a repeated run replaces the earlier one)."""
    return runs.drop_duplicates(list(keys), keep="first")
