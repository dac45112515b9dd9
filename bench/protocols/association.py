"""Visual association (WinoGAViL, Bitton et al. 2022), scored as DataComp scores it
(``eval_utils/wino_eval.py``).

For each instance the cue becomes one prompt, "A <cue>" or "An <cue>" (lower-cased; "An" when it
starts with a vowel letter), the model ranks the candidate images by cosine similarity to it, the
top n are predicted (n = the number of true associations) and the instance scores the Jaccard index
of predicted and true sets. DataComp's main figure, ``jaccard_score_10-12``, is the mean over
instances with 10 or 12 candidates; the means over 5, 6, 10, 12 candidates, 5-6 and all are recorded.
Ties rank as numpy's ``argsort`` ranks them (DataComp takes its last n).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from bench.core.errors import UserError
from bench.engine.protocol import Column, Outcome, PlotKind, Protocol, Unit
from bench.protocols.grouped import whole_groups
from bench.protocols.zeroshot import feature_facts

if TYPE_CHECKING:  # pragma: no cover - heavy modules load when the protocol runs (see zeroshot.py)
    from bench.engine.evaluation import Evaluation

VOWELS = "aeiou"


def cue_prompt(cue: str) -> str:
    """DataComp's ``get_clip_prompt``."""
    cue = cue.lower()
    return f"An {cue}" if cue[:1] in VOWELS else f"A {cue}"


def jaccard(truth: np.ndarray, predicted: np.ndarray) -> float:
    """scikit-learn's binary ``jaccard_score`` (0 when both sets are empty)."""
    union = np.sum(truth | predicted)
    return float(np.sum(truth & predicted) / union) if union else 0.0


def association_scores(similarities: list[np.ndarray], truths: list[np.ndarray]) -> np.ndarray:
    """Per instance: the Jaccard index of the top-n candidates (n = true associations) and the truth."""
    out = np.empty(len(truths))
    for k, (sims, truth) in enumerate(zip(similarities, truths)):
        top = np.argsort(sims)[-int(truth.sum()):]
        out[k] = jaccard(truth, np.isin(np.arange(len(sims)), top))
    return out


def jaccard_summary(scores: np.ndarray, sizes: np.ndarray) -> dict[str, float | None]:
    """DataComp's keys: the mean Jaccard overall and by number of candidates."""
    def mean(mask) -> float | None:
        return float(scores[mask].mean()) if mask.any() else None

    return {"avg_jaccard_score": mean(sizes > 0), "jaccard_score_5": mean(sizes == 5),
            "jaccard_score_6": mean(sizes == 6), "jaccard_score_10": mean(sizes == 10),
            "jaccard_score_12": mean(sizes == 12), "jaccard_score_5-6": mean(sizes <= 6),
            "jaccard_score_10-12": mean(sizes >= 10)}


class Association(Protocol):
    name = "association"
    summary = "WinoGAViL: Jaccard of the chosen candidates"
    kinds = ("association",)
    metrics = ("avg_jaccard_score", "jaccard_score_5-6", "jaccard_score_10-12")
    board = "zeroshot"  # one of DataComp's 38 columns
    zero_shot = True
    default_for = ("association",)
    columns = (Column("jaccard", "avg_jaccard_score"), Column("jaccard 5-6", "jaccard_score_5-6"),
               Column("jaccard 10-12", "jaccard_score_10-12"))
    paired_test = "score-bootstrap"  # per instance: its Jaccard index

    @classmethod
    def plots(cls) -> tuple[PlotKind, ...]:
        from bench.report.formats import CHECKPOINTS_PLOT, LEADERBOARD_PLOT

        return LEADERBOARD_PLOT, CHECKPOINTS_PLOT

    def settings(self, record) -> str:
        return f"cues ({record.config['n_instances']})"

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        import torch
        import torch.nn.functional as F

        from bench.engine.classifiers import cached_text_embeddings

        source = ev.task.source
        groups = whole_groups(ev, "instances", "association instances", "candidate image")
        instances, feats = groups.groups, groups.features
        prompts = [cue_prompt(i.cue) for i in instances]
        text_emb, info = cached_text_embeddings(ev.backend, prompts, ev.store, progress=ev.config.progress, desc="cues")
        t0 = time.perf_counter()
        image_emb = F.normalize(torch.as_tensor(np.asarray(feats.features), dtype=torch.float32), dim=-1)
        sims = [(image_emb[rows] @ text_emb[k]).numpy() for k, rows in enumerate(groups.rows)]
        truths = [np.asarray(i.truth, dtype=bool) for i in instances]
        scores = association_scores(sims, truths)
        sizes = np.array([i.n for i in instances])
        metrics = jaccard_summary(scores, sizes)
        if metrics[ev.spec.metric] is None:
            raise UserError(f"task {ev.spec.name}: no instance has the candidate counts {ev.spec.metric} averages over")
        metrics["primary"] = metrics[ev.spec.metric]
        return [Outcome(
            metrics, len(instances), templates="cue",
            config={"prompt": "A/An <cue> (DataComp's get_clip_prompt)", "n_instances": len(instances)},
            timings={"features": feats.info["seconds"], "classifier": info["seconds"],
                     "evaluate": time.perf_counter() - t0},
            task_info={**feature_facts(feats), "text_cache": info["cache"], "n_images": int(len(source))},
            predictions={"indices": groups.numbers, "labels": sizes.astype(np.int64),
                         "scores": scores.astype(np.float32)},
        )]
