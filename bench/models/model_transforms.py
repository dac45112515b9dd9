"""Transforms a task applies inside each model's own preprocessing, after its geometry and before its
normalisation (what a task-level PIL transform cannot do: the crop size is the model's).

``zero_pixels``: CLIP_benchmark's ``dummy`` smoke test feeds the model ``torch.zeros(3, 224, 224)`` whatever the
image and the model's preprocessing; so does this (its normalised pixels are all zero).

``imagenet_w``: ImageNet-W (Li et al., "A Whac-A-Mole Dilemma", CVPR 2023) overlays a transparent Chinese watermark
on the model's centre crop. CLIP_benchmark 1.6.2 builds it by inserting the ``imagenet-w`` package's
``AddWatermark(crop size)`` into the model's torchvision ``Compose`` right before ``Normalize`` (the crop size read
from its ``CenterCrop``); this does the same on a copy of the model's transform, so the pixels are the ones
CLIP_benchmark feeds the model. The package (``pip install imagenet-w``) is licensed CC BY-NC 4.0.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from bench.core.errors import UserError

MODEL_TRANSFORMS = ("imagenet_w", "zero_pixels")


def with_model_transform(preprocess: Callable, name: str, model: str = "the model") -> Callable:
    """``preprocess`` (a torchvision ``Compose``) with the named transform inserted before its ``Normalize``."""
    if name not in MODEL_TRANSFORMS:
        raise UserError(f"unknown model transform '{name}' (known: {', '.join(MODEL_TRANSFORMS)})")
    if name == "zero_pixels":
        return zero_pixels
    from torchvision.transforms import CenterCrop, Compose, Normalize

    if not isinstance(preprocess, Compose):
        raise UserError(f"ImageNet-W draws its watermark inside a torchvision Compose (before Normalize, at the "
                        f"CenterCrop size); {model}'s preprocessing is not one: use an open_clip model")
    steps = list(copy.deepcopy(preprocess).transforms)
    normalize = next((i for i, t in enumerate(steps) if isinstance(t, Normalize)), None)
    crop = next((min(t.size) for t in steps if isinstance(t, CenterCrop)), None)
    if normalize is None or crop is None:
        raise UserError(f"ImageNet-W needs a CenterCrop and a Normalize in {model}'s preprocessing (as CLIP_benchmark "
                        "asserts); this one has " + ", ".join(type(t).__name__ for t in steps))
    try:
        from imagenet_w import AddWatermark
    except ImportError:
        raise UserError("ImageNet-W's watermark comes from the imagenet-w package: pip install imagenet-w (its "
                        "licence: CC BY-NC 4.0)") from None
    steps.insert(normalize, AddWatermark(crop))
    return Compose(steps)


def preprocess_for(backend: Any, source: Any) -> Callable:
    """The preprocessing a source's images get under ``backend``: its own, or with the source's model transform."""
    name = getattr(source, "model_transform", None)
    if not name:
        return backend.preprocess
    return with_model_transform(backend.preprocess, name, getattr(backend, "name", "the model"))


def zero_pixels(image: Any) -> Any:
    """CLIP_benchmark's ``Dummy`` sample: a 3 x 224 x 224 tensor of zeros in place of the preprocessed image."""
    import torch

    return torch.zeros(3, 224, 224)
