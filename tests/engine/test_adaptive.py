"""Adaptive evaluation end to end (``--target-ci``, ``--top K``, ``compare --sequential``).

The model is the demo plug-in's colour backend (an image's mean colour against the colour named by
each prompt: no weights, a forward in microseconds) on a generated folder of noisy colour patches,
so a task of 2,000 images runs in seconds and accuracies differ between "models" (noise levels).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.cli import run_cli
from helpers.plugins import installed_plugin

COLOURS = {"red": (200, 40, 40), "blue": (40, 40, 200), "green": (40, 190, 40), "café": (190, 190, 50)}
PLUGIN = {"zsbench.backends": {"colour:": "zsbench_demo_plugin:ColourBackend"}}


def noisy_folder(root: Path, n_per_class: int, noise: float, seed: int) -> Path:
    """Colour patches whose colour is blurred by ``noise`` (larger: more mistakes)."""
    rng = np.random.default_rng(seed)
    for name, rgb in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            colour = np.clip(np.array(rgb) + rng.normal(0, noise, 3), 0, 255)
            pixels = np.clip(colour + rng.normal(0, 10, (8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def colours(tmp_path_factory) -> Path:
    return noisy_folder(tmp_path_factory.mktemp("adaptive") / "colours", 500, 70.0, 0)


@pytest.fixture
def plugin(tmp_path):
    with installed_plugin(tmp_path / "site", "zsbench-demo-plugin", PLUGIN):
        yield


def records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]


def run(*args, cache, out):
    return run_cli("run", *args, "--out", str(out), "--quiet", cache=cache)


def test_target_ci_stops_early_holds_the_full_figure_and_a_full_run_reuses_its_features(colours, plugin, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "res"
    r = run("--model", "colour:v1", "--task", str(colours), "--target-ci", "8", cache=cache, out=out)
    assert r.returncode == 0, r.stderr
    assert "anytime-valid, whole test set" in r.stdout and "of 2,000 images" in r.stdout
    [adaptive] = records(out)
    a = adaptive["adaptive"]
    assert a["N"] == 2000 and 512 <= a["n"] < 2000 == adaptive["task_info"]["dataset_size"]
    assert a["n"] == adaptive["n_samples"] and a["looks"][0] == 512 and a["looks"][-1] == a["n"]
    assert a["interval"][1] - a["interval"][0] <= 0.08 and a["reached"] and a["seed"] == 0
    assert adaptive["config"]["subset"] == "adaptive" and adaptive["config"]["target_ci"] == 8.0
    # the predictions are the first n samples of the seeded class-stratified order, in that order
    from bench.engine.sampling import stratified_order

    preds = np.load(out / "runs" / (Path(adaptive["predictions_file"]).name))
    labels_all = np.repeat(np.arange(4), 500)  # ImageFolder: classes sorted, 500 each
    assert np.array_equal(preds["indices"], stratified_order(labels_all, 0)[:a["n"]])

    r = run("--model", "colour:v1", "--task", str(colours), cache=cache, out=out)
    full = next(rec for rec in records(out) if rec["adaptive"] is None)
    assert full["task_info"]["feature_rows_reused"] == a["n"]  # the adaptive run's rows were not recomputed
    assert a["interval"][0] <= full["metrics"]["top1"] <= a["interval"][1]
    fresh = run("--model", "colour:v1", "--task", str(colours), "--no-save", "--json", cache=tmp_path / "c2",
                out=tmp_path / "r2")
    assert json.loads(fresh.stdout)[0]["metrics"]["top1"] == full["metrics"]["top1"]


def test_a_task_smaller_than_one_chunk_runs_in_full_and_says_so(tiny_folder, plugin, tmp_path):
    r = run("--model", "colour:v1", "--task", str(tiny_folder), "--target-ci", "5", cache=tmp_path / "c",
            out=tmp_path / "res")
    assert r.returncode == 0, r.stderr
    [rec] = records(tmp_path / "res")
    assert rec["adaptive"]["n"] == rec["adaptive"]["N"] == 20
    assert "no larger than one chunk" in rec["adaptive"]["note"]
    assert rec["adaptive"]["interval"][0] == rec["adaptive"]["interval"][1] == rec["metrics"]["top1"]


@pytest.mark.parametrize("args, words", [
    (["--target-ci", "0"], "--target-ci 0 is not a width"),
    (["--target-ci", "100"], "--target-ci 100 is not a width"),
    (["--target-ci", "-2"], "--target-ci -2 is not a width"),
    (["--target-ci", "3", "--confidence", "1.5"], "--confidence 1.5 must be between 0 and 1"),
    (["--target-ci", "3", "--protocol", "linear-probe"], "--target-ci cannot bound --protocol linear-probe"),
    (["--top", "1"], "--top 1 needs more than 1 models"),
])
def test_bad_adaptive_options_are_one_line_and_exit_2(args, words, tiny_folder, plugin, tmp_path):
    r = run("--model", "colour:v1", "--task", str(tiny_folder), *args, cache=tmp_path / "c", out=tmp_path / "res")
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_top_k_selection_stops_early_and_finds_the_best(colours, plugin, tmp_path):
    out = tmp_path / "res"
    models = ["colour:v1", "colour:mix0.5", "colour:mix0.9"]
    full = run(*[a for m in models for a in ("--model", m)], "--task", str(colours), "--no-save", "--json",
               cache=tmp_path / "c", out=out)
    truth = {r["model"]: r["metrics"]["top1"] for r in json.loads(full.stdout)}
    r = run(*[a for m in models for a in ("--model", m)], "--task", str(colours), "--top", "1",
            cache=tmp_path / "c", out=out)
    assert r.returncode == 0, r.stderr
    recs = {rec["model"]: rec for rec in records(out)}
    status = {m: rec["adaptive"]["selection"]["status"] for m, rec in recs.items()}
    best = max(truth, key=truth.get)
    assert status[best] == "top-k" and sum(s == "top-k" for s in status.values()) == 1, (status, truth)
    used = recs[best]["adaptive"]["selection"]["images_all_models"]
    assert used == sum(rec["adaptive"]["n"] for rec in recs.values()) < 3 * 2000
    for m, rec in recs.items():  # every interval holds the model's full-data accuracy
        lo, hi = rec["adaptive"]["interval"]
        assert lo <= truth[m] <= hi
    assert "fewer)" in r.stdout


def test_compare_sequential_decides_on_part_of_the_data(colours, plugin, tmp_path):
    out = tmp_path / "res"
    for m in ("colour:v1", "colour:mix0.9"):
        assert run("--model", m, "--task", str(colours), cache=tmp_path / "c", out=out).returncode == 0
    r = run_cli("compare", "colour:v1", "colour:mix0.9", "--sequential", "--json", "--results", str(out))
    assert r.returncode == 0, r.stderr
    [c] = json.loads(r.stdout)
    assert c["verdict"] == "A better" and c["n"] < c["N"] == 2000 and c["e_value"] >= 20
    assert c["ci_low"] > 0
    text = run_cli("compare", "colour:v1", "colour:mix0.9", "--sequential", "--results", str(out)).stdout
    assert "A better after" in text and "of 2,000 images" in text
    # records on different data are refused in one line
    assert run("--model", "colour:mix0.5", "--task", str(colours), "--limit", "300", cache=tmp_path / "c",
               out=out).returncode == 0
    r = run_cli("compare", "colour:v1", "colour:mix0.5", "--sequential", "--results", str(out))
    assert r.returncode == 2 and "different data" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_sweep_top_k_in_rounds_of_jobs(colours, plugin, tmp_path):
    models = tmp_path / "models.txt"
    models.write_text("colour:v1\ncolour:mix0.5\ncolour:mix0.9\n")
    out = tmp_path / "res"
    r = run_cli("sweep", "--models", str(models), "--task", str(colours), "--top", "1", "--executor", "debug",
                "--out", str(out), "--json", cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    [selection] = json.loads(r.stdout)
    status = {m["model"]: m["status"] for m in selection["models"]}
    assert status == {"colour:v1": "top-k", "colour:mix0.5": "out", "colour:mix0.9": "out"}, selection
    used = sum(m["images"] for m in selection["models"])
    assert used < 3 * selection["N"]
    # each round's records hold the order's first n samples; the last round of the winner is its n
    sizes = sorted({rec["adaptive"]["n"] for rec in records(out)})
    assert sizes[0] == 512 and all(b == 2 * a or b == 2000 for a, b in zip(sizes, sizes[1:]))
    r = run_cli("sweep", "--models", str(models), "--task", str(colours), "--top", "1", "--executor", "debug",
                "--out", str(out), "--no-wait", cache=tmp_path / "c")
    assert r.returncode == 2 and "waits for its jobs" in r.stderr


def test_rows_reused_from_other_entries_equal_computed_ones(colours, plugin, tmp_path):
    """A full extraction after a scattered one copies the rows it finds and computes the rest; the
    result equals an extraction into an empty cache, row for row (chunks half copied, half computed)."""
    from zsbench_demo_plugin import ColourBackend

    from bench.core.store import Store
    from bench.engine.features import extract_features
    from bench.models.base import BackendOptions
    from tasks.sources.imagefolder import ImageFolderSource

    backend = ColourBackend("colour:v1", BackendOptions())
    source = ImageFolderSource(colours)
    scattered = np.random.default_rng(0).permutation(len(source))[:700]
    store = Store(tmp_path / "shared")
    part = extract_features(backend, source, "all", scattered, store=store, progress=False, num_workers=0,
                            chunk_size=256)
    assert part.info["computed"] == 700
    again = extract_features(backend, source, "all", None, store=store, progress=False, num_workers=0, chunk_size=256)
    assert again.info["reused_rows"] == 700 and again.info["computed"] == len(source) - 700
    fresh = extract_features(backend, source, "all", None, store=Store(tmp_path / "empty"), progress=False,
                             num_workers=0, chunk_size=256)
    assert np.array_equal(again.features, fresh.features) and np.array_equal(again.labels, fresh.labels)
    assert np.array_equal(again.indices, np.arange(len(source)))


def test_target_ci_assisted_by_earlier_records_and_its_bad_input(colours, plugin, tmp_path):
    cache, out = tmp_path / "c", tmp_path / "res"
    args = ("--model", "colour:v1", "--task", str(colours), "--target-ci", "6")
    r = run(*args, cache=cache, out=out)  # no earlier record: the plain sequence, and it says so
    assert r.returncode == 0, r.stderr
    assert "no full record with per-sample results on this test set" in r.stdout and "ran the plain sequence" in r.stdout
    [plain] = records(out)
    assert plain["adaptive"]["assist"]["used"] is False and plain["config"]["assist"] == "auto"
    for relative in ("colour:mix0.05", "colour:mix0.1"):
        assert run("--model", relative, "--task", str(colours), cache=cache, out=out).returncode == 0
    truth = json.loads(run("--model", "colour:v1", "--task", str(colours), "--no-save", "--json", cache=cache,
                           out=out).stdout)[0]["metrics"]["top1"]
    r = run(*args, cache=cache, out=out)
    assert r.returncode == 0, r.stderr
    assert "assisted by 2 earlier record(s) on the same images" in r.stdout
    [assisted] = [rec for rec in records(out) if rec["adaptive"] and rec["adaptive"]["assist"]["used"]]
    a = assisted["adaptive"]
    assert sorted(x["model"] for x in a["assist"]["records"]) == ["colour:mix0.05", "colour:mix0.1"]
    assert len(a["assist"]["beta"]) == 2 and 0 < a["assist"]["variance_reduction"] <= 1
    assert a["interval"][0] <= truth <= a["interval"][1] and a["interval"][1] - a["interval"][0] <= 0.06
    assert a["n"] < plain["adaptive"]["n"]          # close relatives: fewer images for the same width
    none = run(*args, "--assist", "none", "--no-save", "--json", cache=cache, out=out)
    assert json.loads(none.stdout)[0]["adaptive"]["n"] == plain["adaptive"]["n"]
    empty = tmp_path / "empty"
    (empty / "runs").mkdir(parents=True)
    for bad, words in ((str(empty), "no full record with per-sample results on this test set"),
                       (str(tmp_path / "nowhere"), "no such results folder or record file")):
        r = run(*args, "--assist", bad, cache=cache, out=out)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_compare_sequential_bets_on_residuals_given_the_other_records(colours, plugin, tmp_path):
    out = tmp_path / "res"
    for m in ("colour:v1", "colour:mix0.9", "colour:mix0.05", "colour:mix0.1"):
        assert run("--model", m, "--task", str(colours), cache=tmp_path / "c", out=out).returncode == 0
    by_mode = {}
    for mode in ("auto", "none"):
        r = run_cli("compare", "colour:v1", "colour:mix0.9", "--sequential", "--json", "--results", str(out),
                    "--assist", mode)
        assert r.returncode == 0, r.stderr
        [by_mode[mode]] = json.loads(r.stdout)
    auto, none = by_mode["auto"], by_mode["none"]
    assert auto["assist"]["used"] and len(auto["assist"]["records"]) == 2  # the compared models' own left out
    assert {x["model"] for x in auto["assist"]["records"]} == {"colour:mix0.05", "colour:mix0.1"}
    assert none["assist"] is None
    for c in (auto, none):
        assert c["verdict"] == "A better" and c["ci_low"] > 0 and c["n"] < c["N"]


def test_top_k_and_sweep_top_k_read_the_assisted_sequences(colours, plugin, tmp_path):
    out = tmp_path / "res"
    for relative in ("colour:mix0.05", "colour:mix0.1"):   # earlier full records on the same images
        assert run("--model", relative, "--task", str(colours), cache=tmp_path / "c", out=out).returncode == 0
    models = ["colour:v1", "colour:mix0.5", "colour:mix0.9"]
    truth = {r["model"]: r["metrics"]["top1"] for r in json.loads(run(
        *[a for m in models for a in ("--model", m)], "--task", str(colours), "--no-save", "--json",
        cache=tmp_path / "c", out=out).stdout)}
    r = run(*[a for m in models for a in ("--model", m)], "--task", str(colours), "--top", "1",
            cache=tmp_path / "c", out=out)
    assert r.returncode == 0, r.stderr
    recs = {rec["model"]: rec for rec in records(out) if rec["adaptive"]}
    for m, rec in recs.items():
        assist = rec["adaptive"]["assist"]
        assert assist["used"] and {x["model"] for x in assist["records"]} == {"colour:mix0.05", "colour:mix0.1"}
        lo, hi = rec["adaptive"]["interval"]
        assert lo <= truth[m] <= hi
    assert recs["colour:v1"]["adaptive"]["selection"]["status"] == "top-k"
    listed = tmp_path / "models.txt"
    listed.write_text("\n".join(models) + "\n")
    r = run_cli("sweep", "--models", str(listed), "--task", str(colours), "--top", "1", "--executor", "debug",
                "--out", str(tmp_path / "sweep"), "--assist", str(out), "--json", cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    [selection] = json.loads(r.stdout)
    assert selection["assist"]["used"] and len(selection["assist"]["records"]) == 2
    assert {m["model"]: m["status"] for m in selection["models"]}["colour:v1"] == "top-k"
    for m in selection["models"]:
        assert m["interval"][0] <= truth[m["model"]] <= m["interval"][1]
