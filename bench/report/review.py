"""The label-review loop: a reviewer's marks on flagged images (from the explorer, as ``review.json``)
applied to every model's per-sample results.

The explorer keeps a reviewer's marks in the browser's storage and downloads them as one file:

    {"format": "zsbench-review-v1", "task": "cifar10", "fingerprint": "<data fingerprint>",
     "classnames": [...], "marks": [{"key": "<sample key>", "label": "cat", "verdict": "wrong",
                                     "correct": "dog"}, ...]}

``verdict`` is ``wrong`` (the label should be ``correct``), ``right`` or ``unsure``; only ``wrong``
changes a label. Records never change: the corrected figures are computed on the fly, marked as
such wherever they are shown (``zsbench samples --review``, ``zsbench leaderboard --review``).
The file names the task and the data fingerprint it was made on (the lined-up samples' source,
split and sample set), so it is never applied to other data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import UserError
from bench.engine.metrics import wilson_interval

FORMAT = "zsbench-review-v1"
VERDICTS = ("wrong", "right", "unsure")


@dataclass
class Review:
    path: Path
    task: str
    fingerprint: str
    marks: list[dict[str, Any]]


def read_review(path: str | Path) -> Review:
    """The review file, checked for its own shape (a UserError naming the file and the fix otherwise)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"--review {path}: not a readable review file ({type(exc).__name__}): download it again "
                        "from the explorer's flagged view") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("marks"), list):
        raise UserError(f"--review {path}: not a {FORMAT} file (no format/marks): download it from the explorer's "
                        "flagged view")
    for i, mark in enumerate(data["marks"]):
        if not isinstance(mark, dict) or mark.get("verdict") not in VERDICTS or "key" not in mark:
            raise UserError(f"--review {path}: mark {i + 1} needs a key and a verdict among {', '.join(VERDICTS)}")
    return Review(path, str(data.get("task", "")), str(data.get("fingerprint", "")), data["marks"])


def check_review(review: Review, samples) -> dict[int, int]:
    """The corrections the review makes to ``samples`` (a :class:`bench.report.samples.TaskSamples`):
    position -> corrected label. Refuses a file made for another task or other data, a sample key the
    task does not have and a class it does not know."""
    if review.task != samples.task:
        raise UserError(f"--review {review.path} was made for task {review.task or '?'}, not {samples.task}: pass "
                        f"--task {review.task} or the review of {samples.task}")
    if review.fingerprint != samples.fingerprint:
        raise UserError(f"--review {review.path} was made on other data (fingerprint {review.fingerprint[:12]}, these "
                        f"records' is {samples.fingerprint[:12]}: another --limit, split or source): review these "
                        "records in a new explorer page")
    samples.require_classes("--review")
    position = {str(k): i for i, k in enumerate(samples.keys)}
    n_classes = max(len(samples.classnames), int(samples.labels.max()) + 1)
    names = [samples.name(c) for c in range(n_classes)]   # as the explorer names them
    by_name = {name: c for c, name in enumerate(names)}
    corrections: dict[int, int] = {}
    for mark in review.marks:
        key = str(mark["key"])
        if key not in position:
            raise UserError(f"--review {review.path}: sample {key} is not among the {len(position):,} samples of "
                            f"{samples.task} these records hold: use the review of these records")
        if mark["verdict"] != "wrong":
            continue
        correct = mark.get("correct")
        if correct not in by_name:
            raise UserError(f"--review {review.path}: sample {key} is relabelled to '{correct}', which is not a class "
                            f"of {samples.task} (e.g. {', '.join(names[:5])}): fix that mark's class")
        corrections[position[key]] = by_name[correct]
    return corrections


def apply_review(samples, review: Review) -> dict[str, Any]:
    """Each model's top-1 on the original and on the corrected labels (95% Wilson intervals), the ranks
    before and after, and the labels that changed."""
    corrections = check_review(review, samples)
    labels = samples.labels.copy()
    for pos, c in corrections.items():
        labels[pos] = c
    n = len(labels)
    rows = []
    for m in samples.models:
        predicted = np.asarray(m.predicted)
        before, after = int((predicted == samples.labels).sum()), int((predicted == labels).sum())
        lo, hi = wilson_interval(after, n)
        rows.append({"model": m.label, "record": str(m.record.path), "top1": before / n, "top1_reviewed": after / n,
                     "interval_reviewed": [lo, hi], "change": (after - before) / n})
    for key, new_key in (("top1", "rank"), ("top1_reviewed", "rank_reviewed")):
        for rank, i in enumerate(sorted(range(len(rows)), key=lambda i: -rows[i][key]), 1):
            rows[i][new_key] = rank
    changed = [{"key": str(samples.keys[p]), "from": samples.name(int(samples.labels[p])), "to": samples.name(c)}
               for p, c in sorted(corrections.items())]
    verdicts = {v: sum(m["verdict"] == v for m in review.marks) for v in VERDICTS}
    return {"task": samples.task, "review": str(review.path), "samples": n, "marks": verdicts,
            "changed": changed, "models": sorted(rows, key=lambda r: r["rank_reviewed"])}


def review_lines(out: dict[str, Any], top: int) -> list[str]:
    """The terminal report: per model the figure before and after, the reviewed interval and the rank change."""
    marks = out["marks"]
    lines = [f"{out['task']}: {len(out['changed'])} label(s) changed by {out['review']} ({marks['wrong']} wrong, "
             f"{marks['right']} right, {marks['unsure']} unsure) of {out['samples']:,} samples; records unchanged",
             f"{'rank':>4}  {'was':>3}  {'top-1':>6}  {'reviewed':>8}  {'95% CI':>15}  model"]
    for r in out["models"]:
        lo, hi = r["interval_reviewed"]
        moved = "" if r["rank"] == r["rank_reviewed"] else f"  (rank {r['rank']} -> {r['rank_reviewed']})"
        lines.append(f"{r['rank_reviewed']:>4}  {r['rank']:>3}  {100 * r['top1']:6.2f}  {100 * r['top1_reviewed']:8.2f}  "
                     f"[{100 * lo:5.2f}, {100 * hi:5.2f}]  {r['model']}{moved}")
    for c in out["changed"][:top]:
        lines.append(f"changed: {c['key']}: {c['from']} -> {c['to']}")
    if len(out["changed"]) > top:
        lines.append(f"... and {len(out['changed']) - top} more (--json lists all)")
    return lines


def reviewed_figures(runs, review_path: str | Path) -> tuple[str, dict[str, float], str]:
    """For the leaderboard: the review's task, each record's (by path) top-1 on the corrected labels, and the
    note that says what the column is."""
    from bench.report.samples import load_task_samples

    review = read_review(review_path)
    if review.task not in set(runs.task):
        raise UserError(f"--review {review_path} is for task {review.task or '?'}, which has no records here: pass "
                        "the results folder it was made from")
    out = apply_review(load_task_samples(runs, review.task), review)
    note = (f"{review.task} (reviewed): top-1 on the labels {Path(review_path).name} corrects ({len(out['changed'])} "
            f"changed of {out['samples']:,}); records unchanged")
    return review.task, {r["record"]: r["top1_reviewed"] for r in out["models"]}, note
