"""Distribution-shift robustness as a protocol (CLIP paper section 3.3; Taori et al. 2020).

A requested suite (``imagenet``, ``cifar10-c``, ``digits-shift``; see ``tasks.families``) stands
for its in-distribution tasks and their shifts. Each in-distribution unit records its zero-shot
accuracy (and, with ``--probe``, a linear probe's); each shift unit records accuracy under shift,
the in-distribution accuracy it is measured against, effective and relative robustness. Shifts
whose data is not on disk are skipped and listed. The scoring itself is in :mod:`bench.engine.robustness`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import UserError
from bench.engine.config import ROBUSTNESS, option
from bench.engine.protocol import Column, Outcome, PlotKind, Protocol, ReportSection, Unit, View
from bench.protocols.zeroshot import feature_facts, score_zero_shot, zero_shot_scores
from tasks.families import get_family
from tasks.registry import get_task
from tasks.subsets import class_subset

if TYPE_CHECKING:  # pragma: no cover - heavy modules load when the protocol runs (see zeroshot.py)
    import pandas as pd

    from bench.engine.config import RunConfig
    from bench.engine.evaluation import Evaluation

IN_DISTRIBUTION, SHIFT = "in-distribution", "shift"
SUBSET_MODES = ("restrict", "full")


@dataclass
class RobustnessOptions:
    """``--class-subset`` and ``zsbench robustness --probe`` (run options before protocols declared their own:
    ``top_level``)."""

    class_subset: str = option(
        "--class-subset", "shifts over a class subset (ImageNet-R/A, ObjectNet): classifier restricted to the "
        "subset (default, as the CLIP paper) or the parent's full classifier", "restrict", choices=SUBSET_MODES,
        top_level=True)
    robustness_probe: bool = option(
        "--probe", "robustness: also fit a linear probe on the in-distribution training features and score it "
        "under shift (CLIP paper Fig. 14 idea)", False, kind="flag", commands=(ROBUSTNESS,), top_level=True)


class Robustness(Protocol):
    name = "robustness"
    options = RobustnessOptions
    summary = "a shift suite as --task: accuracy under shift and effective robustness"
    metrics = ("top1", "id_top1", "effective_robustness", "relative_robustness", "predicted")
    columns = (Column("top1", "top1"), Column("id top1", "id_top1"), Column("predicted", "predicted"),
               Column("eff. rob.", "effective_robustness"), Column("ood/id", "relative_robustness", "ratio"),
               Column("probe top1", "probe_top1"), Column("id measured on", "id_basis", "text"))

    @classmethod
    def views(cls) -> tuple[View, ...]:
        return (View("robustness", "per model and in-distribution task: accuracy on it and on each shift, the "
                     "average gap and effective robustness", "bench.protocols.robustness:robustness_table"),)

    @classmethod
    def plots(cls) -> tuple[PlotKind, ...]:
        return (PlotKind("robustness", "accuracy under shift against in-distribution accuracy, logit axes, with the "
                         "published baseline fits (CLIP paper Fig. 13/14 idea)",
                         "bench.protocols.robustness:plot_robustness"),)

    @classmethod
    def report_sections(cls) -> tuple[ReportSection, ...]:
        return (ReportSection("Distribution shift", "bench.protocols.robustness:robustness_table"),)

    def settings(self, record) -> str:
        role = record.task_info.get("role", "-")
        return role if role == IN_DISTRIBUTION else f"shift of {record.task_info.get('parent')}"

    def notes(self, records) -> list[str]:
        """Each suite's averages over its shifts (and corruption means), from the shift records."""
        from bench.engine.robustness import summary_lines

        return summary_lines(scores_from_records(records))

    def check(self, config: "RunConfig") -> None:
        mode = config.options_for(self).class_subset
        if mode not in SUBSET_MODES:
            raise UserError(f"--class-subset must be one of {', '.join(SUBSET_MODES)}, not '{mode}'")
        if len(config.protocols) > 1:
            raise UserError("--protocol robustness runs one shift suite on its own: "
                            "zsbench run --protocol robustness --task imagenet|cifar10-c|digits-shift ...")

    def units(self, requested: str, config: "RunConfig") -> list[Unit]:
        family = get_family(requested)
        out = []
        for id_task, shifts in family.pairs:
            # the probe trains on the training split where there is one, else on half the test split
            train = config.options_for(self).robustness_probe and bool(get_task(id_task).train_split)
            out.append(Unit(id_task, IN_DISTRIBUTION, train=train,
                            details=(("suite", family.name), ("shifts", tuple(shifts)))))
            out += [Unit(s, SHIFT, parent=id_task, optional=True, details=(("suite", family.name),)) for s in shifts]
        return out

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        t0 = time.perf_counter()
        outcome = self._in_distribution(ev, unit) if unit.role == IN_DISTRIBUTION else self._shift(ev, unit)
        outcome.timings["evaluate"] = time.perf_counter() - t0 - outcome.timings.get("features", 0.0)
        own = ev.config.options_for(self)
        outcome.config.update({"suite": unit.detail("suite"), "metric": "top1", "class_subset_mode": own.class_subset,
                               "probe": own.robustness_probe, "task_templates": True})
        return [outcome]

    def _in_distribution(self, ev: "Evaluation", unit: Unit) -> Outcome:
        scores = id_scores(ev)
        f_id = ev.features()
        return Outcome(dict(scores.metrics), int(len(f_id.labels)), templates=ev.classifier().name,
                       timings={"features": f_id.info["seconds"], "classifier": ev.classifier().info["seconds"]},
                       task_info={**feature_facts(f_id), "parent": None, "role": IN_DISTRIBUTION,
                                  "shifts": list(unit.detail("shifts", ()))},
                       predictions={"indices": f_id.indices, "labels": f_id.labels,
                                    "top5": scores.top5.astype(np.int32), **scores.sample_scores})

    def _shift(self, ev: "Evaluation", unit: Unit) -> Outcome:
        from bench.engine.robustness import ShiftScore, baseline_for, id_accuracy_on_subset, subset_accuracy

        parent = ev.peer(unit.parent)
        base = id_scores(parent)
        f_id, w_id = parent.features(), parent.classifier().weights
        spec, mode = ev.spec, ev.config.options_for(self).class_subset
        f_s = ev.features()
        per_sample: dict = {}  # a class-subset shift keeps its restricted top-1 only (no probabilities)
        if spec.class_subset and spec.parent == unit.parent:
            groups = class_subset(spec.class_subset)
            top1, pred = subset_accuracy(f_s.features, f_s.labels, w_id, groups, mode)
            id_top1 = id_accuracy_on_subset(f_id.features, f_id.labels, w_id, groups, mode)
            basis = f"{unit.parent} restricted to the {len(groups)} {spec.class_subset} classes"
            top5 = pred[:, None].astype(np.int32)
            clf = parent.classifier()
        else:
            clf = ev.classifier()
            m_s, top5, logits = score_zero_shot(ev, f_s, clf.weights)
            top1, id_top1, basis = m_s["top1"], base.metrics["top1"], unit.parent
            top5 = top5.astype(np.int32)
            per_sample = zero_shot_scores(ev, logits, f_s.labels)
        score = ShiftScore(spec.name, unit.parent, top1, id_top1, basis, int(len(f_s.labels)))
        if base.probe is not None and not spec.class_subset:
            score.probe_top1 = float((base.probe.predict(f_s.features) == f_s.labels).mean())
            score.probe_id_top1 = base.metrics["probe_top1"]
        score.score(baseline_for(spec.name, ev.config.out_dir))
        metrics = {k: v for k, v in vars(score).items() if k not in ("task", "parent", "n")}
        metrics["primary"] = top1
        return Outcome(metrics, score.n, templates=clf.name,
                       timings={"features": f_s.info["seconds"], "classifier": clf.info["seconds"]},
                       task_info={**feature_facts(f_s), "parent": unit.parent, "class_subset": spec.class_subset,
                                  "role": SHIFT},
                       predictions={"indices": f_s.indices, "labels": f_s.labels, "top5": top5, **per_sample})


class _IdScores:
    def __init__(self, metrics: dict, top5: np.ndarray, probe: Any, sample_scores: dict):
        self.metrics, self.top5, self.probe, self.sample_scores = metrics, top5, probe, sample_scores


def id_scores(ev: "Evaluation") -> _IdScores:
    """The in-distribution task's zero-shot metrics (and probe), once per model for all its shifts."""
    def make() -> _IdScores:
        from bench.engine.linear_probe import LogisticProbe, stratified_split

        cfg = ev.config
        f_id = ev.features()
        metrics, top5, logits = score_zero_shot(ev, f_id, ev.classifier().weights)
        per_sample = zero_shot_scores(ev, logits, f_id.labels)
        del logits
        probe = None
        if cfg.options_for(Robustness).robustness_probe:
            if ev.task.train is not None:
                f_tr = ev.features("train")
                x_tr, y_tr, x_te, y_te = f_tr.features, f_tr.labels, f_id.features, f_id.labels
                metrics["probe_train"] = ev.spec.train_split
            else:  # no training split: a seeded, class-balanced half trains, the other half tests
                tr, te = stratified_split(f_id.labels, 0.5, cfg.seed)
                x_tr, y_tr, x_te, y_te = f_id.features[tr], f_id.labels[tr], f_id.features[te], f_id.labels[te]
                metrics["probe_train"] = f"class-balanced half of {ev.task.split} (seed {cfg.seed})"
            probe = LogisticProbe(C=None, seed=cfg.seed, max_iter=cfg.probe_max_iter, device=cfg.device,
                                  tol=cfg.probe_tol).fit(x_tr, y_tr)
            metrics["probe_top1"] = float((probe.predict(x_te) == y_te).mean())
            metrics["probe_best_C"] = probe.best_C_
        metrics["primary"] = metrics["top1"]
        return _IdScores(metrics, top5, probe, per_sample)
    return ev.memo(("robustness-id", ev.spec.name), make)


def scores_from_records(records) -> list:
    """The shift scores a run's records hold (for the summary and the text table)."""
    from bench.engine.robustness import ShiftScore

    fields = set(ShiftScore.__dataclass_fields__) - {"task", "parent", "n"}
    return [ShiftScore(task=r.task, parent=r.task_info["parent"], n=r.n_samples,
                       **{k: v for k, v in r.metrics.items() if k in fields})
            for r in records if r.protocol == "robustness" and r.task_info.get("role") == SHIFT]


def shift_points(runs: "pd.DataFrame") -> "pd.DataFrame":
    """One row per (model, shift): in-distribution and shifted accuracy, effective robustness.

    Robustness records carry the in-distribution accuracy they were measured against (restricted
    to the shift's classes where it uses a subset); for plain zero-shot records of a shift task,
    the parent's zero-shot record of the same model supplies it.
    """
    import pandas as pd

    from bench.report.collect import newest
    from bench.report.leaderboard import own_templates_first

    rob = newest(runs[runs.protocol == Robustness.name], keys=("model", "pretrained", "task", "parent"))
    rows = [{"label": r.label, "task": r.task, "parent": r.parent, "id": r.id_top1, "ood": r.top1,
             "er": r.effective_robustness} for r in rob[rob.parent.notna()].itertuples()]
    seen = {(r["label"], r["task"]) for r in rows}
    zs = own_templates_first(runs)
    for r in zs[zs.parent.notna()].itertuples():
        base = zs[(zs.label == r.label) & (zs.task == r.parent)]
        if (r.label, r.task) not in seen and not base.empty:
            rows.append({"label": r.label, "task": r.task, "parent": r.parent, "id": float(base.top1.iloc[0]),
                         "ood": r.top1, "er": None})
    return pd.DataFrame(rows, columns=["label", "task", "parent", "id", "ood", "er"])


def robustness_table(runs: "pd.DataFrame") -> "pd.DataFrame":
    """Per model and in-distribution task: accuracy on it and on each shift (%), the shifts'
    average, the average gap, and the mean effective robustness where a baseline fit exists."""
    import pandas as pd

    from tasks.names import parse_task_name

    points = shift_points(runs)
    if points.empty:
        raise UserError("no distribution-shift records: run `zsbench robustness --suite imagenet|cifar10-c|digits-shift "
                        "--model ...` (or zero-shot runs of a task and its shifts, e.g. --task imagenet --task imagenet-v2)")
    if any(parse_task_name(t).is_generated for t in points.task):  # corruption suites: mean over severities
        points = points.assign(task=[parse_task_name(t).family_label for t in points.task])
        points = points.groupby(["label", "parent", "task"], as_index=False)[["id", "ood", "er"]].mean()
    rows = {}
    for (label, parent), group in points.groupby(["label", "parent"]):
        row = {f"{parent} (in-dist.)": 100 * float(group.id.max() if group.id.nunique() == 1 else np.nan)}
        row.update({t: 100 * v for t, v in zip(group.task, group.ood)})
        row["shift average"] = 100 * float(group.ood.mean())
        row["average gap"] = 100 * float((group.ood - group.id).mean())
        ers = group.er.dropna()
        row["eff. robustness"] = 100 * float(ers.mean()) if len(ers) else np.nan
        rows[f"{label} | {parent}"] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table = table.dropna(axis=1, how="all")
    lead = [c for c in table.columns if c.endswith("(in-dist.)")]
    tail = [c for c in ("shift average", "average gap", "eff. robustness") if c in table.columns]
    return table[lead + sorted(c for c in table.columns if c not in lead + tail) + tail]


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def plot_robustness(runs: "pd.DataFrame", plt):
    from tasks.names import parse_task_name
    from bench.engine.robustness import published_fits, published_points

    points = shift_points(runs)
    if points.empty:
        raise UserError("robustness needs shift records: zsbench robustness --suite imagenet --model ... "
                        "(or zero-shot runs such as --task imagenet --task imagenet-v2 --task imagenet-r)")
    tasks = sorted(points.task.unique())
    if len(tasks) > 8:  # corruption suites: one point per model and corruption family average
        points = points.assign(task=[parse_task_name(t).family_label for t in points.task])
        points = points.groupby(["label", "task"], as_index=False)[["id", "ood"]].mean()
        tasks = sorted(points.task.unique())
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    ticks = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
    ax.plot(_logit([0.02, 0.98]), _logit([0.02, 0.98]), color="gray", ls=":", label="y = x (no accuracy drop)")
    fits = published_fits()
    xs = np.linspace(_logit(0.05), _logit(0.95), 50)
    for t in tasks:
        if t in fits:
            pts = np.array(published_points(t))
            ax.scatter(_logit(pts[:, 0]), _logit(pts[:, 1]), s=6, color="lightgray", zorder=1)
            f = fits[t]
            ax.plot(xs, [f.predict_logit(x) for x in xs], lw=1, alpha=0.7,
                    label=f"{t}: baseline fit over {f.n_models + f.upper_n_models} ImageNet models"
                          + ("" if f.split is None else f" ({f.form})"))
    markers = "osD^vP*Xhp<>"
    for label in sorted(points.label.unique()):
        for t in tasks:
            sel = points[(points.label == label) & (points.task == t)]
            if len(sel):
                ax.scatter(_logit(sel.id), _logit(sel.ood), marker=markers[tasks.index(t) % len(markers)], s=40,
                           label=f"{t}: {label}", zorder=3)
    ax.set_xticks(_logit(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(_logit(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_xlabel("in-distribution accuracy (%, logit axis)")
    ax.set_ylabel("accuracy under shift (%, logit axis)")
    ax.set_title("Accuracy under distribution shift", fontsize=9)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return fig
