"""Confidence sequences assisted by what earlier models got right: predictable control variates,
sampling without replacement (numpy only).

Why: every model evaluated before left per-sample results on the same test set. A new checkpoint
of the same family is right and wrong mostly on the same images, so those results predict its
per-sample values before any image is read. A confidence sequence built on what they do *not*
predict (the residual) needs far fewer images for the same width; built the way below, it stays
valid however bad the prediction is.

The construction. The test set has N units with values x_i in [0, 1] (the new model's per-sample
metric, unknown) and K controls z_i in [0, 1]^K (earlier models' per-sample values, known for all
N before anything is read). Units are read in a random order; after t - 1 of them (the history
F_{t-1}) the next is uniform over the N - t + 1 unread ones, so with the unread means

    m_t = (N mu - S_{t-1}) / (N - t + 1)   (S: the sum of the x read; mu: the test set's mean)
    g_t(i) = beta_t . z_i,   gbar_t = mean of g_t over the unread units (computable: z is known),

and a coefficient vector beta_t fixed by F_{t-1} (predictable), the residual

    y_t = x_t - (g_t(unit t) - gbar_t)

has E[y_t | F_{t-1}] = m_t exactly: the control's deviation has conditional mean zero whatever
beta_t and z are. That is the only property the without-replacement empirical-Bernstein sequence
(Waudby-Smith & Ramdas, "Confidence sequences for sampling without replacement", NeurIPS 2020;
its predictable-mixture form from "Estimating means of bounded random variables by betting",
JRSS-B 2023) uses of the increments, besides their range. The range changes: y_t lies in
[-(g_max - gbar_t), 1 + (gbar_t - g_min)] (g over the population), so with the predictable scale
c_t = 1 + max(0, g_max - gbar_t) and a running mean estimate m^_{t-1} in [0, 1], y_t - m^_{t-1} >= -c_t.
Fan et al.'s inequality, exp(l xi - psi(l) xi^2) <= 1 + l xi for xi >= -1, l in [0, 1), psi(l) =
-log(1 - l) - l, applied to xi = (y_t - m^)/c_t and l = lambda_t c_t gives, for bets lambda_t in
[0, 1/c_t),

    exp(lambda_t (y_t - m_t) - psi(lambda_t c_t) (y_t - m^)^2 / c_t^2) <= (1 + lambda_t (y_t - m^)) e^{lambda_t (m^ - m_t)},

whose conditional mean is at most 1. The product over t is a nonnegative supermartingale for the
true mu; Ville's inequality and solving for mu (m_t is linear in mu with slope N / (N - t + 1))
give the lower sequence

    L_t = [sum lambda_i (y_i + S_{i-1}/(N-i+1)) - log(1/alpha) - sum psi(lambda_i c_i)(y_i - m^)^2/c_i^2]
          / sum lambda_i N/(N-i+1).

The upper sequence is the same on 1 - x with the controls 1 - z (then y becomes 1 - y and the
scale 1 + max(0, gbar_t - g_min)), each at alpha / 2, intersected over time and with the bounds N
alone gives. With beta = 0 it *is* :func:`bench.engine.sequential.empirical_bernstein_cs` (tested
equal), so the plain sequence is the special case, and confseq stays its reference.

beta_t is the ridge least-squares fit of x on z over the units read so far (the ridge pulls it to
0, the plain sequence, when little is known), refit at powers of two and at every look, so a
bet, a coefficient and a scale are all fixed before their unit is drawn. The residual's variance
is Var(x) - 2 beta.Cov(z, x) + beta' Var(z) beta: close relatives shrink it several-fold; useless
or adversarial controls give beta near 0 and cost only the noise of its estimate; anti-correlated
ones help as much as correlated ones (beta turns negative). The same argument with the bets of
prediction-powered inference is Kilian, Cortinovis & Caron (2025) and Csillag et al. (ICML 2025);
the control-variate reading is Angelopoulos et al.'s PPI++ power tuning, made predictable here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.engine.sequential import (FIRST_CHUNK, WidthSequence, closed_sequence, eb_lower,
                                     empirical_bernstein_cs, shifted, steps_of)

#: the ridge on the centred controls' scatter (in squared units of z: about the weight of 16 to 40 reads)
RIDGE = 4.0
#: the first refit of the coefficients (before it, beta = 0: the plain sequence)
FIRST_REFIT = 16


def refit_points(n: int, looks=()) -> np.ndarray:
    """The sample sizes after which beta is refit: 16, 32, 64, ... and every look, below ``n``."""
    powers = [FIRST_REFIT << k for k in range(max(1, int(math.log2(max(n, 1))) + 1)) if FIRST_REFIT << k < n]
    return np.unique(np.asarray([*powers, *(int(v) for v in looks if 0 < int(v) < n)], dtype=int))


def control_coefficients(x: np.ndarray, Z: np.ndarray, refits: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """beta_t for every step (shape x.shape + (K,)): the ridge fit over the first r units, r the largest
    refit point below t (zero before the first); ``Z``: the controls of the units read, in order."""
    n, K = x.shape[-1], Z.shape[-1]
    lead = x.shape[:-1]
    betas = np.zeros(lead + (n, K))
    sx = np.zeros(lead)
    sz = np.zeros(lead + (K,))
    szz = np.zeros(lead + (K, K))
    szx = np.zeros(lead + (K,))
    start = 0
    for r, nxt in zip(refits, [*refits[1:], n]):
        seg_x, seg_z = x[..., start:r], Z[..., start:r, :]
        sx = sx + seg_x.sum(-1)
        sz = sz + seg_z.sum(-2)
        szz = szz + np.einsum("...tk,...tl->...kl", seg_z, seg_z)
        szx = szx + np.einsum("...tk,...t->...k", seg_z, seg_x)
        start = r
        scatter = szz - np.einsum("...k,...l->...kl", sz, sz) / r + ridge * np.eye(K)
        cross = szx - sz * (sx / r)[..., None]
        beta = np.linalg.solve(scatter, cross[..., None])[..., 0]
        betas[..., r:nxt, :] = beta[..., None, :]
    return betas


@dataclass
class Residuals:
    """The assisted sequence's increments and what they were made from (see the module's docstring)."""

    y: np.ndarray        # x_t - (g_t(t) - gbar_t)
    scale_low: np.ndarray    # c_t for the lower sequence
    scale_high: np.ndarray   # c_t for the upper one (on 1 - y)
    betas: np.ndarray    # beta_t, shape (..., n, K)


def residuals(x: np.ndarray, Z: np.ndarray, looks=(), ridge: float = RIDGE, fixed=None) -> Residuals:
    """y_t and the scales for values ``x`` (the first n units, in order) and controls ``Z`` of *every*
    unit of the population in the same order (shape (..., N, K), values in [0, 1]). ``fixed``: coefficients
    to use at every step instead of the fit (a fixed beta = 1 difference, for comparison)."""
    n = x.shape[-1]
    N = Z.shape[-2]
    drawn = Z[..., :n, :]
    refits = refit_points(n, looks) if fixed is None else np.empty(0, dtype=int)
    if fixed is None:
        betas = control_coefficients(x, drawn, refits, ridge)
    else:
        betas = np.broadcast_to(np.asarray(fixed, dtype=float), x.shape + (Z.shape[-1],)).copy()
    total = Z.sum(-2)[..., None, :]
    before = np.cumsum(drawn, axis=-2) - drawn                         # controls read before t
    remaining = (total - before) / (N - steps_of(x) + 1)[..., :, None]   # their mean over the unread units
    own = np.einsum("...tk,...tk->...t", betas, drawn)
    gbar = np.einsum("...tk,...tk->...t", betas, remaining)
    g_max, g_min = np.zeros_like(own), np.zeros_like(own)
    for a, b in zip([0, *refits], [*refits, n]):   # beta is constant between refits: g over the population once
        if b > a:
            g = np.einsum("...nk,...k->...n", Z, betas[..., a, :])
            g_max[..., a:b], g_min[..., a:b] = g.max(-1)[..., None], g.min(-1)[..., None]
    y = x - (own - gbar)
    return Residuals(y, 1 + np.maximum(0, g_max - gbar), 1 + np.maximum(0, gbar - g_min), betas)


def assisted_cs(x, Z, alpha: float = 0.05, horizon=None, looks=(), ridge: float = RIDGE,
                finite_bounds: bool = True, fixed=None) -> tuple[np.ndarray, np.ndarray, Residuals]:
    """Lower and upper ``1 - alpha`` confidence sequences for the mean of ``x`` over the whole population,
    assisted by the controls ``Z`` (every unit of the population, in sampling order; N = Z.shape[-2]),
    and the residuals they were built on. ``horizon``: as in :func:`bench.engine.sequential.predmix_bets`;
    ``looks``: sample sizes where beta is also refit (the adaptive run's looks)."""
    x = np.asarray(x, dtype=float)
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == x.ndim:  # one control
        Z = Z[..., None]
    if x.size and (x.min() < 0 or x.max() > 1) or Z.size and (Z.min() < 0 or Z.max() > 1):
        raise ValueError("assisted confidence sequences take values and controls in [0, 1]")
    N = Z.shape[-2]
    res = residuals(x, Z, looks, ridge, fixed)
    before = shifted(np.cumsum(x, axis=-1), 0.0)   # S_{t-1} of the values: the unread mean's centre
    lower = eb_lower(res.y, alpha / 2, N, horizon=horizon, sums_before=before, scale=res.scale_low)
    upper = 1 - eb_lower(1 - res.y, alpha / 2, N, horizon=horizon, sums_before=(steps_of(x) - 1) - before,
                         scale=res.scale_high)
    return (*closed_sequence(x, lower, upper, N, finite_bounds), res)


def variance_reduction(res: Residuals, x: np.ndarray) -> float:
    """1 - Var(y) / Var(x) over the units read (the share of the variance the controls took out)."""
    vx = float(np.var(x))
    return 0.0 if vx == 0 else 1 - float(np.var(res.y)) / vx


class AssistedWidthSequence(WidthSequence):
    """:class:`bench.engine.sequential.WidthSequence` (the same looks, horizons and stopping rule) on the
    assisted sequence: ``controls`` holds every unit's controls in sampling order (N x K); a look may pass
    the controls of a smaller population (units dropped as undecodable leave it). Keeps, per look, the last
    coefficients, the variance reduction and the plain sequence's interval on the same values."""

    def __init__(self, N: int, width: float, controls: np.ndarray, alpha: float = 0.05, first: int = FIRST_CHUNK,
                 fixed=None):
        super().__init__(N, width, alpha, first)
        self.fixed = fixed
        self.controls = np.asarray(controls, dtype=float).reshape(N, -1)
        self.population_controls = self.controls
        self.beta: list[float] = []
        self.reduction = 0.0
        self._last: tuple = ()   # the last look's values, population and horizons (for the plain interval)

    def look(self, values: np.ndarray, population: int | None = None, drawn: int | None = None,
             controls: np.ndarray | None = None) -> tuple[float, float]:
        self.population_controls = self.controls if controls is None else np.asarray(controls, dtype=float)
        return super().look(values, population, drawn)

    def bounds(self, values: np.ndarray, population: int, horizon: np.ndarray):
        Z = self.population_controls
        if len(Z) != population:
            raise ValueError(f"{len(Z)} units' controls for a population of {population}")
        lower, upper, res = assisted_cs(values, Z, self.alpha, horizon=horizon, looks=self.looks[:-1],
                                        fixed=self.fixed)
        self._last = (values, population, horizon)
        self.beta = [float(b) for b in res.betas[-1]] if len(values) else []
        self.reduction = variance_reduction(res, values) if len(values) > 1 else 0.0
        return lower, upper, res.y

    @property
    def plain_interval(self) -> tuple[float, float]:
        """The plain sequence's interval on the last look's values (what the controls gained; asked once, at the end)."""
        if not self._last or not len(self._last[0]):
            return (0.0, 1.0)
        lower, upper = empirical_bernstein_cs(self._last[0], self.alpha, self._last[1], horizon=self._last[2])
        return float(lower[-1]), float(upper[-1])
