"""torchvision datasets: local copies first, ``download=True`` when the network is there.

Array-backed sets (CIFAR, MNIST family, SVHN, STL-10) become an :class:`ArraySource`; the
others (Food-101, DTD, Pets, SUN397, ...) are read through the dataset's own ``__getitem__``,
with labels taken from its label list so nothing is decoded to plan a run.
"""
from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.core.errors import UserError, short_reason
from tasks.sources.base import ArraySource, ImageSource, to_rgb

LABEL_ATTRS = ("targets", "labels", "_labels", "y")
SAMPLE_ATTRS = ("_samples", "samples")


def dataset_labels(ds: Any) -> np.ndarray | None:
    """The label of every sample without decoding images, from whichever attribute holds them."""
    for attr in LABEL_ATTRS:
        value = getattr(ds, attr, None)
        if value is not None and len(value) == len(ds):
            return np.asarray([int(v) for v in value], dtype=np.int64)
    for attr in SAMPLE_ATTRS:
        value = getattr(ds, attr, None)
        if value is not None and len(value) == len(ds):
            return np.asarray([int(s[1]) for s in value], dtype=np.int64)
    return None


class TorchvisionSource(ImageSource):
    """A file-backed torchvision dataset; ``load`` goes through its own ``__getitem__``."""

    def __init__(self, ds: Any, targets: np.ndarray, origin: str, identity: str):
        self.ds, self.targets, self.origin, self.identity = ds, targets, origin, identity
        self.classes = list(getattr(ds, "classes", None) or []) or None

    def load(self, index: int) -> Image.Image:
        image = self.ds[int(index)][0]
        if not isinstance(image, Image.Image):
            import torchvision.transforms.functional as F

            image = F.to_pil_image(image)
        return to_rgb(image)


def _as_nhwc(data: Any) -> np.ndarray | None:
    arr = data.numpy() if hasattr(data, "numpy") else data
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.ndim not in (3, 4):
        return None
    if arr.ndim == 4 and arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):  # SVHN, STL-10: NCHW
        arr = arr.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(arr)


def open_torchvision(options: dict[str, Any], split: str, root: Path, fetch: bool) -> ImageSource | None:
    """``options``: ``dataset`` (a torchvision.datasets class name), ``splits``: our split ->
    constructor keywords (e.g. ``{"test": {"train": False}}``), optional ``kwargs`` for all splits."""
    name = options["dataset"]
    kwargs = {**options.get("kwargs", {}), **dict(options.get("splits", {}).get(split, {"split": split}))}
    folder = root / name.lower()
    if not fetch and not (folder.is_dir() and any(folder.iterdir())):  # nothing there: importing torchvision
        return None                                                    # (seconds) would only say so
    import torchvision.datasets as tvd

    cls = getattr(tvd, name)
    downloadable = "download" in inspect.signature(cls.__init__).parameters
    try:
        ds = cls(str(folder), **({"download": False} if downloadable else {}), **kwargs)
    except (RuntimeError, FileNotFoundError, OSError, ImportError) as exc:
        if isinstance(exc, ImportError) or "h5py" in str(exc):
            raise UserError(f"torchvision.{name} needs an extra package ({short_reason(exc, 80)}): pip install it") from None
        if not fetch:
            return None
        if options.get("manual") or not downloadable:
            hint = options.get("manual", "put the files torchvision expects in {root}").format(root=folder)
            raise UserError(f"{name} cannot be downloaded automatically: {hint}") from None
        try:
            ds = cls(str(folder), download=True, **kwargs)
        except Exception as exc:  # urllib/HTTP/checksum failures all mean: not downloadable now
            raise UserError(f"torchvision {name} download into {folder} failed ({short_reason(exc, 160)}); "
                            f"with no network, put the files torchvision expects in {folder}") from None
    origin = f"torchvision.{name} ({folder})"
    targets = dataset_labels(ds)
    data = _as_nhwc(getattr(ds, "data", None)) if targets is not None else None
    if data is not None and len(data) == len(targets):
        return ArraySource(data, targets, origin=origin, classes=list(getattr(ds, "classes", []) or []) or None)
    if targets is None:
        raise UserError(f"torchvision.{name}: cannot read its labels without decoding every image; "
                        "use an imagefolder or manifest source for it")
    h = hashlib.sha256(f"{name}|{sorted(kwargs.items())}|{len(targets)}".encode())
    h.update(targets.tobytes())
    return TorchvisionSource(ds, targets, origin, "tv:" + h.hexdigest()[:32])
