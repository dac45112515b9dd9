"""``zeroshot``: a whole zero-shot evaluation, cold and warm, against CLIP_benchmark's functions."""
from __future__ import annotations

import time
from typing import Any

from bench.apps.perf.common import clip_benchmark_reference, jpeg_folder


def zeroshot_section(model: str, pretrained: str | None, device: str, n: int = 256, batch_size: int = 64,
                     workers: int | None = None) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    import open_clip
    import torch

    run_classification, zero_shot_classifier = clip_benchmark_reference()

    from bench.engine.features import default_workers
    from bench.models.openclip import quiet_open_clip
    from bench.engine.runner import RunConfig, run
    from prompts import get_templates

    templates = get_templates("cifar10")
    with tempfile.TemporaryDirectory() as tmp:
        folder = jpeg_folder(Path(tmp) / "imgs", n)
        config = RunConfig(models=[(model, pretrained)], tasks=[str(folder)], templates=[str(Path(tmp) / "t.txt")],
                           device=device, batch_size=batch_size, num_workers=workers, progress=False, no_save=True,
                           cache_dir=Path(tmp) / "cache")
        (Path(tmp) / "t.txt").write_text("\n".join(templates))
        t = time.perf_counter()
        cold = run(config)[0]
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        warm = run(config)[0]
        warm_s = time.perf_counter() - t

        t = time.perf_counter()
        with quiet_open_clip():
            m, _, preprocess = open_clip.create_model_and_transforms(
                model, pretrained=None if pretrained in (None, "none") else pretrained)
        if pretrained in (None, "none"):  # the same weights as ours: zsbench seeds random init with 0
            from bench.models import load_model

            m = load_model(model, pretrained, device=device, seed=0, store=None).model
        tok = open_clip.get_tokenizer(model)
        import torchvision

        ds = torchvision.datasets.ImageFolder(str(folder), transform=preprocess)
        loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=default_workers() if workers is None else workers)
        classnames = [c.replace("_", " ") for c in ds.classes]
        build_s = time.perf_counter() - t
        reference = {}
        for amp in (False, True):  # fp32 (our precision), then CLIP_benchmark's default bf16/fp16 autocast
            t = time.perf_counter()
            classifier = zero_shot_classifier(m, tok, classnames, [x.replace("{}", "{c}") for x in templates], device,
                                              amp=amp)
            logits, target = run_classification(m, classifier, loader, device, amp=amp)
            reference[amp] = (build_s + time.perf_counter() - t, float((logits.argmax(1) == target).float().mean()))
    ref_s, ref_top1 = reference[False]
    amp_s, amp_top1 = reference[True]
    return {"model": model, "images": n, "templates": len(templates), "ours_cold_seconds": cold_s,
            "ours_warm_seconds": warm_s, "clip_benchmark_seconds": ref_s, "speedup_cold": ref_s / cold_s,
            "speedup_warm": ref_s / warm_s, "repeat_speedup": cold_s / warm_s,
            "clip_benchmark_amp_seconds": amp_s, "speedup_cold_vs_amp": amp_s / cold_s,
            "top1": {"ours": cold.metrics["top1"], "ours_warm": warm.metrics["top1"], "clip_benchmark": ref_top1,
                     "clip_benchmark_amp": amp_top1}}
