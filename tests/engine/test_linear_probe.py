"""LogisticProbe against scikit-learn, the C search, few-shot sampling, and probe records."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from bench.core.errors import UserError
from bench.engine.linear_probe import LogisticProbe, few_shot, shots_to_match, stratified_split
from bench.engine.sampling import few_shot_indices


def _digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _many_classes(n_classes=120, d=48, per_class=30, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, d)) * 0.6
    y = np.repeat(np.arange(n_classes), per_class)
    return means[y] + rng.normal(size=(len(y), d)), y


@pytest.mark.parametrize("data", [_digits, _wine, _many_classes], ids=["digits", "wine", "120-classes"])
@pytest.mark.parametrize("C", [0.01, 1.0, pytest.param(100.0, marks=pytest.mark.slow)])
def test_agrees_with_sklearn_at_the_same_C(data, C):
    X, y = data()
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(y))
    tr, te = perm[: int(0.7 * len(y))], perm[int(0.7 * len(y)):]
    ours = LogisticProbe(C=C, tol=1e-6).fit(X[tr], y[tr])
    ref = LogisticRegression(C=C, max_iter=1000, tol=1e-6).fit(X[tr], y[tr])
    assert abs(ours.score(X[te], y[te]) - ref.score(X[te], y[te])) <= 0.005 + 1e-12
    assert (ours.predict(X[te]) == ref.predict(X[te])).mean() >= 0.98
    # Both stop at the same gradient tolerance; with weak regularization (large C) the optimum is
    # flat, so probabilities agree on average and closely only where the problem is well posed.
    diff = np.abs(ours.predict_proba(X[te]) - ref.predict_proba(X[te]))
    assert diff.mean() < 0.01
    if C <= 1:
        assert diff.max() < 0.05
    assert ours.coef_.shape == ref.coef_.shape and ours.intercept_.shape == ref.intercept_.shape


@pytest.mark.slow
def test_c_search_follows_the_paper_grid_and_picks_a_validation_optimum():
    X, y = _digits()
    probe = LogisticProbe(C=None, seed=0, max_iter=300).fit(X[:1200], y[:1200])
    log_lams = -np.log10(probe.sweep_.Cs)
    assert set(np.round(log_lams[:7], 6)) == {-6, -4, -2, 0, 2, 4, 6}
    assert len(probe.sweep_.Cs) <= 7 + 2 * 4
    assert np.allclose(np.round(log_lams * 8), log_lams * 8)      # every step is a multiple of 1/8 decade
    assert probe.best_C_ in probe.sweep_.Cs
    assert probe.sweep_.scores[probe.sweep_.Cs.index(probe.best_C_)] == max(probe.sweep_.scores)
    # the chosen C's validation accuracy is what scikit-learn gets at that C on the same split
    tr, va = stratified_split(y[:1200], 0.2, 0)
    sk = LogisticRegression(C=probe.best_C_, max_iter=1000, tol=1e-6).fit(X[tr], y[tr]).score(X[va], y[va])
    assert abs(sk - max(probe.sweep_.scores)) <= 0.02
    assert probe.score(X[1200:], y[1200:]) > 0.9


def test_input_validation():
    X, y = _digits()
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(UserError, match="NaN"):
        LogisticProbe(C=1).fit(bad, y)
    with pytest.raises(UserError, match="at least 2 classes"):
        LogisticProbe(C=1).fit(X[:10], np.zeros(10, dtype=int))
    with pytest.raises(UserError, match="2-D"):
        LogisticProbe(C=1).fit(X[:, 0], y)
    with pytest.raises(UserError, match="one label per row"):
        LogisticProbe(C=1).fit(X, y[:-1])
    probe = LogisticProbe(C=1).fit(X[:200], y[:200])
    with pytest.raises(UserError, match="features"):
        probe.predict(X[:5, :10])


def test_few_shot_sampling():
    y = np.repeat(np.arange(5), [10, 20, 7, 9, 30])
    a = few_shot_indices(y, 4, seed=0)
    assert np.bincount(y[a]).tolist() == [4] * 5
    assert np.array_equal(a, few_shot_indices(y, 4, seed=0))
    assert not np.array_equal(a, few_shot_indices(y, 4, seed=1))
    with pytest.raises(UserError, match="class 'c2' has 7 training samples, fewer than k=8"):
        few_shot_indices(y, 8, seed=0, class_names=["c0", "c1", "c2", "c3", "c4"])


@pytest.mark.slow
def test_few_shot_curve_records_seeds_and_C():
    X, y = _digits()
    curve = few_shot(X[:1200], y[:1200], X[1200:], y[1200:], shots=(1, 4, 16), seeds=(0, 1), max_iter=200)
    assert list(curve) == ["1", "4", "16"]
    for k, row in curve.items():
        assert len(row["per_seed"]) == 2 and len(row["C"]) == 2 and row["seeds"] == [0, 1]
        assert row["mean"] == pytest.approx(np.mean(row["per_seed"]))
    assert "fixed C" in curve["1"]["C_selection"] and "validation" in curve["16"]["C_selection"]
    assert curve["1"]["mean"] < curve["16"]["mean"]


def test_few_shot_reports_top5_and_mean_per_class_recall_as_scikit_learn_scores_them():
    """Each draw's top-5 and mean per-class recall (CLIP_benchmark's linear probe reports both), checked by refitting
    the same draw and scoring it with scikit-learn."""
    from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score

    from bench.engine.linear_probe import FEW_SHOT_FALLBACK_C

    X, y = _digits()
    X_tr, y_tr, X_te, y_te = X[:1200], y[:1200], X[1200:], y[1200:]
    curve = few_shot(X_tr, y_tr, X_te, y_te, shots=(2,), seeds=(0, 1), max_iter=200)
    for i, seed in enumerate((0, 1)):
        probe = LogisticProbe(C=FEW_SHOT_FALLBACK_C, max_iter=200).fit(*(a[few_shot_indices(y_tr, 2, seed)]
                                                                           for a in (X_tr, y_tr)))
        probs = probe.predict_proba(X_te)
        assert curve["2"]["per_seed"][i] == pytest.approx(float((probe.predict(X_te) == y_te).mean()))
        assert curve["2"]["top5"]["per_seed"][i] == pytest.approx(top_k_accuracy_score(y_te, probs, k=5))
        assert curve["2"]["mean_per_class_recall"]["per_seed"][i] == \
            pytest.approx(balanced_accuracy_score(y_te, probe.predict(X_te)))
    assert curve["2"]["top5"]["mean"] == pytest.approx(np.mean(curve["2"]["top5"]["per_seed"]))


def test_shots_to_match_hand_computed():
    curve = {"1": {"mean": 0.2}, "2": {"mean": 0.4}, "4": {"mean": 0.6}}
    assert shots_to_match(0.5, curve) == pytest.approx(2 ** 1.5)
    assert shots_to_match(0.1, curve) == 1.0
    assert shots_to_match(0.9, curve) is None


@pytest.mark.slow
def test_probe_protocols_end_to_end(tiny_folder, tmp_path):
    """A registered task with a train split: linear-probe and few-shot records from `run`."""
    from bench.engine.records import load_record
    from bench.engine.runner import RunConfig, run
    from bench.protocols.few_shot import FewShotOptions
    from tasks.registry import register
    from tasks.spec import SourceSpec, TaskSpec

    import shutil

    for split in ("train", "test"):
        shutil.copytree(tiny_folder, tmp_path / "data" / "shapes" / split)
    register(TaskSpec(name="shapes-probe-test", sources=(SourceSpec("imagefolder", {"path": "{data_dir}/shapes/{split}"}),),
                      classnames="folder", templates="single", train_split="train"))
    records = run(RunConfig(models=[("ViT-S-32", "none")], tasks=["shapes-probe-test"],
                            protocols=["zeroshot", "linear-probe", "few-shot"],
                            protocol_options={"few-shot": FewShotOptions(shots=(1, 2, 4), few_shot_seeds=2)},
                            probe_max_iter=200,
                            out_dir=tmp_path / "r", cache_dir=tmp_path / "c", data_dir=tmp_path / "data",
                            num_workers=0, progress=False))
    by_protocol = {r.protocol: r for r in records}
    assert set(by_protocol) == {"zeroshot", "linear-probe", "few-shot"}
    lp = by_protocol["linear-probe"]
    # the paper's default (appendix A.3): a ViT is probed before its final projection; scikit-learn's tol
    assert lp.config["best_C"] > 0 and lp.config["probe_features"] == "pre-projection" and len(lp.config["sweep_C"]) >= 7
    assert lp.config["probe_tol"] == 1e-4
    assert lp.metrics["top1"] >= 0.75   # train == test here: a probe must fit 4 well-separated colours
    fs = by_protocol["few-shot"]
    assert set(fs.metrics["shots"]) == {"1", "2", "4"} and fs.config["few_shot_seeds"] == [0, 1]
    saved = sorted((tmp_path / "r" / "runs").glob("*few-shot*.json"))
    assert load_record(saved[0]).metrics["shots"]["4"]["per_seed"] == fs.metrics["shots"]["4"]["per_seed"]
    # per-sample results: one real draw's (k=4, seed 0), whose top-1 is that draw's accuracy
    from bench.engine.records import load_predictions

    assert fs.task_info["per_sample"] == "the k=4 probe of seed 0"
    fp = load_predictions(saved[0])
    assert (fp["top5"][:, 0] == fp["labels"]).mean() == pytest.approx(fs.metrics["shots"]["4"]["per_seed"][0])
    assert np.allclose(fp["topk_prob"].sum(axis=1), 1, atol=1e-5) and np.array_equal(fp["topk"][:, 0], fp["top5"][:, 0])
    assert lp.config["train_features"] == "in memory"
    streamed = run(RunConfig(models=[("ViT-S-32", "none")], tasks=["shapes-probe-test"], protocols=["linear-probe"],
                             probe_max_iter=200, probe_stream="on", out_dir=tmp_path / "r2", cache_dir=tmp_path / "c",
                             data_dir=tmp_path / "data", num_workers=0, progress=False))[0]
    assert streamed.config["train_features"].startswith("streamed from the cache")
    assert streamed.config["best_C"] == lp.config["best_C"] and streamed.metrics["top1"] == lp.metrics["top1"]


@pytest.mark.slow
def test_paper_probe_features_follow_the_architecture_without_loading_weights():
    from bench.models import load_model
    from bench.protocols.probe import probe_feature_kind

    for name, kind in (("ViT-S-32", "pre-projection"), ("RN50", "embedding"), ("convnext_tiny", "embedding")):
        backend = load_model(name, "none")
        assert probe_feature_kind("paper", backend) == kind, name
        assert probe_feature_kind("embedding", backend) == "embedding"


@pytest.mark.slow
def test_perf_probe_section_reports_ratios():
    """Timing is not asserted (speed lives in `zsbench perf`); the report's shape is."""
    from bench.apps.perf import run_perf

    out = run_perf(["probe"], n=600, dim=16, classes=6)["probe"]
    for key in ("ours_seconds", "sklearn_cold_seconds", "sklearn_warm_seconds", "speedup_vs_sklearn_cold",
                "speedup_vs_sklearn_warm", "best_C", "test_accuracy"):
        assert key in out
    assert out["speedup_vs_sklearn_cold"] > 0 and out["problem"]["fits"] >= 7
    small = out["small_fresh"]["ours"]   # digits in a fresh process: the numpy engine, no torch import
    assert small["solver"] == "numpy" and small["torch_imported"] is False and small["seconds"] > 0


@pytest.mark.slow
def test_perf_probe_memory_section_fits_the_same_both_ways():
    """Memory is measured, not asserted (it depends on the allocator); the fit must be the same."""
    from bench.apps.perf import run_perf

    out = run_perf(["probe-memory"], memory_n=5000, memory_dim=32, classes=5)["probe_memory"]
    assert out["same_fit"] and out["problem"]["n"] == 5000
    assert out["in_memory"]["peak_bytes"] > 0 and out["streamed"]["peak_bytes"] > 0
    assert out["in_memory"]["iterations"] == out["streamed"]["iterations"] > 0


def test_search_limit_chooses_C_on_a_subset_and_refits_on_all():
    from sklearn.datasets import load_digits

    from bench.engine.linear_probe import full_probe

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    metrics, _, details = full_probe(X[:1200], y[:1200], X[1200:], y[1200:], search_limit=300, max_iter=200)
    assert details["search_train_samples"] == 300 and details["search"].startswith("C chosen on a class-stratified")
    assert details["n_train"] == 1200 and metrics["top1"] > 0.85


# -- features left on disk: FeatureChunks and the streamed fit -----------------------------------------

def _chunk_files(X: np.ndarray, folder, rows: int):
    from bench.engine.feature_chunks import FeatureChunks

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, start in enumerate(range(0, len(X), rows)):
        paths.append(folder / f"chunk{i:05d}.features.npy")
        np.save(paths[-1], X[start:start + rows])
    return FeatureChunks(paths)


def test_feature_chunks_select_rows_lazily_in_order(tmp_path):
    from bench.engine.feature_chunks import FeatureChunks

    X = np.random.default_rng(0).normal(size=(250, 7)).astype(np.float32)
    fc = _chunk_files(X, tmp_path, 64)
    assert fc.shape == (250, 7) and len(fc.parts) == 4 and np.array_equal(fc.to_array(), X)
    rows = np.array([249, 3, 3, 130, 64, 63, 0])          # any order, repeats, across chunk borders
    assert np.array_equal(fc[rows], X[rows]) and np.array_equal(fc.take(rows).take([1, 6]).to_array(), X[[3, 0]])
    joined = FeatureChunks.concatenate([fc.take(np.arange(10)), X[:5]])
    assert np.array_equal(joined.to_array(), np.concatenate([X[:10], X[:5]]))
    assert [len(b) for b in fc.blocks(100)] == [128, 122]  # consecutive chunks joined up to >= 100 rows
    with pytest.raises(IndexError):
        fc.take([250])


@pytest.mark.slow
def test_streamed_fit_is_the_in_memory_fit(tmp_path):
    """Chunks of 128 rows read in blocks of 256 partition the rows exactly as the in-memory
    solver's blocks do, so every operation is the same: the weights must be identical. (Streamed features are
    fitted by the torch engine, so the in-memory side is asked for it: by size these would go to numpy.)"""
    X, y = _digits()
    X = X.astype(np.float32)
    fc = _chunk_files(X, tmp_path, 128)
    ours = LogisticProbe(C=0.5, max_iter=150, stream_block_rows=256, solver="torch").fit(X, y)
    streamed = LogisticProbe(C=0.5, max_iter=150, stream_block_rows=256).fit(fc, y)
    assert streamed.n_iter_ == ours.n_iter_
    assert np.array_equal(streamed.coef_, ours.coef_) and np.array_equal(streamed.intercept_, ours.intercept_)
    assert np.array_equal(streamed.decision_function(fc), ours.decision_function(X))
    # another partition (blocks of 300 rows, the C search on a lazy split): the same choice of C
    Xw, yw = _wine()
    Xw = Xw.astype(np.float32)
    a = LogisticProbe(C=None, seed=0, solver="torch").fit(Xw, yw)
    b = LogisticProbe(C=None, seed=0, stream_block_rows=50).fit(_chunk_files(Xw, tmp_path / "b", 40), yw)
    assert b.best_C_ == a.best_C_ and np.allclose(b.sweep_.scores, a.sweep_.scores)
    assert np.abs(b.predict_proba(Xw) - a.predict_proba(Xw)).max() < 1e-4
    ref = LogisticRegression(C=0.5, max_iter=1000, tol=1e-6).fit(X, y)   # and still sklearn's optimum
    assert (streamed.predict(X) == ref.predict(X)).mean() >= 0.98


def test_streamed_fit_rejects_nan_with_one_line(tmp_path):
    X, y = _digits()
    X = X.astype(np.float32)
    X[700, 3] = np.nan
    with pytest.raises(UserError, match="NaN"):
        LogisticProbe(C=1.0, stream_block_rows=256).fit(_chunk_files(X, tmp_path, 128), y)


def test_stream_mode_choice():
    from bench.engine.linear_probe import physical_memory_bytes, stream_probe

    assert stream_probe("on", (10, 4)) and not stream_probe("off", (10**9, 1024))
    assert not stream_probe("auto", (50_000, 768))                     # CIFAR-100 size: in memory
    huge = (physical_memory_bytes() // 4, 1024)                        # a feature matrix 256x the RAM
    assert stream_probe("auto", huge)
    with pytest.raises(UserError, match="auto, on, off"):
        stream_probe("sometimes", (10, 4))


def _objective(probe, X, y, C):
    Z = X @ probe.coef_.T + probe.intercept_
    Z = Z - Z.max(1, keepdims=True)
    logp = Z - np.log(np.exp(Z).sum(1, keepdims=True))
    return -logp[np.arange(len(y)), np.searchsorted(probe.classes_, y)].mean() + (probe.coef_ ** 2).sum() / (2 * C * len(y))


@pytest.mark.slow
@pytest.mark.parametrize("C", [1e-4, 1e-2, 1.0])
def test_reaches_the_optimum_with_features_that_barely_vary(C):
    """Few-shot draws of post-ReLU features: many features are nearly constant. Dividing by
    their tiny sd made the penalty so stiff that the fit stopped at W = 0 (accuracy = chance);
    the objective must reach scikit-learn's tightly converged optimum."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 2)                          # 2 shots x 10 classes
    means = rng.normal(size=(10, 400))
    X = np.maximum(means[y] + rng.normal(size=(20, 400)) - 1.5, 0.0)
    X[:, :100] *= 1e-4                                        # features that barely vary
    X = X.astype(np.float32).astype(np.float64)
    ref = LogisticRegression(C=C, max_iter=20000, tol=1e-10).fit(X, y)
    ours = LogisticProbe(C=C).fit(X, y)
    assert np.abs(ours.coef_).max() > 0
    assert _objective(ours, X, y, C) <= _objective(ref, X, y, C) * (1 + 1e-5) + 1e-9


@pytest.mark.slow
def test_probe_hygiene_validation_is_never_test_and_k_shot_sees_k_per_class(monkeypatch):
    """The leak CLIP_benchmark had (its issue #125): C must be chosen on samples that are neither test
    samples nor the training samples of that fit; a k-shot probe must train on exactly k per class."""
    from bench.engine import linear_probe as lp

    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(120, 8)).astype(np.float32)
    y_train = np.repeat(np.arange(6), 20)
    X_test = rng.normal(size=(60, 8)).astype(np.float32) + 100.0  # rows no training row can equal
    y_test = np.repeat(np.arange(6), 10)
    searches, fits = [], []
    search, fit = lp.LogisticProbe._search, lp.LogisticProbe.fit

    def spy_search(self, X_tr, y_tr, X_va, y_va):
        searches.append((np.asarray(X_tr), np.asarray(X_va)))
        return search(self, X_tr, y_tr, X_va, y_va)

    def spy_fit(self, X, y, X_val=None, y_val=None):
        fits.append(np.asarray(y))
        return fit(self, X, y, X_val, y_val)

    monkeypatch.setattr(lp.LogisticProbe, "_search", spy_search)
    monkeypatch.setattr(lp.LogisticProbe, "fit", spy_fit)
    rows = lambda a: {tuple(np.round(r, 5)) for r in a}  # noqa: E731
    for X_val, y_val in ((None, None), (X_train[:30] + 50.0, y_train[:30])):  # split from train, or a given split
        searches.clear()
        lp.full_probe(X_train, y_train, X_test, y_test, X_val, y_val, seed=0, max_iter=30)
        (tr, va), = searches
        assert len(va) and not rows(va) & rows(X_test) and not rows(tr) & rows(X_test)
        assert not rows(tr) & rows(va)  # C is scored on samples the candidate did not train on
    fits.clear()
    lp.few_shot(X_train, y_train, X_test, y_test, shots=(1, 2, 4, 8), seeds=(0, 1), max_iter=30)
    per_fit = [np.bincount(y, minlength=6) for y in fits]
    assert [int(c[0]) for c in per_fit] == [1, 1, 2, 2, 4, 4, 8, 8] and all((c == c[0]).all() for c in per_fit)


@pytest.mark.parametrize("data", [_digits, _wine, _many_classes], ids=["digits", "wine", "120-classes"])
@pytest.mark.parametrize("C", [0.01, 1.0])
def test_numpy_and_torch_engines_reach_the_same_optimum(data, C):
    """Small problems are fitted with scipy's L-BFGS-B in numpy (no torch import), bigger ones with torch's
    L-BFGS: the same objective in the same coordinates, so both reach scikit-learn's optimum at the same C."""
    X, y = data()
    X = X.astype(np.float32)
    fits = {s: LogisticProbe(C=C, tol=1e-6, solver=s).fit(X, y) for s in ("numpy", "torch")}
    assert {s: p.solver_ for s, p in fits.items()} == {"numpy": "numpy", "torch": "torch"}
    from bench.engine.probe_solvers import NUMPY_MAX_WORK

    small = X.shape[0] * X.shape[1] * len(np.unique(y)) <= NUMPY_MAX_WORK      # auto: small, in memory, CPU
    assert LogisticProbe(C=C).fit(X, y).solver_ == ("numpy" if small else "torch")
    ref = LogisticRegression(C=C, max_iter=5000, tol=1e-10).fit(X.astype(np.float64), y)
    best = _objective(ref, X.astype(np.float64), y, C)
    for probe in fits.values():
        assert _objective(probe, X.astype(np.float64), y, C) <= best + 1e-5
    assert (fits["numpy"].predict(X) == fits["torch"].predict(X)).mean() >= 0.99
    assert np.abs(fits["numpy"].predict_proba(X) - fits["torch"].predict_proba(X)).max() < 0.02


def test_the_solver_choice_is_checked():
    X, y = _digits()
    with pytest.raises(UserError, match="auto, numpy, torch"):
        LogisticProbe(C=1.0, solver="newton").fit(X, y)
    with pytest.raises(UserError, match="in-memory features on the CPU"):
        LogisticProbe(C=1.0, solver="numpy", device="cuda").fit(X, y)


@pytest.mark.slow
def test_a_small_probe_run_from_the_cache_imports_no_torch(tmp_path, vit_s32_checkpoint):
    """The probe module pays no torch import on problems numpy solves: a linear-probe and few-shot run whose
    features are cached runs in a process where importing torch fails, and repeats the first run's numbers."""
    import json
    import subprocess
    import sys

    from PIL import Image
    from helpers.cli import REPO
    from helpers.startup import NO_TORCH

    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 6)):
        for c, colour in enumerate(((200, 30, 30), (30, 30, 200), (30, 200, 30))):
            folder = tmp_path / "data" / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, size=(32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    (tmp_path / "task.toml").write_text('name = "colours-probe"\nsplit = "test"\ntrain_split = "train"\n'
                                        '[source]\ntype = "imagefolder"\npath = "data/{split}/"\n')
    env = {**__import__("os").environ, "ZSBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    base = ["run", "--model", "ViT-S-32", "--pretrained", str(vit_s32_checkpoint), "--task", str(tmp_path / "task.toml"),
            "--protocol", "linear-probe", "--protocol", "few-shot", "--shots", "1", "--shots", "4", "--quiet"]
    records = []
    for name, prefix in (("first", []), ("cached", ["-c", NO_TORCH])):  # the second cannot import torch
        done = subprocess.run([sys.executable, *prefix, str(REPO / "cli.py"), *base, "--out", str(tmp_path / name)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        records.append({json.loads(p.read_text())["protocol"]: json.loads(p.read_text())
                        for p in (tmp_path / name / "runs").rglob("*.json")})
    first, cached = records
    assert set(first) == set(cached) == {"linear-probe", "few-shot"}
    assert cached["linear-probe"]["config"]["solver"] == "numpy"
    for protocol in first:
        assert first[protocol]["metrics"] == cached[protocol]["metrics"]
