"""Decode once for many models: a cache of preprocessed uint8 crops, shared by every model with the same
geometry.

Most open_clip models preprocess alike: resize (bicubic) to 224, centre-crop 224, then ToTensor and
their own normalisation. A sweep of 100 such checkpoints decodes and resizes every JPEG 100 times;
on a GPU node that decoding, not the forward, bounds the sweep. Here the preprocessing is split at
``ToTensor``: the geometric part (PIL -> PIL: resizes, crops, RGB conversion) runs once per image
and its output is kept as uint8 ``[n, H, W, 3]`` chunks; each model applies only its tensor part
(ToTensor's /255 and its Normalize) to the cached crops. ToTensor of a uint8 image is the float32
value divided by 255 whichever way the array arrives, and Normalize is elementwise, so the pixels
a model sees are bit-identical to the uncached path's (tested: equal features).

The key is the data's identity, the split, the geometric transforms' description and the sample
list, never the model. Entries are chunked like the feature cache (atomic writes per chunk, so an
interrupted extraction resumes and concurrent runs are safe), and the cache has a size cap
(``ZSBENCH_PIXEL_CACHE_GB``, default 50): an extraction that would go past it runs uncached, and
says so once.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from bench.core.hashing import stable_hash

PIXEL_MODES = ("auto", "on", "off")
DEFAULT_CAP_GB = 50.0


def cap_bytes() -> int:
    return int(float(os.environ.get("ZSBENCH_PIXEL_CACHE_GB", DEFAULT_CAP_GB)) * 1e9)


@dataclass(frozen=True)
class PixelSplit:
    """A preprocessing split at ``ToTensor``: ``geometry`` (PIL -> PIL) and ``tail`` (tensor -> tensor)."""

    geometry: Callable[[Any], Any]
    tail: Callable[[Any], Any]
    geometry_id: str

    @property
    def crop_bytes(self) -> int:
        """The bytes one crop takes: the last centre crop's size, else a resize to a fixed size; a resize of
        the shorter side alone (aspect kept) is counted as a 4:3 image (the cap is a budget, not a promise)."""
        height = width = None
        for t in getattr(self.geometry, "transforms", [self.geometry]):
            size = getattr(t, "size", None)
            if size is None:
                continue
            if isinstance(size, int) or len(size) == 1:
                side = size if isinstance(size, int) else size[0]
                height, width = (side, side) if type(t).__name__ == "CenterCrop" else (side, side * 4 // 3)
            else:
                height, width = int(size[0]), int(size[1])
        return 3 * (height or 224) * (width or 224)

    def crop(self, image) -> np.ndarray:
        """The geometric part's output as uint8 ``[H, W, 3]``."""
        out = self.geometry(image)
        return np.array(out.convert("RGB") if getattr(out, "mode", "RGB") != "RGB" else out, dtype=np.uint8)

    def tensors(self, crops: np.ndarray):
        """What the model's own preprocessing gives for these crops: ToTensor (/255) then the tail."""
        import torch

        pixels = torch.from_numpy(np.array(crops, dtype=np.uint8)).permute(0, 3, 1, 2).contiguous().float().div(255)
        return self.tail(pixels)


def split_preprocess(preprocess: Any) -> PixelSplit | None:
    """The split of a torchvision ``Compose`` whose transforms are deterministic PIL transforms, one
    ``ToTensor``, then tensor transforms that act on a batch elementwise per channel (``Normalize``);
    None for anything else (a processor of transformers, ConSE's own), which then decodes as before."""
    try:
        from torchvision import transforms as T
    except ImportError:  # pragma: no cover - torchvision is a dependency
        return None
    if not isinstance(preprocess, T.Compose):
        return None
    steps = list(preprocess.transforms)
    at = [i for i, t in enumerate(steps) if isinstance(t, T.ToTensor)]
    if len(at) != 1:
        return None
    geometry, tail = steps[:at[0]], steps[at[0] + 1:]
    if not all(isinstance(t, T.Normalize) for t in tail):
        return None
    if any(type(t).__name__.startswith("Random") or "Random" in type(t).__name__ for t in geometry):
        return None  # a random crop is no cacheable geometry
    from bench.models.base import describe_transform

    return PixelSplit(T.Compose(geometry), T.Compose(tail), describe_transform(T.Compose(geometry)))


class CropImage:
    """A picklable ``image -> uint8 tensor [H, W, 3]`` for the decoding workers."""

    def __init__(self, split_at: PixelSplit):
        self.split_at = split_at

    def __call__(self, image):
        import torch

        return torch.from_numpy(self.split_at.crop(image))


class PixelCache:
    """The crops of one geometry in the store's ``pixels/`` area (see the module docstring)."""

    def __init__(self, store, cap: int | None = None):
        self.store, self.cap = store, cap_bytes() if cap is None else cap
        self._warned = False

    def entry(self, source, split: str, split_at: PixelSplit, indices_digest: str, n: int, chunk_rows: int):
        """The chunked entry of these samples' crops (``indices_digest``: of the extraction's sample list)."""
        key = stable_hash(["pixels-v1", source.identity, split, split_at.geometry_id, indices_digest, chunk_rows])
        return self.store.chunked("pixels", key, {"data": source.identity, "split": split, "n": n,
                                                 "geometry": split_at.geometry_id})

    def used_bytes(self) -> int:
        total = 0
        for root, _, files in os.walk(self.store.area("pixels")):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(root, name))
                except OSError:
                    pass
        return total

    def room_for(self, n_images: int, crop_bytes: int) -> bool:
        """Whether ``n_images`` more crops fit under the cap; says once when they do not."""
        if self.used_bytes() + n_images * crop_bytes <= self.cap:
            return True
        if not self._warned:
            self._warned = True
            warnings.warn(f"the pixel cache ({self.store.area('pixels')}) would pass its cap of {self.cap / 1e9:g} GB: "
                          "decoding without it (raise ZSBENCH_PIXEL_CACHE_GB or clear the folder)", stacklevel=3)
        return False
