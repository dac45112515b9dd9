"""Image features of one split under one model: the compute side of an extraction (decoding, the forward
pass with its out-of-memory splitter, the pixel cache and device decoding), over the cache side in
:mod:`bench.engine.feature_cache` (keys, chunked entries, rows other entries hold). Extraction writes
fixed-size chunks as it goes, so an interrupted run resumes from the last finished chunk, and a repeat
run does no forward pass at all.

The extractor holds the run's extraction settings; what one call finds and decides (its entry, chunks,
pixel-cache state, how images were decoded) lives in a per-call :class:`_Call`, never on the extractor.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.engine.config import BAD_IMAGE_POLICIES, DECODES, FEATURE_KINDS
from bench.core.errors import STORAGE_ERRNOS, StorageFull, UserError, short_reason
from bench.core.hashing import stable_hash
from bench.core.lazy_import import lazy_module
from bench.core.store import CACHE_ELSEWHERE, Store
from bench.engine.distributed import barrier, world
from bench.engine.feature_cache import (ARRAYS, RowDonors, cached_chunks, complete_chunk, feature_key,
                                        gather_chunks, indices_digest, rows_key)
from bench.engine.feature_chunks import FeatureChunks
from bench.engine.pixel_cache import CropImage, PixelCache, PixelSplit, split_preprocess
from bench.models.model_transforms import preprocess_for
from bench.models.base import device_type
from tasks.sources.base import BAD_IMAGE, ImageSource, PreprocessedDataset

if TYPE_CHECKING:  # pragma: no cover
    from bench.models.base import ImageStage, ModelBackend

torch = lazy_module("torch")  # imported by the first forward pass: a cache hit never needs it

#: rows per cache chunk: the unit that an interrupted extraction keeps (``ZSBENCH_CHUNK_ROWS`` changes it,
#: e.g. smaller for finer resumption on slow models; entries made with another size are cached apart)
CHUNK_SIZE = 1024


def chunk_rows() -> int:
    """``ZSBENCH_CHUNK_ROWS`` if set (read when an extractor is made), else :data:`CHUNK_SIZE`."""
    return int(os.environ.get("ZSBENCH_CHUNK_ROWS", CHUNK_SIZE))


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


def default_batch_size(device: "torch.device | str") -> int:
    """``--batch-size auto``: large on a GPU (halved on out-of-memory), 32 on CPU: bigger batches gain nothing
    there and lose cache locality (ViT-B-32 on 2 cores: 11.6 img/s at 32 and 16, 10.7 at 64; `zsbench perf`)."""
    return 256 if device_type(device) == "cuda" else 32


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

    def __init__(self, encode, limit: int, device: "torch.device"):
        self.encode, self.limit, self.device = encode, max(1, int(limit)), device
        self.halvings = 0
        self.seconds = 0.0  # in the forward pass (the rest of an extraction is data: decoding, preprocessing)

    def __call__(self, pixels: "torch.Tensor") -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return self._encode(pixels)
        finally:
            self.seconds += time.perf_counter() - t0

    def _encode(self, pixels: "torch.Tensor") -> np.ndarray:
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


#: what torch says when DataLoader workers cannot hand batches over through shared memory
SHARED_MEMORY_SIGNS = ("unable to resize file", "unable to write to file", "shared memory", "shm",
                       "bus error", "no space left on device", "file too large", "unable to allocate")


def is_shared_memory_error(exc: BaseException) -> bool:
    """A DataLoader worker failure caused by shared memory (too small, or a file-size limit)."""
    text = str(exc).lower()
    return any(sign in text for sign in SHARED_MEMORY_SIGNS)


@dataclass
class _Call:
    """What one extraction finds and decides: its data, cache entry and chunks, the rows copied from other
    entries, the forward pass, and the facts its record states (pixel cache, decoding)."""

    source: ImageSource
    split: str
    kind: str
    spans: list
    entry: Any
    chunks: dict
    keep: tuple
    known: dict
    fitting: "FittingEncoder | None"
    pixel_state: str
    decoded: str | None = None  # how the computed rows were decoded (pil, tensor), when any are computed


@dataclass
class FeatureExtractor:
    """Extracts features of one backend into the store: the run's extraction settings, held once.

    ``batch_size``: images per forward pass (``None``: :func:`default_batch_size`), halved
    automatically when a batch runs out of memory. ``on_bad_image``: an undecodable image is
    dropped and reported (``"skip"``) or stops the run with its path (``"fail"``); either way the
    chunks already computed stay in the cache.
    """

    backend: ModelBackend
    store: Store | None = None
    batch_size: int | None = 64
    num_workers: int | None = None
    progress: bool = True
    on_bad_image: str = "skip"
    chunk_size: int | None = None  # default: chunk_rows()
    #: decoded crops shared by models of one geometry (bench.engine.pixel_cache); None: decode every time
    pixels: "PixelCache | None" = None
    #: ``pil`` (the model's own preprocessing) or ``tensor`` (on the device: bench.engine.tensor_decode)
    decode: str = "pil"

    def __post_init__(self) -> None:
        self.chunk_size = self.chunk_size or chunk_rows()
        if self.on_bad_image not in BAD_IMAGE_POLICIES:
            raise UserError(f"--on-bad-image must be one of {', '.join(BAD_IMAGE_POLICIES)}, not '{self.on_bad_image}'")
        if self.decode not in DECODES:
            raise UserError(f"--decode must be one of {', '.join(DECODES)}, not '{self.decode}'")

    def __call__(self, source: ImageSource, split: str, indices: np.ndarray | None = None,
                 kind: str = "embedding", lazy: bool = False, keep_bad: bool = False) -> FeatureSet:
        """Features for ``source[indices]`` (all samples by default), from the cache where possible.

        ``kind``: ``"embedding"`` (the joint image-text space) or ``"pre-projection"``.
        ``lazy``: leave the features in the cache's chunk files (checked, then memory-mapped) and
        return them as :class:`FeatureChunks`, for training splits too big to hold in memory.
        """
        stage = self.backend.image_stage()
        if kind not in FEATURE_KINDS and (stage is None or kind != stage.kind):
            raise ValueError(f"kind must be one of {FEATURE_KINDS}")
        indices = np.arange(len(source)) if indices is None else np.asarray(indices, dtype=np.int64)
        key = self._key(source, split, indices, kind)
        if kind == "embedding" and stage is not None and not self._complete(key):
            return self._through_stage(stage, source, split, indices)
        entry = self.store.chunked("features", key, {"model": self.backend.features_fingerprint(kind),
                                                     "data": source.identity, "split": split, "n": len(indices)}) \
            if self.store else None
        lazy = lazy and entry is not None
        keep = ("labels", "indices") if lazy else ARRAYS
        spans = self._spans(indices)
        chunks = cached_chunks(entry, spans, keep, lazy)
        all_missing = [c for c in range(len(spans)) if c not in chunks]
        rank, size = world()
        if size > 1 and entry is None:
            raise RuntimeError("sharded extraction needs the feature cache (the ranks exchange chunks through it)")
        if size > 1:
            barrier()  # all ranks have listed the missing chunks before any rank writes one
        mine = all_missing[rank::size]  # under torchrun each rank computes its share of the chunks
        donors = RowDonors(self.store, rows_key(self.backend, source, split, kind, self.decode), key) \
            if entry is not None and size == 1 else None
        if donors is not None:  # listed before any chunk is saved: its rows can serve other entries
            donors.register()
        known = donors.lookup(np.concatenate([spans[c] for c in mine])) if donors is not None and mine else {}
        t0 = time.perf_counter()
        fitting = None
        if mine:  # a forward pass to run (naming the backend's device, or its encoders, loads torch)
            encode = {"embedding": self.backend.encode_images,
                      "pre-projection": self.backend.encode_pre_projection}.get(kind) or stage.encode
            fitting = FittingEncoder(encode,
                                     self.batch_size or default_batch_size(self.backend.device), self.backend.device)
        call = _Call(source, split, kind, spans, entry, chunks, keep, known, fitting,
                     pixel_state="off" if self.pixels is None else "not needed")
        n_new = self._compute_or_fall_back(call, mine) if mine else 0
        seconds = time.perf_counter() - t0
        if size > 1:
            gather_chunks(entry, key, all_missing, chunks, keep, lazy)
        ordered = [chunks[c] for c in range(len(spans))]
        out = FeatureSet(
            features=(FeatureChunks([entry.path(c, "features") for c in range(len(spans))]) if lazy
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
        out, skipped = (out, []) if keep_bad else self._drop_bad(out, source, lazy)
        out.info = {"cache": "hit" if not all_missing else ("resumed" if len(all_missing) < len(spans) else "miss"),
                    "key": key, "computed": n_new, "reused_rows": len(known.get("indices", ())), "seconds": seconds,
                    "forward_seconds": fitting.seconds if fitting else 0.0, "pixel_cache": call.pixel_state,
                    "skipped": skipped, "images_per_second": n_new / seconds if n_new and seconds > 0 else None,
                    "batch_size": fitting.limit if n_new else None,
                    "image_forward": self.backend.image_forward if n_new else None, "decode": call.decoded}
        return out

    def _key(self, source: ImageSource, split: str, indices: np.ndarray, kind: str) -> str:
        key = feature_key(self.backend, source, split, indices, kind, self.decode)
        if self.chunk_size != CHUNK_SIZE:  # another chunking is another layout on disk: its own entry
            key = stable_hash([key, "chunk-rows", self.chunk_size])
        return key

    def _spans(self, indices: np.ndarray) -> list[np.ndarray]:
        """The samples of each cache chunk of an entry (one chunk at least, empty for no samples)."""
        return [indices[c * self.chunk_size:(c + 1) * self.chunk_size]
                for c in range(max(1, -(-len(indices) // self.chunk_size)))]

    def _complete(self, key: str) -> bool:
        """Whether the cache holds this whole entry (embeddings cached before their backend had a stage stay valid)."""
        return self.store is not None and self.store.chunked("features", key, {}).is_complete()

    def _through_stage(self, stage: "ImageStage", source: ImageSource, split: str, indices: np.ndarray) -> FeatureSet:
        """Embeddings made from the backend's cached intermediate (:class:`bench.models.base.ImageStage`): only the
        intermediate is extracted (once for every request that shares it), the rest is ``stage.finish``. The
        embeddings are then cached as any others, so the next run of this request is a plain hit (no torch)."""
        inner = self(source, split, indices, kind=stage.kind, keep_bad=True)
        t0 = time.perf_counter()
        good = inner.labels != BAD_IMAGE
        rows = np.asarray(stage.finish(np.asarray(inner.features)[good]), dtype=np.float32)
        features = np.zeros((len(inner.labels), rows.shape[1]), dtype=np.float32)
        features[good] = rows
        out = FeatureSet(features, inner.labels, inner.indices)
        if self.store is not None:
            key = self._key(source, split, indices, "embedding")
            entry = self.store.chunked("features", key, {"model": self.backend.fingerprint, "data": source.identity,
                                                         "split": split, "n": len(indices), "stage": stage.kind})
            start = 0
            for c, span in enumerate(self._spans(indices)):  # the layout any entry of these samples has
                entry.save_chunk(c, {a: getattr(out, a)[start:start + len(span)] for a in ARRAYS})
                start += len(span)
            entry.mark_complete({"dim": int(features.shape[1])})
        out, skipped = self._drop_bad(out, source, lazy=False)
        out.info = {**inner.info, "skipped": skipped, "stage": stage.kind, "stage_seconds": time.perf_counter() - t0,
                    "seconds": inner.info["seconds"] + time.perf_counter() - t0}
        return out

    def _compute_or_fall_back(self, call: _Call, mine: list[int]) -> int:
        """:meth:`_compute`, and the resources it can run out of, each said in one line.

        Shared memory too small for the decoding workers (Docker's 64 MB ``/dev/shm``, a file-size
        limit): warn once and go on decoding in this process, from the first chunk not yet saved.
        The cache's disk full (or its file-size limit): a UserError naming the folder and the fixes;
        the chunks already saved stay valid, so the next run resumes.
        """
        import warnings

        try:
            try:
                return self._compute(call, mine)
            except RuntimeError as exc:
                workers = default_workers() if self.num_workers is None else self.num_workers
                if workers == 0 or not is_shared_memory_error(exc):
                    raise
                last = [line for line in str(exc).splitlines() if line.strip()][-1:] or [type(exc).__name__]
                warnings.warn(f"shared memory is too small for {workers} image-decoding worker(s) "
                              f"({short_reason(last[0], 120)}): decoding in this process instead (as --workers 0); a "
                              "larger /dev/shm (docker run --shm-size=1g) makes it faster", stacklevel=2)
                # a run-level setting learnt here: the run's later extractions decode in-process too
                self.num_workers = 0
                left = [c for c in mine if c not in call.chunks]
                return self._compute(call, left) if left else 0
        except OSError as exc:  # a write outside the store's own (which are StorageFull already)
            if exc.errno not in STORAGE_ERRNOS:
                raise
            where = self.store.root if self.store is not None else Path(".")
            raise StorageFull(where, exc, CACHE_ELSEWHERE + "; the chunks already saved are kept and the next run "
                                          "resumes") from None

    def _compute(self, call: _Call, missing: list[int]) -> int:
        """Encode the ``missing`` chunks, saving each to the cache as soon as it is complete.

        ``call.known``: rows other entries already hold (:class:`RowDonors`); they are copied, not encoded."""
        source, split, kind, spans, fitting = call.source, call.split, call.kind, call.spans, call.fitting
        known = call.known or {}
        known_idx = known.get("indices", np.empty(0, dtype=np.int64))
        need = {c: spans[c][~np.isin(spans[c], known_idx)] for c in missing}
        todo = np.concatenate([need[c] for c in missing])
        pending = list(missing)
        if not len(todo):  # every row is in other entries: no forward pass at all
            for c in pending:
                complete_chunk(c, spans[c], need[c], {a: [] for a in ARRAYS}, known, call.entry, call.chunks, call.keep)
            return 0
        if kind == "embedding":
            self.backend.prepare()  # e.g. ConSE's label embeddings: not part of the image throughput
        workers = default_workers() if self.num_workers is None else self.num_workers
        on_device = self._tensor_decode(call)
        split_at = self._pixel_split(call, len(todo)) if on_device is None else None
        call.decoded = "pil" if on_device is None else "tensor"
        if on_device is not None:  # decoded and cropped on the device (bench.engine.tensor_decode)
            from bench.engine.tensor_decode import tensor_batches

            loader = tensor_batches(source, todo, on_device[0], on_device[1], self.backend.device, fitting.limit,
                                    workers)
        elif split_at is not None:  # crops from the pixel cache (decoded once for every model of this geometry)
            loader = self._pixel_batches(call, missing, need, split_at, fitting.limit, workers)
        else:
            loader = torch.utils.data.DataLoader(
                PreprocessedDataset(source, todo, preprocess_for(self.backend, source)), batch_size=fitting.limit,
                shuffle=False,
                num_workers=workers, pin_memory=self.backend.device.type == "cuda",
                persistent_workers=False, prefetch_factor=4 if workers else None,
            )
        from tqdm.auto import tqdm

        rank, size = world()
        label = f"image features ({split}{'' if kind == 'embedding' else ', ' + kind}" + \
            (f", rank {rank}/{size})" if size > 1 else ")")
        bar = tqdm(total=len(todo), desc=label, unit="img", disable=not self.progress or rank != 0, leave=False)
        buffers: dict[str, list[np.ndarray]] = {a: [] for a in ARRAYS}
        filled = 0

        def flush() -> None:
            nonlocal buffers, filled
            while pending and filled >= len(need[pending[0]]):  # a chunk is complete: save it
                current = pending.pop(0)
                want = len(need[current])
                if not want:  # every row of this chunk is copied from other entries
                    complete_chunk(current, spans[current], need[current], {a: [] for a in ARRAYS}, known,
                                   call.entry, call.chunks, call.keep)
                    continue
                merged = {a: np.concatenate(buffers[a]) for a in ARRAYS}
                complete_chunk(current, spans[current], need[current], {a: merged[a][:want] for a in ARRAYS},
                               known, call.entry, call.chunks, call.keep)
                buffers = {a: [merged[a][want:]] for a in ARRAYS}
                filled -= want

        flush()
        with torch.inference_mode():
            for pixels, labels, idx in loader:
                if self.on_bad_image == "fail" and bool((labels == BAD_IMAGE).any()):
                    bad = int(idx[labels == BAD_IMAGE][0])
                    raise UserError(f"cannot decode image {source.describe(bad)}: replace or remove it, "
                                    "or pass --on-bad-image skip to leave it out")
                feats = fitting(pixels)
                for name, arr in (("features", feats), ("labels", labels.numpy().astype(np.int64)),
                                  ("indices", idx.numpy().astype(np.int64))):
                    buffers[name].append(arr)
                filled += len(feats)
                bar.update(len(feats))
                flush()
        bar.close()
        return len(todo)

    def _tensor_decode(self, call: _Call) -> tuple[PixelSplit, list] | None:
        """Under ``--decode tensor``, the model's preprocessing split and its tensor geometry; None (PIL decoding)
        when not asked for, or when the preprocessing has a step uint8 tensors cannot take (warned once)."""
        if self.decode != "tensor":
            return None
        from bench.engine.tensor_decode import tensor_geometry

        if getattr(call.source, "model_transform", None):
            return None  # a transform inside the model's preprocessing (ImageNet-W's watermark): the PIL path
        split_at = split_preprocess(self.backend.preprocess)
        geometry = tensor_geometry(split_at)
        if geometry is None:
            import warnings

            warnings.warn(f"--decode tensor: {self.backend.name}'s preprocessing is not torchvision Resize/CenterCrop "
                          "then ToTensor and Normalize; decoding with PIL (records say decode: pil)", stacklevel=4)
            return None
        call.pixel_state = "off (--decode tensor)" if self.pixels is not None else call.pixel_state
        return split_at, geometry

    def _pixel_split(self, call: _Call, n_images: int) -> PixelSplit | None:
        """The model's preprocessing split for the pixel cache, when one is in use, the preprocessing allows it
        and the crops fit under the cap."""
        if self.pixels is None:
            return None
        if getattr(call.source, "model_transform", None):
            call.pixel_state = "unsupported"  # the model's crops get the task's own transform before Normalize
            return None
        split_at = split_preprocess(self.backend.preprocess)
        if split_at is None:
            call.pixel_state = "unsupported"
            return None
        if not self.pixels.room_for(n_images, split_at.crop_bytes):
            call.pixel_state = "over cap"
            return None
        call.pixel_state = "on"
        return split_at

    def _pixel_batches(self, call: _Call, missing, need, split_at: PixelSplit, batch: int, workers: int):
        """``(pixels, labels, indices)`` batches of the needed rows, from cached crops (computed and saved chunk
        by chunk where missing), through the model's own ToTensor + Normalize."""
        source, split, spans = call.source, call.split, call.spans
        everything = np.concatenate(spans)
        entry = self.pixels.entry(source, split, split_at, indices_digest(everything), len(everything), self.chunk_size)
        pin = self.backend.device.type == "cuda"
        for c in missing:
            if not len(need[c]):
                continue
            got = entry.load_chunk(c, ("crops", "labels", "indices"))
            if got is None or not np.array_equal(got["indices"], spans[c]):
                got = self._crop_chunk(source, spans[c], split_at, workers)
                entry.save_chunk(c, got)
            rows = np.flatnonzero(np.isin(spans[c], need[c]))
            for start in range(0, len(rows), batch):
                take = rows[start:start + batch]
                pixels = split_at.tensors(got["crops"][take])
                yield (pixels.pin_memory() if pin else pixels, torch.from_numpy(got["labels"][take]),
                       torch.from_numpy(got["indices"][take]))

    def _crop_chunk(self, source, span: np.ndarray, split_at: PixelSplit, workers: int) -> dict[str, np.ndarray]:
        """Decode and crop one chunk's images (in parallel workers): uint8 crops, labels, indices."""
        loader = torch.utils.data.DataLoader(PreprocessedDataset(source, span, CropImage(split_at)), batch_size=64,
                                             shuffle=False, num_workers=workers, persistent_workers=False,
                                             prefetch_factor=4 if workers else None)
        parts = {"crops": [], "labels": [], "indices": []}
        for crops, labels, idx in loader:
            parts["crops"].append(crops.numpy())
            parts["labels"].append(labels.numpy().astype(np.int64))
            parts["indices"].append(idx.numpy().astype(np.int64))
        return {k: np.concatenate(v) for k, v in parts.items()}

    def _drop_bad(self, out: FeatureSet, source: ImageSource, lazy: bool) -> tuple[FeatureSet, list[str]]:
        """Leave out undecodable images (warned once), or stop under ``--on-bad-image fail``."""
        bad = out.labels == BAD_IMAGE
        skipped = [source.describe(int(i)) for i in out.indices[bad]]
        if not skipped:
            return out, skipped
        if self.on_bad_image == "fail":
            raise UserError(f"cannot decode image {skipped[0]}: replace or remove it, or pass --on-bad-image skip")
        import warnings

        from bench.core.errors import DataLossWarning

        warnings.warn(f"skipped {len(skipped)} unreadable image(s) in {source.origin}, first: {skipped[0]}",
                      DataLossWarning, stacklevel=3)
        keep = np.flatnonzero(~bad)
        return FeatureSet(out.features.take(keep) if lazy else out.features[keep], out.labels[keep],
                          out.indices[keep]), skipped


def extractor_for(config, backend: "ModelBackend", store: Store | None) -> "FeatureExtractor":
    """The extractor a run's options ask for: batch size, workers, progress, bad-image policy, and the pixel
    cache (``--pixel-cache``: on, off, or auto = on when the run has several models)."""
    mode = getattr(config, "pixel_cache", "off")
    use = store is not None and (mode == "on" or (mode == "auto" and len(getattr(config, "models", [])) > 1))
    return FeatureExtractor(backend, store, config.batch_size, config.num_workers, config.progress,
                            config.on_bad_image, pixels=PixelCache(store) if use else None,
                            decode=getattr(config, "decode", "pil"))


def extract_features(backend: "ModelBackend", source: ImageSource, split: str, indices: np.ndarray | None = None,
                     store: Store | None = None, batch_size: int | None = 64, num_workers: int | None = None,
                     progress: bool = True, chunk_size: int | None = None, kind: str = "embedding",
                     on_bad_image: str = "skip", lazy: bool = False, pixels: PixelCache | None = None,
                     decode: str = "pil") -> FeatureSet:
    """One extraction with :class:`FeatureExtractor` (for callers outside a run)."""
    return FeatureExtractor(backend, store, batch_size, num_workers, progress, on_bad_image, chunk_size,
                            pixels, decode)(source, split, indices, kind, lazy)
