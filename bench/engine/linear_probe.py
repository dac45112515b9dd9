"""Linear probes on frozen features, as in the CLIP paper (appendix A.3).

:class:`LogisticProbe` is L2-regularized multinomial logistic regression fitted with full-batch
L-BFGS (scipy's in numpy for small problems, torch's on CPU or GPU otherwise: :mod:`bench.engine.probe_solvers`,
so a small probe never imports torch). Its objective is scikit-learn's ``LogisticRegression`` objective
(``mean cross-entropy + ||W||^2 / (2 C n)``, intercept not penalized), so at the same ``C`` both
reach the same optimum. With ``C=None`` it runs the paper's search for the regularization
strength on a validation split: lambda = 1/C starts at {1e-6, 1e-4, ..., 1e6}, then the
interval around the best value is halved (2, 1, 1/2, 1/4, 1/8 decade) down to 8 steps per
decade — 96 log-steps over [1e-6, 1e6] — with each fit warm-started from the nearest finished
one. The chosen ``C`` is refitted on train + validation.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from bench.engine.config import STREAM_MODES
from bench.core.errors import UserError
from bench.engine.feature_chunks import FeatureChunks
from bench.engine.probe_solvers import ENGINES, SolverSettings, choose_solver, non_finite
from bench.engine.sample_scores import softmax

#: log10(lambda) of the paper's first grid: 1e-6 ... 1e6 in steps of two decades
START_LOG_LAMBDAS = (-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0)
#: interval half-widths (decades) of the refinement: ends at 1/8 decade = 8 steps per decade
REFINE_STEPS = (1.0, 0.5, 0.25, 0.125)


def validate_xy(X, y=None, name: str = "X") -> tuple[np.ndarray | FeatureChunks, np.ndarray | None]:
    """scikit-learn-style input checks with one-line messages. Features kept on disk
    (:class:`FeatureChunks`) are checked for NaN as they are streamed, not here."""
    X = X if isinstance(X, FeatureChunks) else np.asarray(X)
    if X.ndim != 2:
        raise UserError(f"{name} must be 2-D [n_samples, n_features], got shape {X.shape}")
    if X.shape[0] == 0:
        raise UserError(f"{name} has no samples")
    if not isinstance(X, FeatureChunks) and not np.isfinite(X).all():
        raise non_finite(name)
    if y is None:
        return X, None
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise UserError(f"y must be 1-D with one label per row of {name}: {y.shape} vs {X.shape}")
    return X, y


def _rows(X, idx: np.ndarray):
    """``X[idx]``, lazily for features kept on disk."""
    return X.take(idx) if isinstance(X, FeatureChunks) else X[idx]


def _concat(a, b):
    if isinstance(a, FeatureChunks) or isinstance(b, FeatureChunks):
        return FeatureChunks.concatenate([a, b])
    return np.concatenate([a, b])


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices; each class gives ``fraction`` of its samples (at least one, and
    keeps at least one) to validation."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < 2:
            raise UserError(f"class {c} has {len(idx)} sample(s): a validation split needs at least 2 per class")
        k = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        val.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def paper_lambda_search(evaluate: Callable[[float], float]) -> float:
    """The CLIP paper's search over log10(lambda) in [-6, 6]; ``evaluate`` returns a validation
    score (higher is better) and is called once per point. Returns the best log10(lambda).

    Ties go to the stronger regularization. Strong regularization is evaluated first: those fits
    are quick and make good warm starts for the weaker ones.
    """
    scores: dict[float, float] = {}

    def score(log_lam: float) -> float:
        log_lam = round(log_lam, 6)
        if log_lam not in scores:
            scores[log_lam] = evaluate(log_lam)
        return scores[log_lam]

    for log_lam in sorted(START_LOG_LAMBDAS, reverse=True):
        score(log_lam)
    best = max(scores, key=lambda v: (scores[v], v))
    for step in REFINE_STEPS:
        for cand in (best - step, best + step):
            if START_LOG_LAMBDAS[0] <= cand <= START_LOG_LAMBDAS[-1]:
                score(cand)
        best = max((v for v in scores if abs(v - best) <= step + 1e-9), key=lambda v: (scores[v], v))
    return best


@dataclass
class SweepResult:
    """Every (C, validation accuracy) the search evaluated, in order."""

    Cs: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)


class LogisticProbe:
    """Multinomial logistic regression on frozen features (sklearn-like estimator).

    Parameters
    ----------
    C : inverse regularization strength; ``None`` searches it on a validation split.
    max_iter : L-BFGS iterations per fit (the paper: 1000).
    tol : stop when the largest gradient entry is below ``tol`` (sklearn's lbfgs criterion on
        the same objective). Default 1e-4, scikit-learn's default, which the CLIP paper's probe
        (scikit-learn's L-BFGS logistic regression) ran with; 1e-6 (``--probe-tol``) goes further
        where weak regularization leaves the objective flat.
    solver : ``auto`` (numpy for small in-memory problems on the CPU, torch otherwise), ``numpy`` or
        ``torch``: see :mod:`bench.engine.probe_solvers`. ``solver_`` says which one ran.
    device : where the torch engine fits ("cpu", "cuda").
    dtype, gemm_dtype : the torch engine's precision of the optimizer and of its two big products
        (:class:`~bench.engine.probe_solvers.SolverSettings`).
    val_fraction, seed : the class-balanced validation split used when no validation set is
        given to :meth:`fit`.
    stream_block_rows : with ``X`` a :class:`~bench.engine.feature_chunks.FeatureChunks` (features left
        on disk), rows per block of the pass made at every function evaluation; the memory
        held is about this many rows x 16 bytes x features, whatever the size of ``X``.
    """

    def __init__(self, C: float | None = None, max_iter: int = 1000, tol: float = 1e-4, device: str = "cpu",
                 dtype: str = "float64", val_fraction: float = 0.2, seed: int = 0,
                 history_size: int = 10, gemm_dtype: str = "float32", progress: bool = False,
                 search_limit: int | None = None, stream_block_rows: int = 16384, solver: str = "auto"):
        self.C, self.max_iter, self.tol = C, max_iter, tol
        self.progress = progress
        # search C on a class-stratified subset of at most this many training samples, then refit on
        # everything (a deviation from the paper, for problems too big to sweep; None: the paper's way)
        self.search_limit = search_limit
        self.device, self.dtype, self.gemm_dtype = device, dtype, gemm_dtype
        self.val_fraction, self.seed, self.history_size = val_fraction, seed, history_size
        self.stream_block_rows = stream_block_rows
        self.solver = solver

    def _settings(self) -> SolverSettings:
        return SolverSettings(max_iter=self.max_iter, tol=self.tol, history_size=self.history_size,
                              device=str(self.device), dtype=self.dtype, gemm_dtype=self.gemm_dtype,
                              stream_block_rows=self.stream_block_rows)

    def _engine(self, X, y: np.ndarray):
        """The chosen engine, prepared for ``X`` (labels as class indices)."""
        if isinstance(X, FeatureChunks) and len(X) <= self.stream_block_rows:
            X = X.to_array()  # a single block: streaming would hold as much and re-read it each pass
        self.solver_ = choose_solver(self.solver, X, len(self.classes_), str(self.device))
        return ENGINES[self.solver_](X, np.searchsorted(self.classes_, y), len(self.classes_), self._settings())

    # -- sklearn-like API -----------------------------------------------------------------------------
    def _fit_classes(self, y: np.ndarray) -> "LogisticProbe":
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise UserError(f"a probe needs at least 2 classes in y; got only {self.classes_.tolist()}")
        return self

    def fit(self, X, y, X_val=None, y_val=None) -> "LogisticProbe":
        X, y = validate_xy(X, y)
        self._fit_classes(y)
        self.n_features_in_ = X.shape[1]
        t0 = time.perf_counter()
        if self.C is not None:
            if self.C <= 0:
                raise UserError(f"C must be positive (got {self.C})")
            self.W_, self.b_, self.n_iter_ = self._engine(X, y).solve(float(self.C))
            self.best_C_ = float(self.C)
            self.sweep_ = None
        else:
            if X_val is None:
                tr, va = stratified_split(y, self.val_fraction, self.seed)
                X_tr, y_tr, X_va, y_va = _rows(X, tr), y[tr], _rows(X, va), y[va]
            else:
                X_va, y_va = validate_xy(X_val, y_val, name="X_val")
                X_tr, y_tr = X, y
            self.search_n_, self.search_subsampled_ = len(y_tr), False
            if self.search_limit and len(y_tr) > self.search_limit:
                from bench.engine.sampling import stratified_subset

                keep = stratified_subset(y_tr, self.search_limit, self.seed)
                X_tr, y_tr = _rows(X_tr, keep), y_tr[keep]
                self.search_n_, self.search_subsampled_ = len(keep), True
            self.best_C_, warm = self._search(X_tr, y_tr, X_va, y_va)
            X_all, y_all = (X, y) if X_val is None else (_concat(X, X_va), np.concatenate([y, y_va]))
            self.W_, self.b_, self.n_iter_ = self._engine(X_all, y_all).solve(self.best_C_, *warm)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def search_C(self, X_tr, y_tr, X_va, y_va) -> float:
        """The CLIP paper's search for C alone (grid, then refinements, scored on the validation rows), without
        the refit on all rows that ``fit`` does next: what ``zsbench perf --section probe`` times against a
        scikit-learn sweep over the same grid."""
        X_tr, y_tr = validate_xy(X_tr, y_tr)
        X_va, y_va = validate_xy(X_va, y_va, name="X_va")
        self._fit_classes(y_tr)
        best, _ = self._search(X_tr, y_tr, X_va, y_va)
        return best

    def _search(self, X_tr, y_tr, X_va, y_va) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        engine = self._engine(X_tr, y_tr)
        yv = np.searchsorted(self.classes_, y_va)
        known = np.isin(y_va, self.classes_)
        fits: dict[float, tuple[float, np.ndarray, np.ndarray]] = {}
        sweep = SweepResult()
        from tqdm.auto import tqdm

        bar = tqdm(total=15, desc=f"C sweep ({len(y_tr)} x {X_tr.shape[1]})", unit="fit", disable=not self.progress,
                   leave=False)  # 7 grid points + 4 refinements x 2 sides (the paper's search)

        def evaluate(log_lam: float) -> float:
            C = 10.0 ** (-log_lam)
            nearest = min(fits, key=lambda v: abs(v - log_lam), default=None)
            W0, b0 = (fits[nearest][1], fits[nearest][2]) if nearest is not None else (None, None)
            W, b, it = engine.solve(C, W0, b0)
            pred = engine.logits(X_va, W, b, engine.settings).argmax(1)
            acc = float(((pred == yv) & known).mean())
            fits[log_lam] = (acc, W, b)
            sweep.Cs.append(C)
            sweep.scores.append(acc)
            sweep.iterations.append(it)
            bar.update(1)
            bar.set_postfix(C=f"{C:.3g}", val=f"{acc:.3f}", iters=it)
            return acc

        best = paper_lambda_search(evaluate)
        bar.close()
        self.sweep_ = sweep
        return 10.0 ** (-best), (fits[best][1], fits[best][2])

    def decision_function(self, X) -> np.ndarray:
        X, _ = validate_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise UserError(f"X has {X.shape[1]} features; the probe was fitted on {self.n_features_in_}")
        return ENGINES[self.solver_].logits(X, self.W_, self.b_, self._settings())

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(1)]

    def score(self, X, y) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())

    @property
    def coef_(self) -> np.ndarray:
        """``[n_classes, n_features]`` as in scikit-learn."""
        return self.W_.T

    @property
    def intercept_(self) -> np.ndarray:
        return self.b_


# -- protocols: features in, metrics out ---------------------------------------------------------------

#: k-shot fits with fewer than this many shots have no room for a validation split
MIN_SHOTS_FOR_SEARCH = 4
#: the documented fallback for those: a fixed, moderate regularization
FEW_SHOT_FALLBACK_C = 1.0


# How a probe gets its training features (STREAM_MODES): ``auto`` streams them when holding them
# would not fit.
#: an in-memory fit holds about this many copies of the float32 feature matrix at its peak: the
#: caller's, the standardized one, and during the C search the train/validation split of it
#: (`zsbench perf --section probe-memory` measures 2.4x for a fixed-C fit)
IN_MEMORY_COPIES = 3


def physical_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a modest machine
        return 8 << 30


def stream_probe(mode: str, shape: tuple[int, int]) -> bool:
    """Whether to fit on features streamed from disk: ``on``/``off``, or ``auto`` when the
    in-memory fit would need more than half of this machine's RAM."""
    if mode not in STREAM_MODES:
        raise UserError(f"probe streaming must be one of {', '.join(STREAM_MODES)}, not '{mode}'")
    if mode != "auto":
        return mode == "on"
    return IN_MEMORY_COPIES * shape[0] * shape[1] * 4 > physical_memory_bytes() // 2


def full_probe(X_train, y_train, X_test, y_test, X_val=None, y_val=None, seed: int = 0,
               device: str = "cpu", max_iter: int = 1000, progress: bool = False,
               search_limit: int | None = None, tol: float = 1e-4) -> tuple[dict, np.ndarray, dict]:
    """The CLIP paper's linear probe: C searched on validation, refit on train+val, test once.

    Returns (metrics, top-5 predictions, details for the record); ``details["test_probabilities"]`` holds
    the probe's softmax on the test samples (taken out before the details are recorded).
    """
    probe = LogisticProbe(C=None, max_iter=max_iter, device=device, seed=seed, progress=progress,
                          search_limit=search_limit, tol=tol).fit(X_train, y_train, X_val, y_val)
    metrics, top5, full_logits = test_metrics(probe, X_test, y_test)
    details = {
        "test_probabilities": softmax(full_logits),
        "best_C": probe.best_C_,
        "validation": "given split" if X_val is not None else f"class-balanced {probe.val_fraction:.0%} of train (seed {seed})",
        "sweep_C": probe.sweep_.Cs, "sweep_val_acc": probe.sweep_.scores, "sweep_iterations": probe.sweep_.iterations,
        "n_train": int(len(y_train)) + (0 if y_val is None else int(len(y_val))),
        "fit_seconds": probe.fit_seconds_, "final_iterations": probe.n_iter_, "solver": probe.solver_,
        "search_train_samples": probe.search_n_,
        "search": (f"C chosen on a class-stratified subset of {probe.search_n_} training samples, refit on all"
                   if probe.search_subsampled_ else "the paper's: sweep on the whole training split"),
    }
    return metrics, top5, details


def test_metrics(probe: LogisticProbe, X_test, y_test) -> tuple[dict, np.ndarray, np.ndarray]:
    """A fitted probe's test metrics (top-1, top-5, mean per-class recall, ...), top-5 predictions and logits over
    every class of the test labels (``-inf`` for a class the probe never saw)."""
    from bench.engine.metrics import classification_metrics

    y_test = np.asarray(y_test)
    full_logits = over_classes(probe.decision_function(X_test), probe.classes_, y_test)
    metrics, top5 = classification_metrics(full_logits, y_test)
    return metrics, top5, full_logits


def over_classes(logits: np.ndarray, columns: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A probe's logits (one column per class it was trained on, ``columns``) widened to every class up to the
    largest test label, ``-inf`` for a class it never saw, so per-sample results can index any test label."""
    full = np.full((len(logits), int(max(np.max(columns), np.max(labels))) + 1), -np.inf)
    full[:, np.asarray(columns)] = logits
    return full


#: the metrics a few-shot curve keeps per k (mean and sd over seeds): CLIP_benchmark's linear probe reports these
FEW_SHOT_METRICS = ("top1", "top5", "mean_per_class_recall")


def few_shot(X_train, y_train, X_test, y_test, shots=(1, 2, 4, 8, 16), seeds=(0, 1, 2), device: str = "cpu",
             max_iter: int = 1000, class_names: list[str] | None = None, tol: float = 1e-4,
             probabilities: dict | None = None) -> dict:
    """k-shot probes: for each k and seed, k examples per class, a probe, and its test top-1 (``mean``, ``std``,
    ``per_seed``), top-5 and mean per-class recall (each ``{"mean", "std", "per_seed"}``; top-5 from 6 classes on).

    ``probabilities`` (a dict) receives the test probabilities ``[N, C]`` of one real classifier, the
    largest k's probe of the first seed (``"test"``), and which one it is (``"what"``): per-sample
    results of one of the draws the score averages.

    With k >= 4 the C search uses a class-balanced split of the k shots (1 of 4, 2 of 8, ...);
    with k < 4 no validation split is possible and C is fixed at ``FEW_SHOT_FALLBACK_C``.
    """
    from bench.engine.sampling import few_shot_indices

    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    out: dict = {}
    for k in shots:
        scores: dict[str, list] = {m: [] for m in FEW_SHOT_METRICS}
        Cs = []
        for seed in seeds:
            idx = few_shot_indices(y_train, k, seed, class_names)
            if k >= MIN_SHOTS_FOR_SEARCH:
                probe = LogisticProbe(C=None, max_iter=max_iter, device=device, seed=seed, val_fraction=0.25, tol=tol)
            else:
                probe = LogisticProbe(C=FEW_SHOT_FALLBACK_C, max_iter=max_iter, device=device, tol=tol)
            probe.fit(X_train[idx], y_train[idx])
            metrics, _, full_logits = test_metrics(probe, X_test, y_test)
            for m in FEW_SHOT_METRICS:
                scores[m].append(metrics[m])
            Cs.append(probe.best_C_)
            if probabilities is not None and k == max(shots) and seed == seeds[0]:
                full = np.zeros((len(y_test), int(max(y_train.max(), y_test.max())) + 1))
                full[:, : full_logits.shape[1]] = softmax(full_logits)
                probabilities.update(test=full, what=f"the k={k} probe of seed {seed}")
        accs = scores["top1"]
        out[str(k)] = {"mean": float(np.mean(accs)), "std": _sd(accs), "per_seed": accs, "C": Cs, "seeds": list(seeds),
                       **{m: {"mean": float(np.mean(v)), "std": _sd(v), "per_seed": v}
                          for m, v in scores.items() if m != "top1" and None not in v},
                       "C_selection": "validation search on 25% of the shots" if k >= MIN_SHOTS_FOR_SEARCH
                       else f"fixed C={FEW_SHOT_FALLBACK_C} (k<{MIN_SHOTS_FOR_SEARCH}: no validation split)"}
    return out


def _sd(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def shots_to_match(zeroshot_acc: float, curve: dict[str, dict]) -> float | None:
    """Shots per class at which the few-shot curve reaches zero-shot accuracy (log-linear
    interpolation between measured k, as in the CLIP paper's Fig. 7); ``None`` if never."""
    ks = sorted(int(k) for k in curve)
    means = [curve[str(k)]["mean"] for k in ks]
    if means[0] >= zeroshot_acc:
        return float(ks[0])
    for (k0, a0), (k1, a1) in zip(zip(ks, means), zip(ks[1:], means[1:])):
        if a0 < zeroshot_acc <= a1:
            t = (zeroshot_acc - a0) / (a1 - a0)
            return float(2 ** (math.log2(k0) + t * (math.log2(k1) - math.log2(k0))))
    return None
