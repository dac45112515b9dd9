"""Zero-shot retrieval (CLIP paper section 3.1.4 / DataComp): images and their captions, both ways.

Recall@1/5/10 text->image (``image_retrieval_recall@K``) and image->text
(``text_retrieval_recall@K``) exactly as CLIP_benchmark computes them, and DataComp's main figure
``mean_recall@1`` (the mean of the two R@1). Image features and caption embeddings come from the
caches; similarities are computed in blocks. Captions are embedded as written (no template).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.core.errors import UserError
from bench.engine.config import int_list, option
from bench.engine.protocol import Column, Outcome, PlotKind, Protocol, Unit
from bench.protocols.zeroshot import feature_facts

if TYPE_CHECKING:  # pragma: no cover - heavy modules load when the protocol runs (see zeroshot.py)
    from bench.engine.evaluation import Evaluation

RECALL_KS = (1, 5, 10)


@dataclass
class RetrievalOptions:
    """``--recall-k``: CLIP_benchmark's ``--recall_k`` (any K; recall@1, 5 and 10 are always reported)."""

    recall_k: tuple[int, ...] = option(
        "--recall-k", "retrieval: recall@K for these K too, both ways, as CLIP_benchmark's --recall_k computes it "
        "(recall@1, 5 and 10 are always reported; recorded)", RECALL_KS, parse=int_list, metavar="K,K,...")


class Retrieval(Protocol):
    name = "retrieval"
    options = RetrievalOptions
    summary = "captioned images: recall@1/5/10, image to text and text to image"
    kinds = ("retrieval",)
    metrics = tuple(f"{d}_retrieval_recall@{k}" for d in ("image", "text") for k in RECALL_KS) + ("mean_recall@1",)
    board = "zeroshot"  # DataComp's table shows retrieval beside zero-shot classification
    zero_shot = True
    default_for = ("retrieval",)
    columns = tuple(Column(f"{arrow} R@{k}", f"{d}_retrieval_recall@{k}")
                    for d, arrow in (("image", "T->I"), ("text", "I->T")) for k in RECALL_KS) + \
        (Column("mean R@1", "mean_recall@1"), Column("captions", "config.n_captions", "int"))
    paired_test = "mcnemar"  # per caption: its image retrieved at rank 1 or not
    clip_benchmark_task = "zeroshot_retrieval"

    @classmethod
    def plots(cls) -> tuple[PlotKind, ...]:
        from bench.report.formats import CHECKPOINTS_PLOT, LEADERBOARD_PLOT

        return LEADERBOARD_PLOT, CHECKPOINTS_PLOT

    def settings(self, record) -> str:
        return f"captions ({record.config['n_captions']})"

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        import torch
        import torch.nn.functional as F

        from bench.engine.classifiers import cached_text_embeddings
        from bench.engine.metrics import retrieval_recalls
        from bench.models.base import precision_dtype

        source = ev.task.source
        captions = getattr(source, "captions", None)
        if captions is None:
            raise UserError(f"task {ev.spec.name} has no captions (its source is {source.origin})")
        feats = ev.features()
        keep = feats.indices  # images that decoded, in order
        texts, owner = [], []
        position = {int(i): n for n, i in enumerate(keep)}
        for i in keep:
            for cap in captions[int(i)]:
                texts.append(cap)
                owner.append(position[int(i)])
        text_emb, info = cached_text_embeddings(ev.backend, texts, ev.store, progress=ev.config.progress)
        t0 = time.perf_counter()
        dtype = precision_dtype(ev.config.pair_precision)  # the profile's autocast type, if any
        image_emb = F.normalize(torch.as_tensor(np.asarray(feats.features), dtype=torch.float32).to(dtype), dim=-1)
        ranks: dict = {}
        ks = tuple(sorted(set(RECALL_KS) | set(ev.config.options_for(self).recall_k)))
        metrics, top5 = retrieval_recalls(image_emb, text_emb, np.asarray(owner), ks, dtype=dtype, ranks=ranks)
        metrics["primary"] = metrics[ev.spec.metric] if ev.spec.metric in metrics else metrics["mean_recall@1"]
        return [Outcome(
            metrics, int(len(keep)), templates="captions",
            config={"recall_k": list(ks), "n_captions": len(texts)},
            timings={"features": feats.info["seconds"], "classifier": info["seconds"],
                     "evaluate": time.perf_counter() - t0},
            task_info={**feature_facts(feats), "text_cache": info["cache"], "n_captions": len(texts)},
            # per caption: its image, the top-5 images retrieved for it (compare: paired R@1) and the rank
            # of its image; per image (image_indices: the source's): the rank of its best own caption
            predictions={"indices": np.arange(len(texts)), "labels": np.asarray(owner, dtype=np.int64),
                         "top5": top5.astype(np.int32), "caption_rank": ranks["caption_rank"],
                         "image_indices": np.asarray(keep), "image_caption_rank": ranks["image_caption_rank"]},
        )]
