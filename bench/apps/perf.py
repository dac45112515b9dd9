"""``zsbench perf``: speed as ratios against a reference measured in the same run, same data.

Sections (each a ratio ours / reference, or reference / ours where "speedup"):
``text`` — the ImageNet prompt-ensemble classifier (first K classes x 80 templates) against
``open_clip.build_zero_shot_classifier`` on the same model and device; ``images`` — end-to-end
image throughput (decode, preprocess, forward, cache writes) against the raw forward pass on
pre-decoded tensors; ``zeroshot`` — a whole zero-shot evaluation, cold and warm (cache), against
CLIP_benchmark's ``zero_shot_classifier`` + ``run_classification`` on the same model and images,
in float32 like ours (its default autocast, bfloat16 on CPU, is timed too and reported apart:
it changes predictions);
``probe`` — the CLIP-paper C sweep of :class:`LogisticProbe` against scikit-learn's lbfgs;
``probe-memory`` — peak memory and time per iteration of a fit on features held in memory
against the same fit streamed from chunk files (each in a fresh process, so peaks don't mix);
``data`` — decoding + preprocessing images/s against the forward's, and three models of one
geometry on full-size JPEGs with and without the pixel cache (each model's data time);
``search`` — the latency of one query over a million synthetic 512-d features, exact (chunked,
memory-mapped) and with faiss when installed; ``startup`` — ``zsbench --help``, every command's
``--help`` and a fully cached run, each in a fresh process.
The forward's GFLOP/s is also given as a share of the CPU's estimated fp32 peak (cores x clock x
FLOPs per cycle from the vector units /proc/cpuinfo lists; ``ZSBENCH_PEAK_GFLOPS`` overrides).
FLOPs come from ``torch.utils.flop_counter`` on one forward, so achieved GFLOP/s says how far a
path is from the hardware's limit. Random-init weights time the same as trained ones.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.apps.choices import PERF_SECTIONS
from bench.core.errors import UserError
from bench.engine.linear_probe import LogisticProbe, paper_lambda_search, stratified_split


def synthetic_features(n: int, dim: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm clustered features (CLIP-like scale) with a realistic, imperfect separability."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, dim)) * 0.05
    y = rng.integers(0, n_classes, size=n)
    X = means[y] + rng.normal(size=(n, dim)) / np.sqrt(dim) * 6.0
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), y


def probe_sweep(n: int = 10000, dim: int = 512, n_classes: int = 100, seed: int = 0, tol: float = 1e-4,
                max_iter: int = 1000) -> dict[str, Any]:
    """Time the full C search (train/val split of n samples) for ours vs scikit-learn."""
    from sklearn.linear_model import LogisticRegression

    X, y = synthetic_features(n, dim, n_classes, seed)
    X_test, y_test = synthetic_features(n // 5, dim, n_classes, seed)  # same class means: seed fixes them
    tr, va = stratified_split(y, 0.2, seed)
    # one small untimed fit each first: thread pools, allocator and kernel selection warm up
    # outside the timings, for both sides alike
    LogisticProbe(C=1.0, tol=tol, max_iter=20).fit(X[:500], y[:500])
    LogisticRegression(C=1.0, tol=tol, max_iter=20).fit(X[:500], y[:500])

    t0 = time.perf_counter()
    ours = LogisticProbe(C=None, tol=tol, max_iter=max_iter, seed=seed)
    best_ours = ours.search_C(X[tr], y[tr], X[va], y[va])
    ours_s = time.perf_counter() - t0

    def sklearn_sweep(warm: bool) -> tuple[float, float]:
        clf = LogisticRegression(max_iter=max_iter, tol=tol, warm_start=warm)
        last = {}

        def evaluate(log_lam: float) -> float:
            if warm and last:  # start from the nearest finished fit, as ours does
                near = min(last, key=lambda v: abs(v - log_lam))
                clf.coef_, clf.intercept_ = last[near][0].copy(), last[near][1].copy()
            clf.set_params(C=10.0 ** (-log_lam))
            clf.fit(X[tr], y[tr])
            last[log_lam] = (clf.coef_.copy(), clf.intercept_.copy())
            return clf.score(X[va], y[va])

        t = time.perf_counter()
        best = paper_lambda_search(evaluate)
        return 10.0 ** (-best), time.perf_counter() - t

    best_cold, cold_s = sklearn_sweep(warm=False)
    best_warm, warm_s = sklearn_sweep(warm=True)
    ref = LogisticRegression(C=best_cold, max_iter=max_iter, tol=tol).fit(X[tr], y[tr]).score(X_test, y_test)
    mine = LogisticProbe(C=best_ours, tol=tol, max_iter=max_iter).fit(X[tr], y[tr]).score(X_test, y_test)
    return {
        "problem": {"n": n, "dim": dim, "classes": n_classes, "fits": len(ours.sweep_.Cs), "tol": tol},
        "ours_seconds": ours_s, "sklearn_cold_seconds": cold_s, "sklearn_warm_seconds": warm_s,
        "speedup_vs_sklearn_cold": cold_s / ours_s, "speedup_vs_sklearn_warm": warm_s / ours_s,
        "best_C": {"ours": best_ours, "sklearn": best_cold, "sklearn_warm": best_warm},
        "test_accuracy": {"ours": mine, "sklearn": ref},
    }


_MEMORY_CHILD = """
import json, resource, sys, time
import numpy as np
from pathlib import Path
from bench.engine.feature_chunks import FeatureChunks
from bench.engine.linear_probe import LogisticProbe
mode, folder, max_iter = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
def status(field):  # kB figures of /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
y = np.load(folder / "labels.npy")
try:  # reset the high-water mark, so imports' transients don't hide the fit's peak (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    peak = lambda: status("VmHWM")
except OSError:
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = status("VmRSS")
X = FeatureChunks(sorted(folder.glob("chunk*.features.npy")))
t = time.perf_counter()
if mode == "memory":
    X = X.to_array()
probe = LogisticProbe(C=1.0, max_iter=max_iter).fit(X, y)
print(json.dumps({"peak_bytes": peak() - base, "seconds": time.perf_counter() - t, "iterations": probe.n_iter_,
                  "coef_sum": float(np.abs(probe.coef_).sum())}))
"""


def probe_memory(n: int = 100_000, dim: int = 1024, n_classes: int = 100, max_iter: int = 5,
                 seed: int = 0) -> dict[str, Any]:
    """Peak memory above the interpreter's baseline of one fit, in memory vs streamed, on the same
    synthetic chunk files (1024 rows each, the feature cache's layout); extrapolated to ImageNet."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import bench

    with tempfile.TemporaryDirectory(prefix="zsbench-probe-memory-") as tmp:
        folder = Path(tmp)
        rng = np.random.default_rng(seed)
        means = rng.normal(size=(n_classes, dim)).astype(np.float32) * 0.3
        y = rng.integers(0, n_classes, size=n)
        np.save(folder / "labels.npy", y)
        for i, start in enumerate(range(0, n, 1024)):
            block = means[y[start:start + 1024]] + rng.normal(size=(len(y[start:start + 1024]), dim)).astype(np.float32)
            np.save(folder / f"chunk{i:05d}.features.npy", block)
        root = str(Path(bench.__file__).resolve().parents[1])
        runs = {}
        for mode in ("memory", "stream"):
            done = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, mode, str(folder), str(max_iter)],
                                  capture_output=True, text=True, cwd=root, check=True)
            runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    data = n * dim * 4
    mem, stream = runs["memory"], runs["stream"]
    imagenet = 1_281_167 * 1024 * 4
    return {
        "problem": {"n": n, "dim": dim, "classes": n_classes, "iterations": max_iter, "feature_bytes": data},
        "in_memory": mem, "streamed": stream,
        "in_memory_copies_of_features": mem["peak_bytes"] / data,
        "seconds_ratio_streamed_vs_memory": stream["seconds"] / mem["seconds"],
        "same_fit": abs(mem["coef_sum"] - stream["coef_sum"]) <= 1e-6 * max(1.0, mem["coef_sum"]),
        "imagenet_estimate_bytes": {"in_memory": mem["peak_bytes"] / data * imagenet, "streamed": stream["peak_bytes"]},
    }


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


def _flops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def _load(model: str, pretrained: str | None, device: str):
    import open_clip

    from bench.models import load_model

    backend = load_model(model, pretrained, device=device, seed=0, store=None)
    return backend, backend.model, open_clip.get_tokenizer(model) if hasattr(backend, "tokenizer") else None


def text_section(model: str, pretrained: str | None, device: str, n_classes: int = 25) -> dict[str, Any]:
    import open_clip
    import torch

    from prompts import build_classifier, get_classnames, get_templates
    from prompts.ensemble import class_prompts
    from prompts.text_tower import truncatable_tower

    backend, m, tok = _load(model, pretrained, device)
    names = get_classnames("imagenet")[:n_classes]
    templates = get_templates("openai_imagenet")
    with torch.inference_mode():
        t = time.perf_counter()
        ours = build_classifier(m, tok, names, templates, device=device)
        ours_s = time.perf_counter() - t
        t = time.perf_counter()
        ref = open_clip.build_zero_shot_classifier(m, tok, names, templates, num_classes_per_batch=10, device=device)
        ref_s = time.perf_counter() - t
        texts, _ = class_prompts(names, templates)
        tokens = tok(texts)
        ends = tokens.argmax(-1)
        one = tokens[:1].to(device)
        full = _flops(lambda: m.encode_text(one))
        per_token = full / tokens.shape[1]
        done = per_token * float(len(texts)) * float(ends.float().mean() + 1)  # lower bound: mean real length
    return {"model": model, "classes": n_classes, "prompts": len(texts), "ours_seconds": ours_s,
            "open_clip_seconds": ref_s, "speedup": ref_s / ours_s,
            "max_abs_diff": float((ours - ref.float().cpu()).abs().max()),
            "truncated_path": truncatable_tower(m) is not None,
            "mean_tokens": float(ends.float().mean() + 1), "context_length": int(tokens.shape[1]),
            "gflops_per_prompt_full": full / 1e9,
            "open_clip_gflops_per_s": full * len(texts) / ref_s / 1e9,
            "ours_useful_gflops_per_s": done / ours_s / 1e9,
            "imagenet_estimate_seconds": {"ours": ours_s * 1000 / n_classes, "open_clip": ref_s * 1000 / n_classes}}


def transformers_text_section(model: str, device: str, n_classes: int = 25) -> dict[str, Any]:
    """The prompt-ensemble classifier of a transformers model: zsbench's path (prompts deduplicated,
    sorted by length, padded only to each batch's longest) against the plain loop a user writes
    (per class: tokenize its prompts as the pipeline does, ``get_text_features``, normalise, mean,
    renormalise), in the same run on the same model."""
    import torch
    import torch.nn.functional as F

    from bench.models import load_model
    from bench.models.hf_transformers import pooled_features
    from prompts import build_classifier, get_classnames, get_templates
    from prompts.classnames import synonyms
    from prompts.ensemble import class_prompts
    from prompts.templates import fill

    backend = load_model(model, None, device=device, store=None)
    names = get_classnames("imagenet")[:n_classes]
    templates = get_templates("openai_imagenet")
    with torch.inference_mode():
        backend.encode_texts(["warm up"])
        t = time.perf_counter()
        ours = build_classifier(backend, None, names, templates, batch_size=backend.text_batch_size, device=device)
        ours_s = time.perf_counter() - t
        t = time.perf_counter()
        columns = []
        for name in names:
            batch = backend.tokenizer([fill(tp, s) for s in synonyms(name) for tp in templates], return_tensors="pt",
                                      **backend.tokenizer_kwargs).to(device)
            emb = F.normalize(pooled_features(backend.model.get_text_features(**batch)).float(), dim=-1)
            columns.append(F.normalize(emb.mean(dim=0), dim=-1))
        ref = torch.stack(columns, dim=1).cpu()
        ref_s = time.perf_counter() - t
    texts, _ = class_prompts(names, templates)
    lengths = [len(ids) for ids in backend.tokenizer(texts)["input_ids"]]
    causal = backend.model_type in ("clip",)
    return {"model": model, "classes": n_classes, "prompts": len(texts), "ours_seconds": ours_s,
            "reference": "plain get_text_features loop", "reference_seconds": ref_s, "speedup": ref_s / ours_s,
            "max_abs_diff": float((ours - ref).abs().max()), "truncated_path": causal,
            "padding": backend.tokenizer_kwargs, "mean_tokens": float(np.mean(lengths)),
            "context_length": backend.context_length}


def _jpeg_folder(root, n: int, n_classes: int = 4, seed: int = 0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        folder = root / f"class_{i % n_classes}"
        folder.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 255, size=(6, 8, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((400, 300), Image.BICUBIC)
        img.save(folder / f"{i:05d}.jpg", quality=90)
    return root


def images_section(model: str, pretrained: str | None, device: str, n: int = 256, batch_size: int = 64,
                   workers: int | None = None) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    import torch

    from bench.engine.features import extract_features
    from tasks.sources import ImageFolderSource

    backend, m, _ = _load(model, pretrained, device)
    with tempfile.TemporaryDirectory() as tmp:
        source = ImageFolderSource(_jpeg_folder(Path(tmp) / "imgs", n))
        extract_features(backend, source, "warmup", np.arange(min(n, batch_size)), store=None, batch_size=batch_size,
                         num_workers=0, progress=False)
        t = time.perf_counter()
        feats = extract_features(backend, source, "all", store=None, batch_size=batch_size, num_workers=workers,
                                 progress=False)
        e2e_s = time.perf_counter() - t
        pixels = torch.stack([backend.preprocess(source.load(i)) for i in range(n)])
    raw_s, reference = _raw_forward(backend, pixels, batch_size)
    with torch.inference_mode():
        flops = _flops(lambda: backend.encode_images(pixels[:1]))
    variants = _encoder_variants(model, pretrained, device, backend, pixels, batch_size, raw_s, reference)
    peak, basis = peak_gflops(device)
    achieved = flops * n / raw_s / 1e9
    return {"model": model, "images": n, "batch_size": batch_size, "end_to_end_images_per_s": n / e2e_s,
            "raw_forward_images_per_s": n / raw_s, "ratio_end_to_end_vs_raw": (n / e2e_s) / (n / raw_s),
            "gflops_per_image": flops / 1e9, "achieved_gflops_per_s": achieved,
            "peak_gflops_per_s": peak, "peak_basis": basis, "share_of_peak": achieved / peak if peak else None,
            "feature_dim": int(feats.features.shape[1]), "variants": variants}


def _raw_forward(backend, pixels, batch_size: int):
    """Seconds for the image encoder alone over pre-decoded pixels, and its features."""
    import torch

    with torch.inference_mode():
        t = time.perf_counter()
        out = [backend.encode_images(pixels[s:s + batch_size]) for s in range(0, len(pixels), batch_size)]
        return time.perf_counter() - t, torch.cat(out).float()


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
        _raw_forward(variant, pixels[:batch_size], batch_size)  # warm-up (kernel selection)
        secs, feats = _raw_forward(variant, pixels, batch_size)
        pred = (torch.nn.functional.normalize(feats, dim=-1) @ text.T).argmax(1)
        agreement = float((pred == ref_pred).float().mean())
        out[label] = {"images_per_s": len(pixels) / secs, "speedup_vs_fp32": fp32_s / secs,
                      "prediction_agreement": agreement, "max_top1_change_points": 100 * (1 - agreement),
                      "min_cosine_vs_fp32": float(torch.nn.functional.cosine_similarity(feats, fp32_feats).min()),
                      "same_top1_within_0.1": agreement >= 0.999}
        del variant
    return out


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
        folder = _jpeg_folder(Path(tmp) / "imgs", n)
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


def _photo_folder(root, n: int, size=(1600, 1200), seed: int = 0):
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
        source = ImageFolderSource(_photo_folder(Path(tmp) / "photos", n))
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
        _raw_forward(backends[0], pixels[:batch_size], batch_size)
        forward_s, _ = _raw_forward(backends[0], pixels, batch_size)
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


def startup_section(commands: list[str], repeats: int = 3) -> dict[str, Any]:
    """Wall seconds of ``zsbench --help``, each command's ``--help`` and a fully cached run (a random-init
    ViT-S-32 checkpoint on a small generated folder, run once first to fill the caches), each in a fresh
    process; the median of ``repeats``."""
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    cli = Path(__file__).resolve().parents[2] / "cli.py"

    def timed(args, env) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            done = subprocess.run([sys.executable, str(cli), *args], capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - t)
            if done.returncode != 0:
                raise RuntimeError(f"zsbench {' '.join(args)} failed: {done.stderr.strip()[-300:]}")
        return sorted(times)[len(times) // 2]

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ZSBENCH_CACHE": str(Path(tmp) / "cache"), "HF_HUB_OFFLINE": "1"}
        out["help"] = timed(["--help"], env)
        out["command_help"] = {name: timed([name, "--help"], env) for name in commands}
        import torch
        import open_clip

        ckpt = Path(tmp) / "vit_s32.pt"
        torch.manual_seed(0)
        torch.save(open_clip.create_model("ViT-S-32", pretrained=None).state_dict(), ckpt)
        folder = _jpeg_folder(Path(tmp) / "imgs", 32)
        run = ["run", "--model", "ViT-S-32", "--pretrained", str(ckpt), "--task", str(folder), "--templates", "single",
               "--out", str(Path(tmp) / "results"), "--quiet", "--no-save"]
        timed(run[:], env)  # fills the feature and classifier caches
        out["cached_run"] = timed(run, env)
    out["slowest_help"] = max(out["command_help"].values())
    return out


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
        backend, m, _ = _load(model, "none", device)
    fast, _, _ = _load(model, "none", device)  # zsbench's default forward on this device
    torch.manual_seed(0)
    x = torch.randn(n, 3, *backend.preprocess.transforms[1].size if hasattr(backend.preprocess, "transforms") and
                    hasattr(backend.preprocess.transforms[1], "size") else (224, 224))
    with torch.inference_mode():
        flops = _flops(lambda: backend.encode_images(x[:1]))
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


SECTIONS = PERF_SECTIONS


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


def run_perf(sections: list[str] | None, model: str = "ViT-B-32", pretrained: str | None = "none", device: str = "cpu",
             classes: int = 100, n: int = 10000, dim: int = 512, text_classes: int = 25, images: int = 256,
             seed: int = 0, workers: int | None = None, memory_n: int = 100_000,
             memory_dim: int = 1024, tol: float = 1e-4, commands: list[str] | None = None,
             search_n: int = 1_000_000) -> dict[str, Any]:
    """Measure the chosen sections; every number comes from this run. ``sections`` None: all of them,
    less ``zeroshot`` when CLIP_benchmark (its reference) is not installed (said in ``skipped``)."""
    import torch

    skipped = []
    if sections is None:
        sections = [s for s in SECTIONS if s != "zeroshot" or clip_benchmark_available()]
        skipped = [s for s in SECTIONS if s not in sections]

    out: dict[str, Any] = {"device": device, "torch_threads": torch.get_num_threads()}
    if "text" in sections:
        out["text"] = (transformers_text_section(model, device, text_classes) if model.startswith("transformers:")
                       else text_section(model, pretrained, device, text_classes))
    if "images" in sections:
        out["images"] = images_section(model, pretrained, device, images, workers=workers)
    if "zeroshot" in sections:
        out["zeroshot"] = zeroshot_section(model, pretrained, device, images, workers=workers)
    elif "zeroshot" in skipped:
        out["skipped"] = {"zeroshot": CLIP_BENCHMARK_MISSING}
    if "probe" in sections:
        out["probe"] = probe_sweep(n=n, dim=dim, n_classes=classes, seed=seed, tol=tol)
    if "probe-memory" in sections:
        out["probe_memory"] = probe_memory(n=memory_n, dim=memory_dim, n_classes=classes, seed=seed)
    if "data" in sections:
        out["data"] = data_section(model, device, images if images != 256 else 128, workers=workers)
    if "search" in sections:
        out["search"] = search_section(n=search_n, seed=seed)
    if "startup" in sections:
        out["startup"] = startup_section(commands or [])
    if "forward" in sections:
        out["forward"] = forward_section(model, device)
    return out
