"""Classification metrics, computed from logits or predictions; numpy/torch only."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - torch is imported where a function needs it (a cached run never does)
    import torch


def as_array(x: Any) -> np.ndarray:
    """A numpy view of an array or a tensor (moved to the CPU first); numpy's own arrays pass unchanged."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def topk_predictions(logits: Any, k: int = 5) -> np.ndarray:
    """``[N, min(k, C)]`` class indices, best first; exact ties go to the lower class index.

    One rule for every top-1 in zsbench: column 0 is ``argmax``'s first index, as DataComp's and
    CLIP_benchmark's ``argmax`` take it. ``torch.topk`` does not promise that order among equal
    values (on CPU it can return the higher index first), so a stable sort of the negated scores is
    used (negation is exact, so equal scores keep their class order). ``logits``: array or tensor.
    """
    scores = as_array(logits)
    k = min(k, scores.shape[1])
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def mean_per_class_recall(pred: np.ndarray, labels: np.ndarray) -> float:
    """Average over classes present in ``labels`` of the fraction of that class predicted right
    (scikit-learn's ``balanced_accuracy_score``; the CLIP paper's metric for several datasets).

    A label with no column in the classifier (DataComp's CLEVR distance, whose blank class name
    clip-benchmark 1.4.0 drops) counts as a class that is never predicted, as scikit-learn counts it."""
    labels = np.asarray(labels)
    recalls = [float((pred[labels == c] == c).mean()) for c in np.unique(labels)]
    return float(np.mean(recalls)) if recalls else float("nan")


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for an accuracy: honest error bars even near 0 or 1."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def classification_metrics(logits: Any, labels: np.ndarray,
                           top5_min_classes: int = 6) -> tuple[dict, np.ndarray]:
    """top-1, top-5 (``None`` with fewer than ``top5_min_classes`` classes: with 5 it is 1 by
    construction, which CLIP_benchmark and DataComp report anyway), mean per-class recall, top-1's
    95% CI, and the mean of top-1 and top-5."""
    n_classes = logits.shape[1]
    top5 = topk_predictions(logits, 5)
    labels = np.asarray(labels)
    correct = int((top5[:, 0] == labels).sum())
    metrics = {
        "top1": correct / len(labels) if len(labels) else float("nan"),
        "top5": float((top5 == labels[:, None]).any(axis=1).mean()) if n_classes >= top5_min_classes else None,
        "mean_per_class_recall": mean_per_class_recall(top5[:, 0], labels),
        "top1_ci95": list(wilson_interval(correct, len(labels))),
    }
    if metrics["top5"] is not None:  # the CLIP paper's metric for Kinetics-700
        metrics["mean_top1_top5"] = (metrics["top1"] + metrics["top5"]) / 2
    return metrics, top5


def paired_bootstrap_ci(correct_a: np.ndarray, correct_b: np.ndarray, n_resamples: int = 10000,
                        seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Accuracy difference ``A - B`` on the same samples and its percentile bootstrap interval.

    Resampling images with replacement only changes how many of each kind of pair are drawn:
    (A right, B wrong), (A wrong, B right), or a tie. So each resample is one multinomial draw of
    those three counts, which is exactly the index bootstrap's distribution at O(resamples) cost.
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError("paired bootstrap needs two equal-length, non-empty 1-D arrays")
    n = len(a)
    p = np.array([(a & ~b).sum(), (~a & b).sum(), (a == b).sum()], dtype=np.float64) / n
    counts = np.random.default_rng(seed).multinomial(n, p, size=n_resamples)
    diffs = (counts[:, 0] - counts[:, 1]) / n
    alpha = (1 - level) / 2
    lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
    return float(a.mean() - b.mean()), float(lo), float(hi)


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value: a binomial test on the discordant pairs."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return float(min(1.0, 2 * tail))


def retrieval_recalls(image_emb: "torch.Tensor", text_emb: "torch.Tensor", text_image: np.ndarray,
                      ks: tuple[int, ...] = (1, 5, 10), block: int = 1024,
                      dtype: "torch.dtype | None" = None, ranks: dict | None = None) -> tuple[dict, np.ndarray]:
    """CLIP_benchmark's retrieval recall@k, computed in blocks (25k captions x 5k images fit easily).

    ``image_emb`` [N_img, D] and ``text_emb`` [N_txt, D] are L2-normalised; caption j belongs to
    image ``text_image[j]``. ``image_retrieval_recall@k`` (text -> image): the share of captions
    whose image ranks in their top k. ``text_retrieval_recall@k`` (image -> text): the share of
    images with at least one of their captions in their top k. Ranks come from ``torch.topk`` on
    the same scores CLIP_benchmark computes, so ties break the same way. Also returns each
    caption's top-5 images (for paired comparisons). ``dtype``: the type of the scores (bf16 / fp16
    where a profile's autocast made the embeddings, as CLIP_benchmark multiplies them).

    ``ranks`` (a dict) receives per-sample ranks (1 = first; a tie counts in the item's favour):
    ``caption_rank``, each caption's rank of its own image, and ``image_caption_rank``, each image's
    rank of its best-ranked own caption.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    image_emb, text_emb = image_emb.to(dtype), text_emb.to(dtype)
    text_image = torch.as_tensor(np.asarray(text_image), dtype=torch.long)
    n_img, n_txt = image_emb.shape[0], text_emb.shape[0]
    caption_rank = torch.empty(n_txt, dtype=torch.int32)
    image_rank = torch.empty(n_img, dtype=torch.int32)
    if ranks is not None:
        for s in range(0, n_txt, block):
            scores = text_emb[s:s + block] @ image_emb.T
            own = scores.gather(1, text_image[s:s + block, None])
            caption_rank[s:s + block] = (scores > own).sum(dim=1) + 1
        for s in range(0, n_img, block):
            scores = image_emb[s:s + block] @ text_emb.T
            mine = text_image[None, :] == torch.arange(s, min(s + block, n_img))[:, None]
            best = scores.masked_fill(~mine, float("-inf")).max(dim=1, keepdim=True).values
            image_rank[s:s + block] = (scores > best).sum(dim=1) + 1
        ranks.update(caption_rank=caption_rank.numpy(), image_caption_rank=image_rank.numpy())
    if dtype != torch.float32:
        return _reduced_recalls(image_emb, text_emb, text_image, ks)
    kmax = max(ks)
    hits_t2i = {k: torch.zeros(n_txt, dtype=torch.bool) for k in ks}
    top5 = torch.empty(n_txt, min(5, n_img), dtype=torch.long)
    for s in range(0, n_txt, block):
        scores = text_emb[s:s + block] @ image_emb.T                      # [b, N_img]
        top = scores.topk(min(kmax, n_img), dim=1).indices
        truth = text_image[s:s + block, None]
        for k in ks:
            hits_t2i[k][s:s + block] = (top[:, :k] == truth).any(dim=1)
        top5[s:s + block] = top[:, :top5.shape[1]]
    hits_i2t = {k: torch.zeros(n_img, dtype=torch.bool) for k in ks}
    for s in range(0, n_img, block):
        scores = image_emb[s:s + block] @ text_emb.T                      # [b, N_txt]
        top = scores.topk(min(kmax, n_txt), dim=1).indices
        owner = text_image[top]                                           # the image each retrieved caption belongs to
        mine = torch.arange(s, min(s + block, n_img))[:, None]
        for k in ks:
            hits_i2t[k][s:s + block] = (owner[:, :k] == mine).any(dim=1)
    metrics = {}
    for k in ks:
        metrics[f"image_retrieval_recall@{k}"] = float(hits_t2i[k].float().mean())
        metrics[f"text_retrieval_recall@{k}"] = float(hits_i2t[k].float().mean())
    metrics["mean_recall@1"] = (metrics["image_retrieval_recall@1"] + metrics["text_retrieval_recall@1"]) / 2
    return metrics, top5.numpy()


def _reduced_recalls(image_emb: "torch.Tensor", text_emb: "torch.Tensor", text_image: "torch.Tensor",
                     ks: tuple[int, ...]) -> tuple[dict, np.ndarray]:
    """:func:`retrieval_recalls` for bf16 / fp16 scores, step for step as CLIP_benchmark's
    ``zeroshot_retrieval`` takes them: one score matrix ``texts @ images.T``, its transpose for
    image -> text, and a separate ``topk(k)`` for each k (coarse scores tie often, and which tied
    item ``topk`` returns depends on k)."""
    import torch

    scores = text_emb @ image_emb.T                                        # [N_txt, N_img]
    n_img = scores.shape[1]
    mine = torch.zeros_like(scores, dtype=torch.bool)
    mine[torch.arange(len(text_image)), text_image] = True
    metrics = {}
    for k in ks:
        t2i = torch.topk(scores, min(k, n_img), dim=1)[1]
        metrics[f"image_retrieval_recall@{k}"] = float(mine.gather(1, t2i).any(dim=1).float().mean())
        i2t = torch.topk(scores.T, min(k, scores.shape[0]), dim=1)[1]
        metrics[f"text_retrieval_recall@{k}"] = float(mine.T.gather(1, i2t).any(dim=1).float().mean())
    metrics["mean_recall@1"] = (metrics["image_retrieval_recall@1"] + metrics["text_retrieval_recall@1"]) / 2
    return metrics, torch.topk(scores, min(5, n_img), dim=1)[1].numpy()


def holm(p_values) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, kept monotone, capped at 1): reject where the
    adjusted value is below the level, and the family-wise error rate over all tests stays there."""
    p = np.asarray(list(p_values), dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def paired_bootstrap_mpcr(correct_a: np.ndarray, correct_b: np.ndarray, labels: np.ndarray,
                          n_resamples: int = 10000, seed: int = 0, level: float = 0.95,
                          chunk: int = 250) -> tuple[float, float, float, float]:
    """Mean per-class recall difference ``A - B`` on the same samples: its percentile bootstrap
    interval and two-sided bootstrap p-value (images resampled with replacement, in chunks).

    Unlike top-1, the metric weighs each class equally, so the resample must keep the labels: an
    index bootstrap (each resample's classes that were drawn at all count)."""
    a = np.asarray(correct_a, dtype=np.float64)
    b = np.asarray(correct_b, dtype=np.float64)
    y = np.asarray(labels)
    classes, y_idx = np.unique(y, return_inverse=True)
    k, n = len(classes), len(y)

    def mpcr(weights: np.ndarray, values: np.ndarray) -> np.ndarray:  # weights: [r, n] draw counts
        hit = np.stack([np.bincount(y_idx, weights=w * values, minlength=k) for w in weights])
        count = np.stack([np.bincount(y_idx, weights=w, minlength=k) for w in weights])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nanmean(np.where(count > 0, hit / np.maximum(count, 1), np.nan), axis=1)

    ones = np.ones((1, n))
    diff = float((mpcr(ones, a) - mpcr(ones, b))[0])
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, n_resamples, chunk):
        r = min(chunk, n_resamples - start)
        draws = rng.multinomial(n, np.full(n, 1.0 / n), size=r).astype(np.float64)
        diffs.append(mpcr(draws, a) - mpcr(draws, b))
    diffs = np.concatenate(diffs)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
    p = float(min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean())))
    return diff, float(lo), float(hi), p
