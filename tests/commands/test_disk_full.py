"""A disk that takes no more: the results folder, the cache, plots, the report and a sweep's folder.

Where the machine allows it (root, as here and in CI), the tests mount a real small tmpfs (full, or read-only);
elsewhere those tests skip and the injected errors below still run. Every case: exit code 1, one line naming the
folder, its free space and the fix, no traceback; the finished figures printed first; no half-written or orphan
file; the next run, given room, resumes from what was kept.
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import StorageFull
from helpers.cli import run_cli
from helpers.plugins import installed_plugin

PLUGIN = {"zsbench.backends": {"colour:": "zsbench_demo_plugin:ColourBackend"}}


@pytest.fixture
def colour(tmp_path):
    with installed_plugin(tmp_path / "site", "zsbench-demo-plugin", PLUGIN):
        yield


def _mount(folder: Path, *options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
                          capture_output=True, text=True)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs filled to its last few KB (skips where mounting is not allowed)."""
    mounted = []

    def make(name: str, free_kb: int = 4, read_only: bool = False) -> Path:
        folder = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"
        if not _mount(folder, "size=1m", *(["ro"] if read_only else [])):
            pytest.skip("cannot mount a tmpfs here (needs root); the injected-error tests cover this machine")
        mounted.append(folder)
        if not read_only:
            st = os.statvfs(folder)
            filler = st.f_bavail * st.f_frsize - free_kb * 1024
            with open(folder / "filler", "wb") as f:
                f.write(b"\0" * max(filler, 0))
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _one_line_exit_1(out) -> str:
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1, (out.returncode, out.stderr)
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".preds.npz")]


def test_a_full_results_folder_prints_the_figures_then_one_line_and_the_next_run_resumes(colour, tiny_folder,
                                                                                      small_disk, tmp_path):
    disk = small_disk("results")
    common = ("run", "--model", "colour:v1", "--task", tiny_folder, "--templates", "single", "--workers", "0", "--quiet",
              "--cache-dir", tmp_path / "cache")
    out = run_cli(*common, "--out", disk, cwd=tmp_path)
    line = _one_line_exit_1(out)
    assert f"cannot write to {disk}" in line and "MB free" in line and "--out" in line
    assert "colour:v1" in out.stdout and "top1" in out.stdout          # the finished evaluation's table
    assert _leftovers(disk) == [] and not list(disk.rglob("*.json"))   # nothing half-written, no orphan
    again = run_cli(*common, "--out", tmp_path / "roomy", "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    (record,) = json.loads(again.stdout)
    assert record["task_info"]["feature_cache"] == "hit"                # the features were kept


def test_a_full_cache_is_one_line_and_keeps_what_it_holds(colour, tiny_folder, small_disk, tmp_path):
    cache = small_disk("cache", free_kb=0)
    out = run_cli("run", "--model", "colour:v1", "--task", tiny_folder, "--templates", "single", "--workers", "0", "--quiet",
                  "--cache-dir", cache, "--out", tmp_path / "r", cwd=tmp_path)
    line = _one_line_exit_1(out)
    assert f"cannot write to {cache}" in line and "--cache-dir" in line
    assert [p for p in cache.rglob("*") if p.name.endswith(".tmp")] == []


def test_plots_and_the_report_on_a_read_only_disk(tmp_path, small_disk):
    from helpers.records import add

    for model, acc in (("A", 0.6), ("B", 0.7)):
        add(tmp_path / "results", model, "p", "cifar10", acc)
    ro = small_disk("ro", read_only=True)
    for args in (("plot", "leaderboard", "--results", tmp_path / "results", "--out", ro / "plots"),
                 ("report", "--results", tmp_path / "results", "--out", ro / "report.html", "--no-explorer")):
        out = run_cli(*args, cwd=tmp_path)
        assert out.returncode in (1, 2) and "Traceback" not in out.stderr
        assert len([x for x in out.stderr.splitlines() if x.strip()]) == 1 and str(ro) in out.stderr, out.stderr


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS])
def test_every_write_error_of_a_full_disk_is_one_line_and_leaves_no_temp_file(code, tmp_path, monkeypatch):
    """Injected where no tmpfs can be mounted: the write itself fails (as on a full disk, a quota, a size limit, a
    read-only file system); the target keeps its old content and the temp file is removed."""
    from bench.core import store

    target = tmp_path / "out" / "file.json"
    store.atomic_write_bytes(target, b"old")
    real = os.fsync

    def refuse(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(store.os, "fsync", refuse)
    with pytest.raises(StorageFull) as caught:
        store.atomic_write_bytes(target, b"new" * 1000, "pass --out a folder with room")
    monkeypatch.setattr(store.os, "fsync", real)
    message = str(caught.value)
    assert caught.value.exit_code == 1 and "\n" not in message and str(target.parent) in message
    assert "MB free" in message and "pass --out a folder with room" in message
    assert target.read_bytes() == b"old" and [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_a_cache_that_fills_mid_extraction_keeps_its_chunks_and_the_next_run_resumes(colour, tmp_path, monkeypatch):
    """The cache takes two chunks of features, then refuses: the run stops with one line (exit 1), the two chunks
    stay whole, and the next run, given room, computes only the rest."""
    from PIL import Image

    from bench.core import store
    from bench.engine.features import CHUNK_SIZE

    folder = tmp_path / "colours"
    rng = np.random.default_rng(0)
    for name in ("red", "blue"):
        (folder / name).mkdir(parents=True)
        for i in range(CHUNK_SIZE * 2):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / name / f"{i}.png")
    writes = {"n": 0}
    real = store.save_array

    def filling(path, array, elsewhere=""):
        if "chunk00002" in Path(path).name:
            raise StorageFull(Path(path).parent, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), elsewhere)
        writes["n"] += 1
        real(path, array, elsewhere)

    monkeypatch.setattr(store, "save_array", filling)
    common = ("run", "--model", "colour:v1", "--task", folder, "--templates", "single", "--workers", "0", "--quiet",
              "--cache-dir", tmp_path / "cache", "--out", tmp_path / "r", "--json")
    out = run_cli(*common, cwd=tmp_path)
    line = _one_line_exit_1(out)
    assert "--cache-dir" in line and writes["n"] > 0
    monkeypatch.setattr(store, "save_array", real)
    again = run_cli(*common, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    (record,) = json.loads(again.stdout)
    assert record["task_info"]["feature_cache"] == "resumed" and record["n_samples"] == CHUNK_SIZE * 4


def test_a_full_sweep_folder_is_one_line(colour, tiny_folder, small_disk, tmp_path):
    disk = small_disk("sweep", free_kb=0)
    models = tmp_path / "models.txt"
    models.write_text("colour:v1\n")
    out = run_cli("sweep", "--models", models, "--task", tiny_folder, "--out", disk, "--executor", "debug",
                  "--workers", "0", "--quiet", "--cache-dir", tmp_path / "cache", cwd=tmp_path)
    line = _one_line_exit_1(out)
    assert f"cannot write to {disk}" in line and "--out" in line
    assert [p for p in disk.rglob("*") if p.name.endswith(".tmp")] == []


def test_a_read_only_cache_is_one_line(colour, tiny_folder, small_disk, tmp_path):
    cache = small_disk("ro-cache", read_only=True)
    out = run_cli("run", "--model", "colour:v1", "--task", tiny_folder, "--templates", "single", "--workers", "0",
                  "--quiet", "--cache-dir", cache, "--out", tmp_path / "r", cwd=tmp_path)
    line = _one_line_exit_1(out)
    assert f"cannot write to {cache}" in line and "read-only" in line and "--cache-dir" in line
