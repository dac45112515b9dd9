"""Hugging Face transformers backend: ``--model transformers:<hub id or local folder>``.

Families: CLIP (``CLIPModel``: OpenAI CLIP, MetaCLIP and other CLIP checkpoints), SigLIP,
SigLIP 2 (fixed-resolution checkpoints, which transformers loads as ``siglip``), Chinese-CLIP
and AltCLIP. Each uses the checkpoint's own processor exactly as transformers'
``zero-shot-image-classification`` pipeline does: the image goes through ``load_image`` (EXIF
orientation, RGB) and the image processor (resize, crop, normalise); prompts go through the
tokenizer with ``padding=True``, or for SigLIP ``padding="max_length", max_length=64,
truncation=True``, and the tokenizer's own lowercasing. The settings are part of the record.

Weights load lazily: identity (fingerprint, preprocessing, embedding size) comes from the files,
so a run served from the feature and classifier caches never loads the model.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from bench.core.lazy_import import lazy_module
from bench.core.errors import UserError, short_reason
from bench.core.hashing import stable_hash
from bench.core.store import cached_file_hash
from bench.core.paths import user_path
from bench.models.base import (BackendOptions, LearnedTemperature, ModelBackend, check_precision,
                               describe_transform, inference_mode, learned_scores, options_fingerprint,
                               remembered)

torch = lazy_module("torch")  # imported on first use: a run served from the cache never loads torch

PREFIX = "transformers:"
#: model_type -> family facts: probability the pipeline reports, text-side tokenizer settings
FAMILIES: dict[str, dict[str, Any]] = {
    "clip": {"probability": "softmax", "padding": True},
    "chinese_clip": {"probability": "softmax", "padding": True},
    "altclip": {"probability": "softmax", "padding": True},
    "siglip": {"probability": "sigmoid", "padding": "max_length", "max_length": 64},
}
CONFIG_FILES = ("config.json", "preprocessor_config.json", "processor_config.json", "tokenizer_config.json",
                "tokenizer.json", "vocab.json", "merges.txt", "vocab.txt", "spiece.model", "special_tokens_map.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin")


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def resolve_folder(ref: str) -> Path:
    """A local folder, or the hub snapshot of a repo id (downloaded when online, else from the cache)."""
    path = user_path(ref)
    if path.is_dir():
        return path.resolve()
    if path.exists() or ref.startswith((".", "/", "~")) or ref.count("/") > 1:
        raise UserError(f"transformers model folder not found: {ref}; give a folder saved with save_pretrained "
                        "or a Hugging Face hub id such as openai/clip-vit-base-patch32")
    from bench.core.net import hub_offline_unless_reachable

    from huggingface_hub import snapshot_download

    online = True
    try:
        with hub_offline_unless_reachable() as online:
            return Path(snapshot_download(ref, allow_patterns=["*.json", "*.txt", "*.model", "*.safetensors"]))
    except Exception as exc:  # noqa: BLE001 - every hub failure becomes one line
        why = "offline and not in the local Hugging Face cache" if not online else short_reason(exc)
        raise UserError(f"could not get transformers model {ref} ({why}): download it once where there is "
                        f"internet (`huggingface-cli download {ref}`), or pass a local folder") from None


def read_model_type(folder: Path) -> str:
    config = folder / "config.json"
    if not config.is_file():
        raise UserError(f"{folder} has no config.json: it is not a transformers model folder (save one with "
                        "model.save_pretrained(folder) and processor.save_pretrained(folder))")
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type", "")
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{config} is not readable JSON ({short_reason(exc)})") from None
    if model_type not in FAMILIES:
        raise UserError(f"model_type '{model_type}' in {config} is not supported: zsbench's transformers backend "
                        f"takes {', '.join(sorted(FAMILIES))} (CLIP also covers MetaCLIP; SigLIP 2 fixed-resolution "
                        "checkpoints load as siglip)")
    return model_type


class ImageProcessorTransform:
    """PIL image -> ``[3, H, W]``: the pipeline's ``load_image`` then the checkpoint's image processor."""

    def __init__(self, image_processor: Any):
        self.image_processor = image_processor

    def __call__(self, image: Any) -> torch.Tensor:
        from transformers.image_utils import load_image

        return self.image_processor(images=[load_image(image)], return_tensors="pt")["pixel_values"][0]

    def __repr__(self) -> str:
        config = self.image_processor.to_dict()
        return f"transformers {type(self.image_processor).__name__} {json.dumps(config, sort_keys=True, default=str)}"


def tokenizer_max_length(folder: Path) -> int | None:
    """The tokenizer's ``model_max_length`` as its saved config gives it (what ``AutoTokenizer`` reads from a folder),
    without loading the tokenizer; None where the folder does not say."""
    path = folder / "tokenizer_config.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("model_max_length")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, (int, float)) and value == value and value < 1e12 else None


def pooled_features(out: Any) -> torch.Tensor:
    """``get_*_features`` returns a tensor (older transformers) or an output with ``pooler_output``."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


class TransformersBackend(LearnedTemperature, ModelBackend):
    """A transformers CLIP-family checkpoint with its own processor."""

    #: measured on a ViT-B/32-sized CLIP text tower on 2 CPU cores: 64-128 beat 256 by ~10%
    text_batch_size = 64

    def __init__(self, ref: str, device: str = "cpu", store: Any = None, precision: str = "fp32"):
        self.ref, self.name, self.pretrained = ref, PREFIX + ref, "hf"
        self._store = store
        self.device = device
        self.precision = check_precision(precision, device)
        self.folder = resolve_folder(ref)
        self.model_type = read_model_type(self.folder)
        self.family = FAMILIES[self.model_type]
        self._model: Any = None
        self._preprocess: Any = None
        self._processor: Any = None   # loaded on first use (transformers' import): a cached run never needs it
        config = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
        text_config = config.get("text_config") or {}
        positions = int(text_config.get("max_position_embeddings") or 77)
        # RoBERTa-style text towers (AltCLIP) reserve two positions (padding index offset)
        self.context_length = positions - 2 if self.model_type == "altclip" else positions
        limit = tokenizer_max_length(self.folder)
        if isinstance(limit, int) and 0 < limit < self.context_length:
            self.context_length = limit
        self.tokenizer_kwargs: dict[str, Any] = {"padding": self.family["padding"]}
        if self.family["padding"] == "max_length":
            self.tokenizer_kwargs.update(max_length=self.family["max_length"], truncation=True)
        else:  # the pipeline does not truncate; prompts past the context would fail there, here they are cut
            self.tokenizer_kwargs.update(truncation=True, max_length=self.context_length)
        files = sorted(p for p in self.folder.iterdir() if p.is_file() and (p.name in CONFIG_FILES or
                                                                            p.suffix in WEIGHT_SUFFIXES))
        if not any(p.suffix in WEIGHT_SUFFIXES for p in files):
            raise UserError(f"{self.folder} holds no weights (*.safetensors or *.bin): save the model with "
                            "model.save_pretrained(folder)")
        self._identity = [[p.name, cached_file_hash(p, store)] for p in files]
        self._embed_dim = int(config.get("projection_dim") or text_config.get("hidden_size") or 0)

    # -- requests ------------------------------------------------------------------------------
    @classmethod
    def check_request(cls, name: str, pretrained: str | None) -> None:
        if not name[len(PREFIX):].strip():
            raise UserError("--model transformers: needs a hub id or a folder, e.g. "
                            "transformers:openai/clip-vit-base-patch32")
        if pretrained and pretrained.lower() not in ("hf", "none", "default"):
            raise UserError(f"transformers models take their weights from the folder or hub id; drop --pretrained "
                            f"'{pretrained}'")
        ref = name[len(PREFIX):]
        path = user_path(ref)
        if path.is_dir():
            read_model_type(path)
        elif path.exists() or ref.startswith((".", "/", "~")):
            resolve_folder(ref)  # raises the one-line error

    @classmethod
    def from_request(cls, name: str, pretrained: str | None, options: BackendOptions) -> "TransformersBackend":
        cls.check_request(name, pretrained)
        return cls(name[len(PREFIX):], device=options.device, store=options.store, precision=options.precision)

    @classmethod
    def available(cls) -> list[tuple[str, str, str]]:
        return [("transformers:<hub id or folder>", "-", "Hugging Face transformers: " + ", ".join(sorted(FAMILIES))
                 + " (e.g. transformers:openai/clip-vit-base-patch32)")]

    # -- identity -------------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        return options_fingerprint(self.text_fingerprint, self.precision)

    @property
    def text_fingerprint(self) -> str:
        return stable_hash(["transformers-v1", self.model_type, self._identity, self.tokenizer_kwargs])

    def _card(self) -> dict[str, Any]:
        """What the record and the feature cache key say of the processor, kept in the cache once known (knowing it
        loads transformers, which a run served from the cache then never does)."""
        from importlib.metadata import version

        key = stable_hash(["hf-processor-card-v1", self._identity, version("transformers")])
        return remembered(self._store, key, lambda: {
            "preprocess_id": describe_transform(self.preprocess),
            "image_processor": type(self.processor.image_processor).__name__,
            "tokenizer": type(self.tokenizer).__name__, "lowercase": self.lowercases()})

    @property
    def preprocess_id(self) -> str:
        return self._card()["preprocess_id"]

    @property
    def processor(self) -> Any:
        """The folder's processor (image processor and tokenizer), loaded on first use."""
        if self._processor is None:
            from transformers import AutoProcessor

            _quiet_transformers()

            try:
                self._processor = AutoProcessor.from_pretrained(str(self.folder))
            except Exception as exc:  # noqa: BLE001
                raise UserError(f"the processor of {self.ref} does not load ({short_reason(exc)}): the folder needs "
                                "the files processor.save_pretrained writes (image processor and tokenizer)") from None
        return self._processor

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    @property
    def preprocess(self) -> Callable[[Any], torch.Tensor]:
        if self._preprocess is None:
            self._preprocess = ImageProcessorTransform(self.processor.image_processor)
        return self._preprocess

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def info(self) -> dict[str, Any]:
        return {"backend": "transformers", "source": self.ref, "model_type": self.model_type,
                "model_class": type(self.model).__name__ if self._model is not None else None,
                "image_processor": self._card()["image_processor"], "tokenizer": self._card()["tokenizer"],
                "tokenizer_kwargs": self.tokenizer_kwargs, "lowercase": self._card()["lowercase"],
                "probability": self.family["probability"], "precision": self.precision}

    def lowercases(self) -> bool:
        """Whether the tokenizer lowercases (measured: the same ids for upper and lower case)."""
        text = "A Photo Of The Red Square"
        return self.tokenizer(text)["input_ids"] == self.tokenizer(text.lower())["input_ids"]

    # -- weights --------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        if self._model is None:
            from transformers import AutoModel

            _quiet_transformers()

            try:
                model = AutoModel.from_pretrained(str(self.folder)).eval().to(self.device)
            except Exception as exc:  # noqa: BLE001
                raise UserError(f"the weights of {self.ref} do not load ({short_reason(exc)})") from None
            from bench.models.cpu_forward import speed_up_image_tower

            # float32 on the CPU: the vision tower's linear layers through oneDNN (bench.models.cpu_forward)
            tower = getattr(model, "vision_model", None)
            self.image_forward = "eager" if tower is None else speed_up_image_tower(tower, self.device, self.precision)
            self._model = model
        return self._model

    @property
    def probability(self) -> str:
        return self.family["probability"]

    def _scores(self) -> dict:
        """Kept in the store once read from the loaded model: a cached run loads no weights for them."""
        if getattr(self, "_scores_memo", None) is None:
            self._scores_memo = remembered(self._store, stable_hash(["hf-scores-v1", self._identity]),
                                                  lambda: learned_scores(self.model))
        return self._scores_memo

    # -- encoders -------------------------------------------------------------------------------
    @inference_mode
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        with self.image_autocast():
            return pooled_features(self.model.get_image_features(pixel_values=pixels.to(self.device))).float()

    def has_pre_projection(self) -> bool:
        """CLIP-like models end their image tower in ``visual_projection``; SigLIP has none (known from
        the config, so a cached run never loads the weights)."""
        return self.model_type in ("clip", "chinese_clip", "altclip")

    @inference_mode
    def encode_pre_projection(self, pixels: torch.Tensor) -> torch.Tensor:
        if not hasattr(self.model, "visual_projection"):
            raise UserError(f"{self.ref} ({self.model_type}) has no projection after its image tower: use "
                            "--probe-features embedding")
        with self.image_autocast():
            return self.model.vision_model(pixel_values=pixels.to(self.device)).pooler_output.float()

    @inference_mode
    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(list(texts), return_tensors="pt", **self.tokenizer_kwargs).to(self.device)
        return pooled_features(self.model.get_text_features(**batch)).float()


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # DataLoader workers fork after the tokenizer ran
