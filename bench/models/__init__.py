"""Model backends, registered by model-string prefix: ``load_model(name, pretrained)`` over all of them.

A backend is a :class:`~bench.models.base.ModelBackend` subclass in its own module. It registers
here with the prefix of the model strings it serves (``conse-``, ``transformers:``, ...) and the
``module:Class`` that implements it, imported only when a model string asks for it. open_clip
serves everything else (its names, ``hf-hub:`` and ``local-dir:``). Adding a backend is one module
and one line in ``BACKENDS``; the runner never learns its name.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from bench.core.errors import UserError
from bench.models.base import BackendOptions, ModelBackend


@dataclass(frozen=True)
class BackendEntry:
    prefix: str   # model strings starting with this go to this backend ("" = the fallback)
    target: str   # "module:Class" of the ModelBackend subclass

    def load(self) -> type[ModelBackend]:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


#: first matching prefix wins; the empty prefix (open_clip) takes what no other claims
BACKENDS: list[BackendEntry] = [
    BackendEntry("conse-", "bench.models.conse:ConSEBackend"),
    BackendEntry("transformers:", "bench.models.hf_transformers:TransformersBackend"),
    BackendEntry("", "bench.models.openclip:OpenCLIPBackend"),
]


def register_backend(prefix: str, target: str) -> None:
    """Serve model strings starting with ``prefix`` by the backend class at ``target`` ("module:Class")."""
    BACKENDS.insert(len(BACKENDS) - 1 if BACKENDS and BACKENDS[-1].prefix == "" else len(BACKENDS),
                    BackendEntry(prefix, target))


def backend_class(name: str) -> type[ModelBackend]:
    for entry in BACKENDS:
        if name.startswith(entry.prefix):
            return entry.load()
    raise UserError(f"no backend serves model '{name}'")  # pragma: no cover - open_clip is the fallback


def load_model(name: str, pretrained: str | None = None, device: str = "cpu", seed: int = 0,
               store=None, precision: str = "fp32", channels_last: bool = False) -> ModelBackend:
    """A backend for ``name`` (an open_clip name, ``hf-hub:org/repo``, or another backend's string).

    ``precision`` (fp32 | bf16 | fp16) and ``channels_last`` are image-encoder options: they
    change the features' numbers slightly, so features made under them are cached apart.
    """
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"--device {device} asked for, but torch sees no CUDA device: use --device cpu")
    options = BackendOptions(device=device, seed=seed, store=store, precision=precision, channels_last=channels_last)
    backend = backend_class(name).from_request(name, pretrained, options)
    backend.attach_store(store)
    return backend


def check_model(name: str, pretrained: str | None) -> None:
    """Validate a model request without loading weights (fail before any slow step)."""
    backend_class(name).check_request(name, pretrained)


def list_models() -> list[tuple[str, str, str]]:
    """(model, pretrained, note) rows of every backend, in registration order (fallback last)."""
    return [row for entry in BACKENDS for row in entry.load().available()]


__all__ = ["BACKENDS", "BackendOptions", "ModelBackend", "check_model", "load_model", "list_models",
           "register_backend"]
