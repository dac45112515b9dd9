"""Model backends, registered by model-string prefix: ``load_model(name, pretrained)`` over all of them.

A backend is a :class:`~bench.models.base.ModelBackend` subclass in its own module. It registers
in :data:`BACKENDS` under the prefix of the model strings it serves (``conse-``, ``transformers:``,
...) as ``"module:Class"``, imported only when a model string asks for it; a third-party backend
registers through the ``zsbench.backends`` entry-point group (the entry point's name is the
prefix). open_clip serves everything else (its names, ``hf-hub:`` and ``local-dir:``): it is the
fallback, tried last. The runner never learns a backend's name.

Nothing heavy is imported here: ``zsbench --help`` and a cached run's checks stay fast.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.core.errors import UserError
from bench.core.registry import Registry
from bench.models.options import BackendOptions

if TYPE_CHECKING:  # pragma: no cover
    from bench.models.base import ModelBackend

#: model-string prefix -> ModelBackend subclass; the first matching prefix wins, "" (open_clip) last
BACKENDS: Registry[type["ModelBackend"]] = Registry("backend", "zsbench.backends")
BACKENDS.register("conse-", "bench.models.conse:ConSEBackend")
BACKENDS.register("transformers:", "bench.models.hf_transformers:TransformersBackend")
FALLBACK = ("", "bench.models.openclip:OpenCLIPBackend")


def register_backend(prefix: str, target: "type[ModelBackend] | str") -> None:
    """Serve model strings starting with ``prefix`` by the backend class ``target`` (or "module:Class")."""
    if not prefix:
        raise ValueError("a backend needs a non-empty prefix (open_clip is the fallback)")
    BACKENDS.register(prefix, target, replace=True)


def prefixes() -> list[str]:
    """The prefixes in the order they are tried: registered ones, longest first, the fallback last."""
    return sorted(BACKENDS.names(), key=len, reverse=True) + [FALLBACK[0]]


def backend_class(name: str) -> type["ModelBackend"]:
    for prefix in prefixes():
        if prefix and name.startswith(prefix):
            return BACKENDS.get(prefix)
    from bench.core.registry import resolve_reference

    return resolve_reference(FALLBACK[1])


def load_model(name: str, pretrained: str | None = None, device: str = "cpu", seed: int = 0,
               store=None, precision: str = "fp32", channels_last: bool = False) -> "ModelBackend":
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
    from bench.core.registry import resolve_reference

    classes = [BACKENDS.get(p) for p in BACKENDS.names()] + [resolve_reference(FALLBACK[1])]
    return [row for cls in classes for row in cls.available()]


def __getattr__(name: str) -> Any:  # ModelBackend without importing torch at package import
    if name == "ModelBackend":
        from bench.models.base import ModelBackend

        return ModelBackend
    raise AttributeError(name)


__all__ = ["BACKENDS", "BackendOptions", "ModelBackend", "backend_class", "check_model", "load_model", "list_models",
           "register_backend"]
