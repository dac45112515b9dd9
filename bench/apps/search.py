"""``zsbench search``: rank a collection of images by a sentence (or by an example image).

The collection (a folder, or a task's evaluation split) is embedded once into the same feature
cache as ``zsbench run`` uses, so a later run or search on it computes nothing. The query is the
raw text's embedding (no template, unless a template set is named: then the prompt-ensemble vector
of the query, built as a class's classifier column is), or an image's embedding under ``--like``.
Each image's score is the cosine between its embedding and the query's.

Scores are computed block by block over the cached chunk files (memory-mapped, never loaded
whole), keeping a running top-k, so a collection of a million images is searched in bounded
memory. With faiss installed, ``index="faiss"`` builds an exact inner-product index (``IndexFlatIP``)
over the normalized features once per collection and model, kept beside the features in the cache.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import UserError
from bench.report.images import thumbnail
from bench.core.paths import user_path

#: rows per block when the features are one in-memory matrix (cache chunk files are read one by one)
BLOCK_ROWS = 65536
INDEXES = ("exact", "faiss")


@dataclass
class Hit:
    path: str
    score: float
    index: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "score": self.score}


def normalized(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if not norm:
        raise UserError("the query's embedding is all zeros: try another query")
    return vector / norm


def text_query(backend, query: str, templates: list[str] | None = None, store=None) -> np.ndarray:
    """The query's unit embedding: the raw text's, or with ``templates`` the prompt ensemble's."""
    import torch

    if not query.strip():
        raise UserError("the query is empty: give a sentence, e.g. zsbench search \"a dog on a beach\" ...")
    if templates:
        from bench.engine.classifiers import cached_classifier

        weights, _ = cached_classifier(backend, [query], list(templates), store, progress=False)
        return normalized(np.asarray(weights[:, 0], dtype=np.float32))
    with torch.inference_mode():
        return normalized(backend.encode_texts([query])[0].float().cpu().numpy())


def image_query(backend, path: str) -> np.ndarray:
    """The unit embedding of an example image (``--like``); an undecodable file is one line."""
    import torch

    from bench.apps.predict import open_image

    if not user_path(path).is_file() and not path.startswith(("http://", "https://")):
        raise UserError(f"--like {path}: no such image file")
    image = open_image(path)
    backend.prepare()
    with torch.inference_mode():
        return normalized(backend.encode_images(backend.preprocess(image).unsqueeze(0))[0].float().cpu().numpy())


def parts(features):
    """The feature rows as arrays in row order: each cache chunk file memory-mapped as it is (no copy),
    or slices of an in-memory matrix."""
    if hasattr(features, "parts"):
        for part in features.parts:
            arr = part.array()
            yield arr if part.rows is None else arr[part.rows]
    else:
        for start in range(0, len(features), BLOCK_ROWS):
            yield np.asarray(features[start:start + BLOCK_ROWS], dtype=np.float32)


def inverse_norms(features) -> np.ndarray:
    """1 / |row| of every row (0 for a zero row): computed once per collection, kept beside its features."""
    out = []
    for block in parts(features):
        norms = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float32))
        out.append(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0))
    return np.concatenate(out).astype(np.float32)


def exact_top_k(features, query: np.ndarray, k: int, inv_norms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row positions and cosines of the ``k`` rows most similar to ``query`` (unit), best first; ties keep
    the lower position first. One pass over the rows (chunk by chunk, memory-mapped), one score per row
    in memory (4 bytes each), one partial sort."""
    inv_norms = inverse_norms(features) if inv_norms is None else inv_norms
    scores = np.empty(len(inv_norms), dtype=np.float32)
    offset = 0
    for block in parts(features):
        scores[offset:offset + len(block)] = block @ query
        offset += len(block)
    scores *= inv_norms
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = np.lexsort((top, -scores[top]))
    return top[order].astype(np.int64), scores[top[order]]


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def faiss_index(features, path: Path | None = None):
    """An exact inner-product faiss index over the normalized rows (read from ``path`` when saved there)."""
    import faiss

    if path is not None and path.exists():
        return faiss.read_index(str(path))
    index = None
    for block in parts(features):
        index = index or faiss.IndexFlatIP(block.shape[1])
        block = np.array(block, dtype=np.float32)
        faiss.normalize_L2(block)
        index.add(block)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        faiss.write_index(index, str(tmp))
        tmp.replace(path)
    return index


def faiss_top_k(index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores, idx = index.search(np.ascontiguousarray(query[None, :], dtype=np.float32), k)
    keep = idx[0] >= 0
    return idx[0][keep].astype(np.int64), scores[0][keep]


def search(features, describe, query: np.ndarray, k: int, index: str = "exact", index_path: Path | None = None,
           positions: np.ndarray | None = None) -> list[Hit]:
    """The top ``k`` images for a unit ``query``; ``describe(i)`` names source sample i; ``positions`` maps
    feature rows to source samples (undecodable images were left out)."""
    if k < 1:
        raise UserError(f"--top must be a positive number (got {k})")
    k = min(k, len(features))
    if index == "faiss":
        if not faiss_available():
            raise UserError("--index faiss needs faiss: pip install faiss-cpu (or use --index exact)")
        rows, scores = faiss_top_k(faiss_index(features, index_path), query, k)
    elif index == "exact":
        norms_path = index_path.with_suffix(".norms.npy") if index_path is not None else None
        rows, scores = exact_top_k(features, query, k, _cached_norms(features, norms_path))
    else:
        raise UserError(f"--index must be one of {', '.join(INDEXES)}, not '{index}'")
    where = positions if positions is not None else np.arange(len(features))
    return [Hit(describe(int(where[r])), float(s), int(where[r])) for r, s in zip(rows, scores)]


def _cached_norms(features, path: Path | None) -> np.ndarray:
    """The rows' inverse norms, read from ``path`` when saved there by an earlier search of this collection."""
    from bench.core.store import CACHE_ELSEWHERE, load_array, save_array

    got = load_array(path) if path is not None and path.exists() else None
    if got is not None and len(got) == len(features):
        return got
    norms = inverse_norms(features)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_array(path, norms, CACHE_ELSEWHERE)
    return norms


def html_page(title: str, hits: list[Hit], source) -> str:
    """One self-contained page: the results as a grid of thumbnails with path and score (all text escaped)."""
    cells = []
    for rank, hit in enumerate(hits, 1):
        try:
            src = thumbnail(source, hit.index)
        except Exception:  # noqa: BLE001 - an image that vanished since it was embedded: shown as missing
            src = ""
        cells.append(f'<figure><img loading="lazy" alt="{html.escape(hit.path)}" src="{src}">'
                     f"<figcaption>{rank}. {html.escape(Path(hit.path).name)}<br><small>"
                     f"{html.escape(hit.path)}</small><br>cosine {hit.score:.4f}</figcaption></figure>")
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>" + html.escape(title) + "</title><style>"
            "body{font-family:sans-serif;margin:1em}main{display:grid;grid-template-columns:repeat(auto-fill,"
            "minmax(200px,1fr));gap:12px}figure{margin:0}img{width:100%;height:auto;background:#eee}"
            "figcaption{font-size:13px;word-break:break-all}</style></head><body><h1>" + html.escape(title) +
            "</h1><main>" + "".join(cells) + "</main></body></html>")
