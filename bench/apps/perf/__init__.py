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

One module per section (``bench/apps/perf/<section>.py``), their shared helpers in ``common``.
"""
from __future__ import annotations

from typing import Any

from bench.apps.choices import PERF_SECTIONS
from bench.apps.perf.common import CLIP_BENCHMARK_MISSING, clip_benchmark_available
from bench.core.errors import UserError

SECTIONS = PERF_SECTIONS


def run_perf(sections: list[str] | None, model: str = "ViT-B-32", pretrained: str | None = "none", device: str = "cpu",
             classes: int = 100, n: int = 10000, dim: int = 512, text_classes: int = 25, images: int = 256,
             seed: int = 0, workers: int | None = None, memory_n: int = 100_000,
             memory_dim: int = 1024, tol: float = 1e-4, commands: list[str] | None = None,
             search_n: int = 1_000_000) -> dict[str, Any]:
    """Measure the chosen sections; every number comes from this run. ``sections`` None: all of them,
    less ``zeroshot`` when CLIP_benchmark (its reference) is not installed (said in ``skipped``)."""
    import torch

    from bench.apps.perf.data import data_section
    from bench.apps.perf.forward import forward_section
    from bench.apps.perf.images import images_section
    from bench.apps.perf.probe import probe_memory, probe_single_fit, probe_small_fresh, probe_sweep
    from bench.apps.perf.search import search_section
    from bench.apps.perf.startup import startup_section
    from bench.apps.perf.text import multilingual_section, text_section, transformers_text_section
    from bench.apps.perf.zeroshot import zeroshot_section

    skipped = []
    needs_cb = ("zeroshot", "multilingual")  # CLIP_benchmark as the reference; Babel-ImageNet's tables from it
    if sections is not None and set(needs_cb) & set(sections) and not clip_benchmark_available():
        raise UserError(CLIP_BENCHMARK_MISSING)  # said before any other section spends its minutes
    if sections is None:
        sections = [s for s in SECTIONS if s not in needs_cb or clip_benchmark_available()]
        skipped = [s for s in SECTIONS if s not in sections]

    out: dict[str, Any] = {"device": device, "torch_threads": torch.get_num_threads()}
    if "text" in sections:
        out["text"] = (transformers_text_section(model, device, text_classes) if model.startswith("transformers:")
                       else text_section(model, pretrained, device, text_classes))
    if "multilingual" in sections and not model.startswith("transformers:"):
        out["multilingual"] = multilingual_section(model, pretrained, device)
    if "images" in sections:
        out["images"] = images_section(model, pretrained, device, images, workers=workers)
    if "zeroshot" in sections:
        out["zeroshot"] = zeroshot_section(model, pretrained, device, images, workers=workers)
    elif "zeroshot" in skipped:
        out["skipped"] = {"zeroshot": CLIP_BENCHMARK_MISSING}
    if "probe" in sections:
        out["probe"] = probe_sweep(n=n, dim=dim, n_classes=classes, seed=seed, tol=tol)
        out["probe"]["single_fit"] = probe_single_fit(n=n, dim=dim, n_classes=classes, seed=seed, tol=tol)
        out["probe"]["small_fresh"] = probe_small_fresh()
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
