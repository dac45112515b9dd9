"""``zsbench run``: task -> cached features -> zero-shot classifier -> metrics -> run record."""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from bench.cache import Store, default_cache_dir
from bench.classifiers import cached_classifier
from bench.errors import UserError
from bench.features import extract_features
from bench.feature_chunks import FeatureChunks
from bench.linear_probe import STREAM_MODES, few_shot, full_probe, stream_probe
from bench.models import ModelBackend, check_model, load_model
from bench.models.base import check_precision
from bench.records import RunRecord, save_record, versions
from bench.sampling import stratified_subset
from bench.zeroshot import evaluate_zeroshot
from prompts.classnames import ClassName, display_name
from tasks.classes import resolve_classnames, resolve_templates
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
    batch_size: int | None = None           # None: automatic (256 on GPU, 64 on CPU; halved on out-of-memory)
    device: str = "cpu"
    limit: int | None = None
    seed: int = 0
    out_dir: Path = Path("results")
    cache_dir: Path | None = None
    data_dir: Path | None = None
    num_workers: int | None = None
    progress: bool = True
    save: bool = True
    protocols: list[str] = field(default_factory=lambda: ["zeroshot"])
    train_limit: int | None = None          # probes: stratified subset of the training split
    probe_features: str = "embedding"       # or "pre-projection"
    shots: tuple[int, ...] = (1, 2, 4, 8, 16)
    few_shot_seeds: int = 3
    probe_max_iter: int = 1000
    on_bad_image: str = "skip"              # or "fail"
    probe_search_limit: int | None = None   # choose C on a stratified subset of this size, refit on all
    probe_stream: str = "auto"              # training features streamed from the cache: auto | on | off
    precision: str = "fp32"                 # image encoder: fp32 | bf16 | fp16 (autocast); text stays fp32
    channels_last: bool = False             # image encoder in channels-last memory format (conv nets)


PROTOCOLS = ("zeroshot", "linear-probe", "few-shot")


def check_models(config: RunConfig) -> None:
    """Validate every model request and the image precision cheaply, before any data or weights load."""
    check_precision(config.precision, config.device)
    for model_name, pretrained in config.models:
        check_model(model_name, pretrained)


def load_backend(config: RunConfig, model_name: str, pretrained: str | None, store: Store) -> ModelBackend:
    """The model as the run's options ask (device, seed, image precision and layout, progress)."""
    backend = load_model(model_name, pretrained, device=config.device, seed=config.seed, store=store,
                         precision=config.precision, channels_last=config.channels_last)
    backend.progress = config.progress
    return backend


def default_data_dir(store: Store) -> Path:
    return Path(os.environ.get("ZSBENCH_DATA") or store.root / "datasets").expanduser()


@dataclass
class OpenedTask:
    spec: TaskSpec
    split: str
    source: ImageSource
    classnames: list[ClassName]
    indices: np.ndarray
    seconds: float
    train: tuple[ImageSource, np.ndarray] | None = None   # for probes
    val: tuple[ImageSource, np.ndarray] | None = None


def _open_task(spec: TaskSpec, config: RunConfig, ctx: DataContext) -> OpenedTask:
    t0 = time.perf_counter()
    split = config.split or spec.split
    source = open_source(spec, split, ctx)
    classnames = resolve_classnames(spec, source)
    indices = stratified_subset(source.targets, config.limit, config.seed) if config.limit else np.arange(len(source))
    opened = OpenedTask(spec, split, source, classnames, indices, 0.0)
    if set(config.protocols) & {"linear-probe", "few-shot"}:
        if not spec.train_split:
            raise UserError(f"task {spec.name} has no training split, which probes need: use --protocol zeroshot")
        train = open_source(spec, spec.train_split, ctx)
        train_idx = (stratified_subset(train.targets, config.train_limit, config.seed)
                     if config.train_limit else np.arange(len(train)))
        opened.train = (train, train_idx)
        if spec.val_split:
            val = open_source(spec, spec.val_split, ctx)
            opened.val = (val, np.arange(len(val)))
    opened.seconds = time.perf_counter() - t0
    return opened


def _config_dict(config: RunConfig) -> dict:
    skip = ("models", "tasks", "templates", "protocols", "progress", "save")
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items() if k not in skip}


def run(config: RunConfig) -> list[RunRecord]:
    """Evaluate every model on every task under each protocol; records saved under ``out_dir``."""
    unknown = [p for p in config.protocols if p not in PROTOCOLS]
    if unknown:
        raise UserError(f"unknown protocol '{unknown[0]}': use one of {', '.join(PROTOCOLS)}")
    if config.probe_stream not in STREAM_MODES:
        raise UserError(f"probe_stream must be one of {', '.join(STREAM_MODES)}, not '{config.probe_stream}'")
    from bench.distributed import init_from_env, is_main

    # under torchrun: join the group, shard feature extraction, and let rank 0 alone write records
    config = replace(config, device=init_from_env(config.device), save=config.save and is_main(),
                     progress=config.progress and is_main())
    store = Store(config.cache_dir or default_cache_dir())
    ctx = DataContext(data_dir=Path(config.data_dir) if config.data_dir else default_data_dir(store), store=store)
    check_models(config)  # fail on a bad model option or name (then task names) before any slow step
    specs = [get_task(t) for t in config.tasks]
    # Open every dataset before loading any model: a data mistake should cost seconds, not a model load.
    opened = [_open_task(spec, config, ctx) for spec in specs]
    template_sets = {(o.spec.name, t): resolve_templates(o.spec, t, o.source) for o in opened for t in config.templates}
    records: list[RunRecord] = []
    for model_name, pretrained in config.models:
        t0 = time.perf_counter()
        backend = load_backend(config, model_name, pretrained, store)
        load_seconds = time.perf_counter() - t0
        extract = lambda src, split, idx, kind="embedding", lazy=False: extract_features(  # noqa: E731
            backend, src, split, idx, store=store, batch_size=config.batch_size, num_workers=config.num_workers,
            progress=config.progress, kind=kind, on_bad_image=config.on_bad_image, lazy=lazy)

        for task in opened:
            spec = task.spec

            def record(protocol: str, metrics: dict, n: int, templates: str, extra_config: dict,
                       timings: dict, task_extra: dict, predictions: dict | None) -> None:
                rec = RunRecord(
                    model=model_name, pretrained=backend.pretrained, task=spec.name, split=task.split,
                    protocol=protocol, metrics=metrics, n_samples=n, templates=templates, seed=config.seed,
                    config={**_config_dict(config), "metric": spec.metric, **extra_config,
                            "subset": "stratified" if len(task.indices) < len(task.source) else "full"},
                    versions=versions(),
                    timings={"model_load": load_seconds, "data_open": task.seconds, **timings},
                    model_info={"fingerprint": backend.fingerprint, "preprocess": backend.preprocess_id,
                                **backend.info()},
                    task_info={"source": task.source.origin, "data_identity": task.source.identity,
                               "n_classes": len(task.classnames),
                               "classnames": [display_name(c) for c in task.classnames],
                               "dataset_size": len(task.source), "parent": spec.parent,
                               "class_subset": spec.class_subset, **task_extra},
                )
                if config.save:
                    save_record(rec, Path(config.out_dir), predictions)
                records.append(rec)

            if "zeroshot" in config.protocols:
                feats = extract(task.source, task.split, task.indices)
                for override in config.templates:
                    templates, templates_name = template_sets[(spec.name, override)]
                    classifier, cinfo = cached_classifier(backend, task.classnames, templates, store,
                                                          progress=config.progress)
                    t2 = time.perf_counter()
                    metrics, top5, _ = evaluate_zeroshot(feats.features, feats.labels, classifier)
                    metrics["primary"] = metrics[spec.metric]
                    record("zeroshot", metrics, int(len(feats.labels)), templates_name,
                           {"n_templates": len(templates), "task_templates": override is None},
                           {"features": feats.info["seconds"], "classifier": cinfo["seconds"],
                            "evaluate": time.perf_counter() - t2},
                           {"feature_cache": feats.info["cache"], "classifier_cache": cinfo["cache"],
                            "skipped_images": feats.info["skipped"],
                            "images_per_second": feats.info["images_per_second"],
                            "batch_size": feats.info["batch_size"]},
                           {"indices": feats.indices, "labels": feats.labels, "top5": top5.astype(np.int32)})

            if task.train is None:
                continue
            kind = config.probe_features
            train_src, train_idx = task.train
            train = extract(train_src, spec.train_split, train_idx, kind, lazy=True)
            if not stream_probe(config.probe_stream, train.features.shape):
                train.features = train.features.to_array()
            test = extract(task.source, task.split, task.indices, kind)
            val = extract(task.val[0], spec.val_split, task.val[1], kind) if task.val else None
            probe_config = {"probe_features": kind, "n_train": int(len(train.labels)),
                            "train_split": spec.train_split, "val_split": spec.val_split,
                            "train_subset": "stratified" if len(train_idx) < len(train_src) else "full",
                            "train_features": (f"streamed from the cache ({len(train.features.parts)} chunks)"
                                               if isinstance(train.features, FeatureChunks) else "in memory")}
            feature_info = {"feature_cache": test.info["cache"], "train_feature_cache": train.info["cache"]}
            if "linear-probe" in config.protocols:
                t2 = time.perf_counter()
                metrics, top5, details = full_probe(
                    train.features, train.labels, test.features, test.labels,
                    None if val is None else val.features, None if val is None else val.labels,
                    seed=config.seed, device=config.device, max_iter=config.probe_max_iter, progress=config.progress,
                    search_limit=config.probe_search_limit)
                metrics["primary"] = metrics[spec.metric]
                record("linear-probe", metrics, int(len(test.labels)), "-", {**probe_config, **details},
                       {"features": train.info["seconds"] + test.info["seconds"], "probe": time.perf_counter() - t2},
                       feature_info,
                       {"indices": test.indices, "labels": test.labels, "top5": top5.astype(np.int32)})
            if "few-shot" in config.protocols:
                t2 = time.perf_counter()
                seeds = tuple(range(config.seed, config.seed + config.few_shot_seeds))
                curve = few_shot(train.features, train.labels, test.features, test.labels, shots=config.shots,
                                 seeds=seeds, device=config.device, max_iter=config.probe_max_iter,
                                 class_names=[display_name(c) for c in task.classnames])
                top_k = str(max(config.shots))
                metrics = {"top1": curve[top_k]["mean"], "top1_std": curve[top_k]["std"], "shots": curve,
                           "primary": curve[top_k]["mean"]}
                record("few-shot", metrics, int(len(test.labels)), "-",
                       {**probe_config, "shots": list(config.shots), "few_shot_seeds": list(seeds)},
                       {"features": train.info["seconds"] + test.info["seconds"], "probe": time.perf_counter() - t2},
                       feature_info, None)
    return records
