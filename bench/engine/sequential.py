"""Anytime-valid inference for a finite test set sampled without replacement (numpy only).

Why these and not a Wilson interval: an adaptive run looks at its interval after every chunk and
stops when it is narrow enough. A fixed-n interval checked repeatedly covers far less than 95%
(the "peeking" problem); a *confidence sequence* holds at every sample size at once, so it stays
valid at a data-dependent stopping time. The test set is finite (N images) and drawn without
replacement, so the sequences use the finite-population form, which tightens as n approaches N
and is exact at n = N.

Both constructions follow Waudby-Smith & Ramdas, "Confidence sequences for sampling without
replacement" (NeurIPS 2020) and "Estimating means of bounded random variables by betting"
(JRSS-B 2023), as their package ``confseq`` 0.0.11 implements them (the tests check ours against
its code, value for value):

* :func:`empirical_bernstein_cs`: the predictable-mixture empirical-Bernstein sequence
  (``confseq.predmix.predmix_empbern_twosided_cs`` with ``N`` and the running intersection),
  intersected with the deterministic bounds that N alone gives; closed form, O(n).
* :func:`hedged_capital`: the hedged betting capital process for one null mean
  (``confseq.betting.betting_mart`` with its defaults and ``N``): the paired sequential test.

Every function takes a 1-D sequence in sampling order, or a 2-D array of independent runs (one
per row), which the coverage simulations use.
"""
from __future__ import annotations

import math

import numpy as np

#: the first chunk of an adaptive run; a task no larger than this is simply evaluated in full
FIRST_CHUNK = 512
#: the next chunk is sized for the target width, between these multiples of the sample so far
MIN_GROWTH, MAX_GROWTH = 1.25, 2.0


def steps_of(x: np.ndarray) -> np.ndarray:
    return np.arange(1, x.shape[-1] + 1, dtype=float)


def shifted(a: np.ndarray, first: float) -> np.ndarray:
    """``a`` one step later along the last axis: position t holds a[t-1], position 0 ``first``."""
    out = np.empty_like(a)
    out[..., 0] = first
    out[..., 1:] = a[..., :-1]
    return out


def predmix_bets(x: np.ndarray, alpha: float, truncation: float = math.inf, prior_mean: float = 0.5,
                 prior_variance: float = 0.25, fake_obs: int = 1, horizon=None) -> np.ndarray:
    """The predictable-mixture bets lambda_t: sqrt(2 log(1/alpha) / (t log(1+t) sigma2_{t-1})), with a
    regularized running variance (``confseq.betting_strategies.lambda_predmix_eb``).

    ``horizon``: tune the bets for the interval at sample size n* instead of for every t at once:
    sqrt(2 log(1/alpha) / (n* sigma2_{t-1})) (confseq's ``fixed_n``). A number, or one n* per step:
    any n* known before x_t is drawn keeps the sequence valid (adaptive runs use the end of the
    chunk that x_t belongs to, planned before the chunk starts)."""
    t = steps_of(x)
    mu = np.minimum((fake_obs * prior_mean + np.cumsum(x, axis=-1)) / (t + fake_obs), 1)
    sigma2 = (fake_obs * prior_variance + np.cumsum((x - mu) ** 2, axis=-1)) / (t + fake_obs)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = t * np.log1p(t) if horizon is None else np.broadcast_to(np.asarray(horizon, dtype=float), t.shape)
        bets = np.sqrt(2 * math.log(1 / alpha) / (scale * shifted(sigma2, prior_variance)))
    bets[np.isnan(bets)] = 0
    return np.minimum(truncation, bets)


def eb_lower(x: np.ndarray, alpha: float, N: int | None, truncation: float = 0.5, horizon=None,
             sums_before=None, scale=1.0) -> np.ndarray:
    """The one-sided empirical-Bernstein lower sequence (``predmix_empbern_lower_cs``), running max, at least 0.

    ``sums_before`` and ``scale`` make it the assisted sequence's (:mod:`bench.engine.assisted`): ``x`` are then the
    residuals y_t, ``sums_before`` the sums S_{t-1} of the values themselves (default: of ``x``), which centre the
    without-replacement mean, and ``scale`` the predictable c_t with y_t - m >= -c_t for the running mean m in
    [0, 1]: every bet is capped at truncation / c_t and its penalty is psi(lambda c) / c^2 (1 for values in [0, 1])."""
    t = steps_of(x)
    s = np.cumsum(x, axis=-1)
    mu_prev = np.clip(shifted(s / t, 0.0), 0, 1)
    v = (x - mu_prev) ** 2
    bets = np.minimum(predmix_bets(x, alpha, horizon=horizon), truncation / scale)
    psi = (-np.log1p(-bets * scale) - bets * scale) / scale ** 2
    if N is None:
        z = w = 0.0
    else:
        z = (shifted(s, 0.0) if sums_before is None else sums_before) / (N - t + 1)
        w = (t - 1) / (N - t + 1)
    denom = np.cumsum(bets * (1 + w), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = (math.log(1 / alpha) + np.cumsum(v * psi, axis=-1)) / denom
        centre = np.cumsum(bets * (x + z), axis=-1) / denom
    lower = np.nan_to_num(centre - margin, nan=0.0, neginf=0.0)
    return np.maximum.accumulate(np.maximum(lower, 0), axis=-1)


def closed_sequence(x: np.ndarray, lower: np.ndarray, upper: np.ndarray, N: int | None,
                    finite_bounds: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two one-sided sequences as one interval sequence: intersected with what N alone proves about the values
    ``x`` in [0, 1], [S_t / N, (S_t + N - t) / N] (the unseen values lie in [0, 1], so it closes on the exact mean at
    t = N), and the upper one made non-increasing (the running intersection)."""
    if N is not None and finite_bounds:
        t = steps_of(x)
        s = np.cumsum(x, axis=-1)
        lower = np.maximum(lower, s / N)
        upper = np.minimum(upper, (s + N - t) / N)
    return lower, np.minimum.accumulate(upper, axis=-1) if x.shape[-1] else upper


def empirical_bernstein_cs(x, alpha: float = 0.05, N: int | None = None, finite_bounds: bool = True,
                           horizon=None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ``1 - alpha`` confidence sequences for the mean of values in [0, 1].

    ``N``: the population size when sampling without replacement (the test set), None for i.i.d.
    ``finite_bounds``: also intersect with what N alone proves (:func:`closed_sequence`).
    ``horizon``: see :func:`predmix_bets` (None: confseq's default, good at every t alike)."""
    x = np.asarray(x, dtype=float)
    if x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1):
        raise ValueError("confidence sequences here take values in [0, 1]")
    lower = eb_lower(x, alpha / 2, N, horizon=horizon)
    upper = 1 - eb_lower(1 - x, alpha / 2, N, horizon=horizon)
    return closed_sequence(x, lower, upper, N, finite_bounds)


def hedged_capital(x, m, alpha: float = 0.05, N: int | None = None, theta: float = 0.5,
                   trunc_scale: float = 0.5, increments=None, low=None, high=None) -> np.ndarray:
    """The hedged betting capital process against "the mean is ``m``", in sampling order.

    Under that null it is a nonnegative martingale starting at 1, so by Ville's inequality the
    chance it ever reaches 1/alpha is at most alpha: reject the first time it does, at any
    stopping rule (``confseq.betting.betting_mart``: max(theta K+, (1 - theta) K-), bets from
    :func:`predmix_bets`, truncated at trunc_scale / mu_t and trunc_scale / (1 - mu_t)).
    ``m``: a number, or a column of candidate means (shape [G, 1]) for :func:`betting_interval`.

    ``increments``: bet on these instead of ``x`` (the residuals of :mod:`bench.engine.assisted`, whose
    conditional mean is the unread mean of ``x`` too), which lie in [``low``_t, ``high``_t] (predictable);
    the truncations become trunc_scale / (mu_t - low_t) and trunc_scale / (high_t - mu_t), so every factor
    stays positive. Without them: ``x`` itself in [0, 1]."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    y = x if increments is None else np.asarray(increments, dtype=float)
    low = 0.0 if low is None else np.asarray(low, dtype=float)
    high = 1.0 if high is None else np.asarray(high, dtype=float)
    t = steps_of(x)
    if N is None:
        mu = np.broadcast_to(m, np.broadcast(x, m).shape).astype(float)
    else:
        mu = (N * m - shifted(np.cumsum(x, axis=-1), 0.0)) / (N - (t - 1))
    processes = []
    for sign, weight, share in ((1, theta, theta), (-1, 1 - theta, 1 - theta)):
        if weight == 0:
            processes.append(np.zeros(mu.shape))
            continue
        bets = predmix_bets(y, alpha * share)
        with np.errstate(divide="ignore"):
            up, down = trunc_scale / (mu - low), trunc_scale / (high - mu)
        if sign > 0:
            bets = np.maximum(np.minimum(bets, up), -down)
        else:
            bets = np.maximum(np.minimum(bets, down), -up)
        with np.errstate(invalid="ignore"):
            factor = 1 + sign * bets * (y - mu)
        factor = np.array(factor, dtype=float)
        factor[np.broadcast_to((bets == math.inf) & (y - mu == 0), factor.shape)] = 1
        with np.errstate(invalid="ignore", over="ignore"):
            capital = np.cumprod(factor, axis=-1)
        capital[np.isnan(capital)] = 0
        processes.append(weight * capital)
    capital = np.maximum(processes[0], processes[1])
    capital[(mu < 0) | (mu > 1)] = math.inf  # the null is impossible given what was seen
    return capital


def betting_interval(x, alpha: float = 0.05, N: int | None = None, breaks: int = 1000, increments=None,
                     low=None, high=None) -> tuple[float, float]:
    """The hedged betting confidence sequence for the mean of ``x`` (in [0, 1]) after all of ``x``, with
    the running intersection: every candidate mean on a grid of ``breaks`` steps whose capital process
    never reached 1/alpha, widened by one step (``confseq.betting.cs_from_martingale``'s grid rule) and
    intersected with the finite-population bounds. A mean is outside it exactly when the test of
    :func:`hedged_capital` rejects it, so a sequential comparison's verdict and interval agree."""
    x = np.asarray(x, dtype=float)
    grid = np.arange(breaks + 1) / breaks
    crossed = (hedged_capital(x, grid[:, None], alpha, N, increments=increments, low=low, high=high)
               >= 1 / alpha).any(axis=1)
    inside = grid[~crossed]
    lo, hi = (0.0, 1.0) if not len(inside) else (max(0.0, inside[0] - 1 / breaks), min(1.0, inside[-1] + 1 / breaks))
    if N is not None:
        s, n = float(x.sum()), len(x)
        lo, hi = max(lo, s / N), min(hi, (s + N - n) / N)
    return lo, hi


def next_size(n: int, width: float, target: float, N: int) -> int:
    """How many samples the next look uses: enough for ``target`` if the width shrank like
    1/sqrt(n) (it shrinks a little slower, so this errs short and one more chunk follows), kept
    between :data:`MIN_GROWTH` and :data:`MAX_GROWTH` times the sample so far; at most N. Any
    schedule is valid: the sequence holds at every n at once."""
    grow = (width / target) ** 2 * 1.1 if target > 0 and np.isfinite(width) else MAX_GROWTH
    return int(min(N, max(n + 1, math.ceil(n * min(MAX_GROWTH, max(MIN_GROWTH, grow))))))



def plan_horizon(width: float, N: int, alpha: float, variance: float = 0.25) -> float:
    """The sample size n* the next chunk's bets are tuned for: where the empirical-Bernstein half-width
    sqrt(2 v log(2/alpha) / n) with the finite-population factor sqrt(1 - n/N) reaches ``width / 2``,
    i.e. n* = 8 v L / (width^2 + 8 v L / N) with L = log(2/alpha). ``variance``: of the values so far
    (regularized), or 1/4 (the most a [0, 1] value can have) before any is seen."""
    load = 8 * max(variance, 1e-6) * math.log(2 / alpha)
    return max(1.0, load / (width ** 2 + load / N))


class WidthSequence:
    """The adaptive look schedule and its confidence sequence, one look at a time.

    :meth:`look` takes the values seen so far (in sampling order, scaled into [0, 1]) and returns
    the interval; :attr:`next_n` is then the sample size of the next look. Each chunk's bets are
    tuned (``horizon``) for the sample size where the target width is expected, planned from the
    values before the chunk, so every bet is fixed before its value is drawn and the sequence stays
    anytime-valid. Recomputing from the start at every look gives the same past bets (the plan
    only appends), so an interval is never re-chosen after the fact.
    """

    def __init__(self, N: int, width: float, alpha: float = 0.05, first: int = FIRST_CHUNK):
        self.N, self.width, self.alpha = N, width, alpha
        self.looks: list[int] = []
        self.horizons: list[float] = []
        self.next_n = min(N, first)
        self._horizon = plan_horizon(width, N, alpha)
        self.interval = (0.0, 1.0)

    def look(self, values: np.ndarray, population: int | None = None, drawn: int | None = None) -> tuple[float, float]:
        """The interval after ``values``; ``drawn``: samples drawn so far (default: one per value; more when
        undecodable images were dropped, which also leave the ``population``, N by default)."""
        values = np.asarray(values, dtype=float)
        n = len(values)
        self.looks.append(drawn or n)
        self.horizons.append(self._horizon)
        ends = np.asarray(self.looks, dtype=float)
        steps = np.minimum(np.searchsorted(ends, np.arange(1, n + 1)), len(ends) - 1)
        lower, upper, increments = self.bounds(values, population or self.N, np.asarray(self.horizons)[steps])
        self.interval = (float(lower[-1]), float(upper[-1])) if n else (0.0, 1.0)
        variance = (0.25 + float(((increments - increments.mean()) ** 2).sum())) / (n + 1) if n else 0.25
        self._horizon = plan_horizon(self.width, self.N, self.alpha, variance)
        self.next_n = next_size(self.looks[-1], self.interval[1] - self.interval[0], self.width, self.N)
        return self.interval

    def bounds(self, values: np.ndarray, population: int, horizon: np.ndarray):
        """The sequence's lower and upper bounds after each value, and the increments it was built on (whose
        variance plans the next chunk's horizon): here the plain empirical-Bernstein sequence on the values."""
        lower, upper = empirical_bernstein_cs(values, self.alpha, population, horizon=horizon)
        return lower, upper, values

    @property
    def done(self) -> bool:
        return bool(self.looks) and (self.interval[1] - self.interval[0] <= self.width or self.looks[-1] >= self.N)


def run_to_width(x: np.ndarray, N: int, width: float, alpha: float = 0.05,
                 first: int = FIRST_CHUNK, seq: WidthSequence | None = None) -> tuple[int, float, float, list[int]]:
    """The adaptive procedure on values already in sampling order (what the engine does with a model,
    for simulations): returns (n, lower, upper, looks). ``seq``: another sequence to run (an assisted one)."""
    seq = seq or WidthSequence(N, width, alpha, first)
    while True:
        lo, hi = seq.look(x[:seq.next_n])
        if seq.done:
            return seq.looks[-1], lo, hi, seq.looks
