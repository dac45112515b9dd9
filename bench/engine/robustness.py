"""Distribution-shift robustness (CLIP paper section 3.3; Taori et al. 2020).

For each in-distribution task and its shifts: accuracy under shift, the in-distribution accuracy
it is measured against (ImageNet-val restricted to the shift's classes for ImageNet-R/A and
ObjectNet, as in Taori et al.'s testbed), effective robustness against a baseline fit in logit
space, and relative robustness (ood / id). Shifts over a subset of the parent's classes are
scored with a classifier restricted to those classes (the CLIP paper's choice; ObjectNet's
classes max-pool the ImageNet classes they map to) or, with ``subset_mode="full"``, with the
parent's whole classifier, a prediction outside the subset counting as wrong; records say which.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.core.errors import UserError
from bench.core.paths import package_file
from bench.core.store import atomic_write_json
from bench.engine.metrics import as_array
from bench.engine.zeroshot import zeroshot_logits

BASELINES = package_file("bench", "data", "robustness_baselines.json")


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def predicted_accuracy(id_acc: float, slope: float, intercept: float) -> float:
    """The shifted accuracy a baseline model with in-distribution accuracy ``id_acc`` would have."""
    return sigmoid(slope * logit(id_acc) + intercept)


def effective_robustness(id_acc: float, ood_acc: float, slope: float, intercept: float) -> float:
    """Shifted accuracy above the baseline's prediction, ``ood - sigmoid(slope*logit(id)+intercept)``;
    accuracies as fractions (Taori et al. 2020)."""
    if not (0 < id_acc < 1):
        raise ValueError("in-distribution accuracy must be strictly between 0 and 1 for the logit")
    return ood_acc - predicted_accuracy(id_acc, slope, intercept)


@dataclass(frozen=True)
class BaselineFit:
    """A baseline line in logit space; with ``split``, a second line (``upper_*``) for in-distribution
    accuracies above it (Taori et al.'s two-segment ImageNet-A fit)."""

    slope: float
    intercept: float
    r: float | None = None
    n_models: int = 0
    source: str = ""
    split: float | None = None
    upper_slope: float | None = None
    upper_intercept: float | None = None
    upper_n_models: int = 0

    def line(self, id_acc: float) -> tuple[float, float]:
        """The (slope, intercept) that applies at this in-distribution accuracy."""
        if self.split is not None and id_acc > self.split:
            return self.upper_slope, self.upper_intercept
        return self.slope, self.intercept

    def predict(self, id_acc: float) -> float:
        return predicted_accuracy(id_acc, *self.line(id_acc))

    def predict_logit(self, id_logit: float) -> float:
        """The prediction in logit space (what robustness plots draw), from the id accuracy's logit."""
        slope, intercept = self.line(sigmoid(id_logit))
        return slope * id_logit + intercept

    @property
    def form(self) -> str:
        return "linear (logit)" if self.split is None else f"two-segment (logit), split at {100 * self.split:.2f}%"

    def describe(self) -> str:
        if self.split is None:
            return f"slope {self.slope:.4f}, intercept {self.intercept:.4f} ({self.source}, {self.n_models} models)"
        return (f"two segments split at {100 * self.split:.2f}%: below slope {self.slope:.4f}, intercept "
                f"{self.intercept:.4f} ({self.n_models} models); above slope {self.upper_slope:.4f}, intercept "
                f"{self.upper_intercept:.4f} ({self.upper_n_models} models) ({self.source})")


def fit_baseline(id_accs, ood_accs, source: str = "") -> BaselineFit:
    """Least-squares line through (logit id, logit ood) points, as Taori et al. fit their baselines."""
    x = np.asarray(id_accs, dtype=float)
    y = np.asarray(ood_accs, dtype=float)
    ok = (x > 0) & (x < 1) & (y > 0) & (y < 1)
    if ok.sum() < 2:
        raise UserError(f"a baseline fit needs at least 2 models with accuracies strictly between 0 and 1 (got {int(ok.sum())})")
    lx, ly = np.log(x[ok] / (1 - x[ok])), np.log(y[ok] / (1 - y[ok]))
    slope, intercept = np.polyfit(lx, ly, 1)
    r = float(np.corrcoef(lx, ly)[0, 1]) if ok.sum() > 2 else None
    return BaselineFit(float(slope), float(intercept), r, int(ok.sum()), source)


#: Taori et al.'s ImageNet-A plot (imagenet-testbed plotting/paper_imagenet_a.py @ 0170eec) fits two lines
#: over the standard models: ImageNet accuracy on ImageNet-A's classes below 91.86%, and above it
IMAGENET_A_SPLIT = 0.9186


def two_segment_fit(points, split: float, source: str) -> BaselineFit:
    """Two logit-linear fits, over the points with x below ``split`` and those above it."""
    pts = np.asarray(points, dtype=float)
    low, high = pts[pts[:, 0] < split], pts[pts[:, 0] > split]
    a = fit_baseline(low[:, 0], low[:, 1], source)
    b = fit_baseline(high[:, 0], high[:, 1], source)
    return BaselineFit(a.slope, a.intercept, a.r, a.n_models, source, split, b.slope, b.intercept, b.n_models)


@lru_cache(maxsize=1)
def published_fits() -> dict[str, BaselineFit]:
    """Taori et al.'s baselines: one logit-linear fit per shift, two segments for ImageNet-A (their form)."""
    data = json.loads(BASELINES.read_text())
    fits = {shift: BaselineFit(f["slope"], f["intercept"], f.get("r"), f["n_models"], "testbed standard models")
            for shift, f in data["fits"].items()}
    if "imagenet-a" in data["fits"]:
        fits["imagenet-a"] = two_segment_fit(list(data["fits"]["imagenet-a"]["points"].values()), IMAGENET_A_SPLIT,
                                             "testbed standard models")
    return fits


def published_points(shift: str) -> list[tuple[float, float]]:
    """The (id, ood) accuracies of the standard models behind a published fit (for plots)."""
    data = json.loads(BASELINES.read_text())["fits"].get(shift)
    return [tuple(v) for v in data["points"].values()] if data else []


def user_fits_path(results: Path) -> Path:
    return Path(results) / "robustness_fits.json"


def baseline_for(shift: str, results: Path | None) -> BaselineFit | None:
    """The user's own fit (``zsbench robustness fit``) if there is one, else the published one."""
    if results is not None and user_fits_path(results).exists():
        mine = json.loads(user_fits_path(results).read_text())
        if shift in mine:
            return BaselineFit(**mine[shift])
    return published_fits().get(shift)


def fit_from_runs(results: Path, min_models: int = 3) -> dict[str, BaselineFit]:
    """Fit a baseline per shift from the robustness records of every model under ``results``
    (the newest record per model and shift)."""
    from bench.engine.records import newest_records, read_records

    shifts = [r for r in newest_records(read_records(results), ("model", "pretrained", "task", "parent"))
              if r.task_info.parent and "id_top1" in r.metrics]  # shift records: measured against their parent
    by_task: dict[str, list] = {}
    for r in shifts:
        by_task.setdefault(r.task, []).append(r)
    fits = {}
    for task, group in sorted(by_task.items()):
        if len(group) >= min_models:
            fits[task] = fit_baseline([r.metrics["id_top1"] for r in group], [r.metrics.top1 for r in group],
                                      source=f"fit over {len(group)} models in {results}")
    if not fits:
        raise UserError(f"no shift has robustness records of at least {min_models} models in {results}: "
                        "run `zsbench robustness` for more models first")
    atomic_write_json(user_fits_path(results), {k: vars(v) for k, v in fits.items()},
                      "pass --out a folder with room")
    return fits


# ---- scoring shifts ------------------------------------------------------------------------------

def pooled_logits(logits: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Per shift class, the max over the parent classes it stands for (ObjectNet's many-to-one)."""
    logits = as_array(logits)
    return np.stack([logits[:, g].max(axis=1) for g in groups], axis=1)


def subset_predictions(logits: np.ndarray, groups: list[list[int]], mode: str) -> np.ndarray:
    """Shift-class predictions from parent-class logits: ``restrict`` ranks only the subset's
    classes; ``full`` takes the parent-wide argmax and maps it (-1 when outside the subset)."""
    if mode == "restrict":
        return pooled_logits(logits, groups).argmax(axis=1)
    owner = {i: c for c, g in enumerate(groups) for i in g}
    return np.array([owner.get(int(i), -1) for i in as_array(logits).argmax(axis=1)], dtype=np.int64)


def subset_accuracy(features, labels, classifier, groups, mode) -> tuple[float, np.ndarray]:
    pred = subset_predictions(zeroshot_logits(features, classifier), groups, mode)
    return float((pred == labels).mean()), pred


def id_accuracy_on_subset(features, labels, classifier, groups, mode) -> float:
    """In-distribution accuracy restricted to the shift's classes: parent images of those classes,
    classified among those classes (Taori et al.'s ``val-on-<shift>-classes``)."""
    owner = {i: c for c, g in enumerate(groups) for i in g}
    keep = np.array([int(y) in owner for y in labels])
    if not keep.any():
        raise UserError("the in-distribution split holds no image of the shift's classes")
    mapped = np.array([owner[int(y)] for y in labels[keep]])
    acc, _ = subset_accuracy(features[keep], mapped, classifier, groups, mode)
    return acc


@dataclass
class ShiftScore:
    task: str
    parent: str
    top1: float
    id_top1: float
    id_basis: str
    n: int
    predicted: float | None = None
    effective_robustness: float | None = None
    relative_robustness: float | None = None
    fit: str | None = None
    fit_form: str | None = None
    probe_top1: float | None = None
    probe_id_top1: float | None = None
    probe_effective_robustness: float | None = None

    def score(self, fit: BaselineFit | None) -> "ShiftScore":
        self.relative_robustness = self.top1 / self.id_top1 if self.id_top1 else None
        if fit is not None and 0 < self.id_top1 < 1:
            self.predicted = fit.predict(self.id_top1)
            self.effective_robustness = self.top1 - self.predicted
            self.fit, self.fit_form = fit.describe(), fit.form
            if self.probe_top1 is not None and self.probe_id_top1 is not None and 0 < self.probe_id_top1 < 1:
                self.probe_effective_robustness = self.probe_top1 - fit.predict(self.probe_id_top1)
        return self


def summarize(scores: list[ShiftScore]) -> dict:
    """Averages over shifts per in-distribution task (the CLIP paper's 'average over shifts')."""
    out = {}
    for parent in dict.fromkeys(s.parent for s in scores):
        group = [s for s in scores if s.parent == parent]
        ers = [s.effective_robustness for s in group if s.effective_robustness is not None]
        out[parent] = {"shifts": len(group), "mean_top1": float(np.mean([s.top1 for s in group])),
                       "mean_gap": float(np.mean([s.top1 - s.id_top1 for s in group])),
                       "mean_effective_robustness": float(np.mean(ers)) if ers else None,
                       "mean_relative_robustness": float(np.mean([s.relative_robustness for s in group if s.relative_robustness]))}
        probes = [s for s in group if s.probe_top1 is not None]
        if probes:
            out[parent]["probe_mean_top1"] = float(np.mean([s.probe_top1 for s in probes]))
            out[parent]["probe_mean_gap"] = float(np.mean([s.probe_top1 - s.probe_id_top1 for s in probes]))
    return out


def corruption_means(scores) -> dict[str, dict[str, float]]:
    """For generated corruption suites (``SUITE/CORRUPTION/SEVERITY``): mean top-1 per corruption
    and per severity, and the mean over all (mean corruption accuracy)."""
    from tasks.names import parse_task_name

    parts = [(parse_task_name(s.task), s.top1) for s in scores]
    parts = [(name, acc) for name, acc in parts if name.is_generated]
    if not parts:
        return {}
    by_c: dict[str, list[float]] = {}
    by_s: dict[str, list[float]] = {}
    for name, acc in parts:
        by_c.setdefault(name.corruption, []).append(acc)
        by_s.setdefault(str(name.severity), []).append(acc)

    def mean(d: dict[str, list[float]]) -> dict[str, float]:
        return {k: float(np.mean(v)) for k, v in d.items()}
    return {"per corruption (mean over severities)": mean(by_c), "per severity": mean(by_s),
            "mean corruption accuracy": {"all": float(np.mean([a for _, a in parts]))}}


def summary_lines(scores: list[ShiftScore]) -> list[str]:
    """Each suite's averages over its shifts (the effective-robustness step), and corruption means."""
    lines: list[str] = []
    for parent, summary in summarize(scores).items():
        er = summary["mean_effective_robustness"]
        line = (f"{parent}: {summary['shifts']} shifts, mean top-1 under shift {100 * summary['mean_top1']:.2f}, "
                f"mean gap to in-distribution {100 * summary['mean_gap']:+.2f}, mean ood/id "
                f"{summary['mean_relative_robustness']:.3f}, mean effective robustness "
                + ("n/a (no baseline fit for these shifts: `zsbench robustness fit` after several models)" if er is None
                   else f"{100 * er:+.2f}"))
        if "probe_mean_top1" in summary:
            line += (f"; linear probe on {parent} features: mean top-1 under shift {100 * summary['probe_mean_top1']:.2f}, "
                     f"mean gap {100 * summary['probe_mean_gap']:+.2f}")
        lines.append(line)
    for name, values in corruption_means(scores).items():
        lines.append(f"  {name}: " + ", ".join(f"{k} {100 * v:.1f}" for k, v in values.items()))
    return lines
