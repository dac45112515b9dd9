"""What a protocol sees of one model on one task: its data, cached features and classifiers.

The runner opens every task once (:func:`open_task`) and hands each protocol an
:class:`Evaluation`. Features and classifiers come from the content-addressed cache and are
also kept in memory for the rest of the model's run, so protocols that share a task (zero-shot
under several template sets, the linear probe and few-shot, a shift and its parent) compute
nothing twice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from bench.engine.classifiers import cached_classifier
from bench.engine.config import RunConfig
from bench.core.errors import UserError
from bench.core.store import Store
from bench.engine.features import FeatureExtractor, FeatureSet
from bench.models.base import ModelBackend
from bench.engine.sampling import stratified_subset
from prompts.classnames import ClassName
from prompts.templates import ClassPrompts
from bench.engine.protocol_registry import kind_names_classes
from tasks.classes import (language_label_map, override_classnames, profile_note, resolve_classnames_with_origin,
                           resolve_templates)
from tasks.sources import DataContext, ImageSource, open_source
from tasks.spec import TaskSpec


@dataclass
class OpenedTask:
    """A task with its data opened: the evaluation split (and training/validation splits for probes)."""

    spec: TaskSpec
    split: str
    source: ImageSource
    classnames: list[ClassName]
    indices: np.ndarray
    seconds: float
    train: tuple[ImageSource, np.ndarray] | None = None
    val: tuple[ImageSource, np.ndarray] | None = None
    names_origin: str = "-"   # which reference the class names come from (recorded)
    source_note: str | None = None  # the data is not the task's first choice: where it came from instead
    #: the data's label -> the task's (-1: left out), where the run's language picks a subset of the data's classes
    #: (Babel-ImageNet): the source stays the whole dataset, so every language shares one feature extraction
    label_map: np.ndarray | None = None

    def relabel(self, feats: FeatureSet) -> FeatureSet:
        """Features with the data's labels as the task's (see ``label_map``); unchanged for other tasks."""
        if self.label_map is None or not len(feats.labels):
            return feats
        labels = _mapped(self.label_map, feats.labels)
        keep = labels >= 0
        if keep.all():
            return replace(feats, labels=labels)
        if not isinstance(feats.features, np.ndarray):
            raise UserError(f"task {self.spec.name}: its language's classes are a subset of the data's, which a "
                            "streamed probe cannot select: run with --probe-stream off")
        return replace(feats, features=feats.features[keep], labels=labels[keep], indices=feats.indices[keep])

    @property
    def subset(self) -> str:
        return "stratified" if len(self.indices) < len(self.source) else "full"


def open_task(spec: TaskSpec, config: RunConfig, ctx: DataContext, train: bool = False) -> OpenedTask:
    """Open a task's evaluation split (and with ``train``, its training and validation splits)."""
    t0 = time.perf_counter()
    split = config.split or spec.split
    source = open_source(spec, split, ctx)
    classnames, origin = resolve_classnames_with_origin(spec, source, config.prompt_choice) \
        if kind_names_classes(spec.kind) else ([], "-")
    if config.classnames_file and classnames:
        new = override_classnames(spec, classnames, config.classnames_file)
        origin = origin if new is classnames else f"--classnames {config.classnames_file}"
        classnames = new
    label_map = language_label_map(spec, config.prompt_choice)
    rows = np.arange(len(source)) if label_map is None else np.flatnonzero(
        _mapped(label_map, np.asarray(source.targets)) >= 0)  # the language's classes (in the data's order)
    indices = rows[stratified_subset(np.asarray(source.targets)[rows], config.limit, config.seed)] if config.limit \
        else rows
    notes = [getattr(source, "choice_note", None), profile_note(spec, source, config.prompt_choice)]
    opened = OpenedTask(spec, split, source, classnames, indices, 0.0, names_origin=origin,
                        source_note="; ".join(n for n in notes if n) or None, label_map=label_map)
    if train:
        if not spec.train_split:
            raise UserError(f"task {spec.name} has no training split, which probes need: use --protocol zeroshot")
        train_src = open_source(spec, spec.train_split, ctx)
        train_idx = (stratified_subset(train_src.targets, config.train_limit, config.seed)
                     if config.train_limit else np.arange(len(train_src)))
        opened.train = (train_src, train_idx)
        if spec.val_split:
            val = open_source(spec, spec.val_split, ctx)
            opened.val = (val, np.arange(len(val)))
    opened.seconds = time.perf_counter() - t0
    return opened


def _mapped(label_map: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``label_map`` applied to labels that may lie beyond it or be negative (left out: -1)."""
    inside = (labels >= 0) & (labels < len(label_map))
    return np.where(inside, label_map[np.clip(labels, 0, len(label_map) - 1)], -1)


@dataclass
class Classifier:
    """A zero-shot classifier and what it was built from."""

    weights: np.ndarray          # [embed_dim, n_classes] float32, columns normalized
    templates: list[str]
    name: str                    # the template set's name (recorded)
    info: dict[str, Any]         # cache hit/miss, seconds

    @property
    def n_templates(self) -> int:
        """Templates in the ensemble; for class-specific prompts, prompts per class (rounded mean)."""
        if isinstance(self.templates, ClassPrompts):
            return round(self.templates.n_prompts / max(1, len(self.templates)))
        return len(self.templates)

    @property
    def recorded_templates(self) -> Any:
        """The prompts as a record keeps them (see :meth:`ClassPrompts.recorded`)."""
        return self.templates.recorded() if isinstance(self.templates, ClassPrompts) else self.templates


class Evaluation:
    """One model on one opened task, with the run's other tasks reachable through :meth:`peer`."""

    def __init__(self, config: RunConfig, backend: ModelBackend, task: OpenedTask, store: Store,
                 extract: FeatureExtractor, tasks: dict[str, OpenedTask], memo: dict):
        self.config, self.backend, self.task, self.store = config, backend, task, store
        self._extract, self._tasks, self._memo = extract, tasks, memo

    @property
    def spec(self) -> TaskSpec:
        return self.task.spec

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """A value computed once per model for the whole run (shared by protocols and peers)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def features(self, role: str = "test", kind: str = "embedding", lazy: bool = False) -> FeatureSet:
        """Image features of the task's ``test`` split (the evaluation split), ``train`` or ``val``."""
        source, split, indices = self._split(role)
        return self.memo(self._features_key(role, kind, lazy),
                         lambda: self.task.relabel(self._extract(source, split, indices, kind=kind, lazy=lazy)))

    def _features_key(self, role: str, kind: str, lazy: bool) -> tuple:
        from bench.engine.feature_cache import indices_digest

        # the test role's sample is part of the key: a restricted view (adaptive) has its own features; so are the
        # data (another language's captions may list other images) and the labels (another language's classes)
        sample = indices_digest(self.task.indices) if role == "test" else None
        labels = None if self.task.label_map is None else indices_digest(self.task.label_map)
        return ("features", self.spec.name, self._split(role)[0].identity, role, kind, lazy, sample, labels)

    def sample_features(self, indices: np.ndarray) -> FeatureSet:
        """Embeddings of some samples of the evaluation split (cached as their own entry; rows that an
        earlier extraction of this model on this data already holds are reused, not recomputed)."""
        return self.task.relabel(self._extract(self.task.source, self.task.split, np.asarray(indices, dtype=np.int64)))

    def restricted(self, indices: np.ndarray, features: FeatureSet) -> "Evaluation":
        """This evaluation on the evaluation split's ``indices`` only (adaptive evaluation's growing
        sample), with their ``features`` already extracted; classifiers and other tasks stay shared."""
        view = Evaluation(self.config, self.backend, replace(self.task, indices=np.asarray(indices)), self.store,
                          self._extract, self._tasks, self._memo)
        self._memo[view._features_key("test", "embedding", False)] = features
        return view

    def _split(self, role: str) -> tuple[ImageSource, str, np.ndarray]:
        t = self.task
        if role == "test":
            return t.source, t.split, t.indices
        pair = t.train if role == "train" else t.val if role == "val" else None
        if pair is None:
            raise UserError(f"task {self.spec.name} has no {role} split opened for this protocol")
        return pair[0], (self.spec.train_split if role == "train" else self.spec.val_split), pair[1]

    def classifier(self, override: str | None = None) -> Classifier:
        """The prompt-ensemble classifier for the task's classes under a template set."""
        def build() -> Classifier:
            templates, name = resolve_templates(self.spec, override, self.task.source, self.config.prompt_choice,
                                                self.task.classnames)
            weights, info = cached_classifier(self.backend, self.task.classnames, templates, self.store,
                                              progress=self.config.progress)
            return Classifier(weights, templates, name, info)
        return self.memo(("classifier", self.spec.name, override, self.config.prompt_choice), build)

    def peer(self, task_name: str) -> "Evaluation":
        """The same model on another task of this run (robustness: the in-distribution task)."""
        if task_name not in self._tasks:
            raise UserError(f"task {task_name} is needed by {self.spec.name} but was not opened in this run")
        return Evaluation(self.config, self.backend, self._tasks[task_name], self.store, self._extract, self._tasks,
                          self._memo)
