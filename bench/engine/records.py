"""Run records: what was measured, and everything needed to reproduce or question it.

One JSON file per (model, task, protocol, templates) run under ``results/runs/``, with the
per-sample predictions beside it (``.preds.npz``: sample index, true label, top-5 predicted
labels) so two checkpoints can later be compared image by image.
"""
from __future__ import annotations

import hashlib
import io
import json
import platform
import subprocess
import time
import warnings
from dataclasses import fields
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from bench.core.errors import StorageFull, UserError, short_reason
from bench.core.store import atomic_write_bytes, atomic_write_json, make_folder
from bench.engine.record_schema import (REQUIRED, SECTIONS, ModelInfo, NewerRecord, RecordConfig, RunRecord, TaskInfo,
                                        Timings, Versions, predictions_beside)

if TYPE_CHECKING:  # pragma: no cover
    from bench.engine.config import RunConfig
    from bench.engine.evaluation import OpenedTask
    from bench.models.base import ModelBackend
    from bench.engine.protocol import Outcome

def build_record(config: "RunConfig", model_name: str, backend: "ModelBackend", load_seconds: float,
                 task: "OpenedTask", protocol: str, outcome: "Outcome", work_key: str | None = None) -> RunRecord:
    """The one place a record is made: every protocol's records carry the same fields.

    The shared part (versions, seed, the run's options, backend facts, data identity, class
    names, timings of model loading and data opening) comes from the run; the protocol's
    :class:`~bench.engine.protocol.Outcome` adds its metrics, settings, timings and data facts.
    """
    from prompts.classnames import display_name

    spec = task.spec
    config_section = RecordConfig.from_dict({**config.recorded(), **outcome.config})
    config_section.metric, config_section.subset, config_section.work_key = spec.metric, task.subset, work_key
    own = config.protocol_section(protocol)
    if own is not None:  # the protocol's declared options, under its name
        config_section[protocol] = own
    if outcome.adaptive is not None:  # a growing sample, stopped by its confidence sequence
        config_section.subset = "adaptive"
    task_info = TaskInfo(source=task.source.origin, data_identity=task.source.identity,
                         n_classes=len(task.classnames), classnames=[display_name(c) for c in task.classnames],
                         # the exact names prompted (a class's synonyms as a list) and which reference they are
                         prompt_classnames=list(task.classnames), classnames_origin=task.names_origin,
                         dataset_size=len(task.source), parent=spec.parent, class_subset=spec.class_subset)
    if task.source_note:
        task_info["source_note"] = task.source_note
    if outcome.predictions is not None and "indices" in outcome.predictions:
        task_info["data_fingerprint"] = data_fingerprint(task, outcome.predictions["indices"])
    task_info.update(outcome.task_info)
    timings = Timings(model_load=load_seconds, data_open=task.seconds)
    timings.update(outcome.timings)
    model_info = ModelInfo(fingerprint=backend.fingerprint, preprocess=backend.preprocess_id)
    model_info.update(backend.info())
    return RunRecord(
        model=model_name, pretrained=backend.pretrained, task=spec.name, split=task.split, protocol=protocol,
        metrics=outcome.metrics, n_samples=outcome.n_samples, templates=outcome.templates, seed=config.seed,
        config=config_section, versions=Versions.from_dict(versions()), timings=timings, model_info=model_info,
        task_info=task_info, adaptive=outcome.adaptive,
    )


def data_fingerprint(task: "OpenedTask", indices) -> str:
    """The data a record's per-sample results are about: the source's content identity, the split and the
    set of samples (order aside). Records with the same fingerprint line up sample by sample."""
    return fingerprint_of(task.source.identity, task.split, indices)


def fingerprint_of(identity: Any, split: str, indices) -> str:
    """:func:`data_fingerprint` from its parts (a record written before fingerprints keeps them in
    ``task_info.data_identity`` and ``split``)."""
    from bench.core.hashing import stable_hash

    ordered = np.sort(np.asarray(indices, dtype=np.int64))
    return stable_hash(["data-v1", identity, split, hashlib.sha256(ordered.tobytes()).hexdigest()])


def sample_keys(source, indices) -> np.ndarray:
    """Each sample's key (:meth:`ImageSource.sample_key`), stored with the predictions."""
    return np.array([source.sample_key(int(i)) for i in indices], dtype=np.str_)


def with_keys(predictions: dict | None, task: "OpenedTask") -> dict | None:
    """The per-sample arrays with each sample's key (file path, row or index) added."""
    if predictions is None or "indices" not in predictions or "keys" in predictions \
            or task.spec.kind != "classification":
        return predictions  # classification samples only (retrieval's indices number captions, not images)
    return {**predictions, "keys": sample_keys(task.source, predictions["indices"])}


#: what a full results folder's message offers instead
OUT_ELSEWHERE = "pass --out a folder with room (the finished figures are printed above)"


def save_record(record: RunRecord, out_dir: Path, predictions: dict[str, np.ndarray] | None = None) -> Path:
    """Write the record (and its predictions) atomically; returns the JSON path. A disk that refuses either file
    is a :class:`StorageFull`, and no file of the record is left behind."""
    runs = Path(out_dir) / "runs"
    make_folder(runs, OUT_ELSEWHERE)
    if not record.created:
        record.created = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:]
    path = runs / f"{record.stem}.json"
    if predictions is not None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **predictions)
        pred_path = path.with_suffix(".preds.npz")
        atomic_write_bytes(pred_path, buf.getvalue(), OUT_ELSEWHERE)
        record.predictions_file = pred_path.name
    try:
        atomic_write_json(path, record.to_dict(), OUT_ELSEWHERE)
    except StorageFull:
        if predictions is not None:  # no predictions file without its record
            pred_path.unlink(missing_ok=True)
            record.predictions_file = None
        raise
    return path


def load_record(path: Path) -> RunRecord:
    """One record file, typed (older formats upgraded); a UserError naming the file when it is not one."""
    return read_record(path)


def read_record(path: Path) -> RunRecord:
    """One record file, typed (older formats upgraded); a UserError naming the file when it is not a run record."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not a zsbench run record ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a zsbench run record (not a JSON object)")
    from bench.engine.clip_benchmark_format import is_clip_benchmark_result, record_from_result

    if is_clip_benchmark_result(data):  # CLIP_benchmark's own result file, read beside ours
        try:
            return record_from_result(data, Path(path))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{path} looks like a CLIP_benchmark result but cannot be read ({exc})") from None
    for key, kind in REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise UserError(f"{path} is not a zsbench run record (no {kind.__name__} '{key}')")
    for key in (*SECTIONS, "adaptive"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise UserError(f"{path} is not a zsbench run record (its '{key}' is not a JSON object)")
    try:
        record = RunRecord.from_dict(data, path=str(Path(path).resolve()))
    except NewerRecord as exc:
        raise UserError(f"{path}: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise UserError(f"{path} is not a zsbench run record ({short_reason(exc, 120)})") from None
    check_record(record, path)
    return record


def check_record(record: RunRecord, path: Path) -> None:
    """Refuse, in one line, a record whose declared fields hold what no zsbench wrote (a hand edit, another tool):
    each section's declared field must have its declared type (a number where a number is, text where text is)."""
    for name in (*SECTIONS, "adaptive"):
        section = getattr(record, name)
        if section is None:
            continue
        for f in fields(section):
            if f.name in ("extra", "_given"):
                continue
            value = getattr(section, f.name)
            if not _fits(value, f.type):
                raise UserError(f"{path} is not a zsbench run record ({name}.{f.name} is {type(value).__name__} "
                                f"{short_reason(repr(value), 40)}, not {f.type})")
    for f in fields(record):  # the top level: model, task, templates, n_samples, ...
        if f.name not in SECTIONS and f.name not in ("adaptive", "path") and not _fits(getattr(record, f.name), f.type):
            raise UserError(f"{path} is not a zsbench run record ({f.name} is {type(getattr(record, f.name)).__name__}, "
                            f"not {f.type})")


def _fits(value: Any, annotation: Any) -> bool:
    """Whether a JSON value fits a declared field's annotation (as written in record_schema: ``float | None``, ``str``,
    ``list[str]``, ``dict``, ...); an annotation this does not know lets anything through."""
    text = str(annotation).replace("typing.", "")
    allowed = {t.strip().split("[")[0] for t in text.split("|")}
    kinds = {"float": (int, float), "int": (int,), "str": (str,), "bool": (bool,), "list": (list, tuple),
             "dict": (dict,), "None": (type(None),), "tuple": (list, tuple)}
    if not allowed <= set(kinds):
        return True
    if isinstance(value, bool) and "bool" not in allowed:
        return False
    return isinstance(value, tuple(t for a in allowed for t in kinds[a]))


def records_folder(results: Path | str) -> Path:
    """``results/runs`` (or ``results`` itself when it holds the record files)."""
    root = Path(results)
    folder = root / "runs" if (root / "runs").is_dir() else root
    if not folder.is_dir():
        raise UserError(f"no run records at {root}: run `zsbench run ...` first (records go to results/runs/)")
    return folder


def read_records(results: Path | str, strict: bool = False) -> list[RunRecord]:
    """Every record under ``results``, each with its ``path``; the one reader all readers use.

    A file that is not a record is skipped with one warning naming it (``strict``: refused).
    """
    folder = records_folder(results)
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = read_record(path)
        except UserError as exc:
            if strict:
                raise UserError(f"{exc}; move it out of {folder}, or drop --strict to skip it") from None
            warnings.warn(f"ignored: {exc}", stacklevel=2)
            continue
        out.append(data)
    return out


def read_records_if_any(results: Path | str) -> list[RunRecord]:
    """:func:`read_records`, or none when there is no results folder yet (a first run, a new sweep)."""
    try:
        return read_records(results)
    except UserError:
        return []


def work_keys_of(records: Iterable[RunRecord]) -> set[str]:
    """The work keys the records carry (``config.work_key``): the work already done."""
    return {r.config.work_key for r in records} - {None}


def newest_records(records: Iterable[RunRecord], keys: tuple[str, ...]) -> list[RunRecord]:
    """The newest record per key (a repeated run replaces the earlier one); ``parent`` reads task_info."""
    def value(r: RunRecord, k: str) -> Any:
        return r.task_info.parent if k == "parent" else getattr(r, k)
    best: dict[tuple, RunRecord] = {}
    for r in sorted(records, key=lambda r: r.created, reverse=True):
        best.setdefault(tuple(value(r, k) for k in keys), r)
    return list(best.values())


def load_predictions(record_path: Path) -> dict[str, np.ndarray]:
    """The per-sample arrays beside a record file (see ``RunRecord.predictions``)."""
    return predictions_beside(record_path)


@lru_cache(maxsize=1)
def versions() -> dict[str, Any]:
    """Versions of everything that can change a number, plus the git commit of this checkout."""
    out: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("zsbench", "torch", "torchvision", "open_clip_torch", "numpy", "pillow", "transformers",
                 "efficientnet-lite-pytorch", "scikit-learn"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    try:
        out["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
            text=True, timeout=5,
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = None
    return out
