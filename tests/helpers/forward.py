"""The tolerance the default CPU image forward guarantees against PyTorch's eager forward.

``bench.models.cpu_forward`` computes the same float32 products in another summation order (oneDNN's
kernels instead of MKL's), so features move by float rounding. Measured on random-init ViT-S-32 and
ViT-B-32, 1 and 2 threads, 5 seeds of 8 images and batches split unevenly: at most 2.6e-6 absolute, 8.8e-7
of the row's largest feature. The bound below is relative to each row's largest feature (an element-wise
``rtol`` fails on features near zero, which is what made the checkpoint test flaky) with an order of
magnitude of headroom for other CPUs' kernels (docs/performance.md, "Accuracy of the CPU forward").
"""
from __future__ import annotations

import torch

#: max |a - b| over a row, divided by max |a| over that row
FORWARD_ROW_RTOL = 1e-5


def row_relative_difference(a, b) -> float:
    a, b = torch.as_tensor(a).float(), torch.as_tensor(b).float()
    scale = a.abs().amax(dim=-1).clamp_min(torch.finfo(torch.float32).tiny)
    return float(((a - b).abs().amax(dim=-1) / scale).max())


def assert_forward_close(ours, reference) -> None:
    """``ours`` (the default CPU forward's features) within :data:`FORWARD_ROW_RTOL` of ``reference``."""
    worst = row_relative_difference(reference, ours)
    assert worst <= FORWARD_ROW_RTOL, f"features differ by {worst:.2e} of a row's largest (bound {FORWARD_ROW_RTOL})"
