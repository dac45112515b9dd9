"""Calibration through a run and the report: `--calibrate temperature` (a held-out fraction of the test set, or the
training split), the `calibration` view and the `reliability` plot, from the probabilities a record keeps."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.cli import run_cli


def _run(tiny_folder, tmp_path, *extra):
    return run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(tiny_folder), "--templates",
                   "single", "--workers", "0", "--out", str(tmp_path / "r"), "--quiet", "--json", "--save-logits",
                   *extra, cache=tmp_path / "c")


def test_calibrate_temperature_on_a_held_out_fraction(tiny_folder, tmp_path):
    from bench.engine.calibration import fit_temperature, from_probabilities, softmax_t
    from bench.engine.records import load_predictions
    from bench.engine.sampling import stratified_subset

    result = _run(tiny_folder, tmp_path, "--protocol", "zeroshot", "--calibrate", "temperature",
                  "--calibration-fraction", "0.4")
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)
    m, cal = record["metrics"], record["config"]["calibration"]
    n = record["n_samples"]
    assert cal["held_out"] == "test fraction 0.4" and cal["n_held_out"] + cal["n_measured"] == n
    # the same figures from the probabilities the record keeps (float16: agreement to a few 1e-3)
    preds = load_predictions(next((tmp_path / "r" / "runs").glob("*.json")))
    probs, labels = np.asarray(preds["probs"], dtype=np.float64), np.asarray(preds["labels"])
    probs /= probs.sum(axis=1, keepdims=True)
    held = stratified_subset(labels, int(round(0.4 * n)), 0)
    rest = np.setdiff1d(np.arange(n), held)
    logits = np.log(np.clip(probs, 1e-30, None))  # the model's logits up to a per-row constant
    t = fit_temperature(logits[held], labels[held])
    assert m["temperature"] == pytest.approx(t, rel=0.02)
    assert m["ece"] == pytest.approx(from_probabilities(probs[rest], labels[rest]).ece, abs=3e-3)
    assert m["calibrated_nll"] == pytest.approx(from_probabilities(softmax_t(logits[rest], t), labels[rest]).nll,
                                                rel=0.02)
    # the view reads the stored probabilities: the same ECE over every image
    table = run_cli("leaderboard", "calibration", "--results", str(tmp_path / "r"), "--format", "json")
    assert table.returncode == 0, table.stderr
    (row,) = json.loads(table.stdout)
    assert row["ECE"] == pytest.approx(100 * from_probabilities(probs, labels).ece, abs=0.3)
    assert row["T"] == pytest.approx(m["temperature"]) and row["Brier"] is not None
    plot = run_cli("plot", "reliability", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "p"))
    assert plot.returncode == 0 and (tmp_path / "p" / "reliability.png").exists(), plot.stderr


@pytest.mark.parametrize("extra, message", [
    (["--calibrate", "temperature"], "task shapes has no training split: add --calibration-fraction"),
    (["--calibration-fraction", "0.2"], "--calibration-fraction is the held-out part of --calibrate temperature"),
    (["--calibrate", "temperature", "--calibration-fraction", "1.5"], "--calibration-fraction"),
])
def test_calibrate_without_a_held_out_split_is_one_line(tiny_folder, tmp_path, extra, message):
    result = _run(tiny_folder, tmp_path, "--protocol", "zeroshot", *extra)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_the_calibration_view_needs_probabilities(tmp_path):
    from helpers.records import add

    add(tmp_path, "A", "x", "cifar10", 0.8)  # a fixture record without per-sample probabilities
    result = run_cli("leaderboard", "calibration", "--results", str(tmp_path))
    assert result.returncode == 2 and "no record keeps per-sample probabilities" in result.stderr
