"""``images``: end-to-end image throughput against the raw forward on pre-decoded tensors."""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.apps.perf.common import count_flops, jpeg_folder, load_backend, peak_gflops, raw_forward


def images_section(model: str, pretrained: str | None, device: str, n: int = 256, batch_size: int = 64,
                   workers: int | None = None) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    import torch

    from bench.engine.features import extract_features
    from tasks.sources import ImageFolderSource

    backend, m, _ = load_backend(model, pretrained, device)
    with tempfile.TemporaryDirectory() as tmp:
        source = ImageFolderSource(jpeg_folder(Path(tmp) / "imgs", n))
        extract_features(backend, source, "warmup", np.arange(min(n, batch_size)), store=None, batch_size=batch_size,
                         num_workers=0, progress=False)
        t = time.perf_counter()
        feats = extract_features(backend, source, "all", store=None, batch_size=batch_size, num_workers=workers,
                                 progress=False)
        e2e_s = time.perf_counter() - t
        pixels = torch.stack([backend.preprocess(source.load(i)) for i in range(n)])
    raw_s, reference = raw_forward(backend, pixels, batch_size)
    with torch.inference_mode():
        flops = count_flops(lambda: backend.encode_images(pixels[:1]))
    variants = _encoder_variants(model, pretrained, device, backend, pixels, batch_size, raw_s, reference)
    peak, basis = peak_gflops(device)
    achieved = flops * n / raw_s / 1e9
    return {"model": model, "images": n, "batch_size": batch_size, "end_to_end_images_per_s": n / e2e_s,
            "raw_forward_images_per_s": n / raw_s, "ratio_end_to_end_vs_raw": (n / e2e_s) / (n / raw_s),
            "gflops_per_image": flops / 1e9, "achieved_gflops_per_s": achieved,
            "peak_gflops_per_s": peak, "peak_basis": basis, "share_of_peak": achieved / peak if peak else None,
            "feature_dim": int(feats.features.shape[1]), "variants": variants}


def _encoder_variants(model, pretrained, device, backend, pixels, batch_size: int, fp32_s: float,
                      fp32_feats) -> dict[str, Any]:
    """bf16 autocast and channels-last against float32 on the same pixels: speed, and how many
    zero-shot predictions change (over 100 ImageNet classes, one template). The top-1 of any
    labelling can move by at most the share of changed predictions, so ``agreement`` >= 0.999
    is the "same top-1 within 0.1 point" criterion."""
    import torch

    from bench.models import load_model
    from prompts import get_classnames

    names = get_classnames("imagenet")[:100]
    with torch.inference_mode():
        text = torch.nn.functional.normalize(backend.encode_texts([f"a photo of a {c}." for c in names]).float(), dim=-1)
    ref_pred = (torch.nn.functional.normalize(fp32_feats, dim=-1) @ text.T).argmax(1)
    options = {"channels_last": {"channels_last": True}}
    if device.startswith("cuda"):
        options["fp16"] = {"precision": "fp16"}
    if not device.startswith("cuda") or torch.cuda.is_bf16_supported():
        options["bf16"] = {"precision": "bf16"}
    out = {}
    for label, kwargs in options.items():
        variant = load_model(model, pretrained, device=device, seed=0, store=None, **kwargs)
        raw_forward(variant, pixels[:batch_size], batch_size)  # warm-up (kernel selection)
        secs, feats = raw_forward(variant, pixels, batch_size)
        pred = (torch.nn.functional.normalize(feats, dim=-1) @ text.T).argmax(1)
        agreement = float((pred == ref_pred).float().mean())
        out[label] = {"images_per_s": len(pixels) / secs, "speedup_vs_fp32": fp32_s / secs,
                      "prediction_agreement": agreement, "max_top1_change_points": 100 * (1 - agreement),
                      "min_cosine_vs_fp32": float(torch.nn.functional.cosine_similarity(feats, fp32_feats).min()),
                      "same_top1_within_0.1": agreement >= 0.999}
        del variant
    return out
