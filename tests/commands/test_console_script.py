"""The console script itself, in a subprocess: help, a run's JSON and table output. Every command's
parsing and error paths are tested in-process in test_commands.py (the fast subset)."""
from __future__ import annotations

import json

import pytest

from helpers.cli import zsbench

#: every test here runs the CLI in a subprocess (a few seconds of imports each)
pytestmark = pytest.mark.slow


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
