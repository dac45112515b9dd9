"""``zsbench run``: task -> cached features -> zero-shot classifier -> metrics -> run record."""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench.cache import Store, default_cache_dir
from bench.classifiers import cached_classifier
from bench.errors import UserError
from bench.features import extract_features
from bench.models import check_model, load_model
from bench.records import RunRecord, save_record, versions
from bench.sampling import stratified_subset
from bench.zeroshot import evaluate_zeroshot
from prompts.classnames import ClassName, apply_renames, display_name, get_classnames, validate_classnames
from prompts.templates import get_templates, split_key
from tasks.registry import get_task
from tasks.sources import DataContext, ImageSource, open_source
from tasks.spec import TaskSpec


@dataclass
class RunConfig:
    """Everything a run depends on; stored in each record's ``config``."""

    models: list[tuple[str, str | None]]
    tasks: list[str]
    templates: list[str | None] = field(default_factory=lambda: [None])  # None: the task's own set
    split: str | None = None
    batch_size: int = 64
    device: str = "cpu"
    limit: int | None = None
    seed: int = 0
    out_dir: Path = Path("results")
    cache_dir: Path | None = None
    data_dir: Path | None = None
    num_workers: int | None = None
    progress: bool = True
    save: bool = True


def default_data_dir(store: Store) -> Path:
    return Path(os.environ.get("ZSBENCH_DATA") or store.root / "datasets").expanduser()


def resolve_classnames(task: TaskSpec, source: ImageSource) -> list[ClassName]:
    if task.classnames == "folder":
        if not source.classes:
            raise UserError(f"task {task.name}: class names come from folders, but its source has none")
        names: list[ClassName] = [c.replace("_", " ") for c in source.classes]
        names = validate_classnames(names, source=f"class folders of {source.origin}")
    else:
        path, key = split_key(str(task.classnames)) if isinstance(task.classnames, str) else (task.classnames, None)
        names = get_classnames(path, key)
    if task.renames:
        names = apply_renames(names, task.renames, source=f"task {task.name}")
    if task.n_classes is not None and source.classes is not None and len(source.classes) != task.n_classes:
        raise UserError(f"task {task.name}: {source.origin} has {len(source.classes)} class folders, expected "
                        f"{task.n_classes}; point it at the complete dataset")
    if task.n_classes is not None and len(names) != task.n_classes:
        raise UserError(f"task {task.name}: {len(names)} class names, but the dataset has {task.n_classes} classes")
    top_label = int(source.targets.max()) if len(source.targets) else -1
    if top_label >= len(names):
        raise UserError(f"task {task.name}: label {top_label} in {source.origin} has no class name "
                        f"(only {len(names)} given); fix the class-name list")
    return names


def resolve_templates(task: TaskSpec, override: str | None) -> tuple[list[str], str]:
    chosen = override if override is not None else task.templates
    if isinstance(chosen, (list, tuple)):
        return get_templates(list(chosen)), f"inline({len(chosen)})"
    path, key = split_key(str(chosen))
    return get_templates(path, dataset_key=key or task.name), str(chosen)


def run(config: RunConfig) -> list[RunRecord]:
    """Zero-shot evaluation of every model on every task (and template set); records saved."""
    store = Store(config.cache_dir or default_cache_dir())
    ctx = DataContext(data_dir=Path(config.data_dir) if config.data_dir else default_data_dir(store), store=store)
    for model_name, pretrained in config.models:  # fail on a bad model or task name before any slow step
        check_model(model_name, pretrained)
    specs = [get_task(t) for t in config.tasks]
    template_sets = {(s.name, t): resolve_templates(s, t) for s in specs for t in config.templates}
    # Open every dataset before loading any model: a data mistake should cost seconds, not a model load.
    opened = []
    for spec in specs:
        split = config.split or spec.split
        t1 = time.perf_counter()
        source = open_source(spec, split, ctx)
        classnames = resolve_classnames(spec, source)
        indices = (stratified_subset(source.targets, config.limit, config.seed)
                   if config.limit else np.arange(len(source)))
        opened.append((spec, split, source, classnames, indices, time.perf_counter() - t1))
    records: list[RunRecord] = []
    for model_name, pretrained in config.models:
        t0 = time.perf_counter()
        backend = load_model(model_name, pretrained, device=config.device, seed=config.seed, store=store)
        backend.progress = config.progress
        load_seconds = time.perf_counter() - t0
        for spec, split, source, classnames, indices, data_seconds in opened:
            feats = extract_features(backend, source, split, indices, store=store, batch_size=config.batch_size,
                                     num_workers=config.num_workers, progress=config.progress)
            for override in config.templates:
                templates, templates_name = template_sets[(spec.name, override)]
                classifier, cinfo = cached_classifier(backend, classnames, templates, store,
                                                      progress=config.progress)
                t2 = time.perf_counter()
                metrics, top5, _ = evaluate_zeroshot(feats.features, feats.labels, classifier)
                metrics["primary"] = metrics[spec.metric]
                record = RunRecord(
                    model=model_name,
                    pretrained=backend.pretrained,
                    task=spec.name,
                    split=split,
                    protocol="zeroshot",
                    metrics=metrics,
                    n_samples=int(len(feats.labels)),
                    templates=templates_name,
                    seed=config.seed,
                    config={**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
                               if k not in ("models", "tasks", "templates", "progress", "save")},
                            "n_templates": len(templates), "metric": spec.metric,
                            "subset": "stratified" if config.limit and len(indices) < len(source) else "full"},
                    versions=versions(),
                    timings={"model_load": load_seconds, "data_open": data_seconds,
                             "features": feats.info["seconds"], "classifier": cinfo["seconds"],
                             "evaluate": time.perf_counter() - t2},
                    model_info={"fingerprint": backend.fingerprint, "preprocess": backend.preprocess_id,
                                **backend.info()},
                    task_info={"source": source.origin, "data_identity": source.identity,
                               "n_classes": len(classnames), "classnames": [display_name(c) for c in classnames],
                               "dataset_size": len(source), "feature_cache": feats.info["cache"],
                               "classifier_cache": cinfo["cache"],
                               "images_per_second": feats.info["images_per_second"]},
                )
                predictions = {"indices": feats.indices, "labels": feats.labels, "top5": top5.astype(np.int32)}
                if config.save:
                    save_record(record, Path(config.out_dir), predictions)
                records.append(record)
    return records
