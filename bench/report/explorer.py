"""The explorer in ``zsbench report``: a leaderboard that opens, per task, a per-class view, an image grid
with every model's prediction, flagged label issues, and an A-vs-B view with the paired test.

Everything is data for one static page (``data/explorer.js`` draws it; no server, no external asset):

- the board (models, tasks, cells with their interval), parsed as the page opens;
- per task, a payload parsed only when the task is opened: class names, per-class top-1 of every model,
  every model's top-1 right/wrong on every sample as a bit set (the A-vs-B counts and the paired test
  come from these, over all samples), and a selection of samples shown as images: flagged label issues
  first, then the samples the models dispute most, spread over the classes (``samples_per_task``);
- per task, the thumbnails of those samples (downscaled JPEGs), in a block of their own that is
  decoded only when a grid is drawn.

So a page of 100 models x 38 tasks stays within tens of MB and paints its leaderboard first
(``benchmarks/explorer_scale.py`` measures both).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from bench.core.errors import UserError
from bench.engine.calibration import prediction_calibration
from bench.engine.metrics import wilson_interval
from bench.report.collect import SAME_NUMBER, default_board, newest
from bench.report.leaderboard import model_label
from bench.report.images import data_url, record_source, thumbnail_bytes
from bench.report.samples import TaskSamples, find_issues, issue_models, load_task_samples

#: samples shown as images per task, and their thumbnails' longer side in px
SAMPLES_PER_TASK = 240
THUMB_PX = 64

#: (task, record, sample indices) -> one JPEG (bytes) per index, or None where an image is missing
Thumbnails = Callable[[str, Any, np.ndarray], list]


@dataclass
class ExplorerData:
    board: dict[str, Any]
    tasks: list[dict[str, Any] | None] = field(default_factory=list)   # per board task, or None
    images: list[list[str] | None] = field(default_factory=list)        # per board task: data URLs

    def size_hint(self) -> int:
        return sum(len(u) for imgs in self.images if imgs for u in imgs)


def _row_label(r, headline: str) -> str:
    """One leaderboard row per classifier: a model (with its template set where it is not each task's
    own), and, off the headline board, the protocol and a probe's variant."""
    label = model_label(r)
    if r.board != headline:
        label += f" [{r.protocol}{'' if r.features in ('-', None) else ' ' + str(r.features)}]"
    return label


def _groups(tasks: list[str]) -> dict[str, list[str]]:
    """Each task's suites (``@vtab``, ``@imagenet-dist-shifts``, ...): the leaderboard's group filter."""
    from tasks.suites import read_suite, suite_names

    out: dict[str, list[str]] = {t: [] for t in tasks}
    for suite in suite_names():
        try:
            members = set(read_suite(suite))
        except UserError:
            continue
        for t in tasks:
            if t in members:
                out[t].append(suite)
    return out


def _interval(row) -> tuple[float | None, float | None, str]:
    """95% interval of a cell: Wilson's for top-1 (the per-sample one replaces it where per-class data
    gives the task's own metric); none for other metrics without per-sample data."""
    if row.metric in ("top1", None) and row.n and row.n == row.n and row.top1 == row.top1:
        lo, hi = wilson_interval(int(round(row.top1 * row.n)), int(row.n))
        return 100 * lo, 100 * hi, "Wilson 95%"
    return None, None, ""


def board_data(runs: pd.DataFrame, title: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """The leaderboard's rows (every classifier: a model under each protocol, template set and probe
    variant, the headline board's first), tasks and cells (the newest record of each), and the records
    behind them."""
    board = default_board(runs)
    # how many records stand behind each cell (the newest is shown; the rest are repeats of the same number)
    behind = runs.groupby(list(SAME_NUMBER), dropna=False)["path"].transform("size")
    rows = newest(runs).copy()
    rows["records"] = behind.loc[rows.index].to_numpy()
    rows["row"] = [_row_label(r, board) for r in rows.itertuples()]
    rows["headline"] = rows.board == board
    rows = rows.sort_values(["headline", "model", "pretrained", "row"], ascending=[False, True, True, True],
                            kind="stable")
    models = list(dict.fromkeys(rows.row))
    task_names = sorted(dict.fromkeys(rows.task))
    groups = _groups(task_names)
    first = {r.row: r for r in rows.drop_duplicates("row").itertuples()}
    cells = []
    for r in rows.itertuples():
        lo, hi, how = _interval(r)
        cells.append([models.index(r.row), task_names.index(r.task), _pct(r.primary), _pct(lo, 1), _pct(hi, 1), how,
                      int(r.records)])
    folders = {str(Path(str(p)).parent.parent) for p in rows.path if p}
    return {
        "title": title, "board": board, "results": folders.pop() if len(folders) == 1 else "RESULTS",
        "models": [{"label": m, "arch": str(first[m].model), "pretrained": str(first[m].pretrained),
                    "protocol": str(first[m].protocol)} for m in models],
        "tasks": [{"name": t, "groups": groups[t], "metric": str(rows[rows.task == t].metric.iloc[0] or "top1")}
                  for t in task_names],
        "cells": cells,
    }, rows


def _pct(value, scale: float = 100.0):
    if value is None or value != value:
        return None
    return round(float(value) * scale, 2)


def bits(values: np.ndarray) -> str:
    """Booleans as a base64 bit set (numpy's big-endian bit order: sample i is bit 7 - i % 8 of byte i // 8)."""
    return base64.b64encode(np.packbits(np.asarray(values, dtype=bool)).tobytes()).decode("ascii")


def shown_samples(samples: TaskSamples, flagged: np.ndarray, budget: int) -> np.ndarray:
    """Positions of the samples a page shows as images: flagged label issues first (most likely error
    first), then the most disputed (most models wrong, yet not all), then those no model gets right, then
    the rest; spread over the classes (each class's best-ranked first, round by round)."""
    n = len(samples.labels)
    if budget >= n:
        return np.arange(n)
    correct = samples.correct
    wrong = 1.0 - correct.mean(axis=0)
    priority = np.full(n, 3.0)
    disputed = (wrong > 0) & (wrong < 1)
    priority[disputed] = 1.0 + (1.0 - wrong[disputed]) * 0.5   # 1.0 .. 1.5, most models wrong first
    priority[wrong == 1] = 2.0
    priority[flagged] = 0.0 + np.arange(len(flagged)) / max(len(flagged), 1) * 0.5
    order = np.lexsort((np.arange(n), priority))
    labels = samples.labels[order]
    rank_in_class = np.zeros(n, dtype=np.int64)
    seen: dict[int, int] = {}
    for j, c in enumerate(labels.tolist()):
        rank_in_class[j] = seen.get(c, 0)
        seen[c] = rank_in_class[j] + 1
    ranked = order[np.lexsort((np.arange(n), rank_in_class))]
    must = pair_sides(correct, ranked, budget)
    rest = ranked[~np.isin(ranked, must)][:budget - len(must)]
    return np.sort(np.concatenate([must, rest]).astype(np.int64))


def pair_sides(correct: np.ndarray, ranked: np.ndarray, budget: int) -> np.ndarray:
    """Samples kept for A vs B whatever else fills the budget: for every pair of models, the first (in the page's
    priority order) of each side, A right and B wrong, B right and A wrong, both wrong; a quarter of the budget
    at most, shared evenly (none when the budget is too small to give every side one)."""
    m = len(correct)
    pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
    per = budget // (4 * 3 * len(pairs)) if pairs else 0
    if per == 0:
        return np.empty(0, dtype=np.int64)
    rank = np.empty(len(ranked), dtype=np.int64)
    rank[ranked] = np.arange(len(ranked))
    out: list[int] = []
    for i, j in pairs:
        for side in (correct[i] & ~correct[j], correct[j] & ~correct[i], ~correct[i] & ~correct[j]):
            where = np.flatnonzero(side)
            out += where[np.argsort(rank[where], kind="stable")][:per].tolist()
    return np.array(list(dict.fromkeys(out)), dtype=np.int64)


def item_payload(samples: TaskSamples, model_index: dict[str, int], budget: int) -> tuple[dict[str, Any], np.ndarray]:
    """A task whose samples answer among texts of their own (image-caption items): each shown item with its
    answers (captions, the right one at its label) and the one each model chose; no classes, so no per-class
    view and no label issues."""
    shown = shown_samples(samples, np.empty(0, dtype=np.int64), budget)
    payload = {
        "task": samples.task, "n": int(len(samples.labels)), "classnames": [], "items": True, "issues": 0,
        "models": [model_index[m.label] for m in samples.models],
        "correct": [bits(m.results.correct) for m in samples.models],
        "shown": {"pos": shown.astype(int).tolist(), "key": [str(samples.keys[i]) for i in shown],
                  "label": samples.labels[shown].astype(int).tolist(), "index": samples.indices[shown].astype(int).tolist(),
                  "pred": [m.predicted[shown].astype(int).tolist() for m in samples.models], "flag": {},
                  "answers": [[samples.answer(int(i), k) for k in range(_n_answers(samples, int(i)))] for i in shown]},
        "notes": [f"left out: {x}" for x in samples.left_out],
    }
    return payload, shown


def _n_answers(samples: TaskSamples, position: int) -> int:
    answers = samples.models[0].results.answers
    if answers is None:  # a record from before the answers' texts were kept: as many as any model chose
        return int(max(m.predicted[position] for m in samples.models)) + 1
    return sum(1 for a in answers[position] if str(a))


def _calibration(m) -> list | None:
    """[ECE equal mass, ECE equal width (both in %), NLL, Brier] of a model from its stored probabilities, or None
    (a record without them)."""
    try:
        cal = prediction_calibration(m.preds)
    except KeyError:
        return None
    return [_pct(cal.ece), _pct(cal.ece_equal_width), round(float(cal.nll), 4),
            None if cal.brier is None else round(float(cal.brier), 4)]


def task_payload(samples: TaskSamples, model_index: dict[str, int], budget: int) -> tuple[dict[str, Any], np.ndarray]:
    """One task's per-sample data for the page, and the sample positions it shows as images."""
    if samples.per_item:
        return item_payload(samples, model_index, budget)
    n_classes = max(len(samples.classnames), int(samples.labels.max()) + 1)
    classnames = [samples.name(c) for c in range(n_classes)]
    notes = [f"left out: {x}" for x in samples.left_out]
    flagged = np.empty(0, dtype=np.int64)
    suggested = np.empty(0, dtype=np.int64)
    score = np.empty(0)
    try:
        used, left = issue_models(samples)
        found, exact = find_issues(samples, used)
        flagged, suggested, score = found.indices, found.suggested, found.score
        notes.append("label issues from " + "; ".join(samples.models[i].label for i in used))
        notes += [f"left out of label issues: {why}" for why in left]
        if not exact:
            notes.append("label issues from top-10 probabilities (classes outside spread evenly)")
    except UserError as exc:
        notes.append(f"no label issues: {exc}")
    shown = shown_samples(samples, flagged, budget)
    where = {int(p): j for j, p in enumerate(shown)}
    flags = {str(where[int(i)]): [int(s), float(f"{float(sc):.3g}")] for i, s, sc in zip(flagged, suggested, score)
             if int(i) in where}
    counts = np.bincount(samples.labels, minlength=n_classes)
    issues_per_class = np.bincount(samples.labels[flagged], minlength=n_classes) if len(flagged) else np.zeros(n_classes, int)
    per_class, correct_bits, preds = [], [], []
    for m in samples.models:
        right = m.predicted == samples.labels
        hits = np.bincount(samples.labels[right], minlength=n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.where(counts > 0, 100.0 * hits / np.maximum(counts, 1), np.nan)
        per_class.append([None if v != v else round(float(v), 1) for v in acc])
        correct_bits.append(bits(right))
        preds.append(m.predicted[shown].astype(int).tolist())
    payload = {
        "task": samples.task, "n": int(len(samples.labels)), "classnames": classnames,
        "models": [model_index[m.label] for m in samples.models],
        "class_counts": counts.astype(int).tolist(), "issues": int(len(flagged)),
        "issues_per_class": issues_per_class.astype(int).tolist(),
        "per_class": per_class, "correct": correct_bits, "fingerprint": samples.fingerprint,
        "calibration": [_calibration(m) for m in samples.models],
        "shown": {"pos": shown.astype(int).tolist(), "key": [str(samples.keys[i]) for i in shown], "label": samples.labels[shown].astype(int).tolist(),
                  "index": samples.indices[shown].astype(int).tolist(), "pred": preds, "flag": flags},
        "notes": notes,
    }
    return payload, shown


def source_thumbnails(size: int, cache_dir: Path | None = None, data_dir: Path | None = None) -> Thumbnails:
    """Thumbnails read from each record's own source on this machine (none where the data is absent)."""
    opened: dict[str, tuple[Any, str]] = {}

    def read(task: str, record: Any, indices: np.ndarray) -> list:
        if task not in opened:
            opened[task] = record_source(record, cache_dir, data_dir)
        source, _ = opened[task]
        out = []
        for i in indices:
            try:
                out.append(thumbnail_bytes(source, int(i), size, quality=70) if source is not None else None)
            except Exception:  # noqa: BLE001 - one unreadable image: shown as missing, the page still builds
                out.append(None)
        return out

    read.why_not = lambda task: opened.get(task, (None, ""))[1]  # type: ignore[attr-defined]
    return read


def explorer_data(runs: pd.DataFrame, title: str, samples_per_task: int = SAMPLES_PER_TASK,
                  thumbnails: Thumbnails | None = None, progress: Callable | None = None) -> ExplorerData:
    """The board and, for every task whose records keep per-sample classes, its payload and thumbnails."""
    board, rows = board_data(runs, title)
    model_index = {m["label"]: i for i, m in enumerate(board["models"])}
    by_path = {str(r.path): r.row for r in rows.itertuples()}
    data = ExplorerData(board)
    tasks = [t["name"] for t in board["tasks"]]
    for j, task in enumerate(progress(tasks) if progress else tasks):
        try:
            samples = load_task_samples(rows, task)
        except UserError:
            data.tasks.append(None)
            data.images.append(None)
            continue
        labels = {m.label: by_path[str(m.record.path)] for m in samples.models}
        for m in samples.models:
            m.label = labels[m.label]
        payload, shown = task_payload(samples, model_index, samples_per_task)
        _mean_per_class_intervals(board, j, samples, model_index)
        images = None
        if thumbnails is not None and len(shown):
            jpegs = thumbnails(task, samples.models[0].record, samples.images[shown])
            images = [data_url(b) if b else "" for b in jpegs]
            if not any(images):
                why = getattr(thumbnails, "why_not", lambda t: "")(task)
                payload["notes"].append(f"images not shown: {why or 'the data is not on this machine'}")
        data.tasks.append(payload)
        data.images.append(images)
    return data


def _mean_per_class_intervals(board: dict, task_j: int, samples: TaskSamples, model_index: dict[str, int]) -> None:
    """Cells whose metric is mean per-class recall get its normal interval from the per-class counts
    (the variance of a mean of independent class recalls)."""
    metric = board["tasks"][task_j]["metric"]
    if metric != "mean_per_class_recall":
        return
    classes = np.unique(samples.labels)
    cells: dict[tuple[int, int], list] = {}
    for cell in board["cells"]:  # one pass: each model's cell on this task
        cells.setdefault((cell[0], cell[1]), []).append(cell)
    for m in samples.models:
        right = m.predicted == samples.labels
        recalls = np.array([right[samples.labels == c].mean() for c in classes])
        n_c = np.array([(samples.labels == c).sum() for c in classes])
        mean = recalls.mean()
        se = np.sqrt(np.sum(recalls * (1 - recalls) / n_c)) / len(classes)
        for cell in cells.get((model_index[m.label], task_j), ()):
            cell[3:6] = [round(100 * max(0.0, mean - 1.96 * se), 2), round(100 * min(1.0, mean + 1.96 * se), 2),
                         "normal 95%, per class"]


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<`` can end the block or open a comment."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def explorer_html(data: ExplorerData) -> tuple[str, str]:
    """The explorer's markup and script (placed first in the page) and its per-task data blocks (placed
    last, so the leaderboard paints before the browser reads them)."""
    from bench.core.paths import package_file

    script = package_file("bench.report", "data", "explorer.js").read_text(encoding="utf-8")
    style = package_file("bench.report", "data", "explorer.css").read_text(encoding="utf-8")
    head = (f"<style>{style}</style><div id='explorer'></div>"
            f"<script type='application/json' id='zs-board'>{script_json(data.board)}</script>"
            f"<script>{script}</script>")
    blocks = []
    for j, (payload, images) in enumerate(zip(data.tasks, data.images)):
        if payload is not None:
            blocks.append(f"<script type='application/json' id='zs-task-{j}'>{script_json(payload)}</script>")
        if images:
            blocks.append(f"<script type='application/json' id='zs-img-{j}'>{script_json(images)}</script>")
    return head, "".join(blocks)
