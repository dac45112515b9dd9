"""Faults a new user ran into, each as the user meets it: through the command line, in a subprocess."""
from __future__ import annotations

import json
import time

import pytest

from helpers.cli import run_cli as zsbench
from helpers.records import add

pytestmark = pytest.mark.slow


def test_unwritable_out_fails_at_once_with_one_line(tiny_folder, tmp_path):
    t0 = time.perf_counter()
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(tiny_folder),
                  "--out", "/proc/zsbench-results", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "--out /proc/zsbench-results" in out.stderr and "writable" in out.stderr
    # before any slow work: no features were extracted
    assert not (tmp_path / "c" / "features").exists() or not any((tmp_path / "c" / "features").iterdir())
    assert time.perf_counter() - t0 < 60


def test_one_unreadable_record_is_skipped_with_a_warning_or_refused_under_strict(tmp_path):
    results = tmp_path / "results"
    add(results, "ViT-B-32", "openai", "cifar10", 0.9)
    add(results, "RN50", "openai", "cifar10", 0.7)
    (results / "runs" / "broken.json").write_text("{not json")
    (results / "runs" / "other.json").write_text(json.dumps({"hello": 1}))
    out = zsbench("leaderboard", "--results", str(results), "--format", "json", cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert {r["model"] for r in json.loads(out.stdout)} == {"ViT-B-32 / openai", "RN50 / openai"}
    warnings = [ln for ln in out.stderr.splitlines() if ln.startswith("zsbench: warning:")]
    assert len(warnings) == 2 and any("broken.json" in w for w in warnings) and any("other.json" in w for w in warnings)
    out = zsbench("leaderboard", "--results", str(results), "--strict", cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 2 and "--strict" in out.stderr and "Traceback" not in out.stderr


def test_compare_accepts_checkpoint_paths_and_local_checkpoints_load_quietly(tiny_folder, vit_s32_checkpoint, tmp_path):
    import shutil

    other = tmp_path / "m22.pt"
    shutil.copy(vit_s32_checkpoint, tmp_path / "m21.pt")
    import open_clip
    import torch

    torch.manual_seed(7)
    torch.save(open_clip.create_model("ViT-S-32", pretrained=None).state_dict(), other)
    for ckpt in ("m21.pt", "m22.pt"):
        out = zsbench("run", "--model", "ViT-S-32", "--pretrained", str(tmp_path / ckpt), "--task", str(tiny_folder),
                      "--workers", "0", "--quiet", cache=tmp_path / "c", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert "initialized randomly" not in out.stderr and "No pretrained weights" not in out.stderr
    out = zsbench("compare", str(tmp_path / "m21.pt"), str(other), cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "A = ViT-S-32 / " in out.stdout and "p Holm" in out.stdout
    out = zsbench("compare", "m21.pt", "ViT-S-32", cache=tmp_path / "c", cwd=tmp_path)  # relative path + ambiguous model
    assert out.returncode == 2 and "several checkpoints" in out.stderr


def test_plot_all_draws_what_the_records_allow_and_lists_the_rest(tmp_path):
    results = tmp_path / "results"
    add(results, "ViT-B-32", "openai", "cifar10", 0.9)
    add(results, "RN50", "openai", "cifar10", 0.7)
    out = zsbench("plot", "all", "--results", str(results), cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (results / "plots" / "leaderboard.png").exists()
    skipped = [ln for ln in out.stdout.splitlines() if ln.startswith("skipped ")]
    assert {ln.split()[1].rstrip(":") for ln in skipped} == {"prompt-ensemble", "zeroshot-vs-probe", "few-shot",
                                                              "robustness", "checkpoints", "languages",
                                                              "languages-by-resource", "reliability"}
    out = zsbench("plot", "robustness", "--results", str(results), cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1


def test_dataset_in_out_gives_each_dataset_its_folder(tiny_folder, tmp_path):
    """``--out 'res/{dataset}'`` (CLIP_benchmark's --output template): each task's records in its own folder,
    found there again by --skip-existing; CLIP_benchmark's result files beside them."""
    import shutil

    from helpers.cli import run_cli

    other = tmp_path / "shapes2"
    shutil.copytree(tiny_folder, other)
    args = ["run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(tiny_folder), "--task", str(other),
            "--out", str(tmp_path / "res" / "{dataset}"), "--quiet", "--format", "clip_benchmark", "--workers", "0"]
    first = run_cli(*args, cache=tmp_path / "c")
    assert first.returncode == 0, first.stderr
    for name in (tiny_folder.name, "shapes2"):
        assert len(list((tmp_path / "res" / name / "runs").glob("*.json"))) == 1
        assert len(list((tmp_path / "res" / name / "clip_benchmark").glob("*.json"))) == 1
    again = run_cli(*args, "--skip-existing", "--json", cache=tmp_path / "c")
    assert again.returncode == 0 and again.stdout.strip() == "[]", again.stdout
    assert not (tmp_path / "res" / "{dataset}").exists()
    bad = run_cli(*args[:-7], "--out", str(tmp_path / "{model}"), cache=tmp_path / "c")
    assert bad.returncode == 2 and "only {dataset} and {dataset_cleaned}" in bad.stderr
