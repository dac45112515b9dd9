"""Zero-shot classification: normalized image features against the prompt-ensemble classifier."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from bench.engine.metrics import classification_metrics

#: CLIP's (and CLIP_benchmark's) logit scale for zero-shot evaluation; it changes no ranking.
LOGIT_SCALE = 100.0


def zeroshot_logits(features: np.ndarray | torch.Tensor, classifier: torch.Tensor,
                    scale: float = LOGIT_SCALE) -> torch.Tensor:
    """``scale * normalize(features) @ classifier`` -> ``[N, n_classes]``."""
    feats = torch.as_tensor(features, dtype=torch.float32)
    return scale * F.normalize(feats, dim=-1) @ classifier.to(feats.dtype)


def evaluate_zeroshot(features: np.ndarray, labels: np.ndarray, classifier: torch.Tensor) -> tuple[dict, np.ndarray, torch.Tensor]:
    """Metrics, top-5 predictions and logits of a zero-shot classifier on a feature set."""
    logits = zeroshot_logits(features, classifier)
    metrics, top5 = classification_metrics(logits, labels)
    return metrics, top5, logits
