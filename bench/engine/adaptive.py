"""Adaptive evaluation: a stated error bar from a fraction of a task's images.

The task's samples are read in a seeded, class-stratified random order
(:func:`bench.engine.sampling.stratified_order`) and evaluated in growing chunks. After each chunk,
the protocol scores the sample so far and an anytime-valid confidence sequence for the task's
metric over the *whole* test set (:mod:`bench.engine.sequential`, finite-population form) is
computed from the per-sample results; the run stops once it is narrow enough or the data runs
out. The features of every evaluated chunk go to the feature cache, and a later full run takes
them from there (:class:`bench.engine.features.FeatureExtractor` reuses cached rows by sample).

Several models on one task (``--top K``) share the growing sample, and successive elimination
drops a model once its upper bound falls below the K-th best lower bound (:func:`eliminate`).

Which metrics: those that are a mean over samples of a bounded per-sample value, so the test
set's figure is a finite-population mean. Top-1, top-5 and DataComp's mean of top-1 and top-5 are
means of 0/1 (0/0.5/1) values; mean per-class recall is the mean of ``correct * N / (C n_c)`` with
the class sizes n_c of the whole test set (known before any image is seen), bounded by
``N / (C min n_c)``. F1, worst-group accuracy, retrieval recall and Jaccard are not such means:
they run in full, and the record says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import UserError
from bench.engine.sampling import stratified_order
from bench.engine.assisted import AssistedWidthSequence, assisted_cs
from bench.engine.sequential import FIRST_CHUNK, WidthSequence, empirical_bernstein_cs

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from bench.engine.assist import Assist
    from bench.engine.record_schema import Adaptive
    from bench.engine.evaluation import Evaluation, OpenedTask
    from bench.engine.features import FeatureSet
    from bench.engine.protocol import Outcome, Protocol, Unit

#: the metrics a confidence sequence bounds here (per-sample means; see the module's docstring)
BOUNDED_METRICS = ("top1", "top5", "mean_per_class_recall", "mean_top1_top5")
METHOD = "predictable-mixture empirical-Bernstein CS, without replacement (Waudby-Smith & Ramdas 2020)"


def unbounded_reason(metric: str) -> str | None:
    """Why a task's metric gets no confidence sequence here (None: it gets one)."""
    if metric in BOUNDED_METRICS:
        return None
    return (f"its metric {metric} is not a mean of bounded per-sample values (only "
            f"{', '.join(BOUNDED_METRICS)} are), so no confidence sequence bounds it")


def adaptive_refusal(protocol, metric: str) -> str | None:
    """Why a unit cannot run on a growing sample (its protocol or its metric), None when it can."""
    if not protocol.adaptive:
        return f"protocol {protocol.name} does not evaluate on a growing sample"
    if metric in protocol.bounded_metrics:
        return None
    return unbounded_reason(metric)


@dataclass
class AdaptiveSample:
    """The growing sample of one task: the order, the population, and the metric's per-sample values.

    A sample is counted in units: images, or, for a protocol whose unit is a group of images
    (``Protocol.unit_groups``: an image-caption item), whole groups drawn in a seeded random order."""

    order: np.ndarray        # source positions in evaluation order (all of them)
    labels: np.ndarray       # the population's labels (grouped: the units' numbers), in unit order
    metric: str
    seed: int
    protocol: Any = None     # whose ``unit_values`` give a metric of its own (``bounded_metrics``)
    ends: np.ndarray | None = None   # grouped: images in the first 1, 2, ... units of the order
    assist: "Assist | None" = None   # --assist: earlier models' per-sample values as controls (None: plain)

    @classmethod
    def of(cls, task: "OpenedTask", metric: str, seed: int, protocol: Any = None) -> "AdaptiveSample":
        indices = np.asarray(task.indices)
        groups = protocol.unit_groups(task.source) if protocol is not None else None
        if groups is None:
            targets = np.asarray(task.source.targets)[indices]
            perm = stratified_order(targets, seed)
            return cls(indices[perm], targets[perm], metric, seed, protocol)
        of_image = groups[indices]
        units = np.unique(of_image)[np.random.default_rng(seed).permutation(len(np.unique(of_image)))]
        by_unit = np.argsort(of_image, kind="stable")
        starts = np.searchsorted(of_image[by_unit], units)
        sizes = np.bincount(of_image)[units]
        order = np.concatenate([indices[by_unit[a:a + n]] for a, n in zip(starts, sizes)])
        return cls(order, units.astype(np.int64), metric, seed, protocol, np.cumsum(sizes))

    @property
    def N(self) -> int:
        """The population, in units."""
        return len(self.labels)

    @property
    def units(self) -> np.ndarray:
        """What an outcome's ``indices`` hold for the first n units, in order: source positions, or group numbers."""
        return self.order if self.ends is None else self.labels

    def images(self, n: int) -> int:
        """Images in the first ``n`` units."""
        return n if self.ends is None or n == 0 else int(self.ends[n - 1])

    @property
    def scale(self) -> float:
        """The largest per-sample value of the metric (values are divided by it into [0, 1])."""
        if self.metric != "mean_per_class_recall":
            return 1.0
        _, counts = np.unique(self.labels, return_counts=True)
        return float(self.N / (len(counts) * counts.min()))

    def values(self, predictions: dict | None) -> np.ndarray:
        """Each evaluated sample's contribution to the metric, divided by :attr:`scale` (into [0, 1]), from
        an outcome's or a record's per-sample predictions."""
        preds = predictions or {}
        if self.protocol is not None and self.metric in self.protocol.bounded_metrics:
            return np.asarray(self.protocol.unit_values(preds, self.metric), dtype=float)
        if "top5" not in preds or "labels" not in preds:
            raise UserError(f"{self.metric}: the protocol's outcome has no per-sample top-5 predictions, which "
                            "--target-ci needs")
        top5, labels = np.asarray(preds["top5"]), np.asarray(preds["labels"])
        top1 = (top5[:, 0] == labels).astype(float)
        top5_right = (top5 == labels[:, None]).any(axis=1).astype(float)
        if self.metric == "top1":
            return top1
        if self.metric == "top5":
            return top5_right
        if self.metric == "mean_top1_top5":
            return (top1 + top5_right) / 2
        if self.metric == "mean_per_class_recall":  # sum_c recall_c / C = mean_i correct_i * N / (C n_{c_i})
            classes, counts = np.unique(self.labels, return_counts=True)
            weight = np.zeros(int(max(classes.max(), labels.max(initial=0))) + 1)
            weight[classes] = self.N / (len(classes) * counts)
            return top1 * weight[labels] / self.scale
        raise UserError(f"--target-ci: {unbounded_reason(self.metric)}")

    def interval(self, predictions: dict | None, alpha: float, n_seen: int) -> tuple[float, float]:
        """The confidence sequence's interval after the samples evaluated so far, in the metric's units.

        ``n_seen``: samples drawn so far; those dropped as undecodable leave the population too."""
        values = self.values(predictions)
        controls = self.controls(n_seen, predictions)
        if controls is None:
            lower, upper = empirical_bernstein_cs(values, alpha, self.population(n_seen, len(values)))
        else:
            lower, upper, _ = assisted_cs(values, controls, alpha)
        return float(lower[-1] * self.scale), float(upper[-1] * self.scale)

    def attach_assist(self, mode: str, task: "OpenedTask", results: "Path | None",
                      exclude: tuple[str, ...] = ()) -> "Assist | None":
        """Find and keep ``--assist``'s controls for this sample (None under ``none``; see
        :func:`bench.engine.assist.collect`)."""
        from bench.engine.assist import NONE, Population, collect

        if mode == NONE:
            self.assist = None
            return None
        population = Population(task.source.identity, task.split, np.asarray(self.units),
                                None if self.ends is not None else np.asarray(self.labels), self.values, self.metric,
                                self.scale)
        self.assist = collect(mode, population, results, exclude)
        return self.assist

    def controls(self, n_seen: int, predictions: dict | None) -> np.ndarray | None:
        """The assist's controls of the units still in the population after ``n_seen`` drawn (None: plain)."""
        if self.assist is None or self.assist.controls is None:
            return None
        return self.assist.population(self.units[:n_seen], np.asarray((predictions or {}).get("indices", [])))

    def population(self, n_seen: int, n_scored: int) -> int:
        """N less the samples drawn so far that could not be scored (undecodable images leave the test set)."""
        return self.N - (n_seen - n_scored)

    def section(self, n: int, interval: tuple[float, float], confidence: float, looks: list[int],
                **extra: Any) -> "Adaptive":
        """The record's ``adaptive`` section (typed; what a selection or a target adds rides in its ``extra``)."""
        from bench.engine.record_schema import Adaptive

        if self.assist is not None and "assist" not in extra:
            extra["assist"] = self.assist.section()

        return Adaptive.from_dict({"n": int(n), "N": self.N, "interval": [float(interval[0]), float(interval[1])], "metric": self.metric,
                "method": METHOD, "confidence": confidence, "seed": self.seed,
                "order": "class-stratified random" if self.ends is None else "whole groups of images, seeded random",
                "looks": [int(v) for v in looks], **extra})


class GrowingEvaluation:
    """One model's evaluation on the growing sample: features extracted chunk by chunk (each chunk
    cached), the protocol re-scored on the whole prefix at every look."""

    def __init__(self, protocol: "Protocol", ev: "Evaluation", unit: "Unit", templates: str | None,
                 sample: AdaptiveSample):
        self.protocol, self.ev, self.unit, self.templates, self.sample = protocol, ev, unit, templates, sample
        self.n = 0
        self.features: "FeatureSet | None" = None
        self.outcome: "Outcome | None" = None

    def grow(self, n: int) -> "Outcome":
        """Evaluate the first ``n`` samples of the order (extracting only the new ones)."""
        from bench.engine.features import FeatureSet

        if n > self.n:
            new = self.ev.sample_features(self.sample.order[self.sample.images(self.n):self.sample.images(n)])
            if self.features is None:
                self.features = new
            else:
                self.features = FeatureSet(np.concatenate([self.features.features, new.features]),
                                           np.concatenate([self.features.labels, new.labels]),
                                           np.concatenate([self.features.indices, new.indices]),
                                           {**new.info, "seconds": self.features.info["seconds"] + new.info["seconds"],
                                            "skipped": self.features.info["skipped"] + new.info["skipped"],
                                            "cache": new.info["cache"] if self.features.info["cache"] == new.info["cache"]
                                            else "partial"})
            self.n = n
        outcomes = self.protocol.evaluate(self.ev.restricted(self.sample.order[:self.sample.images(n)], self.features),
                                          self.unit,
                                          self.templates)
        if len(outcomes) != 1:
            raise RuntimeError(f"protocol {self.protocol.name} declares adaptive evaluation but returned "
                               f"{len(outcomes)} outcomes for one unit")
        self.outcome = outcomes[0]
        return self.outcome

    def interval(self, alpha: float) -> tuple[float, float]:
        assert self.outcome is not None
        return self.sample.interval(self.outcome.predictions, alpha, self.n)


def evaluate_to_width(protocol: "Protocol", ev: "Evaluation", unit: "Unit", templates: str | None,
                      width: float, confidence: float, seed: int, assist: str = "none",
                      results: "Path | None" = None) -> "Outcome":
    """``--target-ci``: grow the sample until the interval is at most ``width`` wide (a fraction); ``assist``:
    ``--assist`` (auto, none or a results folder; ``results``: the run's own folder, which auto reads), whose
    earlier models' controls make the assisted sequence (:mod:`bench.engine.assist`)."""
    sample = AdaptiveSample.of(ev.task, ev.spec.metric, seed, protocol)
    assist = sample.attach_assist(assist, ev.task, results)
    run = GrowingEvaluation(protocol, ev, unit, templates, sample)
    controls = None if assist is None else assist.controls
    sequence = (WidthSequence(sample.N, width / sample.scale, 1 - confidence) if controls is None else
                AssistedWidthSequence(sample.N, width / sample.scale, controls, 1 - confidence))
    while not sequence.done:
        outcome = run.grow(sequence.next_n)
        values = sample.values(outcome.predictions)
        population = sample.population(run.n, len(values))
        if controls is None:
            sequence.look(values, population, run.n)
        else:
            sequence.look(values, population, run.n, sample.controls(run.n, outcome.predictions))
    lo, hi = (v * sample.scale for v in sequence.interval)
    n, looks = run.n, sequence.looks
    reached = hi - lo <= width
    note = ("the task is no larger than one chunk: evaluated in full" if sample.N <= FIRST_CHUNK else
            None if reached else "the data ran out before the target width")
    extra = {} if assist is None else {"assist": assist.section(sequence, width / sample.scale, n, sample.N)}
    outcome.adaptive = sample.section(n, (lo, hi), confidence, looks, target_width=width, reached=bool(reached),
                                      horizons=[round(h, 1) for h in sequence.horizons],
                                      **({"note": note} if note else {}), **extra)
    return outcome


def evaluate_prefix(protocol: "Protocol", ev: "Evaluation", unit: "Unit", templates: str | None, n: int,
                    confidence: float, seed: int) -> "Outcome":
    """The first ``n`` samples of the order (one round of ``sweep --top``): the caller decides what to do
    next from the per-sample predictions; the record's interval is at ``confidence`` for this model alone."""
    sample = AdaptiveSample.of(ev.task, ev.spec.metric, seed, protocol)
    run = GrowingEvaluation(protocol, ev, unit, templates, sample)
    outcome = run.grow(min(n, sample.N))
    outcome.adaptive = sample.section(run.n, run.interval(1 - confidence), confidence, [run.n], sample_size=int(n))
    return outcome


def eliminate(lower: dict[str, float], upper: dict[str, float], k: int) -> tuple[set[str], set[str]]:
    """Successive elimination for the top ``k``: (models out, models certainly in).

    A model is out once its upper bound is below the k-th best lower bound; it is certainly in once
    its lower bound is above the upper bound of every model outside the k best by lower bound
    (that is, at most k - 1 other models can still beat it)."""
    alive = list(lower)
    if len(alive) <= k:
        return set(), set(alive)
    kth_lower = sorted((lower[m] for m in alive), reverse=True)[k - 1]
    out = {m for m in alive if upper[m] < kth_lower}
    alive = [m for m in alive if m not in out]
    surely = {m for m in alive if sum(upper[o] >= lower[m] for o in alive if o != m) <= k - 1}
    return out, surely


def update_statuses(status: dict[str, str], interval: dict[str, tuple[float, float]], k: int) -> dict[str, str]:
    """One elimination step over models' statuses (running, top-k, out) given their current intervals."""
    live = [m for m, st in status.items() if st != "out"]
    out, surely = eliminate({m: interval[m][0] for m in live}, {m: interval[m][1] for m in live}, k)
    return {m: ("out" if m in out else "top-k" if m in surely else st) if m in live else st
            for m, st in status.items()}


@dataclass
class Arm:
    """One model in a top-K selection."""

    label: str
    run: GrowingEvaluation
    status: str = "running"     # running, top-k, out
    interval: tuple[float, float] = (0.0, 1.0)


def select_top_k(arms: list[Arm], k: int, confidence: float) -> list[int]:
    """Successive elimination on the shared growing sample; returns the sample sizes looked at.

    Each model's sequence runs at level alpha / M (Bonferroni over the M models), so all intervals
    hold at once with probability at least ``confidence``, and so does the selection."""
    sample = arms[0].run.sample
    alpha = (1 - confidence) / len(arms)
    n, looks = min(sample.N, FIRST_CHUNK), []
    while True:
        looks.append(n)
        for arm in arms:
            if arm.status == "running":
                arm.run.grow(n)
                arm.interval = arm.run.interval(alpha)
        status = update_statuses({a.label: a.status for a in arms}, {a.label: a.interval for a in arms}, k)
        for a in arms:
            a.status = status[a.label]
        if sum(a.status == "top-k" for a in arms) >= k or n >= sample.N:
            return looks
        n = min(sample.N, 2 * n)

