"""Distribution-shift robustness as a protocol (CLIP paper section 3.3; Taori et al. 2020).

A requested suite (``imagenet``, ``cifar10-c``, ``digits-shift``; see ``tasks.families``) stands
for its in-distribution tasks and their shifts. Each in-distribution unit records its zero-shot
accuracy (and, with ``--probe``, a linear probe's); each shift unit records accuracy under shift,
the in-distribution accuracy it is measured against, effective and relative robustness. Shifts
whose data is not on disk are skipped and listed. The scoring itself is in :mod:`bench.engine.robustness`.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import UserError
from bench.engine.config import SUBSET_MODES
from bench.engine.protocol import Column, Outcome, Protocol, Unit
from bench.protocols.zeroshot import feature_facts, zero_shot_scores
from tasks.families import get_family
from tasks.registry import get_task
from tasks.subsets import class_subset

if TYPE_CHECKING:  # pragma: no cover - heavy modules load when the protocol runs (see zeroshot.py)
    from bench.engine.config import RunConfig
    from bench.engine.evaluation import Evaluation

IN_DISTRIBUTION, SHIFT = "in-distribution", "shift"


class Robustness(Protocol):
    name = "robustness"
    metrics = ("top1", "id_top1", "effective_robustness", "relative_robustness", "predicted")
    role = "shift"
    columns = (Column("top1", "top1"), Column("id top1", "id_top1"), Column("predicted", "predicted"),
               Column("eff. rob.", "effective_robustness"), Column("ood/id", "relative_robustness", "ratio"),
               Column("probe top1", "probe_top1"), Column("id measured on", "id_basis", "text"))
    plot_kinds = ("robustness",)

    def settings(self, record) -> str:
        role = record.task_info.get("role", "-")
        return role if role == IN_DISTRIBUTION else f"shift of {record.task_info.get('parent')}"

    def notes(self, records) -> list[str]:
        """Each suite's averages over its shifts (and corruption means), from the shift records."""
        from bench.engine.robustness import summary_lines

        return summary_lines(scores_from_records(records))

    def check(self, config: "RunConfig") -> None:
        if config.class_subset not in SUBSET_MODES:
            raise UserError(f"--class-subset must be one of {', '.join(SUBSET_MODES)}, not '{config.class_subset}'")
        if len(config.protocols) > 1:
            raise UserError("--protocol robustness runs one shift suite on its own: "
                            "zsbench run --protocol robustness --task imagenet|cifar10-c|digits-shift ...")

    def units(self, requested: str, config: "RunConfig") -> list[Unit]:
        family = get_family(requested)
        out = []
        for id_task, shifts in family.pairs:
            # the probe trains on the training split where there is one, else on half the test split
            train = config.robustness_probe and bool(get_task(id_task).train_split)
            out.append(Unit(id_task, IN_DISTRIBUTION, train=train,
                            details=(("suite", family.name), ("shifts", tuple(shifts)))))
            out += [Unit(s, SHIFT, parent=id_task, optional=True, details=(("suite", family.name),)) for s in shifts]
        return out

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        t0 = time.perf_counter()
        outcome = self._in_distribution(ev, unit) if unit.role == IN_DISTRIBUTION else self._shift(ev, unit)
        outcome.timings["evaluate"] = time.perf_counter() - t0 - outcome.timings.get("features", 0.0)
        cfg = ev.config
        outcome.config.update({"suite": unit.detail("suite"), "metric": "top1", "class_subset_mode": cfg.class_subset,
                               "probe": cfg.robustness_probe, "task_templates": True})
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
        from bench.engine.metrics import classification_metrics
        from bench.engine.robustness import ShiftScore, baseline_for, id_accuracy_on_subset, subset_accuracy
        from bench.engine.zeroshot import zeroshot_logits

        parent = ev.peer(unit.parent)
        base = id_scores(parent)
        f_id, w_id = parent.features(), parent.classifier().weights
        spec, mode = ev.spec, ev.config.class_subset
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
            logits = zeroshot_logits(f_s.features, clf.weights)
            m_s, top5 = classification_metrics(logits, f_s.labels)
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
        from bench.engine.metrics import classification_metrics
        from bench.engine.zeroshot import zeroshot_logits

        cfg = ev.config
        f_id = ev.features()
        logits = zeroshot_logits(f_id.features, ev.classifier().weights)
        metrics, top5 = classification_metrics(logits, f_id.labels)
        per_sample = zero_shot_scores(ev, logits, f_id.labels)
        del logits
        probe = None
        if cfg.robustness_probe:
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
