"""A feature matrix that stays on disk: the feature cache's chunk files, read one at a time.

ImageNet's training split under a ViT-L is 1.28M x 1024 float32 = 5.2 GB, and a probe fitted in
memory needs two more copies of it (float64 for the statistics, standardized float32 for the
products). :class:`FeatureChunks` lets the probe make one pass over the chunk files per L-BFGS
function evaluation instead, holding only one chunk (and the weights) in memory. The files are
memory-mapped, so repeat passes are served from the page cache when RAM allows.

A part is either a chunk file (``.npy``, opened memory-mapped) or an in-memory array; each part
may carry a row selection, so train/validation splits and subsets stay lazy too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np


@dataclass(frozen=True)
class _Part:
    data: Path | np.ndarray
    rows: np.ndarray | None = None   # selected rows of this part, in order; None: all

    def array(self) -> np.ndarray:
        return np.load(self.data, mmap_mode="r", allow_pickle=False) if isinstance(self.data, Path) else self.data

    def shape(self) -> tuple[int, int]:
        shape = self.array().shape  # a chunk file is only memory-mapped: this reads its header
        if len(shape) != 2:
            raise ValueError(f"feature chunk {self.data if isinstance(self.data, Path) else ''} is not 2-D: {shape}")
        return (shape[0] if self.rows is None else len(self.rows)), shape[1]


class FeatureChunks:
    """Rows ``[N, D]`` split over parts; iterate with :meth:`blocks`, select rows with :meth:`take`.

    It quacks enough like a 2-D array for the probe (``shape``, ``len``, ``dtype``), but every
    read is explicit: nothing here loads the whole matrix unless :meth:`to_array` is called.
    """

    def __init__(self, parts: Sequence[Path | np.ndarray | _Part]):
        self.parts = [p if isinstance(p, _Part) else _Part(Path(p) if isinstance(p, (str, Path)) else p)
                      for p in parts]
        shapes = [p.shape() for p in self.parts]
        if not shapes:
            raise ValueError("FeatureChunks needs at least one part")
        dims = {d for _, d in shapes}
        if len(dims) != 1:
            raise ValueError(f"feature chunks disagree on the feature dimension: {sorted(dims)}")
        self.sizes = [n for n, _ in shapes]
        self.shape = (int(sum(self.sizes)), int(dims.pop()))
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def blocks(self, min_rows: int = 1) -> Iterator[np.ndarray]:
        """The (selected) rows as float32 arrays in memory, in row order; consecutive parts are
        joined until a block has at least ``min_rows`` rows (fewer, larger matrix products)."""
        pending: list[np.ndarray] = []
        count = 0
        for part in self.parts:
            arr = part.array()
            block = np.array(arr) if part.rows is None else arr[part.rows]  # a copy, off the memory map
            pending.append(block.astype(np.float32, copy=False))
            count += len(pending[-1])
            if count >= min_rows:
                yield pending[0] if len(pending) == 1 else np.concatenate(pending)
                pending, count = [], 0
        if pending:
            yield pending[0] if len(pending) == 1 else np.concatenate(pending)

    def take(self, rows) -> "FeatureChunks":
        """A lazy selection of rows (global positions, any order, repeats allowed)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim != 1 or (len(rows) and (rows.min() < 0 or rows.max() >= len(self))):
            raise IndexError(f"row indices out of range for {len(self)} rows")
        starts = np.cumsum([0] + self.sizes)
        which = np.searchsorted(starts, rows, side="right") - 1
        parts: list[_Part] = []
        # consecutive rows in the same part stay one part, so the order of ``rows`` is kept
        cut = np.flatnonzero(np.diff(which)) + 1
        for seg in np.split(np.arange(len(rows)), cut):
            if not len(seg):
                continue
            p = self.parts[which[seg[0]]]
            local = rows[seg] - starts[which[seg[0]]]
            parts.append(_Part(p.data, local if p.rows is None else p.rows[local]))
        if not parts:
            raise ValueError("take() selected no rows")
        return FeatureChunks(parts)

    def __getitem__(self, rows) -> np.ndarray:
        """``X[rows]`` for an index array: the selected rows, in memory (like numpy)."""
        return self.take(rows).to_array()

    def to_array(self) -> np.ndarray:
        """The whole matrix in memory (filled part by part: no second copy at the peak)."""
        out = np.empty(self.shape, dtype=self.dtype)
        start = 0
        for block in self.blocks():
            out[start:start + len(block)] = block
            start += len(block)
        return out

    @staticmethod
    def concatenate(items: Sequence["FeatureChunks | np.ndarray"]) -> "FeatureChunks":
        parts: list[_Part] = []
        for item in items:
            parts.extend(item.parts if isinstance(item, FeatureChunks) else [_Part(np.asarray(item, np.float32))])
        return FeatureChunks(parts)

    def __repr__(self) -> str:
        return f"FeatureChunks({self.shape[0]} x {self.shape[1]}, {len(self.parts)} parts)"
