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
        backend.encode_texts(["warm up"])
        t = time.perf_counter()  # zsbench's own path: the backend's text encoder (truncated, oneDNN on the CPU)
        ours = build_classifier(backend, None, names, templates, batch_size=backend.text_batch_size)
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


#: ten Babel-ImageNet languages of several scripts and resource levels (``perf --section multilingual``)
PERF_LANGUAGES = ("de", "fr", "es", "ru", "zh", "ja", "ar", "hi", "sw", "el")


def multilingual_section(model: str, pretrained: str | None, device: str, n_classes: int = 5) -> dict[str, Any]:
    """Ten languages of one model, as a multilingual run builds them: each language's classifier (its first
    ``n_classes`` Babel-ImageNet classes x its 80 NLLB templates) by zsbench's ensemble against open_clip's
    ``build_zero_shot_classifier`` language by language, in the same run on the same model; and how many images
    the ten languages' test sets need against how many distinct images zsbench forwards (every language reads the
    same ImageNet validation images: each image's features are computed once and shared)."""
    import open_clip
    import torch

    from prompts import build_classifier
    from prompts.languages import language_classes

    backend, m, tok = load_backend(model, pretrained, device)
    backend.encode_texts(["warm up"])
    tables = [language_classes("babel_imagenet", lang, "babel_imagenet") for lang in PERF_LANGUAGES]
    ours_s = ref_s = 0.0
    prompts, context = 0, 77
    worst = 0.0
    lengths: list[float] = []  # each language's mean prompt length in tokens (CLIP's BPE: long for other scripts)
    with torch.inference_mode():
        for table in tables:
            names, templates = list(table.names[:n_classes]), list(table.templates)
            t = time.perf_counter()
            ours = build_classifier(backend, None, names, templates, batch_size=backend.text_batch_size)
            ours_s += time.perf_counter() - t
            t = time.perf_counter()
            ref = open_clip.build_zero_shot_classifier(m, tok, names, templates, num_classes_per_batch=10,
                                                       device=device)
            ref_s += time.perf_counter() - t
            prompts += len(names) * len(templates)
            worst = max(worst, float((ours - ref.float().cpu()).abs().max()))
            tokens = tok([tp.replace("{}", n) for n in names for tp in templates])
            lengths.append(float((tokens.argmax(-1) + 1).float().mean()))
            context = int(tokens.shape[1])
    per_language = sum(50 * len(t.classes) for t in tables)  # ImageNet's 50 validation images per class
    distinct = 50 * len(set().union(*(t.classes for t in tables)))
    return {"model": model, "languages": list(PERF_LANGUAGES), "classes_per_language": n_classes, "prompts": prompts,
            "ours_seconds": ours_s, "open_clip_seconds": ref_s, "ours_prompts_per_s": prompts / ours_s,
            "open_clip_prompts_per_s": prompts / ref_s, "speedup": ref_s / ours_s, "max_abs_diff": worst,
            "images_per_language_sum": per_language, "images_forwarded": distinct,
            "mean_tokens": dict(zip(PERF_LANGUAGES, lengths)),
            # what cutting each batch to its longest prompt can save at most: the context over the mean length
            "truncation_bound": context * len(lengths) / sum(lengths)}
