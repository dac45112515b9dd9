"""The engine's two interfaces and its one record builder.

- record parity: a robustness record and a zero-shot record have the same top-level keys, filled
  timings and backend facts;
- a backend and a protocol from a third-party package (tests/plugins/zsbench_demo_plugin.py), installed
  through the ``zsbench.backends`` / ``zsbench.protocols`` entry points, run through the unchanged runner
  and the command line (run, leaderboard, models, compare);
- options are declared once: every RunConfig option reaches argparse and the record.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from PIL import Image

from bench.engine.config import RunConfig, add_run_options, config_from_args
from bench.engine.runner import Runner, run
from tasks.families import FAMILIES, ShiftFamily

COMMON = {"model_load", "data_open", "features", "classifier"}


@pytest.fixture
def shift_pair(tiny_folder, tmp_path, monkeypatch):
    """A registered two-task shift suite over generated folders: the clean folder and a darkened copy."""
    from PIL import Image, ImageEnhance

    dark = tmp_path / "dark"
    for path in tiny_folder.rglob("*.*"):
        out = dark / path.relative_to(tiny_folder)
        out.parent.mkdir(parents=True, exist_ok=True)
        ImageEnhance.Brightness(Image.open(path).convert("RGB")).enhance(0.4).save(out.with_suffix(".png"))
    monkeypatch.setitem(FAMILIES, "test-shift", ShiftFamily("test-shift", "clean -> dark",
                                                            ((str(tiny_folder), (str(dark),)),)))
    return tiny_folder, dark


@pytest.fixture
def five_class_shift(tiny_folder, tmp_path, monkeypatch):
    """A shift suite over five classes (where the profiles' top-5 rules differ: CLIP's needs more than five
    classes, CLIP_benchmark's and DataComp's five): the tiny folder plus a fifth class, and a darkened copy."""
    import shutil

    from PIL import ImageEnhance

    from conftest import make_image

    clean, dark = tmp_path / "five", tmp_path / "five-dark"
    shutil.copytree(tiny_folder, clean)
    (clean / "violet_square").mkdir()
    rng = np.random.default_rng(5)
    for i in range(5):
        make_image(rng, (150, 40, 200), "square").save(clean / "violet_square" / f"{i}.png")
    for path in clean.rglob("*.*"):
        out = dark / path.relative_to(clean)
        out.parent.mkdir(parents=True, exist_ok=True)
        ImageEnhance.Brightness(Image.open(path).convert("RGB")).enhance(0.4).save(out.with_suffix(".png"))
    monkeypatch.setitem(FAMILIES, "five-shift", ShiftFamily("five-shift", "clean -> dark", ((str(clean), (str(dark),)),)))
    return clean, dark


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["clip_benchmark", "datacomp"])
def test_robustness_scores_each_task_as_zeroshot_does_under_every_profile(five_class_shift, tmp_path, profile):
    """The robustness protocol calls the zero-shot scorer: under a profile that scores in reduced precision
    (clip_benchmark: its autocast) or reports top-5 by its own rule, the in-distribution record equals
    ``--protocol zeroshot`` on the same task, and a shift's top-1 equals zero-shot on the shift task."""
    clean, dark = five_class_shift
    base = dict(models=[("ViT-S-32", "none")], out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0,
                progress=False, profile=profile, no_save=True)
    zs_clean, zs_dark = run(RunConfig(tasks=[str(clean), str(dark)], **base))
    in_dist, shift = run(RunConfig(tasks=["five-shift"], protocols=["robustness"], **base))
    assert zs_clean.metrics.get("top5") is not None  # five classes: both profiles report top-5
    for key in ("top1", "top5", "mean_per_class_recall"):
        assert in_dist.metrics.get(key) == zs_clean.metrics.get(key), key
    assert shift.metrics["top1"] == zs_dark.metrics["top1"] and shift.metrics["id_top1"] == zs_clean.metrics["top1"]


@pytest.mark.slow
def test_robustness_and_zeroshot_records_carry_the_same_fields(shift_pair, tmp_path):
    clean, dark = shift_pair
    base = dict(models=[("ViT-S-32", "none")], out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0,
                progress=False)
    (zs,) = run(RunConfig(tasks=[str(clean)], **base))
    runner = Runner(RunConfig(tasks=["test-shift"], protocols=["robustness"], **base))
    rob = runner.run()
    assert not runner.skipped and [r.task_info["role"] for r in rob] == ["in-distribution", "shift"]
    saved = [json.loads(p.read_text()) for p in sorted((tmp_path / "r" / "runs").glob("*.json"))]
    assert len(saved) == 3 and len({tuple(sorted(d)) for d in saved}) == 1  # same top-level keys
    for rec in [zs, *rob]:
        assert COMMON <= set(rec.timings) and all(v is not None and v >= 0 for v in rec.timings.values())
        assert rec.model_info["backend"] == "open_clip" and rec.model_info["fingerprint"]
        assert rec.versions["torch"] and rec.seed == 0 and rec.task_info["data_identity"]
        assert rec.config["seed"] == 0 and rec.config["precision"] == "fp32"
    shift = rob[1]
    # the shift's own numbers, recomputed here from the same features
    assert shift.task_info["parent"] == str(clean) and shift.metrics["id_top1"] == pytest.approx(zs.metrics["top1"])
    assert shift.metrics["relative_robustness"] == pytest.approx(shift.metrics["top1"] / shift.metrics["id_top1"])
    assert rob[0].metrics["top1"] == pytest.approx(zs.metrics["top1"])
    # per-sample probabilities: the in-distribution record's equal the zero-shot record's (same model, data)
    from bench.engine.records import load_predictions

    paths = {d["protocol"] + d["task_info"].get("role", ""): p for d, p in
             zip(saved, sorted((tmp_path / "r" / "runs").glob("*.json")))}
    p_zs, p_id, p_shift = (load_predictions(paths[k]) for k in ("zeroshot", "robustnessin-distribution",
                                                                  "robustnessshift"))
    assert np.allclose(p_id["topk_prob"], p_zs["topk_prob"], atol=1e-6) and np.array_equal(p_id["topk"], p_zs["topk"])
    assert np.array_equal(p_shift["topk"][:, 0], p_shift["top5"][:, 0])
    assert np.allclose(p_shift["topk_prob"].sum(axis=1), 1, atol=1e-5)  # 4 classes: the top-k holds them all


@pytest.mark.slow
def test_a_missing_shift_is_skipped_and_listed(tiny_folder, tmp_path, monkeypatch):
    monkeypatch.setitem(FAMILIES, "broken-shift", ShiftFamily("broken-shift", "", ((str(tiny_folder),
                                                                                    (str(tmp_path / "nowhere"),)),)))
    runner = Runner(RunConfig(models=[("ViT-S-32", "none")], tasks=["broken-shift"], protocols=["robustness"],
                              no_save=True, cache_dir=tmp_path / "c", num_workers=0, progress=False))
    records = runner.run()
    assert [r.task_info["role"] for r in records] == ["in-distribution"]
    assert len(runner.skipped) == 1 and "nowhere" in runner.skipped[0]


# -- a backend and a protocol from a third-party package (tests/plugins/zsbench_demo_plugin.py) -------
DEMO_ENTRY_POINTS = {"zsbench.backends": {"colour:": "zsbench_demo_plugin:ColourBackend"},
                     "zsbench.protocols": {"feature-norm": "zsbench_demo_plugin:FeatureNorm"}}


@pytest.fixture
def demo_plugin(tmp_path):
    """The demo plug-in installed as pip would (entry points in a dist-info folder); nothing of ours edited."""
    from helpers.plugins import installed_plugin

    with installed_plugin(tmp_path / "site", "zsbench-demo-plugin", DEMO_ENTRY_POINTS):
        yield


def test_a_backend_and_a_protocol_plug_in_through_entry_points(demo_plugin, tiny_folder, tmp_path):
    import bench.models

    assert bench.models.backend_class("colour:v1").__name__ == "ColourBackend"
    assert bench.models.backend_class("ViT-B-32").__name__ == "OpenCLIPBackend"  # open_clip stays the fallback
    zs, norm = run(RunConfig(models=[("colour:v1", None)], tasks=[str(tiny_folder)], templates=["single"],
                             protocols=["zeroshot", "feature-norm"], out_dir=tmp_path / "r", cache_dir=tmp_path / "c",
                             num_workers=0, progress=False))
    # the colour of each class decides its images (chance: 0.25; the grayscale copy of each class
    # carries no colour, so up to 1 in 5 may miss)
    assert zs.metrics["top1"] >= 0.75 and zs.model_info["backend"] == "colour"
    assert norm.protocol == "feature-norm" and norm.metrics["mean_norm"] > 0 and norm.timings["model_load"] >= 0
    saved = {json.loads(p.read_text())["protocol"] for p in (tmp_path / "r" / "runs").glob("*.json")}
    assert saved == {"zeroshot", "feature-norm"}


def test_a_plugged_in_protocol_is_usable_from_the_command_line(demo_plugin, tiny_folder, tmp_path):
    from helpers.cli import run_cli

    out = run_cli("run", "--model", "colour:v1", "--task", tiny_folder, "--protocol", "feature-norm",
                  "--out", tmp_path / "r", "--cache-dir", tmp_path / "c", "--workers", "0", "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if line.startswith("model"))
    row = next(line for line in out.stdout.splitlines() if line.startswith("colour:v1"))
    assert "mean norm" in header and "feature-norm" in row  # the protocol's own column, its own settings
    board = run_cli("leaderboard", "--protocol", "feature-norm", "--format", "json", "--results", tmp_path / "r",
                    cwd=tmp_path)
    assert board.returncode == 0, board.stderr
    assert json.loads(board.stdout)[0]["model"] == "colour:v1 / none"
    models = run_cli("models", "--json", cwd=tmp_path)
    assert {"model": "colour:v1", "pretrained": "none",
            "note": "mean colour vs colour words (demo plug-in)"} in json.loads(models.stdout)
    compare = run_cli("compare", "colour:v1", "colour:v1", "--protocol", "feature-norm", "--results", tmp_path / "r",
                      cwd=tmp_path)
    assert compare.returncode == 2 and "declares no paired test" in compare.stderr


def test_a_plugged_in_protocol_brings_its_option_view_plot_and_report_section(demo_plugin, tiny_folder, tmp_path):
    """Everything the demo protocol declares in its own module reaches the command line: ``--norm-order`` in
    ``run --help``, the record (under the protocol's name) and the work key; its leaderboard view, plot kind
    and report section; and bad input is one line, exit 2."""
    from helpers.cli import run_cli

    help_text = " ".join(run_cli("run", "--help", cwd=tmp_path).stdout.split())
    assert "--norm-order" in help_text
    assert "feature-norm (the mean Lp norm of the image features, a demo plug-in)" in help_text  # --protocol's list
    common = ("--model", "colour:v1", "--task", tiny_folder, "--protocol", "feature-norm", "--out", tmp_path / "r",
              "--cache-dir", tmp_path / "c", "--workers", "0", "--quiet", "--json")
    l1, l2 = (run_cli("run", *common, *extra, cwd=tmp_path) for extra in (("--norm-order", "1"), ()))
    assert l1.returncode == 0 and l2.returncode == 0, l1.stderr + l2.stderr
    (r1,), (r2,) = json.loads(l1.stdout), json.loads(l2.stdout)
    assert r1["config"]["feature-norm"] == {"norm_order": 1} and r2["config"]["feature-norm"] == {"norm_order": 2}
    assert r1["config"]["work_key"] != r2["config"]["work_key"]  # the option is part of the work key
    # the figures themselves: L1 and L2 norms of the backend's features, computed here from the images
    from plugins.zsbench_demo_plugin import ColourBackend
    from PIL import Image

    backend = ColourBackend("colour:v1", None)
    files = sorted(p for p in tiny_folder.rglob("*") if p.is_file())
    feats = backend.encode_images(torch.stack([backend.preprocess(Image.open(f)) for f in files])).numpy()
    for record, order in ((r1, 1), (r2, 2)):
        assert record["metrics"]["mean_norm"] == pytest.approx(np.linalg.norm(feats, ord=order, axis=1).mean(), rel=1e-5)
    # read back, a record's config gives the protocol's options again (the doctor and work keys use this)
    from bench.engine.records import read_records

    for record in read_records(tmp_path / "r"):
        assert record.config.run_config().protocol_section("feature-norm") == record.config["feature-norm"]
    view = run_cli("leaderboard", "feature-norm", "--format", "json", "--results", tmp_path / "r", cwd=tmp_path)
    assert view.returncode == 0, view.stderr
    (row,) = json.loads(view.stdout)
    assert row["model"] == "colour:v1 / none" and row[r2["task"]] == pytest.approx(r2["metrics"]["mean_norm"])  # the newest
    assert "feature-norm: mean feature norm" in run_cli("leaderboard", "--list-views", cwd=tmp_path).stdout
    plot = run_cli("plot", "feature-norm", "--results", tmp_path / "r", "--out", tmp_path / "p", cwd=tmp_path)
    assert plot.returncode == 0, plot.stderr
    assert {p.name for p in (tmp_path / "p").iterdir()} == {"feature-norm.png", "feature-norm.svg"}
    report = run_cli("report", "--results", tmp_path / "r", "--no-explorer", "--quiet", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r" / "report.html").read_text()
    assert "<h2>Feature norms</h2>" in page and "alt='feature-norm'" in page
    for args, says in ((("run", *common, "--norm-order", "3"), "--norm-order: takes 1 or 2, not '3'"),
                       (("run", *common[:4], "--norm-order", "1", "--quiet"), "--norm-order is an option of "
                                                                               "--protocol feature-norm"),
                       (("leaderboard", "norms", "--results", tmp_path / "r"), "unknown view 'norms'"),
                       (("plot", "norms", "--results", tmp_path / "r"), "unknown plot kind 'norms'")):
        out = run_cli(*args, cwd=tmp_path)
        assert out.returncode == 2 and says in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_without_the_plugin_its_protocol_and_backend_are_unknown(tiny_folder, tmp_path):
    from helpers.cli import run_cli

    out = run_cli("run", "--model", "ViT-S-32", "--task", tiny_folder, "--protocol", "feature-norm", cwd=tmp_path)
    assert out.returncode == 2 and "unknown protocol 'feature-norm'" in out.stderr
    import bench.models

    assert bench.models.backend_class("colour:v1").__name__ == "OpenCLIPBackend"


def test_every_option_is_declared_once_and_reaches_the_record():
    from dataclasses import fields

    from bench.engine.config import ROBUSTNESS

    everywhere = argparse.ArgumentParser()
    add_run_options(everywhere, ROBUSTNESS, model_required=False)
    parser = argparse.ArgumentParser()
    add_run_options(parser)
    args = parser.parse_args(["--model", "ViT-B-32", "--pretrained", "none", "--task", "cifar10", "--limit", "10",
                              "--precision", "bf16", "--shots", "1,2", "--batch-size", "auto"])
    config = config_from_args(args)
    assert config.models == [("ViT-B-32", "none")] and config.limit == 10 and config.shots == (1, 2)
    assert config.batch_size is None and config.precision == "bf16"
    recorded = config.recorded()
    flags = {a.dest for p in (parser, everywhere) for a in p._actions}
    for f in fields(RunConfig):
        kind = f.metadata.get("kind")
        if kind != "internal":
            assert f.name in flags, f"{f.name} has no command-line option"
        if f.metadata.get("record", True):
            assert f.name in recorded, f"{f.name} is not recorded"
