"""torchvision datasets: local copies first, ``download=True`` when the network is there."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import UserError, short_reason
from tasks.sources.base import ArraySource, ImageSource


def open_torchvision(options: dict[str, Any], split: str, root: Path, fetch: bool) -> ImageSource | None:
    """``options``: ``dataset`` (a torchvision.datasets class name) and ``splits``: our split ->
    constructor keywords (e.g. ``{"test": {"train": False}}``)."""
    import torchvision.datasets as tvd

    name = options["dataset"]
    kwargs = dict(options.get("splits", {}).get(split, {"split": split}))
    folder = root / name.lower()
    try:
        ds = getattr(tvd, name)(str(folder), download=False, **kwargs)
    except (RuntimeError, FileNotFoundError, OSError):
        if not fetch:
            return None
        try:
            ds = getattr(tvd, name)(str(folder), download=True, **kwargs)
        except Exception as exc:  # urllib/HTTP/checksum failures all mean: not downloadable now
            raise UserError(f"torchvision {name} download into {folder} failed ({short_reason(exc, 160)})") from None
    data = getattr(ds, "data", None)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        return ArraySource(data, list(ds.targets), origin=f"torchvision.{name} ({folder})")
    raise UserError(f"torchvision.{name}: only array-backed datasets are supported as a source so far")
