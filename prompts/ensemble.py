"""CLIP's prompt ensemble: the zero-shot classifier as one matrix.

Exactly as the CLIP paper and notebook: embed each (template, class) prompt, L2-normalize each
embedding, average over a class's prompts, L2-normalize the mean. The result is
``[embed_dim, n_classes]`` so that ``logits = normalized_image_features @ classifier``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from prompts.classnames import ClassName, synonyms, validate_classnames
from prompts.templates import ClassPrompts, fill, validate_templates

#: encoder outputs in these types (under autocast) are normalised and averaged in their own type
REDUCED = (torch.bfloat16, torch.float16)


def normalized(emb: torch.Tensor) -> torch.Tensor:
    """Text embeddings L2-normalised: in their autocast type when the encoder ran under one (as
    CLIP_benchmark normalises them), else in float32."""
    return F.normalize(emb if emb.dtype in REDUCED else emb.float(), dim=-1)


def class_prompts(classnames: Sequence[ClassName], templates: Sequence[str]) -> tuple[list[str], list[int]]:
    """All prompt texts, class-major (class 0's templates first), and the class of each. ``templates`` may be
    :class:`ClassPrompts` (each class its own prompts, in label order, as many as it has)."""
    texts, owners = [], []
    if isinstance(templates, ClassPrompts):
        if len(templates) != len(classnames):
            raise ValueError(f"{len(templates)} classes of prompts for {len(classnames)} class names")
        for ci, prompts in enumerate(templates):
            texts += prompts
            owners += [ci] * len(prompts)
        return texts, owners
    for ci, name in enumerate(classnames):
        for syn in synonyms(name):
            for t in templates:
                texts.append(fill(t, syn))
                owners.append(ci)
    return texts, owners


def length_order(texts: Sequence[str]) -> list[int]:
    """Indices of ``texts`` from the shortest to the longest in UTF-8 bytes, the closer measure of a byte-level BPE's
    token count (a CJK character is three bytes and one or two tokens, a Latin letter one byte and a fraction of one):
    batched in this order, a multilingual set's prompts are padded to a near neighbour's length, not a long script's."""
    return sorted(range(len(texts)), key=lambda i: len(texts[i].encode("utf-8")))


def text_encoder(model: Any, tokenizer: Any | None, device: str | torch.device | None,
                 truncate: bool = True) -> Callable[[list[str]], torch.Tensor]:
    """A ``list[str] -> [n, dim]`` function for an open_clip model + tokenizer, or a zsbench backend.

    With ``truncate`` (default), causal text towers run only up to each batch's longest prompt
    (exact; see :mod:`prompts.text_tower`)."""
    if tokenizer is None:
        if not hasattr(model, "encode_texts"):
            raise TypeError("build_classifier needs a tokenizer for a model without encode_texts()")
        return model.encode_texts
    if device is None:
        device = next(model.parameters()).device
    from prompts.text_tower import fast_text_encoder

    forward = fast_text_encoder(model)[0] if truncate else model.encode_text

    def encode(texts: list[str]) -> torch.Tensor:
        return forward(tokenizer(texts).to(device))

    return encode


@torch.no_grad()  # not inference_mode: under it autocast re-casts every weight at every call (bench.models.base)
def build_classifier(
    model: Any,
    tokenizer: Any | None,
    classnames: Sequence[ClassName],
    templates: Sequence[str] | ClassPrompts,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    progress: bool = False,
    desc: str = "text prompts",
    truncate: bool = True,
    per_class: bool = False,
    allow_empty: bool = False,
) -> torch.Tensor:
    """Zero-shot classifier weights ``[embed_dim, n_classes]`` (float32, on CPU).

    ``per_class``: one batch per class, its prompts in template order, repeats included, as
    CLIP_benchmark's ``zero_shot_classifier`` encodes them. Under reduced precision the embeddings
    depend on the batch they are computed in (oneDNN's bf16 kernels on CPUs with AMX, for one), so a
    profile that follows CLIP_benchmark to the letter batches as it does.

    ``allow_empty``: a blank class name is prompted like any other ("a photo of a ."), as CLIP_benchmark
    1.6.2 does with the blank line of CLEVR distance's published list; refused otherwise (a user's list).

    ``model`` is an open_clip model with its ``tokenizer``, or a zsbench model backend (pass
    ``tokenizer=None``; the backend tokenizes with its own tokenizer). Identical prompts are
    embedded once. Equal to ``open_clip.build_zero_shot_classifier`` within float noise.
    """
    classnames = validate_classnames(list(classnames), source="build_classifier classnames", allow_duplicates=True,
                                     allow_empty=allow_empty)
    if not isinstance(templates, ClassPrompts):
        templates = validate_templates(list(templates), source="build_classifier templates", allow_duplicates=True)
    texts, owners = class_prompts(classnames, templates)
    if per_class:
        encode = text_encoder(model, tokenizer, device, truncate=truncate)
        batches = [[t for t, o in zip(texts, owners) if o == c] for c in range(len(classnames))]
        emb = torch.cat([normalized(encode(b)).cpu() for b in tqdm(batches, desc=desc, unit="class",
                                                                    disable=not progress, leave=False)])
        return _class_means(emb, torch.tensor(owners), len(classnames))
    unique = list(dict.fromkeys(texts))
    where = {t: i for i, t in enumerate(unique)}
    encode = text_encoder(model, tokenizer, device, truncate=truncate)

    # Batch prompts of similar length together: encoders that pad to the batch's longest
    # prompt do less work; the order is restored afterwards.
    order = length_order(unique)
    chunks = []
    starts = range(0, len(unique), batch_size)
    for s in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
        emb = encode([unique[i] for i in order[s:s + batch_size]])
        chunks.append(normalized(emb).cpu())
    unique_emb = torch.empty(len(unique), chunks[0].shape[1], dtype=chunks[0].dtype)
    unique_emb[torch.tensor(order)] = torch.cat(chunks)

    emb = unique_emb[torch.tensor([where[t] for t in texts])]
    return _class_means(emb, torch.tensor(owners), len(classnames))


def _class_means(emb: torch.Tensor, owner: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Each class's normalized prompt embeddings averaged and normalized again, ``[dim, n_classes]``."""
    if emb.dtype in REDUCED:
        # under autocast (a profile's text precision): the mean and its norm in that type, class by
        # class, as CLIP_benchmark's zero_shot_classifier computes them under its autocast
        columns = []
        for c in range(n_classes):
            mean = emb[owner == c].mean(dim=0)
            columns.append(mean / mean.norm())
        return torch.stack(columns, dim=1).float().contiguous()
    sums = torch.zeros(n_classes, emb.shape[1], dtype=emb.dtype).index_add_(0, owner, emb)
    counts = torch.bincount(owner, minlength=n_classes).to(emb.dtype).unsqueeze(1)
    return F.normalize(sums / counts, dim=-1).T.contiguous()
