"""Per-sample results across models: what each image did, which labels look wrong, which classes are
confused (``zsbench samples``).

It reads the records of one task (every classification protocol's: zero-shot, linear probe, ...),
the newest per model, checkpoint, protocol and template set, and lines them up sample by sample.
Records made on different data (another ``--limit``, split or source: another data fingerprint)
are never mixed: the largest group is used and the others are named. Samples are matched by their
index in the source; each carries its key (file path relative to the source's root, or its index).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core.errors import UserError
from bench.engine.label_issues import find_label_issues
from bench.engine.metrics import wilson_interval
from bench.engine.protocol import SampleResults
from bench.engine.records import fingerprint_of
from bench.engine.sample_scores import probability_matrix
from bench.report.collect import newest
from prompts.languages import ENGLISH
from bench.report.protocols import describe


@dataclass
class ModelSamples:
    """One record's per-sample results, on the samples every selected record shares."""

    label: str              # "model / pretrained [protocol templates]"
    record: Any
    preds: dict[str, np.ndarray]
    results: SampleResults  # as its protocol reads them (bench.engine.protocol.Protocol.sample_results)

    @property
    def predicted(self) -> np.ndarray:
        return self.results.predicted


@dataclass
class TaskSamples:
    task: str
    classnames: list[str]
    models: list[ModelSamples]
    indices: np.ndarray
    labels: np.ndarray
    keys: np.ndarray
    left_out: list[str] = field(default_factory=list)

    @property
    def correct(self) -> np.ndarray:
        """``[models, samples]`` booleans: right as the task's metric counts (top-1; an item on both sides)."""
        return np.stack([m.results.correct for m in self.models])

    @property
    def per_item(self) -> bool:
        """Each sample has answers of its own (captions), not the task's classes: no classes to confuse or relabel."""
        return self.models[0].results.per_item

    @property
    def images(self) -> np.ndarray:
        """The task index of each sample's (first) image."""
        images = self.models[0].results.images
        return self.indices if images is None else np.asarray(images)

    @property
    def fingerprint(self) -> str:
        """The data these lined-up samples are (source, split, the sample set): what a review file names."""
        first = self.models[0].record
        return fingerprint_of(first.task_info.get("data_identity"), first.split, self.indices)

    def name(self, label: int) -> str:
        return self.classnames[label] if 0 <= label < len(self.classnames) else str(label)

    def answer(self, position: int, value: int) -> str:
        """Answer ``value`` of the sample at ``position`` in words (a class name; an item's caption)."""
        return self.models[0].results.answer(position, value, self.classnames)

    def require_classes(self, question: str) -> None:
        """Refuse a question about classes on a task whose samples answer among their own texts."""
        if self.per_item:
            raise UserError(f"task {self.task}: {question} needs a classification task; its records "
                            f"({self.models[0].record.protocol}) answer per item: ask --hard or --disagree")


def _label(row) -> str:
    settings = row.protocol if row.templates in ("-", None) else f"{row.protocol} {row.templates}"
    if row.features not in ("-", None):
        settings += f" {row.features}"
    return f"{row.model} / {row.pretrained} [{settings}]"


def _matches(spec: str, row) -> bool:
    return spec in (row.model, f"{row.model}:{row.pretrained}", f"{row.model} / {row.pretrained}", _label(row)) \
        or spec == Path(str(row.path)).name


def load_task_samples(runs: pd.DataFrame, task: str, models: list[str] | None = None,
                      protocol: str | None = None, language: str | None = None) -> TaskSamples:
    """The task's records lined up sample by sample (see the module docstring); ``protocol``: only that
    protocol's records (e.g. linear-probe); ``language``: only that language's (default: English where the task
    has records in several languages, the others listed as left out, never lined up with it)."""
    rows = newest(runs[runs.task == task])
    language_note = None
    if language is not None:
        if not (rows.language == language).any():
            raise UserError(f"no records of task {task} in language {language} (languages recorded: "
                            f"{', '.join(sorted(set(map(str, rows.language)))) or 'none'})")
        rows = rows[rows.language == language]
    elif rows.language.nunique() > 1:
        recorded = sorted(set(map(str, rows.language)))
        chosen = next((c for c in ENGLISH if c in recorded), recorded[0])
        language_note = (f"records in {', '.join(c for c in recorded if c != chosen)} (another language; give "
                         f"--language to read one of them)")
        rows = rows[rows.language == chosen]
    if protocol is not None:
        if not (rows.protocol == protocol).any():
            raise UserError(f"no {protocol} records of task {task} (protocols recorded: "
                            f"{', '.join(sorted(set(rows.protocol))) or 'none'})")
        rows = rows[rows.protocol == protocol]
    if rows.empty:
        tasks = ", ".join(sorted(set(runs.task))[:12]) or "none"
        raise UserError(f"no records of task {task} in the results (tasks with records: {tasks}): run "
                        f"`zsbench run --task {task} ...` first")
    if models:
        for spec in models:
            if not any(_matches(spec, r) for r in rows.itertuples()):
                known = ", ".join(sorted({f"{r.model}:{r.pretrained}" for r in rows.itertuples()}))
                raise UserError(f"--models {spec} matches no record of task {task} (records: {known})")
        rows = rows[[any(_matches(spec, r) for spec in models) for r in rows.itertuples()]]
    loaded, skipped = [], []
    for r in rows.itertuples():
        record = r.record
        try:
            preds = record.predictions()
        except OSError:
            skipped.append(f"{_label(r)} (no per-sample predictions file)")
            continue
        results = describe(r.protocol).sample_results(preds)
        if results is None:
            skipped.append(f"{_label(r)} (no per-sample results: {r.protocol} records keep none)")
            continue
        fingerprint = record.task_info.get("data_fingerprint") or fingerprint_of(
            record.task_info.get("data_identity"), record.split, preds["indices"])
        loaded.append((fingerprint, ModelSamples(_label(r), record, preds, results)))
    if not loaded:
        raise UserError(f"task {task}: no record with per-sample predictions ({'; '.join(skipped)})")
    for spec in models or ():  # a model named explicitly must take part: never silently left out
        if not any(_matches(spec, r) for r in rows.itertuples() if any(m.record is r.record for _, m in loaded)):
            why = "; ".join(x for x in skipped if spec in x) or "its records keep none"
            raise UserError(f"--models {spec}: no per-sample results of task {task} ({why}): rerun it with "
                            "this zsbench, or leave it out of --models")
    groups: dict[str, list[ModelSamples]] = {}
    for fingerprint, m in loaded:
        groups.setdefault(fingerprint, []).append(m)
    chosen = max(groups.values(), key=len)
    skipped += [language_note] if language_note else []
    left_out = skipped + [f"{m.label} (other data: another --limit, split or source)"
                          for g in groups.values() if g is not chosen for m in g]
    common = chosen[0].preds["indices"]
    for m in chosen[1:]:
        common = np.intersect1d(common, m.preds["indices"])
    common = np.sort(common)
    for m in chosen:  # every array in the shared sample order
        pos = np.searchsorted(m.preds["indices"], common, sorter=np.argsort(m.preds["indices"]))
        order = np.argsort(m.preds["indices"])[pos]
        m.preds = {k: (v[order] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == len(m.preds["indices"])
                       else v) for k, v in m.preds.items()}
        m.results = m.results.take(order)
    first = chosen[0]
    keys = first.preds.get("keys", common.astype(str))
    return TaskSamples(task, list(first.record.task_info.get("classnames", [])), chosen, common,
                       first.results.labels.astype(np.int64), np.asarray(keys), left_out)


# -- questions ---------------------------------------------------------------------------------------

#: label issues use the models whose top-1 on the task is within this many points of the best one's: a model far
#: below the others adds its own confusions to the mean and dilutes the flags (six CIFAR-10 records with four
#: 43-54% zero-shot heads beside two 89-91% probes flagged 481 images, the probes alone 162)
ISSUE_MODEL_MARGIN = 10.0


def issue_models(samples: TaskSamples, explicit: bool = False) -> tuple[list[int], list[str]]:
    """The models label issues are computed from (positions in ``samples.models``) and, for each left out, why.
    ``explicit``: the user named the models (``--models``): all of them are used."""
    top1 = 100 * samples.correct.mean(axis=1)
    best = float(top1.max())
    keep = [i for i, a in enumerate(top1) if explicit or a >= best - ISSUE_MODEL_MARGIN]
    why = [f"{m.label} (top-1 {top1[i]:.1f}%, {best - top1[i]:.1f} points below the best, {best:.1f}%; more than "
           f"{ISSUE_MODEL_MARGIN:g} below: name it with --models to use it anyway)"
           for i, m in enumerate(samples.models) if i not in keep]
    return keep, why


def mean_probabilities(samples: TaskSamples, models: list[int] | None = None) -> tuple[np.ndarray, bool]:
    """The mean of the models' probability matrices (``models``: positions of those to use; default all), and
    whether it is exact (see :func:`bench.engine.sample_scores.probability_matrix`)."""
    n_classes = max(len(samples.classnames), int(samples.labels.max()) + 1)
    total, exact = None, True
    chosen = samples.models if models is None else [samples.models[i] for i in models]
    for m in chosen:  # summed one model at a time: 100 models x 50,000 x 1,000 would not fit at once
        if "topk_prob" not in m.preds and "probs" not in m.preds:
            raise UserError(f"{m.label}: its record has no per-sample probabilities (written before zsbench kept "
                            "them): rerun it to find label issues")
        mat, full = probability_matrix(m.preds, n_classes)
        total = mat if total is None else np.add(total, mat, out=total)
        exact &= full
    return total / len(chosen), exact


def find_issues(samples: TaskSamples, models: list[int] | None = None, rank_by: str = "margin"):
    """Confident learning on the mean probabilities of ``models`` (default: :func:`issue_models`'s choice)
    (:func:`bench.engine.label_issues.find_label_issues`; positions in ``samples``), ranked by ``rank_by``, and
    whether the probabilities were exact."""
    from bench.engine.label_issues import ensemble_quality_scores, reranked

    samples.require_classes("--label-issues")
    chosen = issue_models(samples)[0] if models is None else models
    probs, exact = mean_probabilities(samples, chosen)
    found = find_label_issues(samples.labels, probs)
    if rank_by == "ensemble":
        n_classes = probs.shape[1]
        matrices = [probability_matrix(samples.models[i].preds, n_classes)[0] for i in chosen]
        found = reranked(found, ensemble_quality_scores(samples.labels, matrices))
    return found, exact


def issue_rows(samples: TaskSamples, found) -> list[dict[str, Any]]:
    """Likely label errors, most likely first: key, index, given label, suggested label, score."""
    return [{"key": str(samples.keys[i]), "index": int(samples.indices[i]), "label": samples.name(int(samples.labels[i])),
             "suggested": samples.name(int(s)), "score": float(score)}
            for i, s, score in zip(found.indices, found.suggested, found.score)]


def label_issues(samples: TaskSamples) -> tuple[list[dict[str, Any]], bool]:
    """:func:`issue_rows` of :func:`find_issues`, and whether the probabilities were exact."""
    found, exact = find_issues(samples)
    return issue_rows(samples, found), exact


def difficulty(samples: TaskSamples) -> np.ndarray:
    """Per sample, the fraction of models that get it wrong."""
    return 1.0 - samples.correct.mean(axis=0)


def sample_rows(samples: TaskSamples, which: np.ndarray) -> list[dict[str, Any]]:
    """The chosen samples with their label, each model's top prediction and the difficulty."""
    diff = difficulty(samples)
    return [{"key": str(samples.keys[i]), "index": int(samples.indices[i]),
             "label": samples.answer(i, int(samples.labels[i])), "difficulty": float(diff[i]),
             "predictions": {m.label: samples.answer(i, int(m.predicted[i])) for m in samples.models}}
            for i in which]


def hard(samples: TaskSamples) -> list[dict[str, Any]]:
    """Samples no model gets right."""
    return sample_rows(samples, np.flatnonzero(~samples.correct.any(axis=0)))


def disagree(samples: TaskSamples) -> list[dict[str, Any]]:
    """Samples some models get right and others wrong, hardest first."""
    c = samples.correct
    split = np.flatnonzero(c.any(axis=0) & ~c.all(axis=0))
    return sample_rows(samples, split[np.argsort(-difficulty(samples)[split], kind="stable")])


def confusions(samples: TaskSamples, top: int = 20) -> list[dict[str, Any]]:
    """The most confused (true class, predicted class) pairs over all models, with each model's count."""
    samples.require_classes("--confusions")
    counts: dict[tuple[int, int], dict[str, int]] = {}
    for m in samples.models:
        wrong = m.predicted != samples.labels
        pairs, n = np.unique(np.stack([samples.labels[wrong], m.predicted[wrong]], axis=1), axis=0, return_counts=True) \
            if wrong.any() else (np.empty((0, 2), dtype=int), np.empty(0, dtype=int))
        for (t, p), c in zip(pairs, n):
            counts.setdefault((int(t), int(p)), {})[m.label] = int(c)
    ranked = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:top]
    return [{"true": samples.name(t), "predicted": samples.name(p), "total": sum(per.values()), "per_model": per}
            for (t, p), per in ranked]


def per_class(samples: TaskSamples) -> pd.DataFrame:
    """Top-1 per class (rows) and model (columns), in percent."""
    samples.require_classes("--per-class")
    data = {}
    for m in samples.models:
        right = m.predicted == samples.labels
        data[m.label] = [100 * right[samples.labels == c].mean() if np.any(samples.labels == c) else np.nan
                         for c in range(len(samples.classnames))]
    return pd.DataFrame(data, index=samples.classnames)


def without_issues(samples: TaskSamples, flagged: np.ndarray) -> list[dict[str, Any]]:
    """Each model's top-1 on all samples and without the flagged ones, each with its Wilson 95% interval,
    and its rank (1 = best) before and after: do the label issues change the order?"""
    keep = np.ones(len(samples.labels), dtype=bool)
    keep[np.asarray(flagged, dtype=np.int64)] = False
    correct = samples.correct
    rows = []
    for m, right in zip(samples.models, correct):
        k_all, k_clean = int(right.sum()), int(right[keep].sum())
        n_all, n_clean = len(right), int(keep.sum())
        lo, hi = wilson_interval(k_all, n_all)
        clo, chi = wilson_interval(k_clean, n_clean) if n_clean else (float("nan"), float("nan"))
        rows.append({"model": m.label, "top1": 100 * k_all / n_all, "interval": [100 * lo, 100 * hi],
                     "top1_without": 100 * k_clean / n_clean if n_clean else float("nan"),
                     "interval_without": [100 * clo, 100 * chi], "n": n_all, "n_without": n_clean})
    for key, rank in (("top1", "rank"), ("top1_without", "rank_without")):
        order = sorted(range(len(rows)), key=lambda i: (-rows[i][key], i))
        for r, i in enumerate(order, 1):
            rows[i][rank] = r
    for r in rows:
        r["rank_change"] = r["rank"] - r["rank_without"]   # positive: moves up once the issues are left out
    return sorted(rows, key=lambda r: r["rank_without"])
