"""``forward``: eager against the default CPU forward per batch size, with the measured GEMM ceiling."""
from __future__ import annotations

import time
from typing import Any

from bench.apps.perf.common import best_seconds, count_flops, load_backend, peak_gflops


def gemm_ceiling(n: int = 2048, repeats: int = 8) -> dict[str, float]:
    """GFLOP/s of a large float32 matrix product on this machine (the best of ``repeats``), through MKL
    (``torch.mm``, what PyTorch's ``nn.Linear`` uses on x86) and through oneDNN (``mkldnn._linear_pointwise``):
    the highest float32 rate measured here, a check on the clock-based peak estimate (blind to turbo clocks)."""
    import torch

    from bench.models.cpu_forward import onednn_linear, onednn_works

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    calls = {"mkl": lambda: torch.mm(a, b)}
    if onednn_works():
        calls["onednn"] = lambda: onednn_linear(a, b, None)
    with torch.inference_mode():
        return {name: 2 * n ** 3 / best_seconds(fn, repeats) / 1e9 for name, fn in calls.items()}


def forward_section(model: str, device: str, n: int = 128, compile_: bool = True) -> dict[str, Any]:
    """The image tower's forward under each candidate setting, against PyTorch's eager float32 at the default
    batch size measured in the same run: batch sizes, the oneDNN linear layers zsbench uses by default on
    the CPU (:mod:`bench.models.cpu_forward`), TorchScript freezing and torch.compile (inductor; its compile
    time apart). Each reports img/s (the best of 3 passes), GFLOP/s, its share of the estimated fp32 peak and of
    the measured GEMM ceiling, and max |feature difference| from eager (adopted only if within 1e-5 and faster)."""
    import os
    from unittest import mock

    import torch

    from bench.engine.features import default_batch_size
    from bench.models.cpu_forward import EAGER

    with mock.patch.dict(os.environ, ZSBENCH_CPU_FORWARD=EAGER):  # PyTorch's own path, the reference
        backend, m, _ = load_backend(model, "none", device)
    fast, _, _ = load_backend(model, "none", device)  # zsbench's default forward on this device
    torch.manual_seed(0)
    x = torch.randn(n, 3, *backend.preprocess.transforms[1].size if hasattr(backend.preprocess, "transforms") and
                    hasattr(backend.preprocess.transforms[1], "size") else (224, 224))
    with torch.inference_mode():
        flops = count_flops(lambda: backend.encode_images(x[:1]))
        reference = backend.encode_images(x[:32]).float()
    peak, basis = peak_gflops(device)
    ceiling = gemm_ceiling() if not device.startswith("cuda") else {}
    best = max(ceiling.values(), default=None)

    def timed(fn, bs: int, repeats: int = 3) -> dict[str, Any]:
        """The best of ``repeats`` passes over the ``n`` images (a shared machine's noise only slows a pass)."""
        def one_pass() -> None:
            for s in range(0, n, bs):
                fn(x[s:s + bs])

        with torch.inference_mode():
            secs = best_seconds(one_pass, repeats)
            diff = float((fn(x[:32]).float() - reference).abs().max())
        achieved = flops * n / secs / 1e9
        return {"images_per_s": n / secs, "gflops_per_s": achieved, "share_of_peak": achieved / peak if peak else None,
                "share_of_gemm_ceiling": achieved / best if best else None, "max_abs_diff_vs_eager": diff,
                "passes": repeats}

    default = default_batch_size(device)
    out: dict[str, Any] = {"model": model, "images": n, "gflops_per_image": flops / 1e9, "peak_gflops_per_s": peak,
                           "peak_basis": basis, "gemm_ceiling_gflops_per_s": ceiling, "default_batch_size": default,
                           "threads": torch.get_num_threads(), "default_forward": fast.image_forward}
    out["eager"] = {str(bs): timed(backend.encode_images, bs) for bs in (16, 32, 64, 128)}
    out["default"] = {str(bs): timed(fast.encode_images, bs) for bs in (16, 32, 64)}
    visual = m.visual
    with torch.inference_mode():
        frozen = torch.jit.freeze(torch.jit.trace(visual, x[:default]))
    out["jit_freeze"] = timed(frozen, default)
    if compile_:
        t = time.perf_counter()
        compiled = torch.compile(visual)
        with torch.inference_mode():
            compiled(x[:default])
        out["compile_seconds"] = time.perf_counter() - t
        out["torch_compile"] = timed(compiled, default)
    base = out["eager"][str(default)]["images_per_s"]
    for v in [*out["default"].values(), out["jit_freeze"], out.get("torch_compile")]:
        if v is not None:
            v["speedup_vs_eager"] = v["images_per_s"] / base
    return out
