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
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from bench.cache import Store, atomic_write_json, default_cache_dir
from bench.classifiers import cached_classifier
from bench.errors import UserError
from bench.features import extract_features
from bench.metrics import classification_metrics
from bench.records import RunRecord, save_record, versions
from bench.zeroshot import zeroshot_logits
from prompts.classnames import display_name
from tasks.classes import resolve_templates
from tasks.families import get_family
from tasks.registry import get_task
from tasks.subsets import class_subset

SUBSET_MODES = ("restrict", "full")
BASELINES = Path(__file__).parent / "data" / "robustness_baselines.json"


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
    slope: float
    intercept: float
    r: float | None = None
    n_models: int = 0
    source: str = ""


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


@lru_cache(maxsize=1)
def published_fits() -> dict[str, BaselineFit]:
    data = json.loads(BASELINES.read_text())
    return {shift: BaselineFit(f["slope"], f["intercept"], f.get("r"), f["n_models"], "testbed standard models")
            for shift, f in data["fits"].items()}


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
    """Fit a baseline per shift from the robustness records of every model under ``results``."""
    from bench.report.collect import load_runs, newest

    runs = newest(load_runs(results)[lambda d: d.protocol == "robustness"], keys=("model", "pretrained", "task", "parent"))
    fits = {}
    for task, group in runs[runs.parent.notna()].groupby("task"):
        ids = [json.loads(Path(p).read_text())["metrics"]["id_top1"] for p in group.path]
        if len(group) >= min_models:
            fits[task] = fit_baseline(ids, group.top1.tolist(), source=f"fit over {len(group)} models in {results}")
    if not fits:
        raise UserError(f"no shift has robustness records of at least {min_models} models in {results}: "
                        "run `zsbench robustness` for more models first")
    atomic_write_json(user_fits_path(results), {k: vars(v) for k, v in fits.items()})
    return fits


# ---- scoring shifts ------------------------------------------------------------------------------

def pooled_logits(logits: torch.Tensor, groups: list[list[int]]) -> torch.Tensor:
    """Per shift class, the max over the parent classes it stands for (ObjectNet's many-to-one)."""
    return torch.stack([logits[:, g].max(dim=1).values for g in groups], dim=1)


def subset_predictions(logits: torch.Tensor, groups: list[list[int]], mode: str) -> np.ndarray:
    """Shift-class predictions from parent-class logits: ``restrict`` ranks only the subset's
    classes; ``full`` takes the parent-wide argmax and maps it (-1 when outside the subset)."""
    if mode == "restrict":
        return pooled_logits(logits, groups).argmax(dim=1).numpy()
    owner = {i: c for c, g in enumerate(groups) for i in g}
    return np.array([owner.get(int(i), -1) for i in logits.argmax(dim=1)], dtype=np.int64)


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
    probe_top1: float | None = None
    probe_id_top1: float | None = None
    probe_effective_robustness: float | None = None

    def score(self, fit: BaselineFit | None) -> "ShiftScore":
        self.relative_robustness = self.top1 / self.id_top1 if self.id_top1 else None
        if fit is not None and 0 < self.id_top1 < 1:
            self.predicted = predicted_accuracy(self.id_top1, fit.slope, fit.intercept)
            self.effective_robustness = self.top1 - self.predicted
            self.fit = f"slope {fit.slope:.4f}, intercept {fit.intercept:.4f} ({fit.source}, {fit.n_models} models)"
            if self.probe_top1 is not None and self.probe_id_top1 is not None and 0 < self.probe_id_top1 < 1:
                self.probe_effective_robustness = effective_robustness(self.probe_id_top1, self.probe_top1,
                                                                       fit.slope, fit.intercept)
        return self


def run_robustness(config, suite: str, subset_mode: str = "restrict", probe: bool = False,
                   skip_missing: bool = True) -> tuple[list[RunRecord], list[ShiftScore], list[str]]:
    """Evaluate each model on every (in-distribution, shift) pair of a suite.

    Returns the records (saved unless ``config.save`` is false), the per-shift scores, and the
    shifts left out because their data is not on disk (with ``skip_missing``).
    """
    from bench.linear_probe import LogisticProbe, stratified_split
    from bench.runner import _config_dict, _open_task, check_models, default_data_dir, load_backend
    from tasks.sources import DataContext

    if subset_mode not in SUBSET_MODES:
        raise UserError(f"--class-subset must be one of {', '.join(SUBSET_MODES)}")
    family = get_family(suite)
    store = Store(config.cache_dir or default_cache_dir())
    ctx = DataContext(Path(config.data_dir) if config.data_dir else default_data_dir(store), store)
    check_models(config)
    cfg = replace(config, protocols=["zeroshot", "linear-probe"] if probe else ["zeroshot"])
    opened, skipped = {}, []
    for id_task, shifts in family.pairs:
        spec = get_task(id_task)
        opened[id_task] = _open_task(spec, cfg if spec.train_split else replace(cfg, protocols=["zeroshot"]), ctx)
        for shift in shifts:
            try:
                opened[shift] = _open_task(get_task(shift), replace(cfg, protocols=["zeroshot"]), ctx)
            except UserError as exc:
                if not skip_missing:
                    raise
                skipped.append(f"{shift}: {exc}")
    records: list[RunRecord] = []
    scores: list[ShiftScore] = []
    results_dir = Path(config.out_dir)
    for model_name, pretrained in config.models:
        backend = load_backend(config, model_name, pretrained, store)

        def feats(task, source=None, split=None, indices=None):
            t = opened[task]
            return extract_features(backend, source or t.source, split or t.split,
                                    t.indices if indices is None else indices, store=store,
                                    batch_size=config.batch_size, num_workers=config.num_workers,
                                    progress=config.progress, on_bad_image=config.on_bad_image)

        def classifier(task):
            t = opened[task]
            templates, _ = resolve_templates(t.spec, None, t.source)
            w, _ = cached_classifier(backend, t.classnames, templates, store, progress=config.progress)
            return w

        def save(task, metrics, n, preds, extra):
            t = opened[task]
            rec = RunRecord(model=model_name, pretrained=backend.pretrained, task=task, split=t.split,
                            protocol="robustness", metrics=metrics, n_samples=n, templates=str(t.spec.templates),
                            seed=config.seed, config={**_config_dict(config), "suite": suite, "metric": "top1",
                                                      "class_subset_mode": subset_mode, "probe": probe,
                                                      "task_templates": True},
                            versions=versions(), timings={},
                            model_info={"fingerprint": backend.fingerprint, "preprocess": backend.preprocess_id},
                            task_info={"source": t.source.origin, "data_identity": t.source.identity,
                                       "n_classes": len(t.classnames), "classnames": [display_name(c) for c in t.classnames],
                                       "dataset_size": len(t.source), **extra})
            if config.save:
                save_record(rec, results_dir, preds)
            records.append(rec)

        for id_task, shifts in family.pairs:
            t0 = time.perf_counter()
            f_id = feats(id_task)
            w_id = classifier(id_task)
            m_id, top5_id = classification_metrics(zeroshot_logits(f_id.features, w_id), f_id.labels)
            probe_model = None
            if probe:
                if opened[id_task].train is not None:
                    tr_src, tr_idx = opened[id_task].train
                    f_tr = feats(id_task, tr_src, opened[id_task].spec.train_split, tr_idx)
                    x_tr, y_tr, x_te, y_te = f_tr.features, f_tr.labels, f_id.features, f_id.labels
                    m_id["probe_train"] = opened[id_task].spec.train_split
                else:  # no training split: a seeded, class-balanced half trains, the other half tests
                    tr, te = stratified_split(f_id.labels, 0.5, config.seed)
                    x_tr, y_tr, x_te, y_te = f_id.features[tr], f_id.labels[tr], f_id.features[te], f_id.labels[te]
                    m_id["probe_train"] = f"class-balanced half of {opened[id_task].split} (seed {config.seed})"
                probe_model = LogisticProbe(C=None, seed=config.seed, max_iter=config.probe_max_iter,
                                            device=config.device).fit(x_tr, y_tr)
                m_id["probe_top1"] = float((probe_model.predict(x_te) == y_te).mean())
                m_id["probe_best_C"] = probe_model.best_C_
            m_id["primary"] = m_id["top1"]
            save(id_task, m_id, len(f_id.labels),
                 {"indices": f_id.indices, "labels": f_id.labels, "top5": top5_id.astype(np.int32)},
                 {"parent": None, "role": "in-distribution", "shifts": list(shifts)})
            for shift in shifts:
                if shift not in opened:
                    continue
                spec = opened[shift].spec
                f_s = feats(shift)
                if spec.class_subset and spec.parent == id_task:
                    groups = class_subset(spec.class_subset)
                    top1, pred = subset_accuracy(f_s.features, f_s.labels, w_id, groups, subset_mode)
                    id_top1 = id_accuracy_on_subset(f_id.features, f_id.labels, w_id, groups, subset_mode)
                    basis = f"{id_task} restricted to the {len(groups)} {spec.class_subset} classes"
                    top5 = pred[:, None].astype(np.int32)
                else:
                    m_s, top5 = classification_metrics(zeroshot_logits(f_s.features, classifier(shift)), f_s.labels)
                    top1, id_top1, basis = m_s["top1"], m_id["top1"], id_task
                    top5 = top5.astype(np.int32)
                score = ShiftScore(shift, id_task, top1, id_top1, basis, int(len(f_s.labels)))
                if probe_model is not None and not spec.class_subset:
                    score.probe_top1 = float((probe_model.predict(f_s.features) == f_s.labels).mean())
                    score.probe_id_top1 = m_id["probe_top1"]
                score.score(baseline_for(shift, results_dir))
                scores.append(score)
                metrics = {k: v for k, v in vars(score).items() if k not in ("task", "parent", "n")}
                metrics["primary"] = top1
                save(shift, metrics, score.n, {"indices": f_s.indices, "labels": f_s.labels, "top5": top5},
                     {"parent": id_task, "class_subset": spec.class_subset, "role": "shift",
                      "seconds": time.perf_counter() - t0})
    return records, scores, skipped


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
