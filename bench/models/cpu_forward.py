"""A faster float32 image forward on CPUs: the tower's linear layers through oneDNN instead of MKL.

Why: a ViT's forward is ~90% matrix products (``aten::addmm``/``mm``; ``torch.profiler`` on ViT-B-32).
PyTorch sends float32 ``nn.Linear`` on x86 to MKL, which on AMD CPUs does not use its AVX-512 kernels:
on this project's machine (AMD EPYC, AVX-512) MKL reaches ~200 GFLOP/s on the tower's shapes where
oneDNN's float32 kernel (``torch.ops.mkldnn._linear_pointwise``, what inductor uses on CPU) reaches
~420. The arithmetic is the same float32 (no reduced-precision mode); only the order of the sums
differs, so features move by float rounding (ViT-B-32: 2.6e-6 at most on values up to 3.2).

What it does: every ``nn.Linear`` of the image tower becomes :class:`OneDNNLinear` (same parameters;
an exact GELU right after it in a ``Sequential``, as in a ViT's MLP, is fused into the same call), and
every ``nn.MultiheadAttention`` used as plain batch-first self-attention (open_clip's ViT blocks) becomes
:class:`OneDNNSelfAttention`: the packed q/k/v projection and the output projection through oneDNN,
the attention itself through ``F.scaled_dot_product_attention`` (what ``nn.MultiheadAttention`` calls).
A call it does not cover (cross-attention, a mask, weights asked for) goes to the original module. It
applies only to float32 towers on the CPU, and only after a check on this machine that the op exists
and agrees with ``F.linear``; anything else keeps PyTorch's own path.

``ZSBENCH_CPU_FORWARD=eager`` turns it off. CUDA towers are never changed.
"""
from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

#: the value of ``ZSBENCH_CPU_FORWARD`` that keeps PyTorch's own (MKL) float32 path
EAGER = "eager"
ONEDNN = "onednn-linear"


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                  gelu: bool = False) -> torch.Tensor:
    """``F.linear`` (then the exact GELU, with ``gelu``) through oneDNN's float32 kernel (2-D input, as the op
    takes it)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, *(("gelu", [], "none") if gelu else ("none", [], "")))


class OneDNNLinear(nn.Module):
    """``nn.Linear`` computed by oneDNN; shares the original's parameters (state dicts are unchanged).

    ``gelu``: the exact (erf) GELU that follows the layer in a ``Sequential`` (a ViT's MLP) is applied in
    the same oneDNN call (a post-op on the product's output, no extra pass over memory; ViT-B-32 ~1.1x)."""

    def __init__(self, linear: nn.Linear, gelu: bool = False):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight, self.bias = linear.weight, linear.bias
        self.gelu = gelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _covered(x):
            out = F.linear(x, self.weight, self.bias)
            return F.gelu(out) if self.gelu else out
        out = onednn_linear(x.reshape(-1, self.in_features), self.weight, self.bias, self.gelu)
        return out.reshape(*x.shape[:-1], self.out_features)


class OneDNNSelfAttention(nn.Module):
    """Batch-first self-attention of an ``nn.MultiheadAttention`` with its projections through oneDNN.

    Called as the original is (``attn(q, k, v, need_weights=False, attn_mask=None)``); anything but
    ``q is k is v`` without mask or weights is handed to the original module."""

    def __init__(self, attention: nn.MultiheadAttention):
        super().__init__()
        # the original's parameters under their own names: the state dict (and the weights' hash) is unchanged
        self.in_proj_weight, self.in_proj_bias, self.out_proj = (attention.in_proj_weight, attention.in_proj_bias,
                                                                 attention.out_proj)
        self.heads = attention.num_heads
        object.__setattr__(self, "original", attention)  # the fallback, not a submodule (its parameters are these)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
        if need_weights or attn_mask is not None or kwargs.get("key_padding_mask") is not None \
                or not (query is key is value) or query.dim() != 3 or not _covered(query):
            return self.original(query, key, value, need_weights=need_weights, attn_mask=attn_mask, **kwargs)
        batch, length, dim = query.shape
        qkv = onednn_linear(query.reshape(-1, dim), self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.reshape(batch, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch * length, dim)
        return onednn_linear(out, self.out_proj.weight, self.out_proj.bias).reshape(batch, length, dim), None


def _covered(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")


def _plain_self_attention(m: nn.Module) -> bool:
    return (isinstance(m, nn.MultiheadAttention) and m.batch_first and m._qkv_same_embed_dim
            and m.in_proj_bias is not None and m.bias_k is None and m.bias_v is None and not m.add_zero_attn
            and m.dropout == 0.0)


def onednn_works() -> bool:
    """Whether this torch has the op and it agrees with ``F.linear`` here (checked once per process)."""
    global _WORKS
    if _WORKS is None:
        try:
            g = torch.Generator().manual_seed(0)
            x, w, b = (torch.randn(*s, generator=g) for s in ((37, 64), (48, 64), (48,)))
            with torch.inference_mode():
                _WORKS = bool(torch.allclose(onednn_linear(x, w, b), F.linear(x, w, b), atol=1e-4, rtol=1e-4))
        except (AttributeError, RuntimeError, NotImplementedError):
            _WORKS = False
    return _WORKS


_WORKS: bool | None = None


def cpu_forward_mode() -> str:
    """``ZSBENCH_CPU_FORWARD``: ``onednn-linear`` (default) or ``eager``."""
    return EAGER if os.environ.get("ZSBENCH_CPU_FORWARD", "").strip().lower() == EAGER else ONEDNN


def speed_up_image_tower(tower: nn.Module, device: torch.device, precision: str) -> str:
    """Swap the tower's linear layers and plain self-attention for the oneDNN ones where that is exact
    float32 on the CPU; returns the forward in use (``onednn-linear`` or ``eager``), for the record."""
    if device.type != "cpu" or precision != "fp32" or cpu_forward_mode() == EAGER or not onednn_works():
        return EAGER
    swapped = 0
    for parent in list(tower.modules()):
        children = list(parent.named_children())
        for k, (name, child) in enumerate(children):
            if _plain_self_attention(child):
                setattr(parent, name, OneDNNSelfAttention(child))
                swapped += 1
            elif type(child) is nn.Linear:
                after = children[k + 1] if isinstance(parent, nn.Sequential) and k + 1 < len(children) else None
                fuse = after is not None and type(after[1]) is nn.GELU and after[1].approximate == "none"
                setattr(parent, name, OneDNNLinear(child, gelu=fuse))
                if fuse:  # applied inside the product's call; the Sequential keeps its names (no parameters move)
                    setattr(parent, after[0], nn.Identity())
                swapped += 1
    return ONEDNN if swapped else EAGER


def onednn_text_blocks(tower: Any):
    """For a causal open_clip text tower of plain pre-norm blocks (``ResidualAttentionBlock``: LayerNorm, packed
    q/k/v self-attention, a Linear-activation-Linear MLP, optional LayerScale): a function that computes its blocks on
    batch-first float32 CPU input with every product through oneDNN and the attention by
    ``F.scaled_dot_product_attention(is_causal=True)``, which is the tower's -inf upper-triangle mask. The tower's
    modules are not changed (open_clip's own ``encode_text`` keeps PyTorch's path). None where it does not apply; the
    function returns None for input it does not cover (CUDA, autocast, another dtype)."""
    from open_clip.transformer import LayerScale, ResidualAttentionBlock

    if cpu_forward_mode() == EAGER or not onednn_works():
        return None
    blocks = list(getattr(getattr(tower, "transformer", None), "resblocks", []))
    plain = (lambda m: type(m) in (nn.Identity, LayerScale))
    if not blocks or not all(type(b) is ResidualAttentionBlock and not hasattr(b, "ln_1_kv")
                             and _plain_self_attention(b.attn) and plain(b.ls_1) and plain(b.ls_2)
                             and type(b.mlp.c_fc) is nn.Linear and type(b.mlp.c_proj) is nn.Linear for b in blocks):
        return None

    def run(x: torch.Tensor) -> torch.Tensor | None:
        if not _covered(x) or x.dim() != 3:
            return None
        batch, length, dim = x.shape
        for b in blocks:
            heads = b.attn.num_heads
            qkv = onednn_linear(b.ln_1(x).reshape(-1, dim), b.attn.in_proj_weight, b.attn.in_proj_bias)
            q, k, v = qkv.reshape(batch, length, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(-1, dim)
            x = x + b.ls_1(onednn_linear(out, b.attn.out_proj.weight, b.attn.out_proj.bias).reshape(batch, length, dim))
            act = b.mlp.gelu
            exact = type(act) is nn.GELU and act.approximate == "none"
            h = onednn_linear(b.ln_2(x).reshape(-1, dim), b.mlp.c_fc.weight, b.mlp.c_fc.bias, gelu=exact)
            h = h if exact else act(h)
            x = x + b.ls_2(onednn_linear(h, b.mlp.c_proj.weight, b.mlp.c_proj.bias).reshape(batch, length, dim))
        return x

    return run
