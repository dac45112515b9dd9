"""Image features of one split under one model, extracted once and kept in the cache.

The cache key hashes what makes the features: model fingerprint, data identity (content, not
path), split, preprocessing and the chosen sample indices. Extraction writes fixed-size chunks
as it goes, so an interrupted run resumes from the last finished chunk, and a repeat run does
no forward pass at all.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from bench.cache import Store, stable_hash
from bench.distributed import barrier, world
from bench.models.base import ModelBackend
from bench.errors import UserError
from bench.feature_chunks import FeatureChunks
from tasks.sources.base import BAD_IMAGE, BAD_IMAGE_POLICIES, ImageSource, PreprocessedDataset

CHUNK_SIZE = 1024
ARRAYS = ("features", "labels", "indices")


@dataclass
class FeatureSet:
    features: np.ndarray | FeatureChunks  # [N, D] float32, as the model returns them (not normalized)
    labels: np.ndarray    # [N] int64
    indices: np.ndarray   # [N] positions in the source
    info: dict = field(default_factory=dict)


def default_workers() -> int:
    """Decoding workers: leave the model most cores, but keep the decoding off its thread."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(8, max(1, cores // 2))


def default_batch_size(device: torch.device | str) -> int:
    """``--batch-size auto``: large on a GPU (halved on out-of-memory), 64 on CPU, where bigger
    batches gain nothing and a backend may micro-batch anyway."""
    return 256 if torch.device(device).type == "cuda" else 64


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's out-of-memory error, Python's MemoryError, or the CPU allocator's RuntimeError."""
    if isinstance(exc, (MemoryError, getattr(torch.cuda, "OutOfMemoryError", ()))):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "not enough memory" in text
                                              or "can't allocate memory" in text)


class FittingEncoder:
    """Encodes a batch in sub-batches no larger than what fitted so far.

    An out-of-memory error halves the sub-batch size and retries; the size that worked is kept
    for the rest of the extraction (and recorded). Encoders treat images independently, so the
    features do not depend on it (up to float rounding of batched kernels).
    """

    def __init__(self, encode, limit: int, device: torch.device):
        self.encode, self.limit, self.device = encode, max(1, int(limit)), device
        self.halvings = 0

    def __call__(self, pixels: torch.Tensor) -> np.ndarray:
        out, start = [], 0
        while start < len(pixels):
            size = min(self.limit, len(pixels) - start)
            try:
                out.append(self.encode(pixels[start:start + size]).float().cpu().numpy())
            except (RuntimeError, MemoryError) as exc:
                if not is_out_of_memory(exc):
                    raise
                if size == 1:
                    raise UserError(f"the model does not fit in {self.device.type} memory even one image at a "
                                    "time: use a smaller model or another device") from None
                self.limit, self.halvings = size // 2, self.halvings + 1
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            start += size
        return np.concatenate(out)


def indices_digest(indices: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(indices, dtype=np.int64).tobytes()).hexdigest()[:20]


FEATURE_KINDS = ("embedding", "pre-projection")


def feature_key(backend: ModelBackend, source: ImageSource, split: str, indices: np.ndarray,
                kind: str = "embedding") -> str:
    parts = ["features-v1", backend.fingerprint, source.identity, split, backend.preprocess_id,
             indices_digest(indices)]
    return stable_hash(parts if kind == "embedding" else parts + [kind])


def extract_features(
    backend: ModelBackend,
    source: ImageSource,
    split: str,
    indices: np.ndarray | None = None,
    store: Store | None = None,
    batch_size: int | None = 64,
    num_workers: int | None = None,
    progress: bool = True,
    chunk_size: int = CHUNK_SIZE,
    kind: str = "embedding",
    on_bad_image: str = "skip",
    lazy: bool = False,
) -> FeatureSet:
    """Features for ``source[indices]`` (all samples by default), from the cache where possible.

    ``kind``: ``"embedding"`` (the joint image-text space) or ``"pre-projection"``.
    ``on_bad_image``: an undecodable image is dropped and reported (``"skip"``) or stops the run
    with its path (``"fail"``); either way the chunks already computed stay in the cache.
    ``batch_size``: images per forward pass (``None``: :func:`default_batch_size`); halved
    automatically when a batch runs out of memory.
    ``lazy``: leave the features in the cache's chunk files (checked, then memory-mapped) and
    return them as :class:`FeatureChunks`, for training splits too big to hold in memory.
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind must be one of {FEATURE_KINDS}")
    if on_bad_image not in BAD_IMAGE_POLICIES:
        raise UserError(f"--on-bad-image must be one of {', '.join(BAD_IMAGE_POLICIES)}, not '{on_bad_image}'")
    encode = backend.encode_images if kind == "embedding" else backend.encode_pre_projection
    batch_size = batch_size or default_batch_size(backend.device)
    fitting = FittingEncoder(encode, batch_size, backend.device)
    indices = np.arange(len(source)) if indices is None else np.asarray(indices, dtype=np.int64)
    key = feature_key(backend, source, split, indices, kind)
    n_chunks = max(1, -(-len(indices) // chunk_size))
    entry = store.chunked("features", key, {"model": backend.fingerprint, "data": source.identity,
                                            "split": split, "n": len(indices)}) if store else None
    lazy = lazy and entry is not None
    in_memory = ("labels", "indices") if lazy else ARRAYS
    chunks: dict[int, dict[str, np.ndarray]] = {}
    if entry is not None:
        for c in range(n_chunks):
            got = entry.load_chunk(c, in_memory, verify_only=("features",) if lazy else ())
            if got is not None and len(got["indices"]) == len(indices[c * chunk_size:(c + 1) * chunk_size]):
                chunks[c] = got
    missing = [c for c in range(n_chunks) if c not in chunks]
    rank, size = world()
    if size > 1 and entry is None:
        raise RuntimeError("sharded extraction needs the feature cache (the ranks exchange chunks through it)")
    all_missing = missing
    if size > 1:
        barrier()  # all ranks have listed the missing chunks before any rank writes one
    missing = missing[rank::size]  # under torchrun each rank computes its share of the chunks
    t0 = time.perf_counter()
    n_new = 0
    if missing:
        if kind == "embedding":
            backend.prepare()  # e.g. ConSE's label embeddings: not part of the image throughput
        t0 = time.perf_counter()
        todo = np.concatenate([indices[c * chunk_size:(c + 1) * chunk_size] for c in missing])
        n_new = len(todo)
        workers = default_workers() if num_workers is None else num_workers
        loader = torch.utils.data.DataLoader(
            PreprocessedDataset(source, todo, backend.preprocess), batch_size=batch_size, shuffle=False,
            num_workers=workers, pin_memory=backend.device.type == "cuda",
            persistent_workers=False, prefetch_factor=4 if workers else None,
        )
        label = f"image features ({split}{'' if kind == 'embedding' else ', ' + kind}" + \
            (f", rank {rank}/{size})" if size > 1 else ")")
        bar = tqdm(total=len(todo), desc=label, unit="img", disable=not progress or rank != 0, leave=False)
        buffers: dict[str, list[np.ndarray]] = {a: [] for a in ARRAYS}
        filled = 0
        chunk_iter = iter(missing)
        current = next(chunk_iter)
        want = len(indices[current * chunk_size:(current + 1) * chunk_size])
        with torch.inference_mode():
            for pixels, labels, idx in loader:
                if on_bad_image == "fail" and bool((labels == BAD_IMAGE).any()):
                    bad = int(idx[labels == BAD_IMAGE][0])
                    raise UserError(f"cannot decode image {source.describe(bad)}: replace or remove it, "
                                    "or pass --on-bad-image skip to leave it out")
                feats = fitting(pixels)
                buffers["features"].append(feats)
                buffers["labels"].append(labels.numpy().astype(np.int64))
                buffers["indices"].append(idx.numpy().astype(np.int64))
                filled += len(feats)
                bar.update(len(feats))
                while current is not None and filled >= want:
                    merged = {a: np.concatenate(buffers[a]) for a in ARRAYS}
                    done = {a: merged[a][:want] for a in ARRAYS}
                    rest = {a: merged[a][want:] for a in ARRAYS}
                    if entry is not None:
                        entry.save_chunk(current, done)
                    chunks[current] = {a: done[a] for a in in_memory}
                    buffers = {a: [rest[a]] for a in ARRAYS}
                    filled -= want
                    current = next(chunk_iter, None)
                    if current is not None:
                        want = len(indices[current * chunk_size:(current + 1) * chunk_size])
        bar.close()
    seconds = time.perf_counter() - t0
    if size > 1:
        barrier()  # every rank's chunks are on disk: read the others' shares
        for c in all_missing:
            if c not in chunks:
                got = entry.load_chunk(c, in_memory, verify_only=("features",) if lazy else ())
                if got is None:
                    raise RuntimeError(f"chunk {c} of feature cache entry {key} is missing after the other ranks "
                                       "finished: is the cache folder shared by all ranks?")
                chunks[c] = got
    ordered = [chunks[c] for c in range(n_chunks)]
    out = FeatureSet(
        features=(FeatureChunks([entry.path(c, "features") for c in range(n_chunks)]) if lazy
                  else np.concatenate([c["features"] for c in ordered])),
        labels=np.concatenate([c["labels"] for c in ordered]),
        indices=np.concatenate([c["indices"] for c in ordered]),
    )
    if not np.array_equal(out.indices, indices):  # a stale or foreign chunk: never trust it
        if entry is not None:
            entry.clear()
        raise RuntimeError(f"feature cache entry {key} held the wrong samples; it was cleared, run again")
    if entry is not None and all_missing and rank == 0:
        entry.mark_complete({"dim": int(out.features.shape[1])})
    bad = out.labels == BAD_IMAGE
    skipped = [source.describe(int(i)) for i in out.indices[bad]]
    if skipped:
        if on_bad_image == "fail":
            raise UserError(f"cannot decode image {skipped[0]}: replace or remove it, or pass --on-bad-image skip")
        import warnings

        warnings.warn(f"skipped {len(skipped)} unreadable image(s) in {source.origin}, first: {skipped[0]}",
                      stacklevel=2)
        keep = np.flatnonzero(~bad)
        out = FeatureSet(out.features.take(keep) if lazy else out.features[keep], out.labels[keep], out.indices[keep])
    out.info = {"cache": "hit" if not all_missing else ("resumed" if len(all_missing) < n_chunks else "miss"),
                "key": key, "computed": n_new, "seconds": seconds, "skipped": skipped,
                "images_per_second": n_new / seconds if n_new and seconds > 0 else None,
                "batch_size": fitting.limit if n_new else None}
    return out
