"""The feature cache's side of an extraction: the keys that name what makes features, the chunked entries
they live in, the rows other entries of the same model already hold, and the chunks put together from
computed and copied rows. :mod:`bench.engine.features` computes what the cache lacks.

A key hashes what makes the features: model fingerprint, data identity (content, not path), split,
preprocessing, decoding and the chosen sample indices. Entries are written in fixed-size chunks as the
forward pass goes, so an interrupted run resumes from the last finished chunk.
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from bench.core.hashing import stable_hash
from bench.core.store import CACHE_ELSEWHERE, Store, refused_writes
from bench.engine.distributed import barrier
from tasks.sources.base import ImageSource

if TYPE_CHECKING:  # pragma: no cover
    from bench.models.base import ModelBackend

#: the arrays of every chunk
ARRAYS = ("features", "labels", "indices")


def indices_digest(indices: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(indices, dtype=np.int64).tobytes()).hexdigest()[:20]




def feature_key(backend: "ModelBackend", source: ImageSource, split: str, indices: np.ndarray,
                kind: str = "embedding", decode: str = "pil") -> str:
    parts = ["features-v1", backend.features_fingerprint(kind), source.identity, split, backend.preprocess_id,
             indices_digest(indices)]
    return stable_hash(parts + ([] if kind == "embedding" else [kind]) + decode_part(decode))


def decode_part(decode: str) -> list[str]:
    """What a cache key gains from ``--decode``: nothing for PIL (keys made before the option stay valid)."""
    return [] if decode == "pil" else [f"decode:{decode}"]


def rows_key(backend: "ModelBackend", source: ImageSource, split: str, kind: str = "embedding",
             decode: str = "pil") -> str:
    """What every feature entry of one model on one split shares whatever its samples: the folder under
    ``feature-rows/`` that lists those entries, so one extraction can reuse another's rows."""
    return stable_hash(["feature-rows-v1", backend.features_fingerprint(kind), source.identity, split, backend.preprocess_id,
                        kind]
                       + decode_part(decode))


class RowDonors:
    """Feature rows that other entries of the same model, data and split already hold.

    An adaptive run extracts its growing sample in chunks of its own order; a later full run (or an
    adaptive run with another seed) needs many of the same samples in other entries. Every entry
    that saves a chunk is listed under ``feature-rows/<rows_key>/``; :meth:`lookup` reads the
    listed entries' index files and returns the rows it finds, so only the rest is computed.
    """

    def __init__(self, store: Store, key: str, own: str):
        self.folder = store.area("feature-rows") / key
        self.store, self.own = store, own

    def register(self) -> None:
        with refused_writes(self.folder, CACHE_ELSEWHERE):
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / self.own).touch()

    def lookup(self, wanted: np.ndarray) -> dict[str, np.ndarray]:
        """``{"indices", "labels", "features"}`` of the wanted samples found in other entries (any order)."""
        found: dict[str, list[np.ndarray]] = {a: [] for a in ARRAYS}
        left = np.unique(wanted)
        others = sorted(p.name for p in self.folder.iterdir()) if self.folder.is_dir() else []
        for name in others:
            if name == self.own or not len(left):
                continue
            entry = self.store.chunked("features", name, {})
            for path in sorted(entry.folder.glob("chunk*.indices.npy")):
                index = int(path.name[5:10])
                got = entry.load_chunk(index, ("indices",))
                if got is None:
                    continue
                hit = np.isin(got["indices"], left)
                if not hit.any():
                    continue
                full = entry.load_chunk(index, ARRAYS)
                if full is None or len(full["features"]) != len(full["indices"]):
                    continue
                for a in ARRAYS:
                    found[a].append(full[a][hit])
                left = np.setdiff1d(left, got["indices"][hit])
        if not found["indices"]:
            return {}
        merged = {a: np.concatenate(v) for a, v in found.items()}
        _, first = np.unique(merged["indices"], return_index=True)
        return {a: v[first] for a, v in merged.items()}


def cached_chunks(entry, spans: list[np.ndarray], keep, lazy: bool) -> dict[int, dict[str, np.ndarray]]:
    """The chunks already in the cache (a chunk of the wrong length counts as missing)."""
    chunks: dict[int, dict[str, np.ndarray]] = {}
    if entry is None:
        return chunks
    for c, span in enumerate(spans):
        got = entry.load_chunk(c, keep, verify_only=("features",) if lazy else ())
        if got is not None and len(got["indices"]) == len(span):
            chunks[c] = got
    return chunks


def complete_chunk(c, span, computed_idx, computed, known, entry, chunks, keep) -> None:
    """Chunk ``c`` from its computed rows and the rows copied from other entries, in ``span``'s order; saved to
    ``entry`` (when caching) and kept in ``chunks`` (its ``keep`` arrays)."""
    if len(computed_idx) == len(span):
        done = {a: np.asarray(computed[a]) for a in ARRAYS}
    else:
        sources = [(computed_idx, computed)] if len(computed_idx) else []
        sources.append((known["indices"], known))
        dim = next(np.asarray(src["features"]).shape[1] for _, src in sources if len(src["features"]))
        done = {"features": np.empty((len(span), dim), dtype=np.float32),
                "labels": np.empty(len(span), dtype=np.int64), "indices": np.asarray(span, dtype=np.int64)}
        for idx, src in sources:
            order = np.argsort(idx)
            pos = np.searchsorted(idx, span, sorter=order)
            pos = np.minimum(pos, len(idx) - 1)
            hit = idx[order[pos]] == span
            done["features"][hit] = np.asarray(src["features"])[order[pos[hit]]]
            done["labels"][hit] = np.asarray(src["labels"])[order[pos[hit]]]
    if entry is not None:
        entry.save_chunk(c, done)
    chunks[c] = {a: done[a] for a in keep}


def gather_chunks(entry, key, all_missing, chunks, keep, lazy) -> None:
    """Under torchrun: after every rank finished its share, read the others' chunks."""
    barrier()
    for c in all_missing:
        if c not in chunks:
            got = entry.load_chunk(c, keep, verify_only=("features",) if lazy else ())
            if got is None:
                raise RuntimeError(f"chunk {c} of feature cache entry {key} is missing after the other ranks "
                                   "finished: is the cache folder shared by all ranks?")
            chunks[c] = got
