"""An exact, faster path through open_clip's causal text towers.

CLIP's text transformer is causal and the embedding is read at the end-of-text token, so the
padding after the longest prompt of a batch can never influence the result: each position only
attends to earlier ones, position embeddings are absolute, and layer norms act per token.
Cutting every batch to its longest real prompt therefore gives the same embeddings (up to
float rounding) for far less compute: ImageNet prompts are 5-20 tokens of the 77 padded.

Used only where that argument holds: a causal attention mask, pooling at the EOT/EOS token, no
appended class token (CoCa) and no padding mask. Anything else (SigLIP's last-token pooling,
Hugging Face text towers) goes through the model's own ``encode_text``.
"""
from __future__ import annotations

from typing import Any

import torch


def _is_causal(mask: torch.Tensor | None) -> bool:
    if mask is None or mask.dim() != 2 or mask.shape[0] != mask.shape[1]:
        return False
    upper = torch.triu(torch.ones_like(mask, dtype=torch.bool), diagonal=1)
    return bool(torch.isinf(mask[upper]).all() and (mask[~upper] == 0).all())


def truncatable_tower(model: Any) -> Any | None:
    """The module holding the text tower's parts if the truncated path is exact for it, else None."""
    from open_clip.transformer import TextTransformer

    tower = getattr(model, "text", None)
    if isinstance(tower, TextTransformer):
        if tower.cls_emb is not None or getattr(tower, "use_pad_mask", False):
            return None
        pool = tower.pool_type
    elif all(hasattr(model, a) for a in ("token_embedding", "positional_embedding", "transformer", "ln_final")):
        tower, pool = model, getattr(model, "text_pool_type", "argmax")
    else:
        return None
    if pool not in ("argmax", "eos") or not _is_causal(getattr(tower, "attn_mask", None)):
        return None
    if pool == "eos" and _eos_id(tower) is None:
        return None
    return tower


def _eos_id(tower: Any) -> int | None:
    return getattr(tower, "eos_id", getattr(tower, "text_eos_id", None))


def end_positions(tower: Any, tokens: torch.Tensor) -> torch.Tensor:
    """Index of the token each prompt's embedding is read at (as open_clip's text_global_pool)."""
    pool = getattr(tower, "pool_type", getattr(tower, "text_pool_type", "argmax"))
    if pool == "argmax":
        return tokens.argmax(dim=-1)
    return (tokens == _eos_id(tower)).int().argmax(dim=-1)


def encode_text_truncated(tower: Any, tokens: torch.Tensor, blocks: Any = None) -> torch.Tensor:
    """``tower.encode_text(tokens)`` computed on ``tokens[:, :longest]`` only. ``blocks(x)``, where given, computes
    the transformer's causal blocks on ``x`` ([batch, length, width]) in place of ``tower.transformer`` (returning
    None where it does not apply)."""
    ends = end_positions(tower, tokens)
    length = int(ends.max()) + 1
    t = tokens[:, :length]
    cast = tower.transformer.get_cast_dtype()
    x = tower.token_embedding(t).to(cast) + tower.positional_embedding[:length].to(cast)
    fast = blocks(x) if blocks is not None else None
    x = fast if fast is not None else tower.transformer(x, attn_mask=tower.attn_mask[:length, :length])
    x = tower.ln_final(x)
    x = x[torch.arange(x.shape[0], device=x.device), ends]
    proj = tower.text_projection
    if proj is not None:
        x = proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj
    return x


def fast_text_encoder(model: Any, blocks: Any = None):
    """``tokens -> embeddings``: the truncated path when exact for ``model``, else its encode_text. ``blocks``: a
    faster computation of the tower's causal blocks (see :func:`encode_text_truncated`), made from the tower."""
    tower = truncatable_tower(model)
    if tower is None:
        return model.encode_text, False
    run = blocks(tower) if blocks is not None else None
    return (lambda tokens: encode_text_truncated(tower, tokens, run)), True
