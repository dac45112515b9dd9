"""What every data source gives the engine: a labelled image collection for one split.

Labels are known without decoding any image (so subsets and caches can be planned cheaply), and
``identity`` names the content, not the path: the same CIFAR-10 pixels read from torchvision's
download or from an offline mirror share one feature cache entry.
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image


class ImageSource(ABC):
    """A split of a dataset: ``len``, ``targets`` and ``load(i) -> PIL.Image``."""

    identity: str
    targets: np.ndarray
    #: names found in the data itself (folder names), if any; task specs may replace them
    classes: list[str] | None = None
    origin: str = ""

    def __len__(self) -> int:
        return len(self.targets)

    @abstractmethod
    def load(self, index: int) -> Image.Image: ...


class ArraySource(ImageSource):
    """Images held as one ``uint8 [N, H, W, C]`` array (CIFAR, MNIST-like mirrors)."""

    def __init__(self, images: np.ndarray, targets: Sequence[int], origin: str, identity: str | None = None):
        if len(images) != len(targets):
            raise ValueError(f"{origin}: {len(images)} images but {len(targets)} labels")
        self.images = images
        self.targets = np.asarray(targets, dtype=np.int64)
        self.origin = origin
        self.identity = identity or content_identity(images, self.targets)

    def load(self, index: int) -> Image.Image:
        arr = self.images[index]
        return Image.fromarray(arr if arr.ndim == 2 or arr.shape[-1] != 1 else arr[..., 0])


def content_identity(images: np.ndarray, targets: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(images.shape).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(np.ascontiguousarray(targets, dtype=np.int64).tobytes())
    return "sha256:" + h.hexdigest()[:32]


class PreprocessedDataset(torch.utils.data.Dataset):
    """A torch Dataset over chosen indices of a source: ``(pixels, label, index)``."""

    def __init__(self, source: ImageSource, indices: np.ndarray, preprocess: Callable[[Any], torch.Tensor]):
        self.source, self.indices, self.preprocess = source, np.asarray(indices), preprocess

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        index = int(self.indices[i])
        return self.preprocess(self.source.load(index)), int(self.source.targets[index]), index
