"""Run records: what was measured, and everything needed to reproduce or question it.

One JSON file per (model, task, protocol, templates) run under ``results/runs/``, with the
per-sample predictions beside it (``.preds.npz``: sample index, true label, top-5 predicted
labels) so two checkpoints can later be compared image by image.
"""
from __future__ import annotations

import dataclasses
import io
import json
import platform
import re
import subprocess
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.cache import atomic_write_bytes, atomic_write_json

RECORD_VERSION = 1


@dataclass
class RunRecord:
    model: str
    pretrained: str
    task: str
    split: str
    protocol: str
    metrics: dict[str, Any]
    n_samples: int
    templates: str
    seed: int
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    model_info: dict[str, Any] = field(default_factory=dict)
    task_info: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    record_version: int = RECORD_VERSION
    predictions_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def stem(self) -> str:
        parts = [self.model, self.pretrained, self.task, self.protocol, self.templates, self.created]
        return "__".join(_slug(p) for p in parts)


def _slug(text: str) -> str:
    text = Path(text).name if ("/" in text and Path(text).suffix) else text
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", str(text)).strip("-")[:80] or "x"


def save_record(record: RunRecord, out_dir: Path, predictions: dict[str, np.ndarray] | None = None) -> Path:
    """Write the record (and its predictions) atomically; returns the JSON path."""
    runs = Path(out_dir) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    if not record.created:
        record.created = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:]
    path = runs / f"{record.stem}.json"
    if predictions is not None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **predictions)
        pred_path = path.with_suffix(".preds.npz")
        atomic_write_bytes(pred_path, buf.getvalue())
        record.predictions_file = pred_path.name
    atomic_write_json(path, record.to_dict())
    return path


def load_record(path: Path) -> RunRecord:
    data = json.loads(Path(path).read_text())
    names = {f.name for f in dataclasses.fields(RunRecord)}
    return RunRecord(**{k: v for k, v in data.items() if k in names})


def load_predictions(record_path: Path) -> dict[str, np.ndarray]:
    with np.load(Path(record_path).with_suffix(".preds.npz")) as npz:
        return {k: npz[k] for k in npz.files}


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
