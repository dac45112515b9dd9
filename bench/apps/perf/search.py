"""``search``: one query over a million features, exact and with faiss."""
from __future__ import annotations

import time
from typing import Any

import numpy as np



def search_section(n: int = 1_000_000, dim: int = 512, k: int = 10, queries: int = 20, seed: int = 0) -> dict[str, Any]:
    """One query's latency over ``n`` synthetic features stored as the cache stores them (1,024-row float32
    chunk files, memory-mapped): the exact chunked scan, and faiss's exact inner-product index when
    installed (build time apart); both must return the same top ``k``."""
    import tempfile
    from pathlib import Path

    from bench.apps.search import exact_top_k, faiss_available, faiss_index, faiss_top_k, inverse_norms
    from bench.engine.feature_chunks import FeatureChunks

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"features": n, "dim": dim, "k": k, "queries": queries}
    with tempfile.TemporaryDirectory() as tmp:
        parts = []
        for c, start in enumerate(range(0, n, 1024)):
            path = Path(tmp) / f"chunk{c:05d}.npy"
            np.save(path, rng.standard_normal((min(1024, n - start), dim), dtype=np.float32))
            parts.append(path)
        features = FeatureChunks(parts)
        qs = rng.standard_normal((queries, dim)).astype(np.float32)
        qs /= np.linalg.norm(qs, axis=1, keepdims=True)
        t = time.perf_counter()
        norms = inverse_norms(features)  # once per collection (``zsbench search`` keeps them in the cache)
        out["exact_prepare_seconds"] = time.perf_counter() - t
        exact_top_k(features, qs[0], k, norms)  # page cache warm: repeat searches read the files from memory
        t = time.perf_counter()
        exact = [exact_top_k(features, q, k, norms) for q in qs]
        out["exact_ms_per_query"] = 1000 * (time.perf_counter() - t) / queries
        if faiss_available():
            t = time.perf_counter()
            index = faiss_index(features)
            out["faiss_build_seconds"] = time.perf_counter() - t
            t = time.perf_counter()
            found = [faiss_top_k(index, q, k) for q in qs]
            out["faiss_ms_per_query"] = 1000 * (time.perf_counter() - t) / queries
            out["faiss_same_top_k"] = all(set(a[0].tolist()) == set(b[0].tolist()) for a, b in zip(exact, found))
        else:
            out["faiss_ms_per_query"] = None
    return out
