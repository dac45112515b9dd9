"""CLIP_benchmark's result files, both ways: written beside our records (``run --format
clip_benchmark``), and read by the leaderboard as records (``results/runs/*.json`` or any folder).

CLIP_benchmark's ``clip_benchmark eval`` dumps ``{"dataset", "model", "pretrained", "task", "metrics",
"language"}`` to ``{dataset}_{pretrained}_{model}_{language}_{task}.json`` (its default ``--output``):
for zero-shot classification ``metrics`` holds ``acc1``, ``acc5`` and ``mean_per_class_recall``; for
retrieval ``image_retrieval_recall@K`` and ``text_retrieval_recall@K``. A protocol says which
CLIP_benchmark task it is (``Protocol.clip_benchmark_task``), so no protocol is named here.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.core.store import atomic_write_json
from bench.engine.record_schema import RunRecord

#: CLIP_benchmark's metric keys -> ours, for its two zero-shot tasks
TO_CLIP_BENCHMARK = {"zeroshot_classification": {"acc1": "top1", "acc5": "top5",
                                                 "mean_per_class_recall": "mean_per_class_recall"},
                     "zeroshot_retrieval": {f"{d}_retrieval_recall@{k}": f"{d}_retrieval_recall@{k}"
                                            for d in ("image", "text") for k in (1, 5, 10)}}


def protocol_for(task: str) -> str:
    """The installed protocol whose records stand for CLIP_benchmark's ``task`` (``Protocol.clip_benchmark_task``),
    else the task's own name."""
    from bench.engine.protocol_registry import installed

    return next((name for name, cls in installed() if cls.clip_benchmark_task == task), task)


def is_clip_benchmark_result(data: dict[str, Any]) -> bool:
    return isinstance(data.get("metrics"), dict) and {"dataset", "model", "pretrained", "task"} <= set(data) \
        and "protocol" not in data


def clip_benchmark_dataset(record: RunRecord) -> str:
    """The ``--dataset`` CLIP_benchmark is given to read the images this record read, as its result files
    write it: ``wds/<name>`` when the record read one of its webdataset exports (``vtab-eurosat`` is
    ``wds/vtab/eurosat``), the whole-dataset copy a profile reads by its name, else its name for our task
    (``cars`` for ``stanford_cars``); our own name for a task CLIP_benchmark does not have."""
    from tasks.reference_names import clip_benchmark_name, export_dataset
    from tasks.registry import TASKS

    read = str(record.task_info.get("data_identity", "")).split(":", 1)[0]
    for source in TASKS.get(record.task).sources if record.task in TASKS else ():
        if read == "wds" and source.type == "webdataset" and export_dataset(source.options):
            return "wds/" + export_dataset(source.options)
        if read != "wds" and source.options.get("exclusive") and source.options.get("profile") == \
                record.config.get("profile"):  # the only data of the task under that profile: its name
            return clip_benchmark_name(record.task, source.options)
    return clip_benchmark_name(record.task)


def result_file_name(record: RunRecord, task: str) -> str:
    """CLIP_benchmark's default ``--output``, ``{dataset}_{pretrained}_{model}_{language}_{task}.json``, its
    ``{dataset}`` being the dataset name without ``wds/`` and with ``/`` read as ``_``."""
    pretrained = Path(record.pretrained).name if Path(record.pretrained).is_file() else record.pretrained
    language = record.config.get("language", "en")
    dataset = clip_benchmark_dataset(record).removeprefix("wds/").replace("/", "_")
    return f"{dataset}_{pretrained}_{record.model}_{language}_{task}.json"


def write_result(record: RunRecord, task: str, out_dir: Path) -> Path:
    """The record as CLIP_benchmark writes a result (its metrics under its keys), in ``out_dir``."""
    keys = TO_CLIP_BENCHMARK[task]
    dump = {"dataset": clip_benchmark_dataset(record), "model": record.model, "pretrained": record.pretrained, "task": task,
            "metrics": {theirs: record.metrics.get(ours) for theirs, ours in keys.items()},
            "language": record.config.get("language", "en")}
    path = Path(out_dir) / result_file_name(record, task)
    atomic_write_json(path, dump, "pass --out a folder with room")
    return path


def record_from_result(data: dict[str, Any], path: Path) -> RunRecord:
    """A CLIP_benchmark result file as a record the tables can show (no per-sample predictions)."""
    task = str(data["task"])
    keys = TO_CLIP_BENCHMARK.get(task, {})
    metrics = {ours: data["metrics"].get(theirs) for theirs, ours in keys.items()}
    primary = metrics.get("top1") if task == "zeroshot_classification" else (
        (metrics["image_retrieval_recall@1"] + metrics["text_retrieval_recall@1"]) / 2
        if metrics.get("image_retrieval_recall@1") is not None else None)
    created = time.strftime("%Y%m%dT%H%M%S", time.gmtime(path.stat().st_mtime))
    from tasks.reference_names import reference_task

    dataset = str(data["dataset"])  # their name for one of our tasks counts as ours
    return RunRecord(model=str(data["model"]), pretrained=str(data["pretrained"]), task=reference_task(dataset) or dataset,
                     split="-", protocol=protocol_for(task), metrics={**metrics, "primary": primary},
                     n_samples=0, templates="clip_benchmark", seed=0,
                     config={"metric": "top1" if task == "zeroshot_classification" else "mean_recall@1",
                             "language": data.get("language", "en"), "prompt_source": "clip_benchmark",
                             "profile": "clip_benchmark",  # made by `clip_benchmark eval`, its pipeline
                             "origin": f"CLIP_benchmark result file {path.name}"},
                     created=created, record_version=1, path=str(Path(path).resolve()))
