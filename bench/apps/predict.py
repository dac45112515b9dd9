"""``zsbench predict``: the classes of single images, as the CLIP README's example computes them.

Each image is embedded, compared by cosine similarity with the prompt-ensemble classifier of the
class names (from the classifier cache), and scored as the model scores: the softmax over classes
of the model's logit scale times the cosine (CLIP), or an independent sigmoid per class of scale
times cosine plus bias (SigLIP, as transformers' pipeline reports it). Models without a learned
temperature (ConSE) use CLIP's 100.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from bench.engine.classifiers import cached_classifier
from bench.engine.sample_scores import zero_shot_probabilities
from bench.engine.zeroshot import zeroshot_logits
from bench.core.errors import UserError, short_reason
from bench.models.base import ModelBackend
from prompts.classnames import ClassName, display_name
from bench.core.paths import user_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


@dataclass
class Prediction:
    image: str
    top: list[tuple[str, float]]   # (label, probability), best first

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "top": [{"label": label, "prob": prob} for label, prob in self.top]}


def expand_images(inputs: Sequence[str]) -> list[str]:
    """Files as given, folders as their image files (sorted, recursive), URLs as given."""
    out: list[str] = []
    for ref in inputs:
        if ref.startswith(("http://", "https://")):
            out.append(ref)
            continue
        path = user_path(ref)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise UserError(f"folder {ref} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
            out += found
        elif path.is_file():
            out.append(str(path))
        else:
            raise UserError(f"image not found: {ref}; give image files, folders of images, or http(s) URLs")
    return out


def open_image(ref: str, timeout: float = 20.0):
    """A decoded RGB image; a one-line UserError naming the image when it cannot be read."""
    from PIL import Image, ImageOps

    try:
        if ref.startswith(("http://", "https://")):
            import urllib.request

            with urllib.request.urlopen(ref, timeout=timeout) as response:  # noqa: S310 - the user's URL
                data = response.read()
            image = Image.open(io.BytesIO(data))
        else:
            image = Image.open(ref)
        image.load()
        return ImageOps.exif_transpose(image).convert("RGB")
    except OSError as exc:
        if ref.startswith(("http://", "https://")):
            raise UserError(f"could not fetch image {ref} ({short_reason(exc)}): check the address and the "
                            "network, or download it and pass the file") from None
        raise UserError(f"cannot decode image {ref} ({short_reason(exc)}): pass an image file (JPEG, PNG, ...)") from None


def scores(backend: ModelBackend, features: torch.Tensor, classifier: np.ndarray) -> np.ndarray:
    """Per-class probabilities, as the model scores and as records keep them
    (:func:`bench.engine.sample_scores.zero_shot_probabilities`), from the cosines a zero-shot run computes."""
    cos = zeroshot_logits(features.float(), classifier, scale=1.0)
    return zero_shot_probabilities(cos, float(backend.logit_scale), float(backend.logit_bias), backend.probability)


def predict(backend: ModelBackend, images: Sequence[str], classnames: Sequence[ClassName], templates: Sequence[str],
            top: int = 5, store: Any = None, progress: bool = False) -> list[Prediction]:
    """The ``top`` classes of each image with their probabilities (see the module docstring)."""
    if top < 1:
        raise UserError(f"--top must be a positive number (got {top})")
    decoded = [open_image(ref) for ref in images]  # every image checked before the model runs
    classifier, _ = cached_classifier(backend, list(classnames), list(templates), store, progress=progress)
    labels = [display_name(c) for c in classnames]
    out = []
    backend.prepare()  # e.g. ConSE's label embeddings, once
    with torch.inference_mode():
        for ref, image in zip(images, decoded):
            pixels = backend.preprocess(image).unsqueeze(0)
            probs = scores(backend, backend.encode_images(pixels), classifier)[0]
            best = np.argsort(-probs, kind="stable")[:min(top, len(labels))]
            out.append(Prediction(ref, [(labels[i], float(probs[i])) for i in best.tolist()]))
    return out
