"""``compare --sequential``: two models read on the same growing sample, stopped once decided.

The pairs (A right?, B right?) are read in the adaptive design's seeded class-stratified order, and
after every batch the hedged betting capital process tests "A and B have the same accuracy on the
whole test set" (:func:`bench.engine.sequential.hedged_capital` on x = (A right - B right + 1) / 2,
whose finite-population mean is 1/2 exactly then; sampling without replacement). Under that null
the process reaches 1/alpha with probability at most alpha whenever the reading stops, so the
comparison stops at the first batch where it does (decided: the better model is the one the
difference favours) or when the shared sample runs out (undecided). The difference's interval is
the same betting process inverted over a grid of means (:func:`bench.engine.sequential.betting_interval`),
mapped to 2m - 1, so it excludes 0 exactly when the test decides.

Records of two ``--target-ci`` runs with the same seed share their order; the comparison reads the
longest prefix both evaluated. Full records are read in the order of ``--seed``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.core.errors import UserError
from bench.engine.records import load_predictions, read_record
from bench.engine.sampling import stratified_order
from bench.engine.assisted import residuals
from bench.engine.sequential import betting_interval, hedged_capital
from bench.report.protocols import describe

#: pairs read between two looks at the test (any schedule is valid; a batch is what a run would add)
BATCH = 64


@dataclass
class SequentialComparison:
    task: str
    a: str
    b: str
    n: int                 # pairs read when it stopped
    available: int         # pairs both records hold
    N: int                 # the whole test set
    acc_a: float           # on the pairs read
    acc_b: float
    diff: float
    ci_low: float          # anytime-valid interval of the difference over the whole test set
    ci_high: float
    e_value: float         # the largest betting capital up to the stop (reject at >= 1/alpha)
    alpha: float
    verdict: str           # "A better", "B better", "undecided"
    assist: dict | None = None   # --assist: the records whose per-sample results were the controls, and how

    def as_dict(self) -> dict:
        return asdict(self)


def _shared_order(ra, rb, pa: dict, pb: dict, task: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Positions into A's and B's prediction arrays, in reading order, and the population size."""
    ida, idb = np.asarray(pa["indices"]), np.asarray(pb["indices"])
    same_data = ra.task_info.get("data_identity") == rb.task_info.get("data_identity") and ra.split == rb.split
    if ra.adaptive and rb.adaptive:  # two growing samples: the prefix their shared order has in common
        if not same_data or ra.adaptive["seed"] != rb.adaptive["seed"] or ra.adaptive["N"] != rb.adaptive["N"]:
            raise UserError(f"task {task}: the two adaptive records read different samples (data, split or seed "
                            "differ); rerun both with the same --seed on the same data")
        k = min(len(ida), len(idb))
        same = np.flatnonzero(ida[:k] != idb[:k])
        k = int(same[0]) if len(same) else k
        return np.arange(k), np.arange(k), pa["labels"][:k], int(ra.adaptive["N"])
    if ra.adaptive or rb.adaptive:
        raise UserError(f"task {task}: one record is adaptive (--target-ci) and the other is not; compare two full "
                        "records, or two adaptive records with the same --seed")
    if not (same_data and np.array_equal(ida, idb) and np.array_equal(pa["labels"], pb["labels"])):
        raise UserError(f"task {task}: the two records were made on different data ({len(ida)} vs {len(idb)} samples, "
                        "or another subset, split or source); rerun both with the same --limit/--split/--seed")
    order = stratified_order(pa["labels"], seed)
    return order, order, pa["labels"][order], len(ida)


def _controls(mode: str, results, ra, pa, path_a: str, path_b: str, values, rows: np.ndarray,
              adaptive: bool) -> tuple[np.ndarray | None, dict | None]:
    """The earlier models' controls in reading order (``rows``: positions into A's arrays), or None."""
    from bench.engine.assist import NONE, Population, collect

    if mode == NONE:
        return None, None
    if adaptive:
        return None, {"mode": mode, "used": False, "note": "two adaptive records: their unread images have no "
                      "known reading order, so the plain test ran"}
    population = Population(ra.task_info.get("data_identity"), ra.split, np.asarray(pa["indices"]),
                            np.asarray(pa["labels"]), values, "top1")
    assist = collect(mode, population, Path(results) if results else Path(path_a).parent.parent,
                     exclude=(path_a, path_b))
    return (None if assist.controls is None else assist.controls[rows]), assist.section()


def sequential_compare(path_a: str, path_b: str, task: str, label_a: str, label_b: str, alpha: float = 0.05,
                       seed: int = 0, assist: str = "none", results=None) -> SequentialComparison:
    ra, rb = read_record(Path(path_a)), read_record(Path(path_b))
    try:
        pa, pb = load_predictions(Path(path_a)), load_predictions(Path(path_b))
    except OSError:
        raise UserError(f"task {task}: a record has no per-sample predictions (.preds.npz), which --sequential "
                        "reads") from None
    protocol = describe(ra.protocol)
    sa, sb = protocol.sample_results(pa), protocol.sample_results(pb)   # right as the protocol counts it
    if sa is None or sb is None:
        raise UserError(f"task {task}: {ra.protocol} records hold no per-sample top-1 predictions; --sequential "
                        "compares classification records")
    oa, ob, _, N = _shared_order(ra, rb, pa, pb, task, seed)
    ca = sa.correct[oa].astype(float)
    cb = sb.correct[ob].astype(float)
    x = (ca - cb + 1) / 2
    if not len(x):
        raise UserError(f"task {task}: the two records share no sample to compare")
    controls, assisted = _controls(assist, results, ra, pa, path_a, path_b,
                                   lambda p: protocol.sample_results(p).correct.astype(float), oa,
                                   bool(ra.adaptive))
    bet = {}
    if controls is not None:  # the residuals of x given the controls: the same null mean, lower variance
        res = residuals(x, controls)
        bet = {"increments": res.y, "low": 1 - res.scale_low, "high": res.scale_high}
    capital = hedged_capital(x, 0.5, alpha, N, **bet)
    looks = np.unique(np.minimum(np.arange(BATCH, len(x) + BATCH, BATCH), len(x)))
    ever = np.maximum.accumulate(capital) >= 1 / alpha  # Ville: the process ever reaching 1/alpha is the test
    crossed = [n for n in looks if ever[n - 1]]
    n = int(crossed[0]) if crossed else len(x)
    lower, upper = betting_interval(x[:n], alpha, N, **{k: v[:n] for k, v in bet.items()})
    diff = float(ca[:n].mean() - cb[:n].mean())
    verdict = ("A better" if diff > 0 else "B better") if crossed else "undecided"
    return SequentialComparison(task, label_a, label_b, n, len(x), N, float(ca[:n].mean()), float(cb[:n].mean()),
                                diff, 2 * lower - 1, 2 * upper - 1, float(capital[:n].max()),
                                alpha, verdict, assisted)


def sequential_lines(comparisons: list[SequentialComparison]) -> list[str]:
    """The terminal report: per task the pairs read, both accuracies, the difference's interval, the verdict."""
    if not comparisons:
        return []
    c0 = comparisons[0]
    lines = [f"A = {c0.a}, B = {c0.b}: sequential paired test (hedged betting, without replacement), "
             f"alpha = {c0.alpha:g}, anytime-valid"]
    for c in comparisons:
        lines.append(f"{c.task}: {c.verdict} after {c.n:,} of {c.N:,} images ({c.n / c.N:.1%}); "
                     f"A {100 * c.acc_a:.2f}, B {100 * c.acc_b:.2f}, A-B {100 * c.diff:+.2f} "
                     f"[{100 * c.ci_low:+.2f}, {100 * c.ci_high:+.2f}] over the whole test set; e-value {c.e_value:.3g}"
                     + ("" if c.available >= c.N or c.verdict != "undecided" else
                        f"; the records share only {c.available:,} images")
                     + (f"; assisted by {len(c.assist['records'])} other record(s) on the same images"
                        if c.assist and c.assist.get("used") else ""))
    return lines
