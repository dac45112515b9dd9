"""Helpers the sections share: synthetic features, the CPU's estimated peak, FLOP counting, model loading,
generated image folders, the raw forward and best-of-N timing."""
from __future__ import annotations

import time

import numpy as np

from bench.core.errors import UserError


def synthetic_features(n: int, dim: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm clustered features (CLIP-like scale) with a realistic, imperfect separability."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, dim)) * 0.05
    y = rng.integers(0, n_classes, size=n)
    X = means[y] + rng.normal(size=(n, dim)) / np.sqrt(dim) * 6.0
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), y


def peak_gflops(device: str = "cpu") -> tuple[float | None, str]:
    """The estimated fp32 peak of the compute the forward uses, and how it was estimated."""
    import os

    if os.environ.get("ZSBENCH_PEAK_GFLOPS"):
        return float(os.environ["ZSBENCH_PEAK_GFLOPS"]), "ZSBENCH_PEAK_GFLOPS"
    if device.startswith("cuda"):
        return None, "no GPU peak table here: set ZSBENCH_PEAK_GFLOPS"
    import torch

    try:
        info = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return None, "no /proc/cpuinfo: set ZSBENCH_PEAK_GFLOPS"
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    mhz = max((float(line.split(":", 1)[1]) for line in info.splitlines() if line.startswith("cpu MHz")), default=0.0)
    # two FMA pipes per core: AVX-512 16 floats, AVX2 8, SSE 4; an FMA is 2 FLOPs
    lanes = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else 4
    threads = torch.get_num_threads()
    peak = threads * mhz / 1000 * lanes * 2 * 2
    return (peak or None), f"{threads} threads x {mhz / 1000:.2f} GHz x {lanes * 4} FLOP/cycle (2 FMA x {lanes} fp32)"


def count_flops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def load_backend(model: str, pretrained: str | None, device: str):
    import open_clip

    from bench.models import load_model

    backend = load_model(model, pretrained, device=device, seed=0, store=None)
    return backend, backend.model, open_clip.get_tokenizer(model) if hasattr(backend, "tokenizer") else None


def best_seconds(fn, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``fn`` after one warm-up call (kernel selection, caches): a shared
    machine's noise only ever slows a call down."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def median_seconds(fn, repeats: int):
    """The median wall seconds of ``repeats`` calls of ``fn`` (no warm-up call: the caller's), and the last call's
    result."""
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2], result


def jpeg_folder(root, n: int, n_classes: int = 4, seed: int = 0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        folder = root / f"class_{i % n_classes}"
        folder.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 255, size=(6, 8, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((400, 300), Image.BICUBIC)
        img.save(folder / f"{i:05d}.jpg", quality=90)
    return root


def photo_folder(root, n: int, size=(1600, 1200), seed: int = 0):
    """Full-size JPEGs (camera-like 1600x1200, smooth content plus noise, quality 90): decoding them costs
    what decoding photos costs."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        folder = root / f"class_{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        base = Image.fromarray(rng.integers(0, 255, size=(12, 16, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
        noisy = np.clip(np.asarray(base, dtype=np.int16) + rng.integers(-12, 12, size=(size[1], size[0], 3)), 0, 255)
        Image.fromarray(noisy.astype(np.uint8)).save(folder / f"{i:05d}.jpg", quality=90)
    return root


def raw_forward(backend, pixels, batch_size: int):
    """Seconds for the image encoder alone over pre-decoded pixels, and its features."""
    import torch

    with torch.inference_mode():
        t = time.perf_counter()
        out = [backend.encode_images(pixels[s:s + batch_size]) for s in range(0, len(pixels), batch_size)]
        return time.perf_counter() - t, torch.cat(out).float()


CLIP_BENCHMARK_MISSING = ("perf --section zeroshot times CLIP_benchmark as its reference, which is not installed: "
                          "pip install 'zsbench[perf]' (or clip-benchmark), or choose other --section values")


def clip_benchmark_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("clip_benchmark") is not None


def clip_benchmark_reference():
    """CLIP_benchmark's zero-shot functions (the optional ``perf`` extra), or one line saying how to get them."""
    if not clip_benchmark_available():
        raise UserError(CLIP_BENCHMARK_MISSING)
    from clip_benchmark.metrics.zeroshot_classification import run_classification, zero_shot_classifier

    return run_classification, zero_shot_classifier
