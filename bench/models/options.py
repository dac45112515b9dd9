"""How a run wants a model loaded: plain data, no torch (``zsbench --help`` reads the choices)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: image-encoder precisions (``--precision``)
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class BackendOptions:
    """How the run wants a model loaded (the same for every backend)."""

    device: str = "cpu"
    seed: int = 0               # random-init models
    store: Any = None           # the run's cache (model cards, precomputed embeddings)
    precision: str = "fp32"     # image encoder: fp32 | bf16 | fp16
    channels_last: bool = False
