"""``data``: decoding and preprocessing against the forward; the pixel cache over three models."""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.apps.perf.common import photo_folder, raw_forward


def data_section(model: str, device: str, n: int = 128, batch_size: int = 64, workers: int | None = None,
                 n_models: int = 3) -> dict[str, Any]:
    """Decoding against the forward, and ``n_models`` random-init models of one geometry on full-size JPEGs
    with the pixel cache off and on: each model's data time (extraction less forward), and whether the
    features are identical."""
    import tempfile
    from pathlib import Path

    import torch

    from bench.core.store import Store
    from bench.engine.features import extract_features
    from bench.engine.pixel_cache import PixelCache, split_preprocess
    from bench.models import load_model
    from tasks.sources import ImageFolderSource
    from tasks.sources.base import PreprocessedDataset

    backends = [load_model(model, "none", device=device, seed=s, store=None) for s in range(n_models)]
    with tempfile.TemporaryDirectory() as tmp:
        source = ImageFolderSource(photo_folder(Path(tmp) / "photos", n))
        # decoding + preprocessing alone (the DataLoader the extractor uses, no forward)
        loader = torch.utils.data.DataLoader(PreprocessedDataset(source, np.arange(n), backends[0].preprocess),
                                             batch_size=batch_size, num_workers=workers or 0)
        t = time.perf_counter()
        pixels = torch.cat([p for p, _, _ in loader])
        decode_s = time.perf_counter() - t
        # the same on the device (--decode tensor): torchvision.io, resize and crop on uint8 tensors
        from bench.engine.tensor_decode import tensor_batches, tensor_geometry

        split_at = split_preprocess(backends[0].preprocess)
        t = time.perf_counter()
        for _ in tensor_batches(source, np.arange(n), split_at, tensor_geometry(split_at), backends[0].device,
                                batch_size, workers or 0):
            pass
        tensor_decode_s = time.perf_counter() - t
        raw_forward(backends[0], pixels[:batch_size], batch_size)
        forward_s, _ = raw_forward(backends[0], pixels, batch_size)
        runs: dict[str, list[dict[str, Any]]] = {}
        feats: dict[str, list] = {}
        for mode in ("off", "on"):
            store = Store(Path(tmp) / f"cache-{mode}")
            pixel_cache = PixelCache(store) if mode == "on" else None
            runs[mode], feats[mode] = [], []
            for b in backends:
                t = time.perf_counter()
                out = extract_features(b, source, "all", store=store, batch_size=batch_size, num_workers=workers,
                                       progress=False, pixels=pixel_cache)
                total = time.perf_counter() - t
                runs[mode].append({"seconds": total, "forward_seconds": out.info["forward_seconds"],
                                   "data_seconds": total - out.info["forward_seconds"]})
                feats[mode].append(out.features)
    off, on = runs["off"], runs["on"]
    return {"model": model, "images": n, "image_size": "1600x1200 JPEG", "batch_size": batch_size,
            "decode_preprocess_images_per_s": n / decode_s, "forward_images_per_s": n / forward_s,
            "decode_vs_forward": (n / decode_s) / (n / forward_s), "tensor_decode_images_per_s": n / tensor_decode_s,
            "tensor_decode_device": str(backends[0].device), "models": n_models,
            "without_cache": off, "with_cache": on,
            "total_speedup": sum(r["seconds"] for r in off) / sum(r["seconds"] for r in on),
            "later_models_data_share": [r["data_seconds"] / on[0]["data_seconds"] for r in on[1:]],
            "identical_features": all(np.array_equal(a, b) for a, b in zip(feats["off"], feats["on"]))}
