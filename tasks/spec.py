"""A task is data + config: where the images come from, what the classes are called, which
prompts and metric the CLIP paper used for it. Adding a dataset means writing one of these."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: a task's main metric; "mean_top1_top5" is the CLIP paper's for Kinetics-700 (its dataset table, Table 9);
#: the last five are DataComp's own keys (tasklist.yml's main_metric): iWildCam, FMoW, Dollar Street,
#: GeoDE (see bench/engine/group_metrics.py) and WinoGAViL (bench/protocols/association.py)
METRICS = ("top1", "mean_per_class_recall", "mean_recall@1", "mean_top1_top5",
           "F1-macro_all", "acc_worst_region", "acc_top5_wg", "acc_wg", "jaccard_score_10-12")
#: the task kinds whose tasks ship here and whose main metric is one of METRICS: classify images among
#: class names, match images and captions, pick the images a cue word is associated with (WinoGAViL). A
#: protocol may serve a kind of its own (``Protocol.kinds``: image-caption selection, ...): tasks of such a
#: kind take the protocol's metrics, and the run checks that an installed protocol evaluates the kind.
CORE_KINDS = ("classification", "retrieval", "association")
#: what to do with an image that cannot be decoded (``--on-bad-image``)
BAD_IMAGE_POLICIES = ("skip", "fail")


@dataclass(frozen=True)
class SourceSpec:
    """One way to obtain the images: a source type (see ``tasks.sources``) and its options."""

    type: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """Everything the engine needs to know about a dataset, as plain data.

    ``sources`` are alternatives tried in order, first those already on disk, then those that
    can be fetched (so a local copy always wins over a download). ``classnames`` and
    ``templates`` are set names (see ``prompts``), file paths, or inline lists; ``"source"``
    (alias ``"folder"``) takes class names from the data itself (folder names with ``_`` read as
    a space, a manifest's labels, a webdataset's classnames.txt), and templates ``"source"``
    takes a webdataset's own template file.

    Shift tasks name the in-distribution task they shift from (``parent``) and, when they cover
    only some of its classes, ``class_subset``: a named list (see ``tasks.subsets``) giving, for
    each of this task's classes, the parent's class indices it corresponds to.
    """

    name: str
    sources: tuple[SourceSpec, ...]
    classnames: Any
    templates: Any = "openai_imagenet"
    metric: str = "top1"
    split: str = "test"
    train_split: str | None = None   # for linear probes
    val_split: str | None = None     # if the dataset has one; else probes split train
    description: str = ""
    renames: dict[str, Any] = field(default_factory=dict)
    n_classes: int | None = None
    sizes: dict[str, int] = field(default_factory=dict)   # published sample counts per split
    parent: str | None = None
    class_subset: str | None = None
    paper: str = ""   # the CLIP paper's name for it, where it has one
    kind: str = "classification"   # "retrieval" (images with captions), or any kind a protocol declares
    #: worst-group scoring from per-sample metadata: {"fields": [...], "by": field, "metric": key, "topk": k}
    groups: dict[str, Any] = field(default_factory=dict)
    #: the ``--language`` codes it takes: a named set of ``prompts.languages`` (None: CLIP_benchmark's five where it
    #: names the task's classes, else English only)
    languages: str | None = None
    #: a table giving each language its own subset of the data's classes, names and templates (Babel-ImageNet)
    language_table: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind.strip():
            raise ValueError(f"task {self.name}: kind must be a non-empty string, not {self.kind!r}")
        if self.kind in CORE_KINDS and self.metric not in METRICS:
            raise ValueError(f"task {self.name}: metric must be one of {METRICS}, not {self.metric!r}")

    @property
    def splits(self) -> list[str]:
        return [s for s in dict.fromkeys([self.split, self.train_split, self.val_split]) if s]
