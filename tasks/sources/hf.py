"""Hugging Face ``datasets``: a hub repo id (or a local builder such as ``parquet`` with
``data_files``) plus the names of its image and label columns."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.core.errors import UserError, short_reason
from tasks.sources.base import ImageSource, to_rgb


class HFDatasetSource(ImageSource):
    def __init__(self, dataset: Any, image_column: str, label_column: str, origin: str):
        missing = [c for c in (image_column, label_column) if c not in dataset.column_names]
        if missing:
            raise UserError(f"{origin} has no column '{missing[0]}' (columns: {', '.join(dataset.column_names)}); "
                            "set image_column / label_column")
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


def open_hf(options: dict, split: str, cache_dir: Path, base: Path | None = None) -> HFDatasetSource:
    """``options``: ``repo`` (hub id, or a builder: parquet / imagefolder / csv ...), optional
    ``config``, ``data_files`` / ``data_dir`` (relative to ``base``), ``splits`` (our split ->
    the dataset's), ``image_column`` (default ``image``), ``label_column`` (default ``label``)."""
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
    return HFDatasetSource(ds, options.get("image_column", "image"), options.get("label_column", "label"),
                           origin=f"hf:{repo}[{hf_split}]")
