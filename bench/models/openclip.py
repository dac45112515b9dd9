"""open_clip backend: built-in names with pretrained tags, ``hf-hub:`` repos, local checkpoints,
and random init (``--pretrained none``, seeded) for tests.

Guards against the usual silent accuracy losses: each model's own tokenizer and context length
(``open_clip.get_tokenizer``), its own eval preprocessing, and QuickGELU for weights trained with
it (OpenAI's): a tag whose weights need QuickGELU loads the QuickGELU variant, and a local
checkpoint whose name says OpenAI but whose config does not use QuickGELU gets a warning.
"""
from __future__ import annotations

import contextlib
import difflib
import hashlib
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from bench.core.lazy_import import lazy_module
from bench.core.paths import user_path
from bench.core.store import Store, cached_file_hash
from bench.core.hashing import stable_hash
from bench.core.errors import UserError, short_reason
from bench.models.base import (CARD_AREA, BackendOptions, LearnedTemperature, ModelBackend, check_precision,
                               describe_transform, learned_scores, options_fingerprint)
from bench.core.net import hub_offline_unless_reachable

torch = lazy_module("torch")  # a run served from the cache never imports it

NO_WEIGHTS = {"none", "random", "random-init"}
CHECKPOINT_SUFFIXES = {".pt", ".pth", ".bin", ".safetensors", ".ckpt"}


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or Path(value).suffix.lower() in CHECKPOINT_SUFFIXES


def state_dict_hash(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:20]


def open_clip_catalog() -> dict[str, Any]:
    """What validating a request needs from open_clip, without importing it (5 s of imports here: its
    CoCa, transformers and torchvision's detection ops): model names, pretrained tags, which weights need
    QuickGELU and which towers have a pre-projection. Built once per open_clip version on the first import
    and kept in the cache (``models/open_clip-catalog-VERSION.json``); a damaged file is rebuilt."""
    import json
    from importlib import metadata

    from bench.core.paths import default_cache_dir
    from bench.core.store import CACHE_ELSEWHERE, atomic_write_json

    try:
        version = metadata.version("open_clip_torch")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source checkout of open_clip
        version = "unknown"
    path = default_cache_dir() / CARD_AREA / f"open_clip-catalog-{version}.json"
    try:
        catalog = json.loads(path.read_text(encoding="utf-8"))
        if catalog.get("version") == version and version != "unknown":
            return catalog
    except (OSError, ValueError):
        pass
    import open_clip

    models = list(open_clip.list_models())
    tags = {m: list(open_clip.list_pretrained_tags_by_model(m)) for m in models}
    configs = {m: open_clip.get_model_config(m) or {} for m in models}
    catalog = {
        "version": version, "models": models, "tags": {m: t for m, t in tags.items() if t},
        "quick_gelu": {m: bool(c.get("quick_gelu", False)) for m, c in configs.items()},
        "tag_quick_gelu": {f"{m}/{t}": bool((open_clip.get_pretrained_cfg(m, t) or {}).get("quick_gelu"))
                           and not configs[m].get("quick_gelu", False) for m, ts in tags.items() for t in ts},
        "pre_projection": {m: "timm_model_name" not in c.get("vision_cfg", {}) and
                           not isinstance(c.get("vision_cfg", {}).get("layers"), (list, tuple))
                           for m, c in configs.items() if c.get("vision_cfg") is not None},
    }
    try:
        atomic_write_json(path, catalog, CACHE_ELSEWHERE)
    except OSError:  # a read-only cache: the catalog is rebuilt next time, nothing else changes
        pass
    return catalog


def _check_name(name: str) -> None:
    if name.startswith("hf-hub:") or name.startswith("local-dir:"):
        return
    known = open_clip_catalog()["models"]
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UserError(f"unknown model '{name}': {hint}`zsbench models` lists the names that load")


def _needs_quick_gelu(name: str, pretrained: str) -> bool:
    return bool(open_clip_catalog()["tag_quick_gelu"].get(f"{name}/{pretrained}", False))


#: the names OpenAI's ``clip.load`` accepts -> open_clip's QuickGELU model (with the ``openai`` tag),
#: which is what clip.load builds (source: the CLIP repository's ``clip.available_models()``)
OPENAI_CLIP_NAMES = {
    "RN50": "RN50-quickgelu", "RN101": "RN101-quickgelu", "RN50x4": "RN50x4-quickgelu",
    "RN50x16": "RN50x16-quickgelu", "RN50x64": "RN50x64-quickgelu", "ViT-B/32": "ViT-B-32-quickgelu",
    "ViT-B/16": "ViT-B-16-quickgelu", "ViT-L/14": "ViT-L-14-quickgelu", "ViT-L/14@336px": "ViT-L-14-336-quickgelu",
}


def resolve_openai_name(name: str, pretrained: str | None) -> tuple[str, str | None]:
    """``clip.load`` names: ``ViT-B/32`` (any --pretrained, default openai) and RN50-style names given
    without --pretrained mean open_clip's QuickGELU model with OpenAI's weights."""
    if name in OPENAI_CLIP_NAMES and ("/" in name or not pretrained):
        return OPENAI_CLIP_NAMES[name], pretrained or "openai"
    return name, pretrained


@dataclass(frozen=True)
class WeightsPlan:
    """Where an open_clip model's weights come from, decided before anything is loaded."""

    source: str               # "tag" | "file" | "hub" | "none"
    weights_id: str | None    # the tag, the resolved file path, or the hub name
    pretrained: str           # as recorded
    force_quick_gelu: bool = False


def plan_weights(name: str, pretrained: str | None) -> WeightsPlan:
    """Validate a (model, pretrained) pair cheaply; a mistake is a UserError naming the fix."""
    pretrained = (pretrained or "").strip()
    _check_name(name)
    if name.startswith(("hf-hub:", "local-dir:")):
        return WeightsPlan("hub", name, pretrained or "hub")
    tags = open_clip_catalog()["tags"].get(name, [])
    if not pretrained:
        raise UserError(
            f"model '{name}' needs --pretrained: a tag ({', '.join(tags) or 'none published'}), "
            "a checkpoint file, or 'none' for random weights"
        )
    if pretrained.lower() in NO_WEIGHTS:
        return WeightsPlan("none", None, "none")
    if pretrained in tags:
        return WeightsPlan("tag", pretrained, pretrained, _needs_quick_gelu(name, pretrained))
    if _looks_like_path(pretrained) or user_path(pretrained).exists():
        path = user_path(pretrained)
        if not path.is_file():
            raise UserError(
                f"checkpoint file not found: {pretrained}; pass an existing .pt/.safetensors file, "
                f"a pretrained tag of {name}, or 'none'"
            )
        return WeightsPlan("file", str(path.resolve()), str(path))
    raise UserError(
        f"unknown pretrained tag '{pretrained}' for {name}: use one of "
        f"{', '.join(tags) or '(no published tags)'}, a checkpoint file, or 'none'"
    )




@contextlib.contextmanager
def quiet_open_clip() -> Iterator[None]:
    """Silence open_clip's root-logger notices while it builds a model.

    It logs "No pretrained weights loaded ... initialized randomly" even when our code loads the
    weights right after, and its own download errors; we say what matters in one line instead.
    """
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


class OpenCLIPBackend(LearnedTemperature, ModelBackend):
    """An open_clip model, its eval transform and its tokenizer.

    What the engine asks before any forward pass (fingerprint, preprocessing id, embedding
    size, record facts) is kept as a small *model card* in the cache after the first load, so
    a run whose features and classifiers are all cached never builds or loads the model; it is
    loaded on the first encode. A lazily loaded model is checked against its card.
    """

    def __init__(self, name: str, pretrained: str | None, device: str = "cpu", seed: int = 0,
                 store: Store | None = None, precision: str = "fp32", channels_last: bool = False):
        self.name, self._device = name, device
        self.precision, self.channels_last = check_precision(precision, device), channels_last
        self._plan = plan = plan_weights(name, pretrained)
        self.pretrained, self._source, self._seed, self._store = plan.pretrained, plan.source, seed, store
        if plan.force_quick_gelu:
            warnings.warn(
                f"{name}/{pretrained}: these weights were trained with QuickGELU; loading the "
                f"QuickGELU variant (as '{name}-quickgelu' would)"
            )
        if plan.source == "file" and "openai" in Path(plan.weights_id).name.lower() and \
                not open_clip_catalog()["quick_gelu"].get(name, False):
            warnings.warn(
                f"checkpoint {Path(plan.weights_id).name} looks like OpenAI weights, which need QuickGELU, but "
                f"'{name}' uses GELU: use '{name}-quickgelu' unless you know it was trained with GELU"
            )
        self._model: torch.nn.Module | None = None
        # what the weights are, known without loading them (random init: recipe, not values)
        if plan.source == "file":
            self._weights: list[Any] = ["file", cached_file_hash(Path(plan.weights_id), store)]
        elif plan.source == "none":
            self._weights = ["random", seed]
        else:
            self._weights = [plan.source, plan.weights_id]
        # random init also depends on the libraries' init code
        versions = [open_clip_catalog()["version"], _torch_version()] if plan.source == "none" else []
        self._card_key = stable_hash(["openclip-card-v1", name, self._weights + versions, plan.force_quick_gelu])
        card = store.get_json(CARD_AREA, self._card_key) if store is not None else None
        if card is None:
            self._load()
            card = self._card_from_model()
            if store is not None:
                store.put_json(CARD_AREA, self._card_key, card)
        self._card = card

    @classmethod
    def from_request(cls, name: str, pretrained: str | None, options: BackendOptions) -> "OpenCLIPBackend":
        model, weights = resolve_openai_name(name, pretrained)
        backend = cls(model, weights, device=options.device, seed=options.seed, store=options.store,
                      precision=options.precision, channels_last=options.channels_last)
        backend.requested = name
        return backend

    @classmethod
    def check_request(cls, name: str, pretrained: str | None) -> None:
        plan_weights(*resolve_openai_name(name, pretrained))

    @classmethod
    def available(cls) -> list[tuple[str, str, str]]:
        import open_clip

        return [(m, tag, "open_clip (downloads weights on first use)") for m, tag in open_clip.list_pretrained()]

    def _load(self) -> None:
        import open_clip

        plan = self._plan
        kwargs: dict[str, Any] = {"force_quick_gelu": True} if plan.force_quick_gelu else {}
        if plan.source == "none":
            torch.manual_seed(self._seed)
        online = True
        try:
            with quiet_open_clip(), hub_offline_unless_reachable() as online:
                model, _, preprocess = open_clip.create_model_and_transforms(
                    self.name, pretrained=plan.weights_id if plan.source in ("tag", "file") else None,
                    device=self.device, **kwargs
                )
                self._tokenizer = open_clip.get_tokenizer(self.name)
                self._apply_language()
        except UserError:
            raise
        except Exception as exc:  # translate loading failures into one actionable line
            if plan.source in ("tag", "hub"):
                why = "the network is unreachable" if not online else short_reason(exc)
                raise UserError(
                    f"could not get weights for {self.name}"
                    f"{'/' + self.pretrained if plan.source == 'tag' else ''} ({why}): download them once where there "
                    "is internet (they are kept in ~/.cache/huggingface) or pass --pretrained /path/to/checkpoint.pt"
                ) from None
            if plan.source == "file" and "Weights only load failed" in str(exc) and "GLOBAL" in str(exc):
                raise UserError(f"checkpoint {self.pretrained} holds pickled objects beyond tensors, and unpickling "
                                "them could run code: zsbench loads weights only; re-save it as a state_dict "
                                "(torch.save(model.state_dict(), path)) from a source you trust") from None
            if plan.source == "file":
                raise UserError(f"checkpoint {self.pretrained} does not load into {self.name}: "
                                f"{short_reason(exc)}") from None
            raise
        model.eval()
        if self.channels_last:
            model.visual.to(memory_format=torch.channels_last)
        from bench.models.cpu_forward import speed_up_image_tower

        # float32 on the CPU: the tower's linear layers through oneDNN (2x here; same parameters and state dict)
        self.image_forward = speed_up_image_tower(model.visual, self.device, self.precision)
        self._model, self._preprocess = model, preprocess
        card = {k: v for k, v in (getattr(self, "_card", None) or {}).items() if k != "scores"}
        if getattr(self, "_card", None) is not None and self._card_from_model() != card:
            self._store.drop_json(CARD_AREA, self._card_key)
            raise RuntimeError(f"the cached model card of {self.name}/{self.pretrained} does not match the model "
                               "that loaded (library or weights changed?); it was removed: run again")

    def _scores(self) -> dict[str, Any]:
        """The model's scoring (learned logit scale, SigLIP's bias): kept in the model card once known, so a
        cached run's per-sample probabilities do not load the model."""
        scores = self._card.get("scores")
        if scores is None:
            scores = learned_scores(self.model)
            self._card = {**self._card, "scores": scores}
            if self._store is not None:
                self._store.put_json(CARD_AREA, self._card_key, self._card)
        return scores

    def _card_from_model(self) -> dict[str, Any]:
        """What the engine needs to know about the model without running it."""
        model = self.model
        quick_gelu = _uses_quick_gelu(model)
        # random weights are identified by their values (as before model cards: caches stay valid)
        weights_key = self._weights + [state_dict_hash(model)] if self._source == "none" else self._weights
        proj = getattr(model, "text_projection", None)
        if isinstance(proj, torch.nn.Linear):
            embed_dim = proj.out_features
        elif isinstance(proj, torch.Tensor):
            embed_dim = proj.shape[1]
        else:
            with torch.inference_mode():
                embed_dim = self.encode_texts(["a"]).shape[1]
        return {
            "fingerprint": stable_hash(["open_clip", self.name, weights_key, quick_gelu]),
            "preprocess_id": describe_transform(self._preprocess),
            "embed_dim": int(embed_dim),
            "info": {"backend": "open_clip", "weights": self._source, "quick_gelu": quick_gelu,
                     "context_length": getattr(self.tokenizer, "context_length", None),
                     "n_params": sum(p.numel() for p in model.parameters())},
        }

    @property
    def model(self) -> torch.nn.Module:
        if self._model is None:
            self._load()
        return self._model

    @property
    def tokenizer(self) -> Any:
        if self._model is None:
            self._load()
        return self._tokenizer

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory (False for a run served entirely from the cache)."""
        return self._model is not None

    @property
    def fingerprint(self) -> str:
        return options_fingerprint(self._card["fingerprint"], self.precision, channels_last=self.channels_last)

    @property
    def text_fingerprint(self) -> str:
        """The text path always runs in float32: classifiers are shared across image options; NLLB-CLIP's text
        embeddings also depend on the language its tokenizer is set to."""
        if self.tokenizer_language:
            return stable_hash([self._card["fingerprint"], "tokenizer language", self.tokenizer_language])
        return self._card["fingerprint"]

    @property
    def quick_gelu(self) -> bool:
        return self._card["info"]["quick_gelu"]

    @property
    def preprocess(self) -> Callable[[Any], torch.Tensor]:
        if self._model is None:
            self._load()
        return self._preprocess

    @property
    def preprocess_id(self) -> str:
        return self._card["preprocess_id"]

    @property
    def embed_dim(self) -> int:
        return self._card["embed_dim"]

    def _pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.to(self.device, non_blocking=True)
        return pixels.contiguous(memory_format=torch.channels_last) if self.channels_last else pixels

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        model = self.model
        with self.image_autocast():
            return model.encode_image(self._pixels(pixels)).float()

    def has_pre_projection(self) -> bool:
        """A ViT tower (``proj`` matrix after pooling); told from the model config without loading the
        weights where it can be (a cached probe run never loads them)."""
        if self._model is None:
            known = open_clip_catalog()["pre_projection"]
            if self.name in known:
                return known[self.name]
        return isinstance(getattr(self.model.visual, "proj", None), torch.nn.Parameter)

    def encode_pre_projection(self, pixels: torch.Tensor) -> torch.Tensor:
        """A ViT's pooled token before ``proj`` (what the CLIP paper probed for ViTs)."""
        visual = self.model.visual
        proj = getattr(visual, "proj", None)
        if not isinstance(proj, torch.nn.Parameter):
            raise UserError(f"pre-projection features are defined here for open_clip ViTs with a 'proj' "
                            f"matrix; {self.name} has none: use --probe-features embedding")
        visual.proj = None
        try:
            with self.image_autocast():
                return visual(self._pixels(pixels)).float()
        finally:
            visual.proj = proj

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        if self.text_precision != "fp32":
            # under autocast the truncated forward rounds differently: the whole context, as CLIP_benchmark runs it
            return self.model.encode_text(self.tokenizer(texts).to(self.device))
        if not hasattr(self, "_text_forward"):
            from bench.models.cpu_forward import onednn_text_blocks
            from prompts.text_tower import fast_text_encoder

            # float32 on the CPU: the causal blocks' products through oneDNN, as the image tower's (exact float32)
            self._text_forward, self.text_truncated = fast_text_encoder(
                self.model, onednn_text_blocks if self.device.type == "cpu" else None)
        return self._text_forward(self.tokenizer(texts).to(self.device))

    def info(self) -> dict[str, Any]:
        resolved = {"open_clip_model": self.name, "open_clip_pretrained": self.pretrained} \
            if getattr(self, "requested", self.name) != self.name else {}
        language = {"tokenizer_language": self.tokenizer_language} if self.tokenizer_language else {}
        return {**self._card["info"], "precision": self.precision, "channels_last": self.channels_last, **resolved,
                **language}

    @property
    def text_batch_size(self) -> int:
        """Prompts per text forward: 64 on the CPU, where smaller length-sorted batches stay in cache (ten Babel
        languages on ViT-B-32: 94 prompts/s against 78 at 256; English ImageNet prompts alike), 256 elsewhere."""
        return 64 if self.device.type == "cpu" else 256

    #: NLLB-CLIP: the NLLB code its tokenizer is set to (recorded; part of the text fingerprint)
    tokenizer_language: str | None = None

    def set_language(self, language: str) -> None:
        """NLLB-CLIP's tokenizer marks each text with its language: set it from ``--language`` through CLIP_benchmark's
        table (``en`` -> ``eng_Latn``), as its ``set_language`` does, when the tokenizer is (or will be) loaded."""
        from bench.models.base import is_nllb_clip

        if not is_nllb_clip(self.name):
            return
        from prompts.languages import nllb_language

        self.tokenizer_language = nllb_language(language)
        if self._model is not None:
            self._apply_language()

    def _apply_language(self) -> None:
        if self.tokenizer_language:
            self._tokenizer.tokenizer.set_src_lang_special_tokens(self.tokenizer_language)

    @property
    def probability(self) -> str:
        """SigLIP-style models (with a logit bias) score each class by a sigmoid."""
        return self._scores()["probability"]


def _torch_version() -> str:
    """torch's version as ``torch.__version__`` spells it (with its local build tag, e.g. ``+cu130``, which the
    distribution's metadata may lack), read from ``torch/version.py`` without importing torch."""
    if "torch" in sys.modules:
        return sys.modules["torch"].__version__
    from importlib import metadata
    from importlib.util import find_spec

    spec = find_spec("torch")  # locates the package; imports nothing
    version_file = Path(spec.origin).parent / "version.py" if spec is not None and spec.origin else None
    if version_file is not None and version_file.is_file():
        for line in version_file.read_text(encoding="utf-8").splitlines():
            if line.startswith("__version__"):
                return line.split("=", 1)[1].strip().strip("'\"")
    return metadata.version("torch")


def _uses_quick_gelu(model: torch.nn.Module) -> bool:
    from open_clip.transformer import QuickGELU

    return any(isinstance(m, QuickGELU) for m in model.modules())
