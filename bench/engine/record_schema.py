"""What a run record is: typed sections, a format version, and the upgrade of older records.

A record is one JSON object (``results/runs/*.json``). Its sections are dataclasses: the fields
every record carries are declared (and documented in ``docs/reference/records.md``, generated from
here); what a protocol adds of its own (``n_templates``, ``best_C``, ``n_captions``, ...) travels
in the section's ``extra`` and is flattened into the same JSON object, so a section reads like the
mapping it is on disk (``record.config["n_templates"]``) and the common fields read as attributes
(``record.config.metric``, ``record.task_info.parent``).

Format versions: 1 (zsbench up to round 3) and 2 (this module) have the same JSON layout; version 2
promises every declared field below. :func:`upgrade` fills what a version-1 record may lack, so
records written before still load, and a record from a newer zsbench is refused with one line.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

#: the layout this zsbench writes
RECORD_VERSION = 2
#: what a JSON file needs to be read as a run record
REQUIRED = {"model": str, "pretrained": str, "task": str, "protocol": str, "metrics": dict, "n_samples": int}


@dataclass
class Section(Mapping):
    """Declared fields plus ``extra``; reads as one flat mapping, written as one flat JSON object."""

    extra: dict[str, Any] = field(default_factory=dict)
    #: the declared fields its source had (None: built here, every field counts as given)
    _given: frozenset | None = field(default=None, repr=False, compare=False)
    #: declared fields written only when the source had them or they were set: an older record that lacks
    #: one keeps its layout when written back
    optional_fields: ClassVar[frozenset] = frozenset()

    @classmethod
    def declared(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in ("extra", "_given")]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Section":
        data = dict(data or {})
        names = set(cls.declared())
        known = {k: v for k, v in data.items() if k in names}
        return cls(**known, extra={k: v for k, v in data.items() if k not in names}, _given=frozenset(known))

    def to_dict(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.declared() if self._written(k)}, **self.extra}

    def _written(self, key: str) -> bool:
        return key not in self.optional_fields or self._given is None or key in self._given

    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        if key in self.declared():
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter([*self.declared(), *self.extra])

    def __len__(self) -> int:
        return len(self.declared()) + len(self.extra)

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self.declared():
            setattr(self, key, value)
            if self._given is not None:
                self._given = self._given | {key}
        else:
            self.extra[key] = value

    def update(self, other: Mapping[str, Any]) -> None:
        for k, v in other.items():
            self[k] = v


@dataclass
class Metrics(Section):
    """What was measured. ``primary`` is the task's own metric (``config.metric`` names it); the other
    keys are the protocol's (``Protocol.metrics``: top1, top5, recalls, Jaccard, robustness figures)."""

    primary: float | None = None

    @property
    def top1(self) -> float | None:
        return self.get("top1")


def _recorded_option_fields() -> list[tuple[str, Any, Any]]:
    """``RecordConfig``'s declared fields: every option ``RunConfig`` records (its declarations are the one list),
    each defaulting to the value earlier records had in effect (the option's ``legacy``, else its default)."""
    from dataclasses import MISSING

    from bench.engine.config import NO_LEGACY, RunConfig

    out = []
    for f in fields(RunConfig):
        if not f.metadata.get("record", True):
            continue
        legacy = f.metadata.get("legacy", NO_LEGACY)
        default = legacy if legacy is not NO_LEGACY else (f.default if f.default is not MISSING else f.default_factory())
        if isinstance(default, Path):
            default = str(default)  # records keep paths as text
        if isinstance(default, (list, dict, set)):
            out.append((f.name, f.type, field(default_factory=lambda d=default: type(d)(d))))
        else:
            out.append((f.name, f.type, field(default=default)))
    return out


class _RecordConfigMethods:
    def task_templates(self) -> bool:
        """The task's own template set (True) or a ``--templates`` override."""
        return bool(self.get("task_templates", True))

    def run_config(self, **overrides: Any):
        """The :class:`~bench.engine.config.RunConfig` this record was made under (options it does
        not record keep their defaults): what the doctor and the work key take."""
        from bench.engine.config import RunConfig

        return RunConfig.from_recorded(self, **overrides)


#: How the number was made: every option ``RunConfig`` records (declared fields generated from its
#: declarations: ``record.config.precision``, ``record.config.profile``, ...), what the engine adds (``metric``,
#: ``subset``, ``work_key``), and in ``extra`` what a protocol reports of its own run (``n_templates``,
#: ``best_C``, ...) and a protocol's declared options under its name (``config["feature-norm"]``).
RecordConfig = make_dataclass(
    "RecordConfig",
    [*_recorded_option_fields(),
     ("metric", str, field(default="top1")),          # the task's main metric
     ("subset", str, field(default="full")),          # "full", "stratified" under --limit, "adaptive"
     ("work_key", "str | None", field(default=None))],  # the hash that names this piece of work (bench.engine.work)
    bases=(Section,),
    namespace={"optional_fields": frozenset(name for name, _, _ in _recorded_option_fields()),
               "__doc__": "How the number was made: the recorded run options (declared from RunConfig), what the "
                          "engine adds, and the protocol's own settings in ``extra``.",
               "__module__": __name__,
               "task_templates": property(_RecordConfigMethods.task_templates),
               "run_config": _RecordConfigMethods.run_config})


@dataclass
class Adaptive(Section):
    """``--target-ci`` / ``--top K`` / a ``sweep --top`` round: how much of the test set a growing sample used
    and the anytime-valid interval it reached (``selection``: a top-K selection's facts)."""

    n: int = 0                                   # samples evaluated
    N: int = 0                                   # samples in the whole test set
    interval: list = field(default_factory=list)  # [lo, hi] of the metric over the whole test set
    metric: str = "top1"
    method: str = ""
    confidence: float = 0.95
    seed: int = 0
    order: str = ""
    looks: list = field(default_factory=list)    # sample sizes at which the sequence was read


@dataclass
class TaskInfo(Section):
    """The data as evaluated: where it came from, its classes exactly as prompted, and facts the
    protocol adds (feature cache, skipped images, templates used, ...)."""

    source: str = "-"
    data_identity: str | None = None
    n_classes: int = 0
    classnames: list[str] = field(default_factory=list)          # display names, label order
    prompt_classnames: list[Any] = field(default_factory=list)   # as prompted (synonyms as lists)
    classnames_origin: str = "-"
    dataset_size: int = 0
    parent: str | None = None         # the in-distribution task of a shift
    class_subset: str | None = None   # ImageNet-R/A, ObjectNet: the subset of the parent's classes


@dataclass
class ModelInfo(Section):
    """The backend: its fingerprint (weights identity), preprocessing, and its own facts in ``extra``."""

    fingerprint: str = ""
    preprocess: str | None = None


@dataclass
class Timings(Section):
    """Seconds per step; protocols add theirs (features, classifier, evaluate, probe)."""

    model_load: float | None = None
    data_open: float | None = None


@dataclass
class Versions(Section):
    """Versions of everything that can change a number (packages in ``extra``), and the git commit."""

    python: str = ""
    platform: str = ""
    git_commit: str | None = None


SECTIONS: dict[str, type[Section]] = {"metrics": Metrics, "config": RecordConfig, "task_info": TaskInfo,
                                      "model_info": ModelInfo, "timings": Timings, "versions": Versions}


@dataclass
class RunRecord:
    """One (model, task, protocol, template set) result and everything needed to reproduce or question it."""

    model: str
    pretrained: str
    task: str
    split: str
    protocol: str
    metrics: Metrics
    n_samples: int
    templates: str
    seed: int
    config: RecordConfig = field(default_factory=RecordConfig)
    versions: Versions = field(default_factory=Versions)
    timings: Timings = field(default_factory=Timings)
    model_info: ModelInfo = field(default_factory=ModelInfo)
    task_info: TaskInfo = field(default_factory=TaskInfo)
    created: str = ""
    record_version: int = RECORD_VERSION
    predictions_file: str | None = None
    #: ``--target-ci`` / ``--top K``: n used, N in all, the interval, method, confidence, seed (None: a full run)
    adaptive: Adaptive | None = None
    #: where it was read from (not written)
    path: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name, cls in SECTIONS.items():  # plain dicts (older callers, protocols) become sections
            value = getattr(self, name)
            if not isinstance(value, cls):
                setattr(self, name, cls.from_dict(value))
        if self.adaptive is not None and not isinstance(self.adaptive, Adaptive):
            self.adaptive = Adaptive.from_dict(self.adaptive)

    def predictions(self) -> dict:
        """The per-sample arrays stored beside the record (its ``.preds.npz``), read from where it was read."""
        if self.path is None:
            raise ValueError("this record was not read from a file: its predictions are not on disk")
        return predictions_beside(Path(self.path))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "path":
                continue
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, Section) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str | None = None) -> "RunRecord":
        data = upgrade(dict(data))
        names = {f.name for f in fields(cls)} - {"path"}
        return cls(**{k: v for k, v in data.items() if k in names}, path=path)

    @property
    def label(self) -> str:
        return f"{self.model} / {self.pretrained}"

    @property
    def primary(self) -> float | None:
        return self.metrics.primary

    @property
    def stem(self) -> str:
        import re
        from pathlib import Path

        def slug(text: str) -> str:
            text = Path(text).name if ("/" in text and Path(text).suffix) else text
            return re.sub(r"[^A-Za-z0-9._=-]+", "-", str(text)).strip("-")[:80] or "x"
        parts = [self.model, self.pretrained, self.task, self.protocol, self.templates, self.created]
        return "__".join(slug(p) for p in parts)


def predictions_beside(record_path: Path) -> dict:
    """The per-sample arrays of the record at ``record_path`` (``NAME.preds.npz`` beside ``NAME.json``)."""
    import numpy as np

    with np.load(Path(record_path).with_suffix(".preds.npz")) as npz:
        return {k: npz[k] for k in npz.files}


class NewerRecord(ValueError):
    """A record written by a newer zsbench than this one."""


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A record of any earlier format as this version reads it (the file itself is left alone).

    Version 1 (and the unversioned records before it): ``metrics.primary`` may be missing (the
    task's metric, else top-1, stands in), ``split``, ``templates`` and ``seed`` may be missing.
    """
    version = int(data.get("record_version", 1) or 1)
    if version > RECORD_VERSION:
        raise NewerRecord(f"record format {version} is newer than this zsbench reads ({RECORD_VERSION}): "
                          "upgrade zsbench")
    if version < 2:
        metrics = dict(data.get("metrics") or {})
        config = dict(data.get("config") or {})
        metric = config.get("metric", "top1")
        metrics.setdefault("primary", metrics.get(metric, metrics.get("top1")))
        data = {**data, "metrics": metrics, "config": config}
        data.setdefault("split", "-")
        data.setdefault("templates", "-")
        data.setdefault("seed", config.get("seed", 0))
    return data
