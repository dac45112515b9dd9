"""Image-caption selection (SugarCrepe, Winoground), scored as CLIP_benchmark 1.6.2 scores it
(``clip_benchmark/metrics/image_caption_selection.py``).

Each item has I images and C captions, image i belonging with caption i. Image and caption embeddings are
L2-normalised and scored by cosine similarity. For each of the first min(I, C) images, the caption it scores
highest must be its own (``text_acc``: Winoground's text score); for each of the first min(I, C) captions,
the image it scores highest must be its own (``image_acc``: the image score); ``acc`` needs both (the group
score). Ties go to the lowest index, as ``argmax`` breaks them. With one image (SugarCrepe: a caption and a
hard negative) the image side is trivially right, so ``acc`` is ``text_acc``, as in CLIP_benchmark.

The tasks (``sugar_crepe/<subset>``, ``winoground``; suite ``@compositionality``) are of this protocol's own
kind, ``caption-selection``. Per item the records keep which caption each image chose, which image each caption
chose, both margins (own score minus the best other), and whether the item was right: ``compare`` pairs two
models item by item with McNemar's test.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from bench.engine.protocol import Column, Outcome, Protocol, SampleResults, Unit
from bench.protocols.grouped import unit_groups, whole_groups
from bench.protocols.zeroshot import feature_facts

if TYPE_CHECKING:  # pragma: no cover - heavy modules load when the protocol runs (see zeroshot.py)
    from bench.engine.evaluation import Evaluation

KIND = "caption-selection"


def select(scores: np.ndarray) -> dict:
    """One item's decisions from its ``[images, captions]`` similarity matrix (CLIP_benchmark's rule)."""
    n = min(scores.shape)
    text_choice = scores.argmax(axis=1)[:n]    # per image: the caption it scores highest
    image_choice = scores.argmax(axis=0)[:n]   # per caption: the image it scores highest
    own = scores[np.arange(n), np.arange(n)]
    others_text = np.where(np.eye(*scores.shape, dtype=bool)[:n], -np.inf, scores[:n])
    others_image = np.where(np.eye(*scores.shape, dtype=bool)[:, :n], -np.inf, scores[:, :n])
    text_margin = float((own - others_text.max(axis=1)).min()) if scores.shape[1] > 1 else float("nan")
    image_margin = float((own - others_image.max(axis=0)).min()) if scores.shape[0] > 1 else float("nan")
    text_ok, image_ok = bool((text_choice == np.arange(n)).all()), bool((image_choice == np.arange(n)).all())
    return {"text": text_ok, "image": image_ok, "text_choice": text_choice, "image_choice": image_choice,
            "text_margin": text_margin, "image_margin": image_margin}


class CaptionSelection(Protocol):
    name = "caption-selection"
    summary = "SugarCrepe, Winoground: does the image pick its caption, the caption its image"
    kinds = (KIND,)
    default_for = (KIND,)
    metrics = ("text_acc", "image_acc", "acc")
    zero_shot = True
    columns = (Column("text", "text_acc"), Column("image", "image_acc"), Column("acc (group)", "acc"),
               Column("items", "config.n_items", "int"))
    paired_test = "mcnemar"  # per item: right (both sides) or not
    adaptive = True  # --target-ci: each metric is a mean of 0/1 per item; the sample grows by whole items
    bounded_metrics = ("text_acc", "image_acc", "acc")
    clip_benchmark_task = None  # `--format clip_benchmark` writes classification and retrieval only

    def settings(self, record) -> str:
        return f"captions ({record.config['n_captions']})"

    @classmethod
    def contract_task(cls, folder) -> str:
        """Six SugarCrepe-layout items (coloured squares, their colour's caption and another's) as a task file."""
        import json
        from pathlib import Path

        from PIL import Image

        folder = Path(folder)
        (folder / "val2017").mkdir(parents=True, exist_ok=True)
        colours = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
        items = {}
        for k in range(6):
            name, other = list(colours)[k % 3], list(colours)[(k + 1) % 3]
            image = Image.new("RGB", (40, 40), (20, 20, 20))
            image.paste(colours[name], (6 + k, 6, 30 + k, 30))
            image.save(folder / "val2017" / f"{k}.png")
            items[str(2 * k + 1)] = {"filename": f"{k}.png", "caption": f"a {name} square",
                                     "negative_caption": f"a {other} square"}
        (folder / "items.json").write_text(json.dumps(items))
        (folder / "task.toml").write_text(f'name = "contract-caption-selection"\nkind = "{KIND}"\nmetric = "acc"\n'
                                          '[source]\ntype = "sugar_crepe"\npath = "."\nsubset = "items"\n')
        return str(folder / "task.toml")

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        import torch
        import torch.nn.functional as F

        from bench.engine.classifiers import cached_text_embeddings
        from bench.models.base import precision_dtype

        source = ev.task.source
        groups = whole_groups(ev, "items", "image-caption items")
        items, feats = groups.groups, groups.features
        # every item's captions, encoded once for the task (a growing --target-ci sample indexes into them)
        texts = [c for item in source.items for c in item.captions]
        text_emb, info = ev.memo(("caption-texts", ev.spec.name), lambda: cached_text_embeddings(
            ev.backend, texts, ev.store, progress=ev.config.progress))
        first = np.cumsum([0] + [len(item.captions) for item in source.items])
        t0 = time.perf_counter()
        dtype = precision_dtype(ev.config.pair_precision)  # the profile's autocast type (clip_benchmark: amp)
        image_emb = F.normalize(torch.as_tensor(np.asarray(feats.features), dtype=torch.float32).to(dtype), dim=-1)
        text_emb = text_emb.to(dtype)
        decisions = []
        for number, rows in zip(groups.numbers, groups.rows):
            scores = image_emb[torch.as_tensor(rows)] @ text_emb[first[number]:first[number + 1]].T
            decisions.append(select(scores.float().numpy()))
        text_ok = np.array([d["text"] for d in decisions])
        image_ok = np.array([d["image"] for d in decisions])
        both = text_ok & image_ok
        metrics = {"text_acc": float(text_ok.mean()), "image_acc": float(image_ok.mean()), "acc": float(both.mean())}
        metrics["primary"] = metrics[ev.spec.metric]
        return [Outcome(
            metrics, len(items), templates="captions",
            config={"n_items": len(items), "n_captions": sum(len(item.captions) for item in items),
                    "rule": "argmax per image and per caption, ties to the lowest index (CLIP_benchmark 1.6.2)"},
            timings={"features": feats.info["seconds"], "classifier": info["seconds"],
                     "evaluate": time.perf_counter() - t0},
            task_info={**feature_facts(feats), "text_cache": info["cache"], "n_images": int(len(source))},
            # per item: 'top5'[:, 0] == 'labels' when it is right on both sides (the classification reading that
            # the contract checks; samples, the explorer and compare read sample_results below)
            predictions={"indices": groups.numbers, "labels": np.zeros(len(items), dtype=np.int64),
                         "top5": (~both).astype(np.int32)[:, None],
                         "text_correct": text_ok, "image_correct": image_ok,
                         "text_choice": _padded([d["text_choice"] for d in decisions], -1).astype(np.int32),
                         "image_choice": _padded([d["image_choice"] for d in decisions], -1).astype(np.int32),
                         "text_margin": np.array([d["text_margin"] for d in decisions], dtype=np.float32),
                         "image_margin": np.array([d["image_margin"] for d in decisions], dtype=np.float32),
                         # what samples and the explorer show: the item, its first image, its captions (own first)
                         "keys": np.array([item.key for item in items]),
                         "image_start": np.array([item.start for item in items], dtype=np.int64),
                         "captions": _padded([item.captions for item in items], "")},
        )]

    @classmethod
    def unit_groups(cls, source) -> np.ndarray:
        return unit_groups(source)

    @classmethod
    def unit_values(cls, predictions: dict, metric: str) -> np.ndarray:
        text, image = np.asarray(predictions["text_correct"], bool), np.asarray(predictions["image_correct"], bool)
        return {"text_acc": text, "image_acc": image, "acc": text & image}[metric].astype(float)

    @classmethod
    def sample_results(cls, predictions: dict) -> SampleResults | None:
        """Per item: the caption its first image chose (``text_choice``), right when the item is right on both
        sides (the group score, ``acc``), its captions as the answers (records written before the captions were
        kept name them by position)."""
        if "text_choice" not in predictions:
            return None
        both = np.asarray(predictions["text_correct"], bool) & np.asarray(predictions["image_correct"], bool)
        choice = np.asarray(predictions["text_choice"])[:, 0].astype(np.int64)
        return SampleResults(np.asarray(predictions["indices"]), np.zeros(len(choice), dtype=np.int64), choice, both,
                             answers=predictions.get("captions"), images=predictions.get("image_start"), per_item=True)


def _padded(rows: list, fill) -> np.ndarray:
    """Rows of unequal length as one array, ``fill`` after each row's end (choices: -1; captions: "")."""
    width = max(len(row) for row in rows)
    return np.array([list(row) + [fill] * (width - len(row)) for row in rows])
