"""Zero-shot classification: normalized image features against the prompt-ensemble classifier.

Float32 logits are computed with numpy, in every run, cached or not: a run whose features and
classifiers all come from the cache then never imports torch (a fully cached run starts in well
under two seconds), and its numbers are those of the run that filled the cache, bit for bit.
Reduced precision (bf16 / fp16, CLIP_benchmark's autocast) is torch's, as the reference computes it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.engine.metrics import as_array, classification_metrics

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: CLIP's (and CLIP_benchmark's) logit scale for zero-shot evaluation; it changes no ranking.
LOGIT_SCALE = 100.0

#: ``torch.nn.functional.normalize``'s floor on the norm (a zero row stays zero)
NORM_EPS = 1e-12


def l2_normalized(x: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (floored at :data:`NORM_EPS`, as ``F.normalize`` does), float32."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), np.float32(NORM_EPS))


def zeroshot_logits(features: Any, classifier: Any, scale: float = LOGIT_SCALE,
                    precision: str = "fp32") -> np.ndarray:
    """``scale * normalize(features) @ classifier`` -> ``[N, n_classes]`` float32 array.

    ``features`` and ``classifier`` (``[embed_dim, n_classes]``) may be numpy arrays or CPU tensors.
    ``precision`` bf16 / fp16: the product in that type, as ``clip_benchmark eval`` computes it
    under its default autocast (``100. * image_features @ classifier``, both in the autocast type);
    the coarser logits tie more often, and the tie rule (argmax's first index) then decides."""
    if precision == "fp32":
        weights = as_array(classifier).astype(np.float32, copy=False)
        return (np.float32(scale) * l2_normalized(as_array(features))) @ weights
    import torch
    import torch.nn.functional as F

    from bench.models.base import precision_dtype

    dtype = precision_dtype(precision)
    feats = torch.as_tensor(as_array(features), dtype=torch.float32)
    normed = F.normalize(feats.to(dtype), dim=-1)
    weights = torch.as_tensor(as_array(classifier))
    return (scale * normed @ weights.to(dtype)).float().numpy()


def evaluate_zeroshot(features: np.ndarray, labels: np.ndarray, classifier: "np.ndarray | torch.Tensor",
                      precision: str = "fp32", top5_min_classes: int = 6) -> tuple[dict, np.ndarray, np.ndarray]:
    """Metrics, top-5 predictions and logits of a zero-shot classifier on a feature set (``precision``
    and ``top5_min_classes``: the run profile's, see :mod:`bench.core.profiles`)."""
    logits = zeroshot_logits(features, classifier, precision=precision)
    metrics, top5 = classification_metrics(logits, labels, top5_min_classes)
    return metrics, top5, logits
