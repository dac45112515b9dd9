"""``text``: the prompt-ensemble classifier against open_clip's ``build_zero_shot_classifier``."""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.apps.perf.common import count_flops, load_backend


def text_section(model: str, pretrained: str | None, device: str, n_classes: int = 25) -> dict[str, Any]:
    import open_clip
    import torch

    from prompts import build_classifier, get_classnames, get_templates
    from prompts.ensemble import class_prompts
    from prompts.text_tower import truncatable_tower

    backend, m, tok = load_backend(model, pretrained, device)
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
        full = count_flops(lambda: m.encode_text(one))
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
