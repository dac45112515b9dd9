"""The one interface every model backend offers to the engine.

A backend turns preprocessed pixels into image embeddings and strings into text embeddings in
the same space, and says what it is (``fingerprint``) so caches and records can name it
exactly. Backends may load their weights lazily: a run whose features and classifiers are all
cached never needs them.
"""
from __future__ import annotations

import contextlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ContextManager

from bench.models.options import PRECISIONS, BackendOptions

if TYPE_CHECKING:  # pragma: no cover - torch loads with the first model or tensor, not with this interface
    import torch


def precision_dtype(precision: str) -> "torch.dtype":
    """A precision name (``--precision``, ``--text-precision``) as a torch dtype (importing torch: only the
    paths that compute in torch ask)."""
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def device_type(device: "torch.device | str") -> str:
    """``cpu``, ``cuda``, ... of a device or a device string, without importing torch."""
    return getattr(device, "type", None) or str(device).split(":", 1)[0]


def check_precision(precision: str, device: "torch.device | str") -> str:
    """Validate ``--precision`` for a device (one-line error naming the fix)."""
    from bench.core.errors import UserError

    if isinstance(device, str) and not re.fullmatch(r"(cpu|cuda|mps|xpu)(:\d+)?", device):
        raise UserError(f"unknown device '{device}': use cpu, cuda or cuda:N")
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision '{precision}': use one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device_type(device) != "cuda":
        raise UserError("--precision fp16 needs a CUDA device (CPU float16 autocast is slow and "
                        "inexact): use --precision bf16 on CPU, or fp32")
    return precision


def inference_mode(method: Callable) -> Callable:
    """``torch.inference_mode()`` around a method, entered when it is called, not where it is defined (a backend
    module then imports no torch: a run served from the cache never loads it)."""
    import functools

    @functools.wraps(method)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.inference_mode():
            return method(*args, **kwargs)
    return wrapped


def autocast(device: "torch.device | str", precision: str) -> ContextManager:
    """``torch.autocast`` on ``device`` at ``precision`` (bf16 / fp16); a no-op for fp32.

    Inside it, inference mode is off and gradients are off instead: autocast keeps each weight's reduced-precision
    copy for the whole context only outside inference mode, and under it re-casts every weight at every call
    (measured: CLIP_benchmark's per-class text batches of ViT-B/32 in bf16 on this CPU took 6.0 s under
    ``inference_mode``, 1.6 s under ``no_grad``; the same numbers either way)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode(False))
    stack.enter_context(torch.no_grad())
    stack.enter_context(torch.autocast(device_type(device), dtype=precision_dtype(precision)))
    return stack


def options_fingerprint(base: str, precision: str = "fp32", **options: Any) -> str:
    """A fingerprint for features made under non-default encoder options.

    The defaults (float32, no layout change) keep ``base`` itself, so their caches stay valid;
    anything else changes the image features' numbers and so gets its own cache entries.
    """
    from bench.core.hashing import stable_hash

    extra = {k: v for k, v in options.items() if v}
    if precision == "fp32" and not extra:
        return base
    return stable_hash([base, precision, sorted(extra.items())])


def describe_transform(transform: Any) -> str:
    """A stable text form of a torchvision transform (memory addresses removed)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(transform))


@dataclass(frozen=True)
class ImageStage:
    """Where a backend's image embeddings are a cheap function of an intermediate that depends on less of the model
    request (ConSE: EfficientNet's ImageNet probabilities, the same for every top-T). The feature cache keeps the
    intermediate under ``fingerprint`` and the embeddings are made from it, so a change of what ``finish`` reads
    (another T) extracts no image again."""

    kind: str                                 # the intermediate's name in the cache, e.g. "imagenet-probs"
    fingerprint: str                          # what determines it (the image tower's weights and precision)
    encode: Callable[[Any], Any]              # pixels -> intermediate (the forward pass)
    finish: Callable[[Any], Any]              # intermediate rows (numpy) -> embedding rows (cheap, no images)


class ModelBackend(ABC):
    """Image and text encoders of one checkpoint, with its own preprocessing and tokenizer."""

    #: what the user asked for, as they wrote it
    name: str
    pretrained: str
    #: show progress bars for long internal steps (the runner sets it from --quiet)
    progress: bool = True
    #: image-encoder precision (one of PRECISIONS); part of ``fingerprint`` when not fp32
    precision: str = "fp32"
    #: text-encoder precision while building classifiers (set by the engine from the run's profile);
    #: part of the classifier and caption cache keys when not fp32
    text_precision: str = "fp32"
    #: prompts per text forward pass when building classifiers (batches are sorted by length)
    text_batch_size: int = 256
    #: how the image tower runs (``eager``, or ``onednn-linear``: see :mod:`bench.models.cpu_forward`);
    #: recorded with the features a run computes
    image_forward: str = "eager"

    @property
    def device(self) -> "torch.device":
        """The device as torch names it, made on first use (naming it imports torch, which a run served from the
        cache never does). A backend sets it to a ``torch.device`` or a string such as ``"cuda:0"``."""
        device = self.__dict__.get("_device", "cpu")
        if isinstance(device, str):
            import torch

            device = self._device = torch.device(device)
        return device

    @device.setter
    def device(self, value: "torch.device | str") -> None:
        self._device = value

    def image_stage(self) -> ImageStage | None:
        """The intermediate its embeddings are made from, when that is cached apart (:class:`ImageStage`); None:
        embeddings are computed directly. Cheap: a cached run calls it."""
        return None

    def features_fingerprint(self, kind: str) -> str:
        """What identifies this backend's features of ``kind`` in the cache: the stage's own fingerprint for its
        intermediate, the whole model's for embeddings and pre-projection features."""
        stage = self.image_stage()
        return stage.fingerprint if stage is not None and kind == stage.kind else self.fingerprint

    # -- requests: what the model string and --pretrained ask for -----------------------------
    @classmethod
    @abstractmethod
    def from_request(cls, name: str, pretrained: str | None, options: BackendOptions) -> "ModelBackend":
        """The backend for a model string and ``--pretrained`` value, loaded as ``options`` say."""

    @classmethod
    def check_request(cls, name: str, pretrained: str | None) -> None:
        """Validate a request cheaply (no weights loaded); a mistake is a one-line UserError."""

    @classmethod
    def available(cls) -> list[tuple[str, str, str]]:
        """(model, pretrained, note) rows for ``zsbench models``."""
        return []

    # -- identity -----------------------------------------------------------------------------
    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """Hash of everything that changes the embeddings (weights, architecture, options)."""

    @property
    def text_fingerprint(self) -> str:
        """Hash of what changes text embeddings (classifier cache key); the whole model by default."""
        return self.fingerprint

    @property
    @abstractmethod
    def preprocess(self) -> Callable[[Any], torch.Tensor]:
        """PIL image -> ``[3, H, W]`` tensor, exactly as the model was trained to expect."""

    @property
    def preprocess_id(self) -> str:
        return describe_transform(self.preprocess)

    @property
    @abstractmethod
    def embed_dim(self) -> int: ...

    @abstractmethod
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` -> ``[B, embed_dim]`` (not normalized; the caller normalizes)."""

    def has_pre_projection(self) -> bool:
        """Whether the image tower ends in a separate projection (probes' ``paper`` features)."""
        return False

    def encode_pre_projection(self, pixels: torch.Tensor) -> torch.Tensor:
        """Image features before the final projection into the joint space (linear probes)."""
        from bench.core.errors import UserError

        raise UserError(f"{self.name} has no pre-projection features: use --probe-features embedding")

    @abstractmethod
    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """``list[str]`` -> ``[n, embed_dim]`` (not normalized)."""

    # -- scores for `zsbench predict`: probability = softmax (or sigmoid) of scale * cos + bias ------
    @property
    def logit_scale(self) -> float:
        """The model's learned temperature; 100 (CLIP's, CLIP_benchmark's) for models without one."""
        return 100.0

    @property
    def logit_bias(self) -> float:
        return 0.0

    @property
    def probability(self) -> str:
        """``softmax`` over the classes (CLIP), or an independent ``sigmoid`` per class (SigLIP)."""
        return "softmax"

    def image_autocast(self) -> ContextManager:
        """Autocast for the image encoder at ``precision`` (a no-op for fp32)."""
        return autocast(self.device, self.precision)

    def text_autocast(self) -> ContextManager:
        """Autocast for the text encoder at ``text_precision`` (the engine wraps classifier and caption
        embedding in it; a no-op for fp32)."""
        return autocast(self.device, self.text_precision)

    def prepare(self) -> None:
        """Precompute what image encoding needs (called once before an extraction that runs)."""

    def info(self) -> dict[str, Any]:
        """Facts about the loaded model worth keeping in a run record."""
        return {}

    def set_language(self, language: str) -> None:
        """Prepare the text side for ``--language`` (a tokenizer that must be told the language: NLLB-CLIP's);
        nothing for most models. A language the model cannot take is refused in one line."""

    def attach_store(self, store: Any) -> None:
        """Give the backend the run's cache (backends that precompute embeddings use it)."""
        self.store = store

    #: set by the engine (``bench.engine.classifiers.attach_classifier_cache``): builds a prompt-ensemble
    #: classifier ``(classnames, templates, desc) -> [embed_dim, n_classes]`` through the run's cache. A
    #: backend that needs classifiers of its own (ConSE's label embeddings) calls it when set, so it never
    #: imports the engine's cache.
    classifier_cache: Callable[..., torch.Tensor] | None = None


#: the cache area of what a backend knows about its model without loading it (open_clip's model cards, scores,
#: the preprocessing's description)
CARD_AREA = "models"


def remembered(store: Any, key: str, compute: Callable[[], dict]) -> dict:
    """Facts about a model that need it (or torch, transformers) loaded to compute, computed once and kept in the
    store's ``models/`` area: its scoring (logit scale, bias), its preprocessing's description. A run served from
    the cache then loads none of them."""
    got = store.get_json(CARD_AREA, key) if store is not None else None
    if got is None:
        got = compute()
        if store is not None:
            store.put_json(CARD_AREA, key, got)
    return got


def learned_scores(model: Any) -> dict:
    """CLIP's learned ``logit_scale`` (stored as a log) and SigLIP's ``logit_bias``, read from a loaded model."""
    bias = getattr(model, "logit_bias", None)
    return {"logit_scale": float(model.logit_scale.detach().exp()),
            "logit_bias": float(bias.detach()) if bias is not None else 0.0,
            "probability": "sigmoid" if bias is not None else "softmax"}


class LearnedTemperature:
    """For backends whose ``model`` carries CLIP's learned ``logit_scale`` (log of the temperature's
    inverse) and, for SigLIP, a ``logit_bias``: the scores ``zsbench predict`` and the per-sample
    probabilities of records use. A backend that keeps them in a cache overrides :meth:`_scores`."""

    model: Any

    def _scores(self) -> dict:
        return learned_scores(self.model)

    @property
    def logit_scale(self) -> float:
        return self._scores()["logit_scale"]

    @property
    def logit_bias(self) -> float:
        return self._scores()["logit_bias"]

def is_nllb_clip(model_name: str) -> bool:
    """NLLB-CLIP models (open_clip's ``nllb-clip-base``, ...), whose tokenizer takes the text's language, matched as
    CLIP_benchmark matches them (the name contains ``nllb-clip``)."""
    return "nllb-clip" in model_name


def check_language(model_name: str, language: str) -> None:
    """Refuse, before any model loads, a language a model's tokenizer cannot take (NLLB-CLIP: CLIP_benchmark's
    language table)."""
    if is_nllb_clip(model_name):
        from bench.core.errors import UserError
        from prompts.languages import nllb_language, nllb_languages

        if nllb_language(language) is None:
            raise UserError(f"--language {language}: NLLB-CLIP ({model_name}) has no tokenizer code for it in "
                            f"CLIP_benchmark's table; use one of {', '.join(nllb_languages()[:12])}, ... (or a "
                            "FLORES-200 code such as deu_Latn)")


def prepare_language(backend: "ModelBackend", language: str, model_name: str) -> None:
    """Set the model up for one language of a run (see :meth:`ModelBackend.set_language`)."""
    check_language(model_name, language)
    backend.set_language(language)
