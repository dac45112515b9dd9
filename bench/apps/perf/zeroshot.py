"""``zeroshot``: a whole zero-shot evaluation, cold and warm, against CLIP_benchmark's functions."""
from __future__ import annotations

import time
from typing import Any

from bench.apps.perf.common import clip_benchmark_reference, jpeg_folder


def zeroshot_section(model: str, pretrained: str | None, device: str, n: int = 256, batch_size: int = 64,
                     workers: int | None = None) -> dict[str, Any]:
    """A whole zero-shot evaluation of ``n`` generated images: zsbench cold (empty cache), warm, and cold under
    ``--profile clip_benchmark``, against CLIP_benchmark's own functions in fp32 and under its default autocast,
    each broken down into model load, text, the image tower's forward and the rest (decoding and all else).
    Every path first runs once untimed on one batch of images, so kernel set-up (oneDNN primitives, bf16 code)
    is paid outside the timings by both sides alike."""
    import tempfile
    from pathlib import Path

    from prompts import get_templates

    templates = get_templates("cifar10")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "t.txt").write_text("\n".join(templates))
        warm_up = jpeg_folder(Path(tmp) / "warm-up", batch_size)
        folder = jpeg_folder(Path(tmp) / "imgs", n)
        ours = _Ours(model, pretrained, device, batch_size, workers, Path(tmp))
        theirs = _Theirs(model, pretrained, device, batch_size, workers, templates)
        for profile in ("clip", "clip_benchmark"):
            ours.run(warm_up, profile, "warm-up")
        for amp in (False, True):
            theirs.run(warm_up, amp)
        cold, cold_s = ours.run(folder, "clip", "cold")
        warm, warm_s = ours.run(folder, "clip", "cold")  # the same cache: now warm
        profiled, profiled_s = ours.run(folder, "clip_benchmark", "profile")
        (ref_s, ref_top1, ref_parts), (amp_s, amp_top1, amp_parts) = theirs.run(folder, False), theirs.run(folder, True)
    return {"model": model, "images": n, "templates": len(templates), "ours_cold_seconds": cold_s,
            "ours_clip_benchmark_profile_seconds": profiled_s, "speedup_profile_vs_amp": amp_s / profiled_s,
            "breakdown": {"ours": _ours_parts(cold, cold_s), "ours_clip_benchmark_profile": _ours_parts(profiled, profiled_s),
                          "clip_benchmark": ref_parts, "clip_benchmark_amp": amp_parts},
            "ours_warm_seconds": warm_s, "clip_benchmark_seconds": ref_s, "speedup_cold": ref_s / cold_s,
            "speedup_warm": ref_s / warm_s, "repeat_speedup": cold_s / warm_s,
            "clip_benchmark_amp_seconds": amp_s, "speedup_cold_vs_amp": amp_s / cold_s,
            "top1": {"ours": cold.metrics["top1"], "ours_warm": warm.metrics["top1"], "clip_benchmark": ref_top1,
                     "clip_benchmark_amp": amp_top1}}


class _Ours:
    """zsbench runs of the section, each with its own cache folder (``cache``: a fresh one, then reused)."""

    def __init__(self, model, pretrained, device, batch_size, workers, tmp):
        self.model, self.pretrained, self.device, self.batch_size, self.workers, self.tmp = \
            model, pretrained, device, batch_size, workers, tmp

    def run(self, folder, profile: str, cache: str):
        from bench.engine.runner import RunConfig, run

        config = RunConfig(models=[(self.model, self.pretrained)], tasks=[str(folder)],
                           templates=[str(self.tmp / "t.txt")], device=self.device, batch_size=self.batch_size,
                           num_workers=self.workers, progress=False, no_save=True, profile=profile,
                           cache_dir=self.tmp / f"cache-{cache}-{profile}")
        t = time.perf_counter()
        record = run(config)[0]
        return record, time.perf_counter() - t


class _Theirs:
    """CLIP_benchmark's ``zero_shot_classifier`` and ``run_classification`` on open_clip's own eager model (the
    same weights as ours), timed in parts: model load, text, the image tower's forward, the rest."""

    def __init__(self, model, pretrained, device, batch_size, workers, templates):
        self.model, self.pretrained, self.device = model, pretrained, device
        self.batch_size, self.workers, self.templates = batch_size, workers, templates

    def run(self, folder, amp: bool):
        import open_clip
        import torch
        import torchvision

        from bench.engine.features import default_workers
        from bench.models.openclip import quiet_open_clip

        run_classification, zero_shot_classifier = clip_benchmark_reference()
        t = time.perf_counter()
        with quiet_open_clip():
            m, _, preprocess = open_clip.create_model_and_transforms(
                self.model, pretrained=None if self.pretrained in (None, "none") else self.pretrained)
        if self.pretrained in (None, "none"):  # the same weights as ours (zsbench seeds random init with 0), in
            from bench.models import load_model  # open_clip's own eager modules: CLIP_benchmark runs those

            m.load_state_dict(load_model(self.model, self.pretrained, device=self.device, seed=0,
                                         store=None).model.state_dict())
        m.eval()
        tok = open_clip.get_tokenizer(self.model)
        forward = _timed_method(m, "encode_image")
        ds = torchvision.datasets.ImageFolder(str(folder), transform=preprocess)
        loader = torch.utils.data.DataLoader(ds, batch_size=self.batch_size,
                                             num_workers=default_workers() if self.workers is None else self.workers)
        classnames = [c.replace("_", " ") for c in ds.classes]
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        classifier = zero_shot_classifier(m, tok, classnames, [x.replace("{}", "{c}") for x in self.templates],
                                          self.device, amp=amp)
        text_s = time.perf_counter() - t
        logits, target = run_classification(m, classifier, loader, self.device, amp=amp)
        images_s = time.perf_counter() - t - text_s
        parts = {"model_load": load_s, "text": text_s, "forward": forward["seconds"],
                 "decode_and_rest": images_s - forward["seconds"]}
        return load_s + text_s + images_s, float((logits.argmax(1) == target).float().mean()), parts


def _timed_method(obj: Any, name: str) -> dict:
    """Wrap ``obj.name`` to add its wall seconds to the returned dict's ``seconds``."""
    timer = {"seconds": 0.0}
    inner = getattr(obj, name)

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            timer["seconds"] += time.perf_counter() - t

    setattr(obj, name, timed)
    return timer


def _ours_parts(record: Any, total: float) -> dict[str, float]:
    """A zsbench run's wall seconds split as CLIP_benchmark's are: model load, text (the classifier), the image
    tower's forward, and the rest (decoding, preprocessing, the cache, scoring, planning)."""
    t = record.timings
    forward = float(t.get("image_forward") or 0.0)
    parts = {"model_load": float(t.get("model_load") or 0.0), "text": float(t.get("classifier") or 0.0),
             "forward": forward}
    parts["decode_and_rest"] = total - sum(parts.values())
    return parts
