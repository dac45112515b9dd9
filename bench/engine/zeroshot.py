"""Zero-shot classification: normalized image features against the prompt-ensemble classifier."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from bench.engine.metrics import classification_metrics
from bench.models.base import PRECISION_DTYPES

#: CLIP's (and CLIP_benchmark's) logit scale for zero-shot evaluation; it changes no ranking.
LOGIT_SCALE = 100.0


def zeroshot_logits(features: np.ndarray | torch.Tensor, classifier: torch.Tensor,
                    scale: float = LOGIT_SCALE, precision: str = "fp32") -> torch.Tensor:
    """``scale * normalize(features) @ classifier`` -> ``[N, n_classes]`` (float32).

    ``precision`` bf16 / fp16: the product in that type, as ``clip_benchmark eval`` computes it
    under its default autocast (``100. * image_features @ classifier``, both in the autocast type);
    the coarser logits tie more often, and the tie rule (argmax's first index) then decides."""
    feats = torch.as_tensor(features, dtype=torch.float32)
    if precision == "fp32":
        return scale * F.normalize(feats, dim=-1) @ classifier.to(feats.dtype)
    dtype = PRECISION_DTYPES[precision]
    normed = F.normalize(feats.to(dtype), dim=-1)
    return (scale * normed @ classifier.to(dtype)).float()


def evaluate_zeroshot(features: np.ndarray, labels: np.ndarray, classifier: torch.Tensor, precision: str = "fp32",
                      top5_min_classes: int = 6) -> tuple[dict, np.ndarray, torch.Tensor]:
    """Metrics, top-5 predictions and logits of a zero-shot classifier on a feature set (``precision``
    and ``top5_min_classes``: the run profile's, see :mod:`bench.core.profiles`)."""
    logits = zeroshot_logits(features, classifier, precision=precision)
    metrics, top5 = classification_metrics(logits, labels, top5_min_classes)
    return metrics, top5, logits
