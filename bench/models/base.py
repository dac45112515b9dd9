"""The one interface every model backend offers to the engine.

A backend turns preprocessed pixels into image embeddings and strings into text embeddings in
the same space, and says what it is (``fingerprint``) so caches and records can name it
exactly. Backends may load their weights lazily: a run whose features and classifiers are all
cached never needs them.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, Callable

import torch


def describe_transform(transform: Any) -> str:
    """A stable text form of a torchvision transform (memory addresses removed)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(transform))


class ModelBackend(ABC):
    """Image and text encoders of one checkpoint, with its own preprocessing and tokenizer."""

    #: what the user asked for, as they wrote it
    name: str
    pretrained: str
    device: torch.device
    #: show progress bars for long internal steps (the runner sets it from --quiet)
    progress: bool = True

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """Hash of everything that changes the embeddings (weights, architecture, options)."""

    @property
    def text_fingerprint(self) -> str:
        """Hash of what changes text embeddings (classifier cache key); the whole model by default."""
        return self.fingerprint

    @property
    @abstractmethod
    def preprocess(self) -> Callable[[Any], torch.Tensor]:
        """PIL image -> ``[3, H, W]`` tensor, exactly as the model was trained to expect."""

    @property
    def preprocess_id(self) -> str:
        return describe_transform(self.preprocess)

    @property
    @abstractmethod
    def embed_dim(self) -> int: ...

    @abstractmethod
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` -> ``[B, embed_dim]`` (not normalized; the caller normalizes)."""

    def encode_pre_projection(self, pixels: torch.Tensor) -> torch.Tensor:
        """Image features before the final projection into the joint space (linear probes)."""
        from bench.errors import UserError

        raise UserError(f"{self.name} has no pre-projection features: use --probe-features embedding")

    @abstractmethod
    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """``list[str]`` -> ``[n, embed_dim]`` (not normalized)."""

    def prepare(self) -> None:
        """Precompute what image encoding needs (called once before an extraction that runs)."""

    def info(self) -> dict[str, Any]:
        """Facts about the loaded model worth keeping in a run record."""
        return {}

    def attach_store(self, store: Any) -> None:
        """Give the backend the run's cache (backends that precompute embeddings use it)."""
        self.store = store
