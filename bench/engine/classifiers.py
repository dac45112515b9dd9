"""Zero-shot classifiers, cached by what makes them: model fingerprint, class names, templates.

Classifiers are float32 numpy arrays, whether built or read from the cache: a cache hit needs no
torch (see :mod:`bench.engine.zeroshot`), and a built one is exactly what the cache then returns.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

import numpy as np

from bench.core.store import Store
from bench.core.hashing import stable_hash
from prompts.classnames import ClassName

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from bench.models.base import ModelBackend


def text_identity(backend: ModelBackend) -> str:
    """What shapes a backend's text embeddings: its text fingerprint, and the text precision when
    not fp32 (fp32 keys are those made before text precision was an option)."""
    precision = getattr(backend, "text_precision", "fp32")
    return backend.text_fingerprint if precision == "fp32" else \
        stable_hash([backend.text_fingerprint, precision, "per-class batches"])


def classifier_key(backend: ModelBackend, classnames: Sequence[ClassName], templates: Sequence[str]) -> str:
    return stable_hash(["classifier-v1", text_identity(backend), list(classnames), list(templates)])


def cached_classifier(
    backend: ModelBackend,
    classnames: Sequence[ClassName],
    templates: Sequence[str],
    store: Store | None,
    batch_size: int | None = None,
    progress: bool = False,
    desc: str = "class prompts",
) -> tuple[np.ndarray, dict]:
    """``[embed_dim, n_classes]`` float32 classifier from the cache, or built and stored.

    Returns the classifier and facts for the record (cache hit, seconds, prompt count).
    """
    key = classifier_key(backend, classnames, templates)
    if store is not None:
        hit = store.get("classifiers", key)
        if hit is not None:
            return hit, {"cache": "hit", "key": key, "seconds": 0.0}
    from prompts.ensemble import build_classifier

    t0 = time.perf_counter()
    with backend.text_autocast():
        # reduced precision: CLIP_benchmark's batches (its autocast is the only source of it), see build_classifier;
        # the names were checked by the task, which lets a blank one through only from a published list (CLEVR)
        weights = build_classifier(backend, None, classnames, templates, batch_size=batch_size or backend.text_batch_size,
                                   progress=progress, desc=desc, allow_empty=True,
                                   per_class=getattr(backend, "text_precision", "fp32") != "fp32")
    seconds = time.perf_counter() - t0
    weights = weights.numpy().astype(np.float32)
    if store is not None:
        store.put("classifiers", key, weights,
                  meta={"text_model": backend.text_fingerprint, "n_classes": len(classnames), "n_templates": len(templates)})
    return weights, {"cache": "miss", "key": key, "seconds": seconds}


def attach_classifier_cache(backend: ModelBackend, store: Store | None) -> ModelBackend:
    """Let a backend that builds classifiers of its own (ConSE) build them through this cache (as tensors)."""
    def classifier(names, templates, desc):
        import torch

        return torch.from_numpy(cached_classifier(backend, names, templates, store, progress=backend.progress,
                                                  desc=desc)[0])

    backend.classifier_cache = classifier
    return backend


def cached_text_embeddings(backend: ModelBackend, texts: Sequence[str], store: Store | None,
                           progress: bool = False, desc: str = "captions") -> tuple["torch.Tensor", dict]:
    """``[n, embed_dim]`` L2-normalised embeddings of raw texts (captions, no template), cached by
    the text model and the exact texts; length-sorted batches as for classifiers."""
    import torch
    from tqdm.auto import tqdm

    from prompts.ensemble import length_order, normalized

    texts = list(texts)
    key = stable_hash(["texts-v1", text_identity(backend), texts])
    if store is not None:
        hit = store.get("texts", key)
        if hit is not None:
            return torch.from_numpy(hit), {"cache": "hit", "key": key, "seconds": 0.0}
    t0 = time.perf_counter()
    order = length_order(texts)
    out = torch.empty(len(texts), backend.embed_dim)
    size = backend.text_batch_size
    with torch.inference_mode(), backend.text_autocast():
        for s in tqdm(range(0, len(texts), size), desc=desc, unit="batch", disable=not progress, leave=False):
            idx = order[s:s + size]
            out[torch.tensor(idx)] = normalized(backend.encode_texts([texts[i] for i in idx])).float().cpu()
    seconds = time.perf_counter() - t0
    if store is not None:
        store.put("texts", key, out.numpy().astype(np.float32), meta={"text_model": backend.text_fingerprint,
                                                                      "n_texts": len(texts)})
    return out, {"cache": "miss", "key": key, "seconds": seconds}
