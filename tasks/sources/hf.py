"""Hugging Face ``datasets``: a hub repo id (or a local builder such as ``parquet`` with
``data_files``) plus the names of its image and label columns."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.core.errors import UserError, short_reason
from tasks.sources.base import ImageSource, to_rgb


def require_columns(dataset: Any, origin: str, **columns: str) -> None:
    """Each ``<option>=<column name>`` is a column of ``dataset``; else one line naming the options."""
    for column in columns.values():
        if column not in dataset.column_names:
            raise UserError(f"{origin} has no column '{column}' (columns: {', '.join(dataset.column_names)}); "
                            f"set {' / '.join(columns)}")


class HFDatasetSource(ImageSource):
    def __init__(self, dataset: Any, image_column: str, label_column: str, origin: str):
        require_columns(dataset, origin, image_column=image_column, label_column=label_column)
        self.dataset = dataset
        self.image_column = image_column
        feature = dataset.features[label_column]
        names = getattr(feature, "names", None)
        raw = dataset[label_column]
        if names is None and raw and isinstance(raw[0], str):  # string labels: classes = sorted values
            names = sorted(set(raw))
            lookup = {n: i for i, n in enumerate(names)}
            raw = [lookup[v] for v in raw]
        self.targets = np.asarray(raw, dtype=np.int64)
        self.classes = list(names) if names is not None else None
        self.origin = origin
        self.identity = "hf:" + str(getattr(dataset, "_fingerprint", origin))

    def load(self, index: int) -> Image.Image:
        value = self.dataset[int(index)][self.image_column]
        if isinstance(value, dict) and value.get("bytes") is not None:
            import io

            value = Image.open(io.BytesIO(value["bytes"]))
        elif isinstance(value, dict) and value.get("path"):
            value = Image.open(value["path"])
        if not isinstance(value, Image.Image):
            raise ValueError(f"column {self.image_column} does not hold images")
        value.load()
        return to_rgb(value)


class HFCaptionSource(HFDatasetSource):
    """Captioned images from a Hugging Face dataset (nlphuji's retrieval sets, which DataComp reads:
    an ``image`` column and a ``caption`` column holding each image's captions); sample i is image i."""

    def __init__(self, dataset: Any, image_column: str, caption_column: str, origin: str):
        require_columns(dataset, origin, image_column=image_column, caption_column=caption_column)
        self.dataset, self.image_column, self.origin = dataset, image_column, origin
        self.captions = [[c] if isinstance(c, str) else list(c) for c in dataset[caption_column]]
        self.targets = np.arange(len(self.captions), dtype=np.int64)
        self.classes = None
        self.identity = "hf-captions:" + str(getattr(dataset, "_fingerprint", origin))


def load_hf(options: dict, split: str, cache_dir: Path, base: Path | None = None) -> tuple[Any, str]:
    """The ``datasets`` dataset ``options`` name, and its origin label (see :func:`open_hf`)."""
    import datasets

    from bench.core.net import hub_offline_unless_reachable

    repo = options["repo"]
    hf_split = options.get("splits", {}).get(split, split)
    kwargs: dict[str, Any] = {"split": hf_split, "cache_dir": str(cache_dir)}
    for key in ("data_files", "data_dir"):
        if key in options:
            value = options[key]
            fix = lambda v: str(Path(v) if Path(v).is_absolute() or base is None else base / v)  # noqa: E731
            kwargs[key] = [fix(v) for v in value] if isinstance(value, list) else (
                {k: fix(v) for k, v in value.items()} if isinstance(value, dict) else fix(value))
    if options.get("revision"):
        kwargs["revision"] = options["revision"]
    datasets.logging.set_verbosity_error()
    with hub_offline_unless_reachable():
        try:
            ds = datasets.load_dataset(repo, options.get("config"), **kwargs)
        except Exception as exc:  # offline, unknown repo/split, gated: the user fixes all the same way
            raise UserError(f"Hugging Face dataset {repo} (split {hf_split}) could not be loaded "
                            f"({short_reason(exc, 120)}); check the repo id and split, or the network") from None
    return ds, f"hf:{repo}[{hf_split}]"


def open_hf(options: dict, split: str, cache_dir: Path, base: Path | None = None) -> HFDatasetSource:
    """``options``: ``repo`` (hub id, or a builder: parquet / imagefolder / csv ...), optional
    ``config``, ``data_files`` / ``data_dir`` (relative to ``base``), ``splits`` (our split ->
    the dataset's), ``image_column`` (default ``image``), ``label_column`` (default ``label``)."""
    ds, origin = load_hf(options, split, cache_dir, base)
    return HFDatasetSource(ds, options.get("image_column", "image"), options.get("label_column", "label"), origin)


def open_hf_captions(options: dict, split: str, cache_dir: Path, base: Path | None = None) -> HFCaptionSource:
    """As :func:`open_hf`, with ``caption_column`` (default ``caption``) instead of a label column."""
    ds, origin = load_hf(options, split, cache_dir, base)
    return HFCaptionSource(ds, options.get("image_column", "image"), options.get("caption_column", "caption"), origin)
