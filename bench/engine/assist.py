"""``--assist``: what earlier models got right on the same test set, as the controls of the assisted
confidence sequences (:mod:`bench.engine.assisted`).

``auto`` (the default) takes every *full* record in the run's results folder whose per-sample results
cover exactly this test set (same source identity, split and set of samples: the data fingerprint,
and the same labels); ``RESULTS`` names another results folder or record files; ``none`` runs the
plain sequence. Each record gives one control per unit: its per-sample value of the task's metric,
computed as the new model's is (:meth:`bench.engine.adaptive.AdaptiveSample.values`). The controls
are fixed before the first image is read, which is all the validity argument needs of them: a record
of an unrelated model only costs the noise of a coefficient near zero.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.core.errors import UserError

AUTO, NONE = "auto", "none"
#: at most this many earlier records serve as controls (the newest); more only add coefficient noise
MAX_CONTROLS = 12
HOW = ("each earlier model's per-sample {metric} is one control; the controls are combined by a ridge "
       "regression refit on the images read so far (at 16, 32, 64, ... and at every look), so each "
       "coefficient is fixed before its image is drawn")


@dataclass
class Assist:
    """The controls one adaptive sample uses (``controls`` None: the plain sequence ran, ``note`` says why)."""

    mode: str
    fingerprint: str
    controls: np.ndarray | None = None           # (N, K) in the sample's unit order
    records: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    note: str | None = None                      # why the plain sequence ran
    how: str | None = None                       # how the controls were made

    def population(self, drawn_units: np.ndarray, scored_units: np.ndarray) -> np.ndarray | None:
        """The controls of the units still in the population, in sampling order: those read and scored, then
        the unread ones (units drawn but not scored, undecodable images, left the test set)."""
        if self.controls is None:
            return None
        n = len(drawn_units)
        kept = np.isin(drawn_units, scored_units)
        return np.concatenate([self.controls[:n][kept], self.controls[n:]])

    def section(self, sequence: Any = None, target: float | None = None, n: int | None = None,
                N: int | None = None) -> dict[str, Any]:
        """The record's ``adaptive.assist``: which records, how the controls were made, the coefficients, the
        variance reduction and the plain sequence's interval on the same images; with a ``target`` width, the
        images the plain sequence would have needed, estimated from its width at ``n`` (the width of an
        empirical-Bernstein sequence without replacement scales like sqrt(1/n - 1/N))."""
        out: dict[str, Any] = {"mode": self.mode, "fingerprint": self.fingerprint, "used": self.controls is not None}
        for key in ("note", "how"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.left_out:
            out["left_out"] = self.left_out
        if self.controls is None:
            return out
        out["records"] = self.records
        if sequence is not None and getattr(sequence, "beta", None) is not None:
            lo, hi = sequence.plain_interval
            out.update(beta=[round(b, 4) for b in sequence.beta], variance_reduction=round(sequence.reduction, 4),
                       plain_interval=[lo, hi])
            if target is not None and n is not None and N is not None and 0 < n < N and hi - lo > target:
                need = 1 / (1 / N + (1 / n - 1 / N) * (target / (hi - lo)) ** 2)
                out["images_plain_estimate"] = int(min(N, round(need)))
                out["images_saved_estimate"] = int(min(N, round(need)) - n)
        return out


def _candidates(mode: str, results: Path | None) -> list:
    from bench.engine.records import read_record, read_records_if_any

    if mode == AUTO:
        return read_records_if_any(results) if results is not None else []
    path = Path(mode)
    return [read_record(path)] if path.is_file() else read_records_if_any(path)


@dataclass
class Population:
    """What the controls must line up with: the test set's data (source identity, split), its units in
    sampling order, their labels (None for grouped units), and how a record's predictions become per-unit
    values of the metric."""

    identity: Any
    split: str
    units: np.ndarray
    labels: np.ndarray | None
    values: Callable[[dict], np.ndarray]
    metric: str
    scale: float = 1.0


def collect(mode: str, population: Population, results: Path | None, exclude: tuple[str, ...] = ()) -> Assist:
    """The controls from the records ``mode`` names (``results``: the folder ``auto`` reads; ``exclude``: record
    files not to use, such as the compared models' own). Under ``auto`` no usable record means the plain
    sequence with a note; a results folder named explicitly with none is a user error (exit 2)."""
    from bench.engine.records import fingerprint_of

    units, labels = population.units, population.labels
    fingerprint = fingerprint_of(population.identity, population.split, units)
    if mode == NONE:
        return Assist(mode, fingerprint, note="--assist none: the plain sequence")
    usable, left_out = [], []
    excluded = {str(Path(p).resolve()) for p in exclude}
    for record in _candidates(mode, results):
        if record.adaptive is not None or record.path is None or str(Path(record.path).resolve()) in excluded:
            continue
        if record.task_info.get("data_identity") != population.identity or record.split != population.split:
            continue
        label = f"{record.model} {record.pretrained} ({Path(record.path).name})"
        try:
            preds = record.predictions()
        except OSError:
            left_out.append(f"{label}: no per-sample predictions file")
            continue
        indices = np.asarray(preds.get("indices", []))
        if len(indices) != len(units) or not np.array_equal(np.sort(indices), np.sort(units)):
            left_out.append(f"{label}: other samples ({len(indices)} of {len(units)})")
            continue
        row = np.argsort(indices)[np.searchsorted(np.sort(indices), units)]
        if labels is not None and not np.array_equal(np.asarray(preds["labels"])[row], labels):
            left_out.append(f"{label}: other labels on the same images")
            continue
        try:
            values = population.values(preds)
        except UserError as exc:
            left_out.append(f"{label}: {exc}")
            continue
        usable.append((record.created or "", record, np.asarray(values, dtype=float)[row]))
    if not usable:
        where = "the results folder" if mode == AUTO else mode
        message = (f"--assist {mode}: no full record with per-sample results on this test set (data fingerprint "
                   f"{fingerprint[:12]}) in {where}")
        if mode != AUTO:
            raise UserError(f"{message}: run earlier models in full there first, or use --assist auto / none")
        return Assist(mode, fingerprint, left_out=left_out, note=message + ": ran the plain sequence")
    usable.sort(key=lambda u: u[0])
    if len(usable) > MAX_CONTROLS:
        left_out += [f"{r.model} {r.pretrained}: only the newest {MAX_CONTROLS} records serve" for _, r, _ in
                     usable[:-MAX_CONTROLS]]
        usable = usable[-MAX_CONTROLS:]
    controls = np.clip(np.stack([v for _, _, v in usable], axis=1), 0, 1)
    records = [{"model": r.model, "pretrained": r.pretrained, "protocol": r.protocol, "file": Path(r.path).name,
                "value": round(float(v.mean() * population.scale), 6)} for _, r, v in usable]
    return Assist(mode, fingerprint, controls, records, left_out, how=HOW.format(metric=population.metric))
