"""`zsbench doctor`: why a zero-shot number differs from a published one.

Given a run record, the doctor re-scores the record's own configuration from the caches (it must
give the recorded number back), then one variant at a time of the choices that usually explain a
gap between two implementations of "the same" evaluation:

- class names: the other reference's (CLIP vs CLIP_benchmark), the dataset's own, lower-cased;
- templates: the other reference's, the 80 ImageNet templates, the single "a photo of a {}.";
- text: how prompts are pooled (where the backend has such a choice: ConSE's MiniLM);
- preprocessing: bicubic vs bilinear resizing, resizing tensors without antialiasing;
- model: image precision (bf16 / fp16), QuickGELU on or off (open_clip), ConSE's top-T and
  label templates;
- profile: each difference between the record's profile and the other two, one at a time
  (``bench.core.profiles``): their class names and templates (the export's own, blank lines,
  underscores), their text precision, their image and logit precision, their image transforms
  (ObjectNet's border). The retrieval source is not a zero-shot classification choice.

Each variant reports the metric, how far it moves it from the re-scored value, whether it closes
the gap to ``expected``, and its cost: measured seconds and what had to be computed (nothing:
cached; text embeddings; image features). Variants that touch only text reuse the cached image
features, so a diagnosis of a cached record costs seconds to minutes; image variants re-extract
features (and cache them, so a second diagnosis is fast). ``limit`` scores everything on a seeded
class-stratified subset instead (the record's own configuration included), to bound the cost.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch

from bench.apps.choices import DOCTOR_GROUPS
from bench.engine.protocol_registry import protocol_class
from bench.core.errors import UserError
from bench.models.base import describe_transform
from bench.engine.records import read_record

GROUPS = DOCTOR_GROUPS


@dataclass
class Finding:
    variant: str
    group: str
    value: float | None
    delta: float | None          # value - the record's configuration re-scored here
    seconds: float
    cost: str                    # what had to be computed
    note: str = ""

    def closes(self, gap: float | None) -> float | None:
        """The share of the gap (expected - rescored) this variant closes (1 = all of it)."""
        if gap in (None, 0) or self.delta is None:
            return None
        return self.delta / gap


@dataclass
class Diagnosis:
    record: str
    model: str
    task: str
    metric: str
    recorded: float
    rescored: float
    expected: float | None
    n_samples: int
    subset: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        return None if self.expected is None else self.expected - self.rescored

    def ranked(self) -> list[Finding]:
        """Variants that could be scored, those moving the metric most towards the expected figure first
        (by size of the change when no figure is given)."""
        scored = [f for f in self.findings if f.delta is not None]
        gap = self.gap
        if gap is None:
            return sorted(scored, key=lambda f: -abs(f.delta))
        return sorted(scored, key=lambda f: abs(gap - f.delta))

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {**{k: v for k, v in asdict(self).items() if k != "findings"}, "gap": self.gap,
                "findings": [asdict(f) | {"closes": f.closes(self.gap)} for f in self.ranked()],
                "not_applicable": [asdict(f) for f in self.findings if f.delta is None]}


class _Variant:
    """The record's backend with another image preprocessing; everything else is the original's.
    Its ``preprocess_id`` changes with the transform, so its features are cached apart."""

    def __init__(self, backend: Any, preprocess: Callable):
        self._backend, self._preprocess = backend, preprocess

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    @property
    def preprocess(self) -> Callable:
        return self._preprocess

    @property
    def preprocess_id(self) -> str:
        return describe_transform(self._preprocess)


def swap_interpolation(transform: Any, mode: str) -> Any | None:
    """``transform`` with its resize interpolation set to ``mode`` (bilinear | bicubic); None if it has
    no resize zsbench knows how to change (or already uses ``mode``)."""
    from torchvision import transforms as T

    if hasattr(transform, "image_processor"):  # a transformers image processor (PIL resampling codes)
        codes = {"bilinear": 2, "bicubic": 3}
        if getattr(transform.image_processor, "resample", None) in (None, codes[mode]):
            return None
        new = copy.deepcopy(transform)
        new.image_processor.resample = codes[mode]
        return new
    steps = getattr(transform, "transforms", None)
    if not steps:
        return None
    target = T.InterpolationMode(mode)
    changed, out = False, []
    for step in steps:
        if isinstance(step, T.Resize) and step.interpolation != target:
            step, changed = T.Resize(step.size, interpolation=target, max_size=step.max_size,
                                     antialias=step.antialias), True
        out.append(step)
    return T.Compose(out) if changed else None


def tensor_resize_without_antialias(transform: Any) -> Any | None:
    """The same steps on a float tensor, resized without antialiasing, as tensor/GPU pipelines and some
    ports do. It differs from the PIL path three ways at once: no antialiasing when shrinking (PIL
    always antialiases), torch's bicubic kernel (a = -0.75; PIL's a = -0.5) and no rounding or
    clipping to 8 bits after the resize. None if there is no torchvision resize."""
    from torchvision import transforms as T

    steps = getattr(transform, "transforms", None)
    if not steps or not any(isinstance(s, T.Resize) for s in steps):
        return None
    out: list[Any] = [_rgb, T.PILToTensor(), T.ConvertImageDtype(torch.float32)]
    for step in steps:
        if isinstance(step, T.Resize):
            out.append(T.Resize(step.size, interpolation=step.interpolation, max_size=step.max_size, antialias=False))
        elif isinstance(step, (T.CenterCrop, T.Normalize)):
            out.append(step)
        elif isinstance(step, T.ToTensor) or callable(step):
            continue  # the tensor is made first; RGB conversion is done first too
    return T.Compose(out)


def _rgb(image: Any) -> Any:
    return image.convert("RGB") if getattr(image, "mode", "RGB") != "RGB" else image


class Doctor:
    """Re-scores one zero-shot record under variants (see the module docstring)."""

    def __init__(self, record_path: Path | str, cache_dir: Path | None = None, data_dir: Path | None = None,
                 limit: int | None = None, device: str = "cpu", workers: int | None = None, progress: bool = True,
                 task: str | None = None, profile: str | None = None):
        from bench.engine.runner import data_context

        self.path = Path(record_path)
        self.rec = read_record(self.path)
        if not protocol_class(self.rec.protocol).uses_templates:
            raise UserError(f"{self.path} is a {self.rec.protocol} record: the doctor re-scores zero-shot "
                            "classification records")
        # the record's own options (channels-last, precision, prompts, ...) as it recorded them; its cache
        # and data folders unless told otherwise (its features are there)
        recorded = self.rec.config.run_config()
        if profile and profile != recorded.profile:  # what that profile decides, decided afresh
            from bench.engine.config import RunConfig

            undecided = {k: v for k, v in self.rec.config.items()
                         if k not in ("profile", "prompt_source", "precision", "text_precision")}
            recorded = RunConfig.from_recorded(undecided, profile=profile, language=recorded.language)
        self.ctx = data_context(cache_dir or recorded.cache_dir, data_dir or recorded.data_dir, recorded.profile)
        self.config = replace(recorded, models=[(self.rec.model, self.rec.pretrained)], tasks=[self.rec.task],
                              split=self.rec.split, limit=limit if limit is not None else recorded.limit,
                              device=device, num_workers=workers, progress=progress, no_save=True)
        self.templates = None if self.rec.config.task_templates else self.rec.templates
        self.progress, self.task_ref = progress, task

    # -- scoring -------------------------------------------------------------------------------------
    def _setup(self) -> None:
        from bench.engine.evaluation import open_task
        from bench.engine.features import FeatureExtractor
        from bench.engine.runner import load_backend
        from tasks.registry import get_task

        self.spec = self._task_spec(get_task)
        if self.spec.kind != "classification":
            raise UserError(f"task {self.spec.name} is not classification: the doctor re-scores zero-shot classification")
        self.task = open_task(self.spec, self.config, self.ctx)
        self.backend = load_backend(self.config, self.rec.model, self.rec.pretrained, self.ctx.store)
        self.extract = lambda backend: FeatureExtractor(backend, self.ctx.store, None, self.config.num_workers,
                                                        self.progress, "skip")

    def _task_spec(self, get_task: Callable) -> Any:
        """The record's task: ``--task``, else its registered name, else the folder/file it was read from."""
        if self.task_ref:
            return get_task(self.task_ref)
        try:
            return get_task(self.rec.task)
        except UserError:
            origin = self.rec.task_info.source
            if origin and Path(origin).exists():
                return get_task(origin)
            raise UserError(f"task {self.rec.task} of {self.path} is neither registered nor at {origin}: pass "
                            "--task NAME_OR_PATH") from None

    def _features(self, backend: Any):
        return self.extract(backend)(self.task.source, self.task.split, self.task.indices)

    def _score(self, backend: Any, names: list, templates: list[str], feats=None,
               score_precision: str | None = None) -> tuple[float, Any, dict]:
        """The task's own metric, computed as the zero-shot protocol computes it (logits in the
        record's profile's precision unless ``score_precision`` says otherwise)."""
        from bench.engine.classifiers import cached_classifier
        from bench.protocols.zeroshot import task_metrics
        from bench.engine.zeroshot import evaluate_zeroshot

        feats = feats if feats is not None else self._features(backend)
        weights, info = cached_classifier(backend, names, templates, self.ctx.store, progress=self.progress)
        metrics, top5, _ = evaluate_zeroshot(feats.features, feats.labels, weights,
                                             score_precision or self.config.score_precision)
        metrics.update(task_metrics(self.spec, self.task.source, feats, top5))
        return float(metrics[self.spec.metric]), feats, info

    def _timed(self, name: str, group: str, run: Callable[[], tuple[float, str]], base: float) -> Finding:
        t0 = time.perf_counter()
        try:
            value, cost = run()
        except UserError as exc:
            return Finding(name, group, None, None, 0.0, "-", note=str(exc))
        return Finding(name, group, value, value - base, time.perf_counter() - t0, cost)

    # -- the variants ----------------------------------------------------------------------------------
    def variants(self) -> list[tuple[str, str, Callable[[], tuple[float, str]]]]:
        """(name, group, run) for every variant that applies to this record's model and task."""
        from prompts.classnames import display_name
        from tasks.classes import PromptChoice, resolve_classnames, resolve_templates, source_classnames

        spec, task, backend, prompts = self.spec, self.task, self.backend, self.config.prompt_choice
        names, templates, feats = task.classnames, self.base_templates, self.base_features
        out: list[tuple[str, str, Callable[[], tuple[float, str]]]] = []

        def text_only(new_names, new_templates) -> Callable[[], tuple[float, str]]:
            def run():
                value, _, info = self._score(backend, new_names, new_templates, feats)
                return value, "cached" if info.get("cache") == "hit" else "text embeddings"
            return run

        other = PromptChoice("clip_benchmark" if prompts.source == "clip" else "clip", "en")
        if prompts.language == "en":
            try:
                o_names = resolve_classnames(spec, task.source, other)
                o_templates = resolve_templates(spec, self.templates, task.source, other)[0]
                if o_names != names:
                    out.append((f"class names from {other.source}", "class names", text_only(o_names, templates)))
                if o_templates != templates:
                    out.append((f"templates from {other.source}", "templates", text_only(names, o_templates)))
            except UserError:
                pass
        own = source_classnames(spec, task.source)
        if own is not None and [display_name(n) for n in own] != [display_name(n) for n in names]:
            out.append(("the dataset's own class names", "class names", text_only(own, templates)))
        lowered = [n.lower() if isinstance(n, str) else [s.lower() for s in n] for n in names]
        if lowered != names:
            out.append(("class names lower-cased", "class names", text_only(lowered, templates)))
        for alt in ("single", "openai_imagenet", "simple_imagenet"):
            alt_templates = resolve_templates(spec, alt, task.source, prompts)[0]
            if alt_templates != templates:
                out.append((f"templates: {alt} ({len(alt_templates)})", "templates", text_only(names, alt_templates)))
        if self.templates is not None:
            own_templates = resolve_templates(spec, None, task.source, prompts)[0]
            out.append((f"templates: the task's own ({len(own_templates)})", "templates", text_only(names, own_templates)))

        for mode in ("bilinear", "bicubic"):
            pre = swap_interpolation(backend.preprocess, mode)
            if pre is not None:
                out.append((f"resize interpolation {mode}", "preprocessing",
                            lambda pre=pre: self._model_run(lambda: _Variant(backend, pre), names, templates)))
        pre = tensor_resize_without_antialias(backend.preprocess)
        if pre is not None:
            out.append(("resize on tensors (torch's kernel, no antialiasing, no uint8 rounding)", "preprocessing",
                        lambda: self._model_run(lambda: _Variant(backend, pre), names, templates)))
        out += self._model_variants(names, templates)
        out += self._profile_variants(names, templates, text_only)
        return out

    def _profile_variants(self, names: list, templates: list[str], text_only: Callable) -> list[tuple[str, str, Callable]]:
        """Each way another profile differs from the record's, as a variant of its own."""
        from bench.core.profiles import PROFILES
        from bench.engine.evaluation import open_task
        from bench.models import load_model
        from tasks.classes import PromptChoice, resolve_classnames, resolve_templates
        from tasks.sources import DataContext

        rec, cfg, spec, task, out = self.rec, self.config, self.spec, self.task, []
        for other in PROFILES.values():
            if other.name == cfg.profile:
                continue
            tag = f"profile {other.name}:"
            if cfg.language == "en":
                choice = PromptChoice(other.prompt_source, "en", other.name)
                try:
                    o_names = resolve_classnames(spec, task.source, choice)
                    o_templates = resolve_templates(spec, self.templates, task.source, choice)[0]
                except UserError:
                    o_names, o_templates = names, templates
                if (o_names, o_templates) != (names, templates):
                    out.append((f"{tag} its class names and templates", "profile", text_only(o_names, o_templates)))
            text = other.autocast_dtype("text", cfg.device)
            if text != cfg.text_precision:
                twin = copy.copy(self.backend)
                twin.text_precision = text
                out.append((f"{tag} text tower in {text}", "profile", lambda twin=twin: (
                    self._score(twin, names, templates, self.base_features)[0], "text embeddings")))
            image = other.autocast_dtype("image", cfg.device)
            scored = image if other.image_autocast == "device" else "fp32"
            if (image, scored) != (cfg.precision, cfg.score_precision):
                out.append((f"{tag} image tower in {image}, logits in {scored}", "profile", lambda image=image, scored=scored:
                            self._model_run(lambda: load_model(rec.model, rec.pretrained, device=cfg.device,
                                                               store=self.ctx.store, precision=image),
                                            names, templates, score_precision=scored)))
            transforms = [s.options.get("transform") for s in spec.sources if s.options.get("transform")]
            if transforms and other.task_transforms != cfg.profile_spec.task_transforms:
                def reopened(other=other):
                    ctx = DataContext(self.ctx.data_dir, self.ctx.store, other.name)
                    opened = open_task(spec, cfg, ctx)
                    f = self.extract(self.backend)(opened.source, opened.split, opened.indices)
                    return self._score(self.backend, names, templates, f)[0], " + ".join(_image_cost(f)) or "cached"
                what = "without" if cfg.profile_spec.task_transforms else "with"
                out.append((f"{tag} {what} the task's image transform ({', '.join(transforms)})", "profile", reopened))
        return out

    def _model_variants(self, names: list, templates: list[str]) -> list[tuple[str, str, Callable]]:
        from bench.models import load_model

        rec, cfg, out = self.rec, self.config, []
        other_precision = "fp16" if cfg.device.startswith("cuda") else "bf16"
        if cfg.precision == "fp32":
            out.append((f"image precision {other_precision}", "model",
                        lambda: self._model_run(lambda: load_model(rec.model, rec.pretrained, device=cfg.device,
                                                                   store=self.ctx.store, precision=other_precision),
                                                names, templates)))
        if self.backend.info().get("backend") == "conse":
            from bench.models.conse import ConSEBackend

            top_t = self.backend.top_t
            for t in sorted({1, 5, 20} - {top_t}):
                out.append((f"ConSE top-T = {t}", "model", lambda t=t: self._model_run(
                    lambda: ConSEBackend(top_t=t, device=cfg.device, store=self.ctx.store), names, templates)))
            if self.backend.label_templates != "single":
                out.append(("ConSE ImageNet labels with one template", "model", lambda: self._model_run(
                    lambda: ConSEBackend(top_t=top_t, device=cfg.device, store=self.ctx.store, label_templates="single"),
                    names, templates)))
            out.append(("text: first-token ([CLS]) pooling instead of the mean", "text", lambda: self._model_run(
                lambda: ConSEBackend(top_t=top_t, device=cfg.device, store=self.ctx.store, text_pooling="cls"),
                names, templates)))
        quick = _quickgelu_twin(rec.model)
        if quick is not None and self.backend.info().get("backend", "open_clip") == "open_clip":
            out.append((f"QuickGELU {'off' if rec.model.endswith('-quickgelu') else 'on'} ({quick})", "model",
                        lambda: self._model_run(lambda: load_model(quick, rec.pretrained, device=cfg.device,
                                                                   store=self.ctx.store), names, templates)))
        return out

    def _model_run(self, make: Callable[[], Any], names: list, templates: list[str],
                   score_precision: str | None = None) -> tuple[float, str]:
        """Score another backend (or the record's with other preprocessing): what it had to compute.
        Its text tower runs at the record's text precision, as the record's own backend does."""
        backend = make()
        backend.progress = self.progress  # its own internal bars (ConSE's label embeddings) follow --quiet
        backend.text_precision = self.config.text_precision
        value, f, info = self._score(backend, names, templates, score_precision=score_precision)
        parts = _image_cost(f)
        parts += [] if info.get("cache") == "hit" else ["text embeddings"]
        return value, " + ".join(parts) or "cached"

    # -- the diagnosis ------------------------------------------------------------------------------
    def run(self, expected: float | None = None, groups: tuple[str, ...] = GROUPS) -> Diagnosis:
        from tasks.classes import resolve_templates

        self._setup()
        self.base_templates = resolve_templates(self.spec, self.templates, self.task.source,
                                                self.config.prompt_choice)[0]
        base, self.base_features, _ = self._score(self.backend, self.task.classnames, self.base_templates)
        recorded = float(self.rec.metrics.primary)
        diagnosis = Diagnosis(str(self.path), f"{self.rec.model} / {self.rec.pretrained}", self.spec.name,
                              self.spec.metric, recorded, base, expected, int(len(self.base_features.labels)),
                              self.task.subset)
        for name, group, run in self.variants():
            if group in groups:
                diagnosis.findings.append(self._timed(name, group, run, base))
        return diagnosis


def _image_cost(feats) -> list[str]:
    """What a variant's image features cost: nothing when cached, else the images embedded."""
    return [] if feats.info.get("cache") == "hit" else [f"image features ({len(feats.labels):,} images)"]


def _quickgelu_twin(model: str) -> str | None:
    """The open_clip model name with QuickGELU toggled, if open_clip has that config."""
    import open_clip

    twin = model[: -len("-quickgelu")] if model.endswith("-quickgelu") else model + "-quickgelu"
    return twin if open_clip.get_model_config(twin) is not None else None


def published_figure(record) -> float | None:
    """open_clip's published figure for the record's checkpoint and task (a fraction), if any."""
    from bench.report.leaderboard import published

    pub = published()
    row = pub[(pub.model == record.model) & (pub.pretrained == record.pretrained) & (pub.task == record.task)]
    return float(row.value.iloc[0]) if len(row) else None

