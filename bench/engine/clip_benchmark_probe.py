"""CLIP_benchmark 1.6.2's linear probe (``clip_benchmark/metrics/linear_probe.py``), step for step, on features
zsbench has cached: a linear layer trained with AdamW under a cosine learning-rate schedule, its weight decay
searched on a validation split, the chosen one retrained, scored on test.

What it does, in its order (each a fact of its code):

1. features are L2-normalised when ``normalize`` (its ``Featurizer``; it probes the image embedding);
2. ``torch.randperm`` over the training rows, keeping the first ``fewshot_k`` of each class in that order
   (all rows with ``fewshot_k = -1``); a class short of k rows ends the evaluation;
3. with a validation split: weight decay from ``logspace(-6, 2, 97)``, first at its 7 points ``logspace(-6, 2, 7)``,
   then around the best at step 8, 4, 2, 1 (the best kept on ties: ``max_acc < acc1``), each candidate trained
   from ``torch.manual_seed(seed)``; the final layer is trained on train + validation (full training) or train
   alone (few-shot); without one, weight decay 0;
4. ``train``: ``torch.manual_seed(seed)``, ``nn.Linear(dim, classes)``, AdamW(lr, weight_decay), cross-entropy,
   ``epochs`` passes over a shuffled loader of ``batch_size``, the learning rate set before each step by its
   cosine schedule without warm-up;
5. top-1 and top-5 (top-5 only when the largest test label is at least 5), balanced accuracy.

Its loaders draw their order from torch's global generator, as here, so the same features, seed and starting
generator state give the same batches. CLIP_benchmark runs it on CUDA only (``assert device == 'cuda'``); here it
runs on the run's device.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.core.errors import UserError
from bench.core.lazy_import import lazy_module

torch = lazy_module("torch")

#: its weight-decay grid and the points the search starts from
WD_GRID = np.logspace(-6, 2, num=97)
WD_START = np.logspace(-6, 2, num=7)


@dataclass(frozen=True)
class CBProbeSettings:
    """CLIP_benchmark's ``--fewshot_k``, ``--fewshot_lr``, ``--fewshot_epochs``, ``--batch_size``, ``--seed`` and
    ``--normalize`` (its defaults)."""

    fewshot_k: int = -1
    lr: float = 0.1
    epochs: int = 10
    batch_size: int = 64
    seed: int = 0
    normalize: bool = True
    device: str = "cpu"


def _tensor_pairs(X, y):
    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    return X, torch.as_tensor(np.asarray(y, dtype=np.int64))


def _loader(X, y, batch_size: int, shuffle: bool):
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle)


def _train(loader, dim: int, classes: int, weight_decay: float, s: CBProbeSettings):
    torch.manual_seed(s.seed)
    model = torch.nn.Linear(dim, classes).to(s.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=weight_decay)
    criterion = torch.nn.CrossEntropyLoss()
    steps = s.epochs * len(loader)
    for epoch in range(s.epochs):
        for i, (x, y) in enumerate(loader):
            step = i + epoch * len(loader)
            for group in optimizer.param_groups:  # its cosine_lr with no warm-up
                group["lr"] = 0.5 * (1 + np.cos(np.pi * step / steps)) * s.lr
            optimizer.zero_grad()
            loss = criterion(model(x.to(s.device)), y.to(s.device))
            loss.backward()
            optimizer.step()
    return model


def _infer(model, loader, device: str):
    logits, targets = [], []
    with torch.no_grad():
        for x, y in loader:
            logits.append(model(x.to(device)).cpu())
            targets.append(y)
    return torch.cat(logits), torch.cat(targets)


def _top1(logits, target) -> float:
    """Its ``accuracy(..., topk=(1,))``: the first of ``topk``."""
    return (logits.topk(1, 1, True, True).indices[:, 0] == target).sum().item() / len(target)


def evaluate(X_train, y_train, X_test, y_test, X_val=None, y_val=None,
             settings: CBProbeSettings = CBProbeSettings()) -> dict:
    """CLIP_benchmark's linear probe; returns its metrics (``lp_acc1``, ``lp_acc5``, ``lp_mean_per_class_recall``,
    ``weight_decay``) and the final layer's test logits in the test rows' own order (``logits``; its own pass
    reads them shuffled, which changes no metric)."""
    from sklearn.metrics import balanced_accuracy_score

    s = settings
    X_train, y_train = _tensor_pairs(X_train, y_train)
    X_test, y_test = _tensor_pairs(X_test, y_test)
    if X_val is not None:
        X_val, y_val = _tensor_pairs(X_val, y_val)
    if s.normalize:
        X_train, X_test = (torch.nn.functional.normalize(x, dim=-1) for x in (X_train, X_test))
        X_val = None if X_val is None else torch.nn.functional.normalize(X_val, dim=-1)
    perm = [p.item() for p in torch.randperm(len(X_train))]
    counts: dict[int, int] = {}
    idxs = []
    for p in perm:
        target = int(y_train[p])
        counts.setdefault(target, 0)
        if s.fewshot_k < 0 or counts[target] < s.fewshot_k:
            counts[target] += 1
            idxs.append(p)
    short = [c for c, n in counts.items() if s.fewshot_k > 0 and n != s.fewshot_k]
    if short:
        raise UserError(f"CLIP_benchmark's probe: class {short[0]} has fewer than --fewshot-k {s.fewshot_k} training "
                        "samples (it stops there: 'insufficient data for this eval')")
    train_x, train_y = X_train[idxs], y_train[idxs]
    dim, classes = X_train.shape[1], int(y_train.max()) + 1
    train_loader = _loader(train_x, train_y, s.batch_size, True)
    test_loader = _loader(X_test, y_test, s.batch_size, True)
    best_wd = 0.0
    if X_val is not None:
        val_loader = _loader(X_val, y_val, s.batch_size, True)

        def peak(candidates: list[int]) -> int:
            best, top = 0, 0.0
            for idx in candidates:
                model = _train(train_loader, dim, classes, float(WD_GRID[idx]), s)
                acc = _top1(*_infer(model, val_loader, s.device))
                if top < acc:
                    best, top = idx, acc
            return best

        idx = peak([i for i, v in enumerate(WD_GRID.tolist()) if v in WD_START.tolist()])
        span = 8
        while span > 0:
            idx = peak([max(idx - span, 0), idx, min(idx + span, len(WD_GRID) - 1)])
            span //= 2
        best_wd = float(WD_GRID[idx])
        if s.fewshot_k < 0:  # full training: train + validation
            train_loader = _loader(torch.cat([train_x, X_val]), torch.cat([train_y, y_val]), s.batch_size, True)
    model = _train(train_loader, dim, classes, best_wd, s)
    logits, target = _infer(model, test_loader, s.device)
    with torch.no_grad():
        ordered = model(X_test.to(s.device)).cpu().numpy()
    pred = logits.argmax(1)
    k = 5 if int(target.max()) >= 5 else 1  # its accuracy(..., topk=(1, 5)) only from label 5 on
    top = logits.topk(k, 1, True, True).indices
    acc5 = (top == target[:, None]).any(1).sum().item() / len(target) if k == 5 else float("nan")
    return {"lp_acc1": (top[:, 0] == target).sum().item() / len(target), "lp_acc5": acc5,
            "lp_mean_per_class_recall": float(balanced_accuracy_score(target.numpy(), pred.numpy())),
            "weight_decay": best_wd, "logits": ordered}
