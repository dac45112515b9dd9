"""The two engines behind :class:`~bench.engine.linear_probe.LogisticProbe`: one objective, one change of
variables, two ways to run L-BFGS on it.

Both minimize scikit-learn's ``LogisticRegression`` objective, ``mean CE(X W + b, y) + ||W||^2 / (2 C n)``
(intercept not penalized), in standardized coordinates ``X' = (X - mu) / s``, ``W = W' / s``,
``b = b' - mu W``: an exact change of variables (the penalty stays on ``W``), so the optimum is the same but
L-BFGS gets there in about half the iterations when features share a large mean (CLIP's) or differ in scale.
Both stop when the largest entry of the gradient (in those coordinates) is below ``tol``, scikit-learn's rule.

- :class:`NumpySolver`: scipy's L-BFGS-B, the routine scikit-learn's ``lbfgs`` calls, in float64 throughout.
  For problems small enough that importing torch (1.3 s here) would cost more than the fit: few-shot draws,
  scikit-learn's digits, a C search on a few thousand rows.
- :class:`TorchSolver`: torch's L-BFGS with a hand-written gradient; the two products per evaluation
  (features x weights, features^T x residuals) in float32, the optimizer's state, the loss and the
  penalty in float64; on the CPU or a GPU, with features in memory or streamed from disk chunk by chunk.

Every array crosses the boundary as numpy (weights float64), so the probe, its C search and its
warm starts do not care which engine ran.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from bench.core.errors import UserError
from bench.core.lazy_import import lazy_module
from bench.engine.feature_chunks import FeatureChunks

torch = lazy_module("torch")

#: solvers a probe can be asked for; ``auto`` picks numpy below :data:`NUMPY_MAX_WORK`
SOLVERS = ("auto", "numpy", "torch")
#: ``n x d x classes`` up to which ``auto`` fits with numpy on the CPU. Measured on this project's 2-core machine
#: (C = 10, synthetic unit-norm features): numpy takes 3 ms at 1000 x 64 x 10 and 0.15 s at 5000 x 512 x 10
#: (2.6e7), against torch's import alone, 1.3 s; above this size torch's float32 products are 1.5-5x faster
#: than numpy's float64 ones, and a problem that big is worth the import. By size alone, so a cached rerun
#: picks the engine the first run picked.
NUMPY_MAX_WORK = 20_000_000


@dataclass(frozen=True)
class SolverSettings:
    """How to run L-BFGS (the probe's constructor arguments that reach the engine)."""

    max_iter: int = 1000
    tol: float = 1e-4
    history_size: int = 10
    device: str = "cpu"
    #: torch's optimizer precision (weights, loss, L-BFGS history): float64, because the objective is flat near
    #: the optimum and float32 L-BFGS stops early there
    dtype: str = "float64"
    #: torch's precision of the two big products: float32, measured 2.5-3x faster on CPU with the same
    #: iterations and accuracy
    gemm_dtype: str = "float32"
    #: rows per block of the pass made at every function evaluation (streamed features: the memory held)
    stream_block_rows: int = 16384


def choose_solver(requested: str, X, n_classes: int, device: str) -> str:
    """``numpy`` or ``torch`` for this problem (``auto``: numpy for small in-memory CPU problems)."""
    if requested not in SOLVERS:
        raise UserError(f"probe solver must be one of {', '.join(SOLVERS)}, not '{requested}'")
    if requested != "auto":
        if requested == "numpy" and (isinstance(X, FeatureChunks) or device != "cpu"):
            raise UserError("the numpy probe solver fits in-memory features on the CPU: ask for solver='torch' "
                            "for streamed features or a GPU")
        return requested
    small = X.shape[0] * X.shape[1] * n_classes <= NUMPY_MAX_WORK
    return "numpy" if small and device == "cpu" and not isinstance(X, FeatureChunks) else "torch"


def row_blocks(X, rows: int) -> Iterator[np.ndarray]:
    """Row blocks of ``X`` (an in-memory array, or chunks streamed from disk) as numpy arrays."""
    if isinstance(X, FeatureChunks):
        yield from X.blocks(rows)
    else:
        for start in range(0, len(X), rows):
            yield X[start:start + rows]


def non_finite(name: str) -> UserError:
    return UserError(f"{name} contains NaN or infinite values: check the feature extraction")


def moments(X, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Feature means (rounded to float32, so the float32 standardization and the float64 change back use the
    same ``mu``) and unbiased standard deviations, in one pass over row blocks, merging per-block moments
    (Chan et al.). Streamed features are checked for NaN and infinities here (in-memory ones were checked on
    input)."""
    n, mean, m2 = 0, None, None
    for B in row_blocks(X, rows):
        if isinstance(X, FeatureChunks) and not np.isfinite(B).all():
            raise non_finite("X")
        nb, mb = len(B), B.mean(0, dtype=np.float64)
        D = B - mb.astype(B.dtype)
        m2b = np.einsum("ij,ij->j", D, D, dtype=np.float64)
        if mean is None:
            n, mean, m2 = nb, mb, m2b
        else:
            delta = mb - mean
            mean = mean + delta * (nb / (n + nb))
            m2 = m2 + m2b + delta ** 2 * (n * nb / (n + nb))
            n += nb
    return mean.astype(np.float32).astype(np.float64), np.sqrt(m2 / max(n - 1, 1))


def scale(sd: np.ndarray) -> np.ndarray:
    """Per-feature scale of the change of variables: ``max(sd, mean(sd))``.

    Any positive scale gives the same optimum; this one decides how fast L-BFGS gets there. Dividing by
    ``sd`` alone conditions the data term but puts ``1/sd^2`` on the penalty, and features that barely vary
    (common in few-shot draws and in post-ReLU features) then make the penalty so stiff that the first line
    search fails and the fit stops at W = 0. Measured on EfficientNet-Lite0 CIFAR-10 features, 16 shots,
    C = 0.01: ``sd`` alone ended at objective 1.315 after 1,000 iterations; with this floor it reaches the
    optimum (1.1396, scikit-learn's) in 41. Evenly scaled features (all sd near their mean) keep ``sd``.
    """
    if float(sd.max()) <= 0:  # every feature constant
        return np.ones_like(sd)
    return np.maximum(sd, sd.mean())


class _Standardized:
    """What both engines share for one training matrix: labels as class indices, ``mu``, ``s``, the starting
    point, and the change of variables in both directions."""

    def __init__(self, X, y: np.ndarray, n_classes: int, settings: SolverSettings):
        self.X, self.y, self.k, self.settings = X, y, n_classes, settings
        self.n, self.d = X.shape
        self.mu, self.s = moments(X, settings.stream_block_rows)
        self.s = scale(self.s)
        # the optimum as lambda -> infinity: W = 0, b = log class priors
        self.prior_b = np.log(np.maximum(np.bincount(y, minlength=n_classes), 1) / self.n)

    def to_standard(self, W0: np.ndarray | None, b0: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        W0 = np.zeros((self.d, self.k)) if W0 is None else W0
        b0 = self.prior_b if b0 is None else b0
        return W0 * self.s[:, None], b0 + self.mu @ W0

    def from_standard(self, V: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        W = V / self.s[:, None]
        return W, c - self.mu @ W


class NumpySolver(_Standardized):
    """scipy's L-BFGS-B on the standardized problem, float64 (see the module docstring)."""

    def __init__(self, X, y, n_classes, settings):
        super().__init__(X, y, n_classes, settings)
        self.Xs = (np.asarray(X, dtype=np.float64) - self.mu) / self.s
        self.rows = np.arange(self.n)

    def solve(self, C: float, W0: np.ndarray | None = None, b0: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, int]:
        from scipy.optimize import minimize

        n, d, k, Xs, y, rows = self.n, self.d, self.k, self.Xs, self.y, self.rows
        reg, inv_s2 = 1.0 / (2.0 * C * n), (1.0 / self.s ** 2)[:, None]

        def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            V, c = theta[:d * k].reshape(d, k), theta[d * k:]
            Z = Xs @ V + c
            Z -= Z.max(axis=1, keepdims=True)
            P = np.exp(Z)
            total = P.sum(axis=1)
            loss = (np.log(total) - Z[rows, y]).sum() / n + reg * float((V * V * inv_s2).sum())
            P /= total[:, None]
            P[rows, y] -= 1.0
            P /= n
            grad_V = Xs.T @ P + (2.0 * reg) * V * inv_s2
            return loss, np.concatenate([grad_V.ravel(), P.sum(axis=0)])

        V0, c0 = self.to_standard(W0, b0)
        s = self.settings
        # scikit-learn's lbfgs call: the same routine, stopping rule (gtol on the largest gradient entry) and ftol
        done = minimize(loss_and_grad, np.concatenate([V0.ravel(), c0]), jac=True, method="L-BFGS-B",
                        options={"maxiter": s.max_iter, "gtol": s.tol, "maxcor": s.history_size, "maxls": 50,
                                 "ftol": 64 * np.finfo(np.float64).eps})
        W, b = self.from_standard(done.x[:d * k].reshape(d, k), done.x[d * k:])
        return W, b, int(done.nit)

    @staticmethod
    def logits(X, W: np.ndarray, b: np.ndarray, settings: SolverSettings) -> np.ndarray:
        return np.concatenate([np.asarray(B, dtype=np.float64) @ W + b
                               for B in row_blocks(X, settings.stream_block_rows)])


class TorchSolver(_Standardized):
    """torch's L-BFGS on the standardized problem, float32 products (see the module docstring)."""

    def __init__(self, X, y, n_classes, settings):
        super().__init__(X, y, n_classes, settings)
        self.device = torch.device(settings.device)
        self.dtype, self.gemm_dtype = getattr(torch, settings.dtype), getattr(torch, settings.gemm_dtype)
        self.yt = torch.as_tensor(y, dtype=torch.long, device=self.device)
        if isinstance(X, FeatureChunks):  # one pass over the chunk files per function evaluation
            self._held = None
        else:  # standardized once, block by block: no full-size float64 temporaries
            self._held = list(self._standardized())

    def _standardized(self) -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
        """Blocks of ``(X - mu) / s`` in the products' precision, with their labels."""
        mu = torch.as_tensor(self.mu, device=self.device).to(self.gemm_dtype)
        s = torch.as_tensor(self.s, device=self.device).to(self.gemm_dtype)
        start = 0
        for B in row_blocks(self.X, self.settings.stream_block_rows):
            Bt = torch.as_tensor(B, device=self.device).to(self.gemm_dtype)
            yield (Bt - mu) / s, self.yt[start:start + len(B)]
            start += len(B)

    def _blocks(self):
        return self._held if self._held is not None else self._standardized()

    def solve(self, C: float, W0: np.ndarray | None = None, b0: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, int]:
        n, reg = self.n, 1.0 / (2.0 * C * self.n)
        V0, c0 = self.to_standard(W0, b0)
        V = torch.as_tensor(V0, dtype=self.dtype, device=self.device).clone().requires_grad_(True)
        c = torch.as_tensor(c0, dtype=self.dtype, device=self.device).clone().requires_grad_(True)
        inv_s2 = torch.as_tensor((1.0 / self.s ** 2)[:, None], dtype=self.dtype, device=self.device)
        s = self.settings
        opt = torch.optim.LBFGS([V, c], lr=1, max_iter=s.max_iter, tolerance_grad=s.tol,
                                tolerance_change=64 * torch.finfo(self.dtype).eps, history_size=s.history_size,
                                line_search_fn="strong_wolfe")

        def closure():  # the loss, and the gradient written into .grad by hand (no autograd graph)
            with torch.no_grad():
                Vg, cg = V.to(self.gemm_dtype), c.to(self.gemm_dtype)
                loss = reg * (V * V * inv_s2).sum()
                grad_V = (2.0 * reg) * V * inv_s2
                grad_c = torch.zeros_like(c)
                for Xb, yb in self._blocks():  # the full-batch gradient, block by block
                    Z = torch.addmm(cg, Xb, Vg)
                    rows = torch.arange(len(yb), device=self.device)
                    lse = torch.logsumexp(Z, dim=1)
                    loss = loss + (lse - Z[rows, yb]).sum(dtype=self.dtype) / n
                    P = Z.sub_(lse[:, None]).exp_()  # softmax, in place of the logits
                    P[rows, yb] -= 1.0
                    P.div_(n)
                    grad_V += (Xb.T @ P).to(self.dtype)
                    grad_c += P.sum(0, dtype=self.dtype)
                V.grad, c.grad = grad_V, grad_c
            return loss

        opt.step(closure)
        n_iter = opt.state[opt._params[0]].get("n_iter", 0)
        W, b = self.from_standard(V.detach().cpu().numpy(), c.detach().cpu().numpy())
        return W, b, int(n_iter)

    @staticmethod
    def logits(X, W: np.ndarray, b: np.ndarray, settings: SolverSettings) -> np.ndarray:
        device = torch.device(settings.device)
        Wt = torch.as_tensor(W, device=device)
        bt = torch.as_tensor(b, device=device)
        return torch.cat([torch.addmm(bt, torch.as_tensor(B, device=device).to(Wt.dtype), Wt)
                          for B in row_blocks(X, settings.stream_block_rows)]).cpu().numpy()


ENGINES = {"numpy": NumpySolver, "torch": TorchSolver}
