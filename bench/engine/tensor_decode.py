"""``--decode tensor``: decode and resize on the run's device, so that a GPU's forward is not starved.

On a GPU node a ViT-B/32 forward runs thousands of images a second and JPEG decoding on the node's
CPUs does not keep up. Here each batch's files are read as bytes by the loader's workers (cheap),
JPEGs are decoded by ``torchvision.io.decode_jpeg`` on the device (nvJPEG on CUDA; libjpeg-turbo on
the CPU), and the model's own geometric transforms (``Resize``, ``CenterCrop``: torchvision's, which
accept uint8 tensors; antialiased bicubic as open_clip asks) run on the decoded tensors there, then
``/255`` and the model's ``Normalize``. Other formats (PNG, ...) and in-memory sources are decoded on
the CPU and moved.

Not bit-identical to the PIL path (``--decode pil``, the default and the reference): resampling a
uint8 tensor and PIL's resampling round differently, and nvJPEG's inverse DCT is not libjpeg's. So
features made this way are cached apart (the cache key names the decode) and records say which
decode ran (``task_info.decode``); ``tests/engine/test_tensor_decode.py`` measures how close they are.
A model whose preprocessing is not a torchvision ``Compose`` of those transforms decodes with PIL
(and the record says so).
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np
from PIL import Image

from bench.core.lazy_import import lazy_module
from bench.engine.pixel_cache import PixelSplit
from tasks.sources.base import BAD_IMAGE, ImageSource

torch = lazy_module("torch")

JPEG_MAGIC = b"\xff\xd8\xff"


def tensor_geometry(split_at: PixelSplit | None) -> list | None:
    """The geometric transforms of a model's preprocessing that act on uint8 tensors (torchvision's Resize
    and CenterCrop; an RGB conversion is the decode's own), or None when any other step is in it."""
    if split_at is None:
        return None
    from torchvision import transforms as T

    steps = []
    for t in getattr(split_at.geometry, "transforms", [split_at.geometry]):
        if isinstance(t, (T.Resize, T.CenterCrop)):
            steps.append(t)
        elif not _to_rgb(t):
            return None
    return steps


def _to_rgb(step: Any) -> bool:
    """A conversion to RGB (open_clip's ``MaybeConvertMode``, ``_convert_to_rgb``): the decode's own mode."""
    name = getattr(step, "__name__", type(step).__name__).lower()
    return ("rgb" in name or "convert" in name) and str(getattr(step, "mode", "RGB") or "RGB").upper() == "RGB"


class EncodedImages:
    """A map-style dataset of ``(bytes or uint8 [3, H, W] tensor, label, index)``: a file source's bytes as
    they are on disk (decoded later, on the device), anything else decoded here by the source."""

    def __init__(self, source: ImageSource, indices: np.ndarray):
        self.source, self.indices = source, np.asarray(indices)
        # files read as they are, unless the source transforms what it loads
        self.paths = getattr(source, "paths", None) if getattr(source, "transform", None) is None else None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        index = int(self.indices[i])
        label = int(self.source.targets[index])
        try:
            if self.paths is not None:
                data = self.paths[index].read_bytes()
                if data[:3] == JPEG_MAGIC:  # decoded on the device; other formats as the PIL path reads them
                    return data, label, index
            image = self.source.load(index).convert("RGB")
            return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).contiguous(), label, index
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return None, BAD_IMAGE, index


def _as_lists(batch: list) -> tuple[list, list, list]:
    items, labels, indices = zip(*batch)
    return list(items), list(labels), list(indices)


def _jpeg_tensor(data: bytes) -> "torch.Tensor":
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def decode_one(item: Any, device: "torch.device") -> "torch.Tensor | None":
    """uint8 ``[3, H, W]`` on ``device``: JPEG bytes decoded there, an image the dataset decoded moved there;
    None if undecodable."""
    from torchvision.io import ImageReadMode, decode_jpeg

    if item is None:
        return None
    if isinstance(item, torch.Tensor):
        return item.to(device, non_blocking=True)
    try:
        return decode_jpeg(_jpeg_tensor(item), mode=ImageReadMode.RGB, device=device)
    except (RuntimeError, ValueError):
        return None


def decode_batch(items: list, device: "torch.device") -> list:
    """Every item decoded (the JPEGs of a batch in one ``decode_jpeg`` call on CUDA); None where undecodable."""
    from torchvision.io import ImageReadMode, decode_jpeg

    jpegs = [i for i, item in enumerate(items) if isinstance(item, bytes)]
    out: list = [None] * len(items)
    if device.type == "cuda" and len(jpegs) > 1:
        try:
            decoded = decode_jpeg([_jpeg_tensor(items[i]) for i in jpegs], mode=ImageReadMode.RGB, device=device)
            for i, image in zip(jpegs, decoded):
                out[i] = image
        except (RuntimeError, ValueError):  # one bad file fails the batch: decode one by one below
            pass
    return [image if image is not None else decode_one(item, device) for image, item in zip(out, items)]


def tensor_batches(source: ImageSource, indices: np.ndarray, split_at: PixelSplit, geometry: list,
                   device: "torch.device", batch: int, workers: int) -> Iterator[tuple]:
    """``(pixels on device, labels, indices)`` batches, as the extractor's loader yields them (an undecodable
    image: a blank crop labelled :data:`BAD_IMAGE`, dropped and reported by the extractor)."""
    loader = torch.utils.data.DataLoader(EncodedImages(source, indices), batch_size=batch, shuffle=False,
                                         num_workers=workers, collate_fn=_as_lists, persistent_workers=False,
                                         prefetch_factor=4 if workers else None)
    for items, labels, idx in loader:
        crops = []
        for k, image in enumerate(decode_batch(items, device)):
            if image is None:
                labels[k] = BAD_IMAGE
            else:
                for step in geometry:
                    image = step(image)
            crops.append(image)
        if any(c is None for c in crops):  # undecodable: a blank crop of the batch's shape (labelled above)
            shape = next((c.shape for c in crops if c is not None), (3, 224, 224))
            crops = [torch.zeros(shape, dtype=torch.uint8, device=device) if c is None else c for c in crops]
        pixels = split_at.tail(torch.stack(crops).float().div(255))
        yield pixels, torch.tensor(labels, dtype=torch.int64), torch.tensor(idx, dtype=torch.int64)
