"""The command line: help, JSON output, and one-line errors with exit code 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: every test here runs the CLI in a subprocess (a few seconds of imports each)
pytestmark = pytest.mark.slow


def zsbench(*args, cache, cwd):
    env = {**os.environ, "ZSBENCH_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def test_help(tmp_path):
    out = zsbench("--help", cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0 and "run" in out.stdout and "models" in out.stdout
    out = zsbench("run", "--help", cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0 and "--templates" in out.stdout and "--limit" in out.stdout


def test_run_json(tiny_folder, tmp_path):
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(tiny_folder),
                  "--templates", "single", "--json", "--workers", "0", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert len(records) == 1
    assert records[0]["task"] == "shapes" and records[0]["n_samples"] == 20
    assert 0.0 <= records[0]["metrics"]["top1"] <= 1.0
    assert list((tmp_path / "results" / "runs").glob("*.preds.npz"))


def test_table_output(tiny_folder, tmp_path):
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(tiny_folder),
                  "--templates", "single", "--limit", "8", "--quiet", "--workers", "0",
                  cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "top1" in out.stdout and "shapes" in out.stdout and "stratified subset of 8 of 20" in out.stdout


@pytest.mark.parametrize("args, needle", [
    (["run", "--model", "ViT-B-99", "--pretrained", "none", "--task", "cifar10"], "unknown model 'ViT-B-99'"),
    (["run", "--model", "ViT-S-32", "--pretrained", "missing.pt", "--task", "cifar10"], "checkpoint file not found: missing.pt"),
    (["run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "cifar11"], "unknown task 'cifar11'"),
    (["run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "no/such/folder"], "task path not found"),
    (["run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "cifar10", "--templates", "nope"], "unknown template set 'nope'"),
    (["run", "--model", "ViT-S-32", "--task", "cifar10", "--batch-size", "x"], "--batch-size: takes a positive whole"),
    (["run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "cifar10", "--precision", "fp16"],
     "--precision fp16 needs a CUDA device"),
    (["run", "--task", "cifar10"], "--model"),
])
def test_bad_input_is_one_line_exit_2(args, needle, tmp_path):
    out = zsbench(*args, cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert needle in lines[0] and "Traceback" not in out.stderr


def test_models_lists_baseline_and_open_clip(tmp_path):
    out = zsbench("models", "--json", cache=tmp_path, cwd=tmp_path)
    rows = json.loads(out.stdout)
    names = {(r["model"], r["pretrained"]) for r in rows}
    assert ("conse-effnetlite0-minilm", "T=10") in names and ("ViT-B-32", "laion2b_s34b_b79k") in names


def test_tasks_lists_core_tasks(tmp_path):
    out = zsbench("tasks", "--json", cache=tmp_path, cwd=tmp_path)
    assert {"cifar10", "cifar100", "imagenet"} <= {t["name"] for t in json.loads(out.stdout)}


def test_imagenet_missing_says_what_to_put_where(tmp_path):
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "imagenet",
                  "--data-dir", str(tmp_path / "data"), cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2
    assert "imagenet/val/<wnid>/*.JPEG" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_imagenet_folder_with_wrong_class_count(tiny_folder, tmp_path):
    import shutil

    shutil.copytree(tiny_folder, tmp_path / "data" / "imagenet" / "val")
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "imagenet",
                  "--data-dir", str(tmp_path / "data"), cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and "has 4 classes, expected 1000" in out.stderr


def test_probe_on_a_task_without_train_split(tiny_folder, tmp_path):
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(tiny_folder),
                  "--protocol", "linear-probe", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and "has no training split" in out.stderr


def test_bad_shots(tmp_path):
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "cifar10",
                  "--protocol", "few-shot", "--shots", "1,two", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and "--shots: takes comma-separated whole numbers" in out.stderr
